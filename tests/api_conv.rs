//! The public convolution API on awkward inputs: permuted and strided views, non-contiguous
//! outputs, and bad input of every kind giving the specific `Err` (never a panic).

mod common;

use ndarray::{s, Array1, Array3, Array4, Axis};
use proptest::prelude::*;
use upconv::{
    conv2d, conv_transpose1d, conv_transpose2d, conv_transpose2d_into, reference, shape, AutoPad,
    Conv2d, ConvTranspose1d, ConvTranspose2d, Error,
};

fn data(shape: &[usize], seed: u64) -> ndarray::ArrayD<f64> {
    common::seeded(shape, seed)
}

#[test]
fn channels_last_buffer_viewed_as_nchw() {
    // An NHWC buffer, viewed as NCHW by permuting axes: non-contiguous, unusual strides.
    let nhwc = data(&[2, 7, 5, 6], 1)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let nchw_view = nhwc.view().permuted_axes([0, 3, 1, 2]);
    assert!(nchw_view.as_slice().is_none());
    let w = data(&[6, 4, 3, 3], 2)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let cfg = ConvTranspose2d::new()
        .stride(2)
        .padding(1)
        .output_padding(1);
    let got = conv_transpose2d(&nchw_view, &w, None, &cfg).unwrap();
    let want = reference::conv_transpose(&nchw_view.to_owned(), &w, None, &cfg).unwrap();
    assert_eq!(got.shape(), &[2, 4, 14, 10]);
    let err = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-12, "{err}");
    // and the weight as a non-contiguous view too
    let w_big = data(&[6, 8, 3, 3], 3)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let w_view = w_big.slice(s![.., ..;2, .., ..]);
    let got = conv_transpose2d(&nchw_view, &w_view, None, &cfg).unwrap();
    let want =
        reference::conv_transpose(&nchw_view.to_owned(), &w_view.to_owned(), None, &cfg).unwrap();
    let err = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-12, "{err}");
}

#[test]
fn into_a_non_contiguous_output() {
    let x = data(&[1, 3, 4, 4], 4)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let w = data(&[3, 2, 2, 2], 5)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let b = Array1::from(vec![0.5, -1.0]);
    let cfg = ConvTranspose2d::new().stride(2);
    let want = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
    // output transposed in memory: [N, C, W, H] storage viewed as [N, C, H, W]
    let mut storage = Array4::<f64>::from_elem((1, 2, 8, 8), f64::NAN);
    let mut view = storage.view_mut().permuted_axes([0, 1, 3, 2]);
    conv_transpose2d_into(&x, &w, Some(&b), &cfg, &mut view).unwrap();
    assert_eq!(view.to_owned(), want);
    // wrong shape
    let mut wrong = Array4::<f64>::zeros((1, 2, 8, 7));
    assert_eq!(
        conv_transpose2d_into(&x, &w, None, &cfg, &mut wrong),
        Err(Error::OutputShapeMismatch {
            expected: vec![1, 2, 8, 8],
            got: vec![1, 2, 8, 7]
        })
    );
}

