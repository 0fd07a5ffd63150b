//! `ConvTransposeLayer`: the same numbers as the definition on layers whose products read the
//! packed weight (weight-heavy layers on inputs of a few positions), bit-identical call after
//! call, across threads sharing one layer and across thread counts, and `Err` for bad input.
//! (Every PyTorch and ONNX Runtime fixture also runs through a layer in `golden_conv.rs`, and
//! the property tests compare layers with the definition on random parameter mixes.)

mod common;

use common::{in_pool, ramp_from, same_bits};
use ndarray::{Array, Array1, Array3, Array4, Array5, Dimension};
use upconv::{
    reference, ConvTranspose1d, ConvTranspose1dLayer, ConvTranspose2d, ConvTranspose2dLayer,
    ConvTranspose3d, ConvTranspose3dLayer, Error,
};

/// `max |got - want| <= 1e-5 * max(1, max |want|)`, with the definition in f64.
fn assert_close<D: Dimension>(got: &Array<f32, D>, want: &Array<f64, D>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&g, &w)| m.max((g as f64 - w).abs()));
    assert!(err <= 1e-5 * scale, "{what}: error {err:e} (scale {scale})");
}

/// A 2-D layer of `w` and `b` on `x`: its first call (`forward`) agrees with the definition
/// in f64, its second (`forward_into` a NaN-filled output) gives the same bits. Returns the
/// layer and the first output.
fn checked_layer_2d(
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: Option<&Array1<f32>>,
    cfg: ConvTranspose2d,
    what: &str,
) -> (ConvTranspose2dLayer<f32>, Array4<f32>) {
    let b64 = b.map(|b| b.mapv(f64::from));
    let want =
        reference::conv_transpose(&x.mapv(f64::from), &w.mapv(f64::from), b64.as_deref(), &cfg)
            .unwrap();
    let layer = ConvTranspose2dLayer::new(w, b.map(|b| &**b), cfg).unwrap();
    let first = layer.forward(x).unwrap();
    assert_close(&first, &want, &format!("{what}, first call"));
    let mut second = Array4::from_elem(first.raw_dim(), f32::NAN);
    layer.forward_into(x, &mut second).unwrap();
    assert!(same_bits(&first, &second), "{what}: second call differs");
    (layer, first)
}

