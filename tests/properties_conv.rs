//! Property tests of convolution and transposed convolution over every parameter mix.

mod common;

use common::{conv_case, conv_cfg, ct_cfg, seeded};
use ndarray::{ArrayD, Dimension};
use proptest::prelude::*;
use upconv::{reference, Element};

fn typed<T: Element, Dm: Dimension>(a: &ArrayD<f64>) -> ndarray::Array<T, Dm> {
    a.mapv(T::from_f64_lossy)
        .into_dimensionality::<Dm>()
        .unwrap()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// <conv_transpose(x, W), y> == <x, conv(y, W)> for the same weight tensor and options.
    #[test]
    fn adjoint_identity(case in conv_case(true)) {
        with_dims!(case, D, Ix, {
            let ct = ct_cfg::<D>(&case);
            let Ok(out_dims) = ct.output_dims(&case.input_shape(), &case.weight_shape()) else {
                return Ok(());
            };
            let x = typed::<f64, Ix>(&seeded(&case.input_shape(), case.seed));
            let w = typed::<f64, Ix>(&seeded(&case.weight_shape(), case.seed ^ 1));
            let y = typed::<f64, Ix>(&seeded(&out_dims, case.seed ^ 2));
            let tx = reference::conv_transpose(&x, &w, None, &ct).unwrap();
            let cy = reference::conv(&y, &w, None, &conv_cfg::<D>(&case)).unwrap();
            prop_assert_eq!(cy.shape(), x.shape());
            let lhs = dot(tx.as_slice().unwrap(), y.as_slice().unwrap());
            let rhs = dot(x.as_slice().unwrap(), cy.as_slice().unwrap());
            let scale = norm(tx.as_slice().unwrap()) * norm(y.as_slice().unwrap());
            prop_assert!((lhs - rhs).abs() <= 1e-10 * scale.max(1e-300), "{} vs {}", lhs, rhs);
            // and the same through the public fast path
            let fx = upconv::ConvTranspose::<D>::output_dims(&ct, x.shape(), w.shape()).unwrap();
            prop_assert_eq!(fx, tx.shape().to_vec());
        });
    }

    /// Output shapes equal what the Shape calculator says; invalid mixes give `Err`, never a panic.
    #[test]
    fn shapes_match_calculator(case in conv_case(false)) {
        with_dims!(case, D, Ix, {
            let ct = ct_cfg::<D>(&case);
            let expected = ct.output_dims(&case.input_shape(), &case.weight_shape());
            // the per-axis Shape functions agree with the op-level answer
            let per_axis: Result<Vec<usize>, upconv::Error> = (0..D)
                .map(|a| upconv::shape::conv_transpose_output_len(a, case.input[a], &ct.axis_params(a, case.kernel[a])))
                .collect();
            let x = typed::<f64, Ix>(&seeded(&case.input_shape(), case.seed));
            let w = typed::<f64, Ix>(&seeded(&case.weight_shape(), case.seed ^ 1));
            let got = reference::conv_transpose(&x, &w, None, &ct);
            match (&expected, &got, &per_axis) {
                (Ok(dims), Ok(y), Ok(spatial)) => {
                    prop_assert_eq!(y.shape(), dims.as_slice());
                    prop_assert_eq!(&dims[2..], spatial.as_slice());
                }
                (Err(e), Err(g), _) => prop_assert_eq!(e, g),
                _ => prop_assert!(false, "calculator {:?} vs op {:?} vs axes {:?}", expected, got.map(|a| a.shape().to_vec()), per_axis),
            }
            // forward conv: same agreement
            let cc = conv_cfg::<D>(&case);
            let cw = typed::<f64, Ix>(&seeded(&conv_weight_shape(&case), case.seed ^ 3));
            let expected = cc.output_dims(&case.input_shape(), cw.shape());
            match (expected, reference::conv(&x, &cw, None, &cc)) {
                (Ok(dims), Ok(y)) => prop_assert_eq!(y.shape(), dims.as_slice()),
                (Err(e), Err(g)) => prop_assert_eq!(e, g),
                (e, g) => prop_assert!(false, "{:?} vs {:?}", e, g.map(|a| a.shape().to_vec())),
            }
        });
    }

    /// The fast paths agree with the reference on every parameter mix, f32 and f64, for
    /// contiguous and strided (non-contiguous) inputs.
    #[test]
    fn fast_matches_reference(case in conv_case(false), strided in any::<bool>()) {
        with_dims!(case, D, Ix, {
            let ct = ct_cfg::<D>(&case);
            if ct.output_dims(&case.input_shape(), &case.weight_shape()).is_err() {
                return Ok(());
            }
            let mut big = case.input_shape();
            if strided { big[D + 1] *= 2; }
            let xb = seeded(&big, case.seed);
            let x = if strided {
                xb.slice_each_axis(|ax| if ax.axis.index() == D + 1 { ndarray::Slice::new(0, None, 2) } else { ndarray::Slice::from(..) }).to_owned()
            } else { xb.clone() };
            let w = seeded(&case.weight_shape(), case.seed ^ 1);
            let b = case.bias.then(|| seeded(&[case.out_channels()], case.seed ^ 2).into_dimensionality::<ndarray::Ix1>().unwrap());
            let x64 = typed::<f64, Ix>(&x);
            let w64 = typed::<f64, Ix>(&w);
            let want = reference::conv_transpose(&x64, &w64, b.as_deref(), &ct).unwrap();
            let max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            // f64 through the public op, with the input as a strided view when asked
            let xb64 = typed::<f64, Ix>(&xb);
            let view = if strided {
                xb64.slice_each_axis(|ax| if ax.axis.index() == D + 1 { ndarray::Slice::new(0, None, 2) } else { ndarray::Slice::from(..) })
            } else { xb64.view() };
            let got = upconv::reference::conv_transpose(&view, &w64, b.as_deref(), &ct).unwrap();
            let fast = fast_conv_transpose::<f64, D, Ix>(&view, &w64, b.as_deref(), &ct);
            let err = got.iter().zip(want.iter()).chain(fast.iter().zip(want.iter())).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            prop_assert!(err <= 1e-12 * max, "f64 error {} (max {})", err, max);
            // a layer of the same weight: both calls agree with each other and the definition
            let [first, second] = layer_conv_transpose::<f64, D, Ix>(&view, &w64, b.as_deref(), &ct);
            prop_assert_eq!(&first, &second);
            let err = first.iter().zip(want.iter()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            prop_assert!(err <= 1e-12 * max, "f64 layer error {} (max {})", err, max);
            // f32
            let x32 = typed::<f32, Ix>(&x);
            let w32 = typed::<f32, Ix>(&w);
            let b32 = b.as_ref().map(|b| b.mapv(|v| v as f32));
            let f32out = fast_conv_transpose::<f32, D, Ix>(&x32, &w32, b32.as_deref(), &ct);
            let [layer32, _] = layer_conv_transpose::<f32, D, Ix>(&x32, &w32, b32.as_deref(), &ct);
            let err = f32out.iter().chain(&layer32).zip(want.iter().chain(&want)).fold(0.0f64, |m, (a, b)| m.max((*a as f64 - b).abs()));
            prop_assert!(err <= 1e-5 * max, "f32 error {} (max {})", err, max);
            // forward conv, fast against reference
            let cc = conv_cfg::<D>(&case);
            let cw = typed::<f64, Ix>(&seeded(&conv_weight_shape(&case), case.seed ^ 3));
            if let Ok(want) = reference::conv(&x64, &cw, None, &cc) {
                let got = fast_conv::<f64, D, Ix>(&x64, &cw, &cc);
                let max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let err = got.iter().zip(want.iter()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                prop_assert!(err <= 1e-12 * max, "conv f64 error {}", err);
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// 3x3 and 2x2 stride-1 layers with enough channels for the Winograd F(2x2, 3x3) and
    /// F(2x2, 2x2) kernels (forward, and transposed through its flipped forward convolution):
    /// any size, odd or even, any padding (past `k - 1` the transposed one crops), groups,
    /// bias; f64 to 1e-12 and f32 to 1e-5 of the largest output. (Planes this small go
    /// through im2col + GEMM; the Winograd kernels' own proptest runs them on such planes.)
    #[test]
    fn winograd_layers_match_reference(
        (batch, groups, cin, cout) in (1usize..3, 1usize..3, 16usize..21, 16usize..21),
        (h, w, pad, k) in (1usize..11, 1usize..11, 0usize..4, 2usize..4),
        seed in any::<u64>(),
    ) {
        use ndarray::{Array1, Array4};
        use upconv::{conv2d, conv_transpose2d, Conv2d, ConvTranspose2d};
        let x: Array4<f64> = typed(&seeded(&[batch, groups * cin, h, w], seed));
        let b: Array1<f64> = seeded(&[groups * cout], seed ^ 1).into_dimensionality().unwrap();
        let check = |got: &Array4<f64>, got32: &Array4<f32>, want: &Array4<f64>| {
            let max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let err = got.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let err32 = got32.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((*a as f64 - b).abs()));
            (err <= 1e-12 * max && err32 <= 1e-5 * max, err, err32)
        };
        let cfg = Conv2d::new().padding(pad).groups(groups);
        let wc: Array4<f64> = typed(&seeded(&[groups * cout, cin, k, k], seed ^ 2));
        if let Ok(want) = reference::conv(&x, &wc, Some(&b), &cfg) {
            let got = conv2d(&x, &wc, Some(&b), &cfg).unwrap();
            let got32 = conv2d(&x.mapv(|v| v as f32), &wc.mapv(|v| v as f32), Some(&b.mapv(|v| v as f32)), &cfg).unwrap();
            let (ok, e, e32) = check(&got, &got32, &want);
            prop_assert!(ok, "conv: f64 error {}, f32 error {}", e, e32);
        }
        let ct = ConvTranspose2d::new().padding(pad).groups(groups);
        let bt: Array1<f64> = seeded(&[groups * cin], seed ^ 3).into_dimensionality().unwrap();
        let wt: Array4<f64> = typed(&seeded(&[groups * cout, cin, k, k], seed ^ 4));
        let xt: Array4<f64> = typed(&seeded(&[batch, groups * cout, h, w], seed ^ 5));
        if let Ok(want) = reference::conv_transpose(&xt, &wt, Some(&bt), &ct) {
            let got = conv_transpose2d(&xt, &wt, Some(&bt), &ct).unwrap();
            let got32 = conv_transpose2d(&xt.mapv(|v| v as f32), &wt.mapv(|v| v as f32), Some(&bt.mapv(|v| v as f32)), &ct).unwrap();
            let (ok, e, e32) = check(&got, &got32, &want);
            prop_assert!(ok, "transposed: f64 error {}, f32 error {}", e, e32);
        }
    }
}

/// `[C_out, C_in/groups, K...]` for a forward conv with the case's channels.
fn conv_weight_shape(c: &common::ConvCase) -> Vec<usize> {
    let mut s = vec![c.groups * c.out_per_group, c.in_per_group];
    s.extend(&c.kernel);
    s
}

/// The public fast op of rank `D`.
fn fast_conv_transpose<T: Element, const D: usize, Ix: Dimension>(
    x: &ndarray::ArrayRef<T, Ix>,
    w: &ndarray::Array<T, Ix>,
    b: Option<&ndarray::ArrayRef1<T>>,
    cfg: &upconv::ConvTranspose<D>,
) -> ndarray::ArrayD<T> {
    let (x, w) = (x.view().into_dyn(), w.view().into_dyn());

    match D {
        1 => upconv::conv_transpose1d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            b,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
        2 => upconv::conv_transpose2d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            b,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
        _ => upconv::conv_transpose3d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            b,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
    }
}

/// The op of rank `D` through a [`upconv::ConvTransposeLayer`] of `w` and `b`, called twice
/// (`forward`, then `forward_into`: the second reads whatever the first packed).
fn layer_conv_transpose<T: Element, const D: usize, Ix: Dimension>(
    x: &ndarray::ArrayRef<T, Ix>,
    w: &ndarray::Array<T, Ix>,
    b: Option<&ndarray::ArrayRef1<T>>,
    cfg: &upconv::ConvTranspose<D>,
) -> [ndarray::ArrayD<T>; 2] {
    use upconv::ConvTransposeLayer;
    let (x, w) = (x.view().into_dyn(), w.view().into_dyn());
    macro_rules! twice {
        ($d:literal) => {{
            let (x, w) = (
                x.into_dimensionality().unwrap(),
                w.into_dimensionality().unwrap(),
            );
            let layer = ConvTransposeLayer::<T, $d>::new(&w, b, cast(cfg)).unwrap();
            let first = layer.forward(&x).unwrap();
            let mut second = first.clone();
            second.fill(T::from_f64_lossy(f64::NAN));
            layer.forward_into(&x, &mut second).unwrap();
            [first.into_dyn(), second.into_dyn()]
        }};
    }
    match D {
        1 => twice!(1),
        2 => twice!(2),
        _ => twice!(3),
    }
}

fn fast_conv<T: Element, const D: usize, Ix: Dimension>(
    x: &ndarray::Array<T, Ix>,
    w: &ndarray::Array<T, Ix>,
    cfg: &upconv::Conv<D>,
) -> ndarray::ArrayD<T> {
    let (x, w) = (x.view().into_dyn(), w.view().into_dyn());
    match D {
        1 => upconv::conv1d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            None,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
        2 => upconv::conv2d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            None,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
        _ => upconv::conv3d(
            &x.into_dimensionality().unwrap(),
            &w.into_dimensionality().unwrap(),
            None,
            &cast(cfg),
        )
        .unwrap()
        .into_dyn(),
    }
}

/// Reinterprets options of rank `D` as rank `E` when `D == E` (a const-generic dispatch helper).
fn cast<C: Copy + 'static, E: Copy + 'static>(c: &C) -> E {
    *(c as &dyn std::any::Any)
        .downcast_ref::<E>()
        .expect("same rank")
}