#[test]
fn specific_errors() {
    let x = Array4::<f32>::zeros((1, 4, 5, 5));
    let w = Array4::<f32>::zeros((4, 2, 3, 3));
    let ct = |cfg: ConvTranspose2d| conv_transpose2d(&x, &w, None, &cfg).map(|_| ());
    assert_eq!(
        ct(ConvTranspose2d::new().stride([1, 0])),
        Err(Error::ZeroParameter {
            name: "stride",
            axis: 1
        })
    );
    assert_eq!(
        ct(ConvTranspose2d::new().dilation(0)),
        Err(Error::ZeroParameter {
            name: "dilation",
            axis: 0
        })
    );
    assert_eq!(ct(ConvTranspose2d::new().groups(0)), Err(Error::ZeroGroups));
    assert_eq!(
        ct(ConvTranspose2d::new().groups(3)),
        Err(Error::GroupsDoNotDivide {
            what: "input channels",
            channels: 4,
            groups: 3
        })
    );
    assert_eq!(
        ct(ConvTranspose2d::new().stride(2).output_padding([0, 2])),
        Err(Error::OutputPaddingTooLarge {
            axis: 1,
            output_padding: 2,
            stride: 2,
            dilation: 1
        })
    );
    assert_eq!(
        ct(ConvTranspose2d::new().padding(4)),
        Err(Error::EmptyOutput {
            axis: 0,
            length: -1
        })
    );
    assert_eq!(
        ct(ConvTranspose2d::new().stride(2).output_size([13, 11])),
        Err(Error::OutputSizeOutOfRange {
            axis: 0,
            requested: 13,
            min: 11,
            max: 12
        })
    );
    let wrong_c = Array4::<f32>::zeros((3, 2, 3, 3));
    assert_eq!(
        conv_transpose2d(&x, &wrong_c, None, &ConvTranspose2d::new()).map(|_| ()),
        Err(Error::ChannelMismatch {
            input: 4,
            expected: 3
        })
    );
    let bias = Array1::<f32>::zeros(3);
    assert_eq!(
        conv_transpose2d(&x, &w, Some(&bias), &ConvTranspose2d::new()).map(|_| ()),
        Err(Error::BiasLength {
            expected: 2,
            got: 3
        })
    );
    let empty = Array4::<f32>::zeros((1, 4, 0, 5));
    assert!(matches!(
        conv_transpose2d(&empty, &w, None, &ConvTranspose2d::new()),
        Err(Error::EmptyDimension {
            what: "input",
            dim: 2
        })
    ));
    let big_w = Array4::<f32>::zeros((5, 5, 7, 7));
    assert!(matches!(
        conv2d(
            &Array4::<f32>::zeros((1, 5, 5, 5)),
            &big_w,
            None,
            &Conv2d::new()
        ),
        Err(Error::KernelTooLarge { axis: 0, .. })
    ));
    // messages carry the numbers
    let msg = ct(ConvTranspose2d::new().stride(2).output_padding([0, 2]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("axis 1") && msg.contains('2'), "{msg}");
}

#[test]
fn zero_batch_gives_an_empty_output() {
    let x = Array3::<f64>::zeros((0, 2, 5));
    let w = Array3::<f64>::zeros((2, 3, 3));
    let y = conv_transpose1d(&x, &w, None, &ConvTranspose1d::new().stride(2)).unwrap();
    assert_eq!(y.shape(), &[0, 3, 11]);
    assert_eq!(y.len_of(Axis(0)), 0);
}

#[test]
fn onnx_options_resolve_through_the_op() {
    // x=[1,2,3], w=[1,10,100], s=2: full result [1,10,102,20,203,30,300] (semantics.md 1.5)
    let x = ndarray::array![[[1.0f64, 2.0, 3.0]]];
    let w = ndarray::array![[[1.0f64, 10.0, 100.0]]];
    let run = |cfg: ConvTranspose1d| {
        conv_transpose1d(&x, &w, None, &cfg)
            .unwrap()
            .into_raw_vec_and_offset()
            .0
    };
    let base = ConvTranspose1d::new().stride(2);
    assert_eq!(run(base), vec![1.0, 10.0, 102.0, 20.0, 203.0, 30.0, 300.0]);
    assert_eq!(
        run(base.auto_pad(AutoPad::SameUpper)),
        vec![1.0, 10.0, 102.0, 20.0, 203.0, 30.0]
    );
    assert_eq!(
        run(base.auto_pad(AutoPad::SameLower)),
        vec![10.0, 102.0, 20.0, 203.0, 30.0, 300.0]
    );
    assert_eq!(
        run(base.onnx_output_shape([8])),
        vec![1.0, 10.0, 102.0, 20.0, 203.0, 30.0, 300.0, 0.0]
    );
    // output padding 1 with stride 1 and dilation 2: PyTorch accepts it (1 < dilation), ONNX
    // Runtime rejects it ("output_padding (1) may be too large for stride (1)") whenever ONNX
    // options resolve the pads
    let w2 = ndarray::array![[[1.0f64, 10.0]]];
    let torch = ConvTranspose1d::new().dilation(2).output_padding(1);
    assert!(conv_transpose1d(&x, &w2, None, &torch).is_ok());
    for onnx in [
        torch.auto_pad(AutoPad::SameUpper),
        torch.auto_pad(AutoPad::NotSet),
        torch.onnx_output_shape([6]),
    ] {
        let e = conv_transpose1d(&x, &w2, None, &onnx).unwrap_err();
        assert!(e.to_string().contains("smaller than the stride"), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any numbers at all, including zeros and values near usize::MAX, give Ok or Err from the
    /// Shape calculator and the options, never a panic.
    #[test]
    fn shape_functions_never_panic(
        vals in prop::collection::vec(prop_oneof![0usize..6, Just(usize::MAX), Just(usize::MAX / 2), (1usize << 40)..(1usize << 62)], 12),
        ap in 0usize..4,
    ) {
        let p = shape::AxisParams::new(vals[0]).stride(vals[1]).dilation(vals[2]).pads(vals[3], vals[4]).output_padding(vals[5]);
        let auto_pad = [AutoPad::NotSet, AutoPad::SameUpper, AutoPad::SameLower, AutoPad::Valid][ap];
        let _ = shape::conv_transpose_output_len(0, vals[6], &p);
        let _ = shape::conv_transpose_size_range(0, vals[6], &p);
        let _ = shape::output_padding_for_size(0, vals[6], &p, vals[7]);
        let _ = shape::onnx_conv_transpose_pads(0, vals[6], &p, auto_pad, Some(vals[7]));
        let _ = shape::onnx_conv_transpose_pads(0, vals[6], &p, auto_pad, None);
        let _ = shape::conv_output_len(0, vals[6], &p.output_padding(0));
        let cfg = ConvTranspose2d::new().stride([vals[1], vals[8]]).padding(vals[3]).dilation(vals[2]).groups(vals[9]);
        let input = [vals[10], vals[11], vals[6], vals[7]];
        let weight = [vals[11], vals[9], vals[0], vals[4]];
        if let Ok(dims) = cfg.output_dims(&input, &weight) {
            prop_assert!(dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_some());
        }
        let _ = cfg.cost(&input, &weight, 4);
        let _ = Conv2d::new().stride(vals[1]).padding(vals[3]).groups(vals[9]).output_dims(&input, &weight);
    }
}

#[test]
fn tiling_and_depthwise_paths_match_reference() {
    // kernel == stride (every output written once), depthwise and grouped, with bias
    for (c, groups, cout_g, k, s, pad, op) in [
        (6, 6, 1, 2, 2, 0, 0),
        (6, 6, 1, 3, 3, 0, 0),
        (6, 6, 1, 2, 2, 0, 1),
        (6, 6, 1, 4, 2, 1, 0),
        (4, 2, 3, 2, 2, 0, 0),
        (4, 1, 5, 3, 3, 0, 2),
    ] {
        let x = data(&[2, c, 5, 7], 7)
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap();
        let w = data(&[c, cout_g, k, k], 8)
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap();
        let b = data(&[groups * cout_g], 9)
            .into_dimensionality::<ndarray::Ix1>()
            .unwrap();
        let cfg = ConvTranspose2d::new()
            .stride(s)
            .padding(pad)
            .output_padding(op)
            .groups(groups);
        let got = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
        let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
        assert_eq!(got.shape(), want.shape());
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-12, "{cfg:?}: {err}");
    }
}

/// Deep 3x3 forward convolutions whose Winograd-transformed kernel is over the copy budget
/// run Winograd a block of output channels at a time (two blocks of 128; one per group of
/// two, with a bias): the same numbers as the definition, in `f64` to 1e-12 and `f32`.
#[test]
fn deep_convolutions_in_blocks_match_reference() {
    for (x_shape, cout, groups) in [([1, 512, 24, 24], 256, 1), ([2, 1024, 24, 23], 256, 2)] {
        let x = data(&x_shape, 21)
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap();
        let w = data(&[cout, x_shape[1] / groups, 3, 3], 22)
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap();
        let b = data(&[cout], 23)
            .into_dimensionality::<ndarray::Ix1>()
            .unwrap();
        let cfg = Conv2d::new().padding(1).groups(groups);
        let want = reference::conv(&x, &w, Some(&b), &cfg).unwrap();
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let got = conv2d(&x, &w, Some(&b), &cfg).unwrap();
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-12 * scale, "{x_shape:?} f64: {err}");
        let got32 = conv2d(
            &x.mapv(|v| v as f32),
            &w.mapv(|v| v as f32),
            Some(&b.mapv(|v| v as f32)),
            &cfg,
        )
        .unwrap();
        let err = got32
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (&a, b)| m.max((a as f64 - b).abs()));
        assert!(err <= 1e-5 * scale, "{x_shape:?} f32: {err}");
    }
}