/// Weight-heavy 2-D layers on inputs of 1 to 64 positions (DCGAN's first layers, a pose head,
/// a U-Net bottleneck, groups, channel counts whose blocks end inside a 16-row panel), batch
/// 1 and 2: the layer's calls agree with the definition and with each other, and one layer
/// called from two threads at once gives the same bits.
#[test]
fn weight_heavy_2d_layers_match_the_definition() {
    let cases = [
        // (input, weight, groups, options)
        (
            (1, 256, 4, 4),
            (256, 128, 4, 4),
            1,
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (1, 512, 8, 6),
            (512, 64, 4, 4),
            1,
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (2, 192, 3, 3),
            (192, 40, 3, 3),
            1,
            ConvTranspose2d::new()
                .stride(2)
                .padding(1)
                .output_padding(1),
        ),
        (
            (1, 128, 2, 2),
            (128, 100, 5, 5),
            1,
            ConvTranspose2d::new().stride(3).padding(2),
        ),
        (
            (1, 192, 5, 5),
            (192, 30, 3, 3),
            2,
            ConvTranspose2d::new().stride(2),
        ),
        (
            (1, 64, 8, 8),
            (64, 21, 4, 4),
            1,
            ConvTranspose2d::new().stride(2).dilation(2),
        ),
        (
            (4, 160, 2, 2),
            (160, 64, 4, 4),
            1,
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        ((1, 256, 1, 1), (256, 64, 4, 4), 1, ConvTranspose2d::new()),
    ];
    for (k, (xs, ws, groups, cfg)) in cases.into_iter().enumerate() {
        let cfg = cfg.groups(groups);
        let x = ramp_from(k as u32, ndarray::Dim(xs));
        let w = ramp_from(100 + k as u32, ndarray::Dim(ws));
        let b = ramp_from(200 + k as u32, ndarray::Ix1(ws.1 * groups));
        let (layer, first) = checked_layer_2d(&x, &w, Some(&b), cfg, &format!("case {k}"));
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| layer.forward(&x).unwrap());
            let b = s.spawn(|| layer.forward(&x).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(
            same_bits(&first, &a) && same_bits(&first, &b),
            "case {k}: threads"
        );
    }
}

/// Layers on larger inputs, whose calls take the other forms a layer keeps (GEMM + col2im's
/// transposed weight for several images or tiles, the stride-1 path's flipped kernel) or
/// none: each call agrees with the definition, and later calls with the first.
#[test]
fn larger_inputs_match_the_definition() {
    let cases = [
        (
            (2, 48, 20, 20),
            (48, 40, 4, 4),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (4, 32, 16, 16),
            (32, 16, 4, 4),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (1, 16, 100, 100),
            (16, 16, 3, 3),
            ConvTranspose2d::new().stride(3),
        ),
        (
            (2, 32, 48, 48),
            (32, 8, 5, 5),
            ConvTranspose2d::new().stride(2).padding(2).dilation(2),
        ),
        (
            (1, 96, 40, 40),
            (96, 24, 3, 3),
            ConvTranspose2d::new().stride(2).output_padding(1),
        ),
        (
            (2, 24, 18, 18),
            (24, 32, 3, 3),
            ConvTranspose2d::new().padding(1),
        ),
        (
            (1, 16, 30, 30),
            (16, 8, 5, 5),
            ConvTranspose2d::new().padding(3).dilation(2),
        ),
        (
            (3, 8, 12, 12),
            (8, 4, 2, 2),
            ConvTranspose2d::new().stride(2),
        ),
    ];
    for (k, (xs, ws, cfg)) in cases.into_iter().enumerate() {
        let x = ramp_from(50 + k as u32, ndarray::Dim(xs));
        let w = ramp_from(60 + k as u32, ndarray::Dim(ws));
        checked_layer_2d(&x, &w, None, cfg, &format!("larger case {k}"));
    }
}

/// Stride-1 layers on planes large enough for their channels and images, which run Winograd
/// on the flipped kernel (3x3 and 2x2, and 4x4 to 8x8 or 3x5 cut into sub-kernels): a layer keeps the
/// transformed kernel from its first call (groups, bias, a cropping padding, odd sizes), or,
/// over the copy budget, transforms a block of output channels at a time on every call.
#[test]
fn winograd_layers_match_the_definition() {
    let cases = [
        ((1, 16, 32, 32), (16, 24, 3, 3), 1, [1, 1]),
        ((2, 32, 40, 33), (32, 16, 2, 2), 1, [0, 0]),
        ((1, 48, 40, 36), (48, 16, 3, 3), 2, [2, 2]),
        // 80 input channels (the flipped convolution's depth): the transform in blocks of 64
        ((1, 80, 32, 32), (80, 64, 3, 3), 1, [1, 1]),
        ((1, 64, 34, 33), (64, 64, 4, 4), 1, [1, 1]),
        ((2, 32, 32, 33), (32, 16, 5, 5), 2, [2, 2]),
        ((1, 24, 33, 34), (24, 20, 8, 8), 1, [3, 4]),
        ((1, 64, 36, 32), (64, 16, 3, 5), 1, [1, 2]),
        // planes under 1024 positions: two images of 32+ channels, or 128+ channels
        ((2, 32, 18, 17), (32, 48, 3, 3), 1, [1, 1]),
        ((1, 128, 24, 25), (128, 128, 3, 3), 1, [1, 1]),
        // transformed kernels over the copy budget: blocks of output channels (two of 128;
        // one per group of two)
        ((1, 512, 24, 24), (512, 256, 3, 3), 1, [1, 1]),
        ((1, 1024, 24, 23), (1024, 128, 3, 3), 2, [1, 1]),
    ];
    for (k, (xs, ws, groups, pad)) in cases.into_iter().enumerate() {
        let x = ramp_from(90 + k as u32, ndarray::Dim(xs));
        let w = ramp_from(95 + k as u32, ndarray::Dim(ws));
        let b = Array1::from_shape_fn(ws.1 * groups, |i| i as f32 * 0.25 - 1.0);
        let cfg = ConvTranspose2d::new().padding(pad).groups(groups);
        let what = format!("winograd case {k}");
        let (_, first) = checked_layer_2d(&x, &w, Some(&b), cfg, &what);
        // the function transforms the kernel per call
        let call = upconv::conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
        assert!(
            same_bits(&call, &first),
            "{what}: function and layer differ"
        );
    }
}

/// One layer called on inputs of several sizes, in both orders: the sub-pixel path keeps the
/// phase weights its first call made (Winograd-transformed on a large map, lowered on a small
/// one) and makes per call those a later size wants differently.
#[test]
fn layers_on_inputs_of_several_sizes_match_the_definition() {
    for (k, (cin, cout, kernel, stride, pad, out_pad)) in [
        (48, 40, 4, 2, 1, 0),
        (32, 48, 3, 2, 1, 1),
        (40, 32, 5, 3, 2, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = ConvTranspose2d::new()
            .stride(stride)
            .padding(pad)
            .output_padding(out_pad);
        let w = ramp_from(110 + k as u32, ndarray::Dim((cin, cout, kernel, kernel)));
        let b = Array1::from_shape_fn(cout, |i| i as f32 * 0.125);
        for sizes in [[(72, 66), (9, 7), (40, 45)], [(9, 7), (72, 66), (40, 45)]] {
            let layer = ConvTranspose2dLayer::new(&w, Some(&b), cfg).unwrap();
            for (h, wd) in sizes {
                let x = ramp_from(120 + h as u32, ndarray::Dim((1, cin, h, wd)));
                let want = reference::conv_transpose(
                    &x.mapv(f64::from),
                    &w.mapv(f64::from),
                    Some(&b.mapv(f64::from)),
                    &cfg,
                )
                .unwrap();
                let got = layer.forward(&x).unwrap();
                assert_close(&got, &want, &format!("case {k}, {h}x{wd} after {sizes:?}"));
            }
        }
    }
}

/// 1-D (vocoder upsampling layers on short signals) and 3-D layers through a layer.
#[test]
fn one_and_three_d_layers_match_the_definition() {
    let cfg1 = ConvTranspose1d::new().stride(8).padding(4);
    for (k, (xs, ws)) in [((1, 512, 8), (512, 256, 16)), ((2, 256, 20), (256, 128, 4))]
        .into_iter()
        .enumerate()
    {
        let x = ramp_from(k as u32, ndarray::Dim(xs));
        let w = ramp_from(7 + k as u32, ndarray::Dim(ws));
        let want =
            reference::conv_transpose(&x.mapv(f64::from), &w.mapv(f64::from), None, &cfg1).unwrap();
        let layer = ConvTranspose1dLayer::new(&w, None, cfg1).unwrap();
        let first = layer.forward(&x).unwrap();
        assert_close(&first, &want, &format!("1-D case {k}"));
        let mut again = Array3::zeros(first.raw_dim());
        layer.forward_into(&x, &mut again).unwrap();
        assert!(
            same_bits(&first, &again),
            "1-D case {k}: second call differs"
        );
    }
    let cfg3 = ConvTranspose3d::new().stride(2).padding(1);
    let x = ramp_from(1, ndarray::Ix5(1, 128, 2, 3, 3));
    let w = ramp_from(2, ndarray::Ix5(128, 24, 4, 4, 4));
    let want =
        reference::conv_transpose(&x.mapv(f64::from), &w.mapv(f64::from), None, &cfg3).unwrap();
    let layer = ConvTranspose3dLayer::new(&w, None, cfg3).unwrap();
    assert_close(&layer.forward(&x).unwrap(), &want, "3-D");
    let mut again = Array5::zeros(want.raw_dim());
    layer.forward_into(&x, &mut again).unwrap();
    assert_close(&again, &want, "3-D, second call");
}

/// A layer's output has the same bits with 1 and 2 threads, on the first call and later ones.
#[test]
fn layers_are_thread_count_independent() {
    let x = ramp_from(3, ndarray::Ix4(1, 256, 4, 4));
    let w = ramp_from(4, ndarray::Ix4(256, 128, 4, 4));
    let cfg = ConvTranspose2d::new().stride(2).padding(1);
    let layer = ConvTranspose2dLayer::new(&w, None, cfg).unwrap();
    let one = in_pool(1, || layer.forward(&x).unwrap());
    let two = in_pool(2, || layer.forward(&x).unwrap());
    let fresh = ConvTranspose2dLayer::new(&w, None, cfg).unwrap();
    let two_first = in_pool(2, || fresh.forward(&x).unwrap());
    assert!(same_bits(&one, &two) && same_bits(&one, &two_first));
}

/// Fresh layers called from a parallel loop over inputs (the first calls race to make the
/// kept forms, inside rayon workers that may steal each other's calls): every output equals
/// the one a single call gives. A form made with rayon tasks inside its `OnceLock` could
/// deadlock here.
#[test]
fn layers_called_from_parallel_loops() {
    use rayon::prelude::*;
    let cases = [
        // panels; GEMM + col2im's transposed weight; the flipped kernel
        (
            (1, 256, 4, 4),
            (256, 128, 4, 4),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (2, 256, 16, 16),
            (256, 64, 4, 4),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            (1, 24, 18, 18),
            (24, 32, 3, 3),
            ConvTranspose2d::new().padding(1),
        ),
    ];
    for round in 0..4 {
        for (k, (xs, ws, cfg)) in cases.into_iter().enumerate() {
            let x = ramp_from(70 + k as u32, ndarray::Dim(xs));
            let w = ramp_from(80 + k as u32, ndarray::Dim(ws));
            let want = ConvTranspose2dLayer::new(&w, None, cfg)
                .unwrap()
                .forward(&x)
                .unwrap();
            let layer = ConvTranspose2dLayer::new(&w, None, cfg).unwrap();
            let outs: Vec<Array4<f32>> = in_pool(4, || {
                (0..16)
                    .into_par_iter()
                    .map(|_| layer.forward(&x).unwrap())
                    .collect()
            });
            for out in &outs {
                assert!(same_bits(out, &want), "round {round}, case {k}");
            }
        }
    }
}

/// Bad weights, biases, inputs and outputs are `Err`s naming the problem.
#[test]
fn bad_input_is_an_error() {
    let w = Array4::<f32>::ones((6, 4, 3, 3));
    let cfg = ConvTranspose2d::new().stride(2);
    assert_eq!(
        ConvTranspose2dLayer::new(&w, None, cfg.groups(0)).unwrap_err(),
        Error::ZeroGroups
    );
    assert!(matches!(
        ConvTranspose2dLayer::new(&w, None, cfg.groups(4)),
        Err(Error::GroupsDoNotDivide {
            channels: 6,
            groups: 4,
            ..
        })
    ));
    assert!(matches!(
        ConvTranspose2dLayer::new(&w, Some(&Array1::zeros(5)), cfg.groups(2)),
        Err(Error::BiasLength {
            expected: 8,
            got: 5
        })
    ));
    assert!(matches!(
        ConvTranspose2dLayer::new(&Array4::<f32>::ones((6, 0, 3, 3)), None, cfg),
        Err(Error::EmptyDimension { .. })
    ));
    let layer = ConvTranspose2dLayer::new(&w, Some(&Array1::zeros(8)), cfg.groups(2)).unwrap();
    assert!(matches!(
        layer.forward(&Array4::ones((1, 5, 4, 4))),
        Err(Error::ChannelMismatch {
            input: 5,
            expected: 6
        })
    ));
    let x = Array4::ones((1, 6, 4, 4));
    assert_eq!(layer.output_dims(x.shape()).unwrap(), vec![1, 8, 9, 9]);
    let mut wrong = Array4::zeros((1, 8, 9, 8));
    assert!(matches!(
        layer.forward_into(&x, &mut wrong),
        Err(Error::OutputShapeMismatch { .. })
    ));
    let huge = ConvTranspose2dLayer::new(&w, None, ConvTranspose2d::new().stride(usize::MAX / 2));
    assert!(huge.unwrap().forward(&x).is_err());
}

/// The layer can be shared between threads and printed.
#[test]
fn layers_are_send_sync_and_debug() {
    fn shareable<T: Send + Sync>() {}
    shareable::<ConvTranspose2dLayer<f32>>();
    shareable::<ConvTranspose1dLayer<f64>>();
    let layer = ConvTranspose2dLayer::new(
        &Array4::<f64>::ones((2, 3, 2, 2)),
        None,
        ConvTranspose2d::new().stride(2),
    )
    .unwrap();
    let text = format!("{layer:?}");
    assert!(text.contains("weight_shape: [2, 3, 2, 2]"), "{text}");
}
