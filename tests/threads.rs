//! Results do not depend on the number of threads: bit-identical outputs with 1 and 2 rayon
//! threads, on problems big enough that the work is split into parallel tasks.

mod common;

use common::{in_pool, ramp, same_bits};
use ndarray::{Array4, Array5};
use upconv::{
    conv1d, conv2d, conv_transpose1d, conv_transpose2d, conv_transpose3d, resize, upsample1d,
    upsample2d, upsample3d, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
    CoordinateTransform, Mode, Resize, ResizeMode, Upsample1d, Upsample2d, Upsample3d,
};

#[test]
fn conv_transpose_is_thread_count_independent() {
    let cases = [
        (
            ramp(ndarray::Ix4(1, 48, 20, 20)),
            ramp(ndarray::Ix4(48, 40, 4, 4)),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            ramp(ndarray::Ix4(3, 16, 17, 9)),
            ramp(ndarray::Ix4(16, 8, 3, 3)),
            ConvTranspose2d::new()
                .stride([2, 3])
                .padding(1)
                .output_padding(1)
                .groups(2),
        ),
        (
            ramp(ndarray::Ix4(2, 12, 30, 30)),
            ramp(ndarray::Ix4(12, 12, 3, 3)),
            ConvTranspose2d::new().padding(1),
        ),
        (
            ramp(ndarray::Ix4(2, 32, 40, 40)),
            ramp(ndarray::Ix4(32, 1, 2, 2)),
            ConvTranspose2d::new().stride(2).groups(32),
        ),
        // shallow input, 16 outputs (direct register tiles in bands of output rows)
        (
            ramp(ndarray::Ix4(2, 32, 28, 28)),
            ramp(ndarray::Ix4(32, 16, 3, 3)),
            ConvTranspose2d::new()
                .stride(2)
                .padding(1)
                .output_padding(1),
        ),
        // depthwise 4x4/2 (stride-phase planes)
        (
            ramp(ndarray::Ix4(2, 16, 24, 24)),
            ramp(ndarray::Ix4(16, 1, 4, 4)),
            ConvTranspose2d::new().stride(2).padding(1).groups(16),
        ),
        // 2x2 input, large layer (skinny product)
        (
            ramp(ndarray::Ix4(1, 64, 2, 2)),
            ramp(ndarray::Ix4(64, 64, 4, 4)),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        // one output channel on a tall image (bands of output rows)
        (
            ramp(ndarray::Ix4(1, 8, 48, 20)),
            ramp(ndarray::Ix4(8, 1, 5, 5)),
            ConvTranspose2d::new()
                .stride(2)
                .padding(2)
                .output_padding(1),
        ),
        // a latent vector projected to 4x4 (projection) and a 3-channel 2x2/2 head (tiled)
        (
            ramp(ndarray::Ix4(9, 16, 1, 1)),
            ramp(ndarray::Ix4(16, 32, 4, 4)),
            ConvTranspose2d::new(),
        ),
        (
            ramp(ndarray::Ix4(1, 8, 40, 24)),
            ramp(ndarray::Ix4(8, 3, 2, 2)),
            ConvTranspose2d::new().stride(2),
        ),
        // a 1x1 head with few outputs (pointwise: runs of positions as tasks)
        (
            ramp(ndarray::Ix4(2, 96, 70, 90)),
            ramp(ndarray::Ix4(96, 6, 1, 1)),
            ConvTranspose2d::new(),
        ),
        // a 1x1 layer with more outputs on one image (GEMMs in four channel blocks)
        (
            ramp(ndarray::Ix4(1, 64, 64, 64)),
            ramp(ndarray::Ix4(64, 256, 1, 1)),
            ConvTranspose2d::new(),
        ),
        // one small image at stride 1 (a lone band split into two channel halves) and a
        // 3-channel 8x8 head on it (one-channel blocks)
        (
            ramp(ndarray::Ix4(1, 16, 16, 16)),
            ramp(ndarray::Ix4(16, 128, 8, 8)),
            ConvTranspose2d::new().padding(1),
        ),
        (
            ramp(ndarray::Ix4(1, 96, 12, 12)),
            ramp(ndarray::Ix4(96, 3, 8, 8)),
            ConvTranspose2d::new().padding(3),
        ),
        // stride-1 3x3 on one 32x32 map (Winograd, the lone band split in two tasks)
        (
            ramp(ndarray::Ix4(1, 64, 32, 32)),
            ramp(ndarray::Ix4(64, 64, 3, 3)),
            ConvTranspose2d::new().padding(1),
        ),
        // stride-1 3x3 on four 16x16 maps (Winograd on small planes, several images)
        (
            ramp(ndarray::Ix4(4, 64, 16, 16)),
            ramp(ndarray::Ix4(64, 48, 3, 3)),
            ConvTranspose2d::new().padding(1),
        ),
        // stride-1 3x3, 512 -> 256 on two 24x24 maps (Winograd in two blocks of output
        // channels, each image's bands per block)
        (
            ramp(ndarray::Ix4(2, 512, 24, 24)),
            ramp(ndarray::Ix4(512, 256, 3, 3)),
            ConvTranspose2d::new().padding(1),
        ),
        // stride-1 5x5 on a 36x36 map (Winograd over 3x3 sub-kernels, in bands)
        (
            ramp(ndarray::Ix4(1, 32, 36, 36)),
            ramp(ndarray::Ix4(32, 48, 5, 5)),
            ConvTranspose2d::new().padding(2),
        ),
        // 4x4/2 and 6x6/3 on 32x32 maps (the phases stacked into one Winograd convolution:
        // two channel blocks in bands of rows, and one block)
        (
            ramp(ndarray::Ix4(1, 64, 40, 40)),
            ramp(ndarray::Ix4(64, 128, 4, 4)),
            ConvTranspose2d::new().stride(2).padding(1),
        ),
        (
            ramp(ndarray::Ix4(2, 16, 32, 32)),
            ramp(ndarray::Ix4(16, 16, 6, 6)),
            ConvTranspose2d::new().stride(3).padding(1),
        ),
    ];
    for (x, w, cfg) in &cases {
        let one: Array4<f32> = in_pool(1, || conv_transpose2d(x, w, None, cfg).unwrap());
        let two: Array4<f32> = in_pool(2, || conv_transpose2d(x, w, None, cfg).unwrap());
        assert!(same_bits(&one, &two), "{cfg:?}");
    }
    // a deep signal to one channel at 4x (phase rows, windows of the signal as tasks)
    let signal = ramp(ndarray::Ix3(1, 64, 5000));
    let w1 = ramp(ndarray::Ix3(64, 1, 4));
    let cfg1 = ConvTranspose1d::new().stride(4);
    let one = in_pool(1, || conv_transpose1d(&signal, &w1, None, &cfg1).unwrap());
    let two = in_pool(2, || conv_transpose1d(&signal, &w1, None, &cfg1).unwrap());
    assert!(same_bits(&one, &two));
    // and through 7 taps at stride 5 (tap rows, windows with halos)
    let w7 = ramp(ndarray::Ix3(64, 1, 7));
    let cfg7 = ConvTranspose1d::new().stride(5).padding(1);
    let one = in_pool(1, || conv_transpose1d(&signal, &w7, None, &cfg7).unwrap());
    let two = in_pool(2, || conv_transpose1d(&signal, &w7, None, &cfg7).unwrap());
    assert!(same_bits(&one, &two));
    let x = ramp(ndarray::Ix5(1, 8, 6, 10, 10));
    let w = ramp(ndarray::Ix5(8, 8, 3, 3, 3));
    let cfg = ConvTranspose3d::new().stride(2);
    let one: Array5<f32> = in_pool(1, || conv_transpose3d(&x, &w, None, &cfg).unwrap());
    let two: Array5<f32> = in_pool(2, || conv_transpose3d(&x, &w, None, &cfg).unwrap());
    assert!(same_bits(&one, &two));
}

#[test]
fn conv_and_upsample_are_thread_count_independent() {
    let x = ramp(ndarray::Ix4(2, 24, 50, 50));
    let w = ramp(ndarray::Ix4(20, 24, 3, 3));
    let cfg = Conv2d::new().padding(1);
    let one = in_pool(1, || conv2d(&x, &w, None, &cfg).unwrap());
    let two = in_pool(2, || conv2d(&x, &w, None, &cfg).unwrap());
    assert!(same_bits(&one, &two));
    // a 1x1 convolution with few outputs (pointwise)
    let w1 = ramp(ndarray::Ix4(5, 24, 1, 1));
    let cfg = Conv2d::new();
    let one = in_pool(1, || conv2d(&x, &w1, None, &cfg).unwrap());
    let two = in_pool(2, || conv2d(&x, &w1, None, &cfg).unwrap());
    assert!(same_bits(&one, &two));
    // a 1x1 convolution with more outputs on one image (GEMMs in two channel blocks)
    let w2 = ramp(ndarray::Ix4(48, 24, 1, 1));
    let lone = x.slice(ndarray::s![..1, .., .., ..]).to_owned();
    let one = in_pool(1, || conv2d(&lone, &w2, None, &cfg).unwrap());
    let two = in_pool(2, || conv2d(&lone, &w2, None, &cfg).unwrap());
    assert!(same_bits(&one, &two));
    // one long signal (windows of the row as tasks)
    let signal = ramp(ndarray::Ix3(1, 24, 40000));
    let w3 = ramp(ndarray::Ix3(16, 24, 5));
    let cfg = Conv1d::new().padding(2);
    let one = in_pool(1, || conv1d(&signal, &w3, None, &cfg).unwrap());
    let two = in_pool(2, || conv1d(&signal, &w3, None, &cfg).unwrap());
    assert!(same_bits(&one, &two));
    // (and small planes, each in two passes: see `upsample::small_planes`)
    let small = ramp(ndarray::Ix4(2, 40, 8, 9));
    for mode in [Mode::Nearest, Mode::Linear, Mode::Cubic, Mode::Area] {
        let up = Upsample2d::scale([2.0, 2.0]).mode(mode);
        for x in [&x, &small] {
            let one = in_pool(1, || upsample2d(x, &up).unwrap());
            let two = in_pool(2, || upsample2d(x, &up).unwrap());
            assert!(same_bits(&one, &two), "{mode:?}");
        }
    }
}

/// Resizes of fewer planes than the threads have tasks (an RGB image, one volume) are cut
/// into bands of output rows; antialiased and area downsampling (batches of rows through the
/// innermost axis) count their input, which is larger than their output, toward going
/// parallel.
#[test]
fn resizes_of_few_planes_are_thread_count_independent() {
    let image = ramp(ndarray::Ix4(1, 3, 300, 410));
    for (mode, size, antialias) in [
        (Mode::Linear, [75, 100], true),
        (Mode::Cubic, [150, 205], true),
        (Mode::Area, [90, 123], false),
        (Mode::Linear, [600, 820], false),
        (Mode::Nearest, [600, 820], false),
    ] {
        let up = Upsample2d::size(size).mode(mode).antialias(antialias);
        let one = in_pool(1, || upsample2d(&image, &up).unwrap());
        let two = in_pool(2, || upsample2d(&image, &up).unwrap());
        assert!(same_bits(&one, &two), "{mode:?} {size:?}");
    }
    let volume = ramp(ndarray::Ix5(1, 1, 40, 64, 64));
    let up = Upsample3d::scale([2.0, 2.0, 2.0]).mode(Mode::Linear);
    let one = in_pool(1, || upsample3d(&volume, &up).unwrap());
    let two = in_pool(2, || upsample3d(&volume, &up).unwrap());
    assert!(same_bits(&one, &two));
}

/// A few long signals (fewer rows than the threads have tasks) run in bands of outputs shared
/// out among the threads, one thread runs the engine on whole rows; a signal whose table
/// would be too large runs in bands either way.
#[test]
fn resizes_of_few_long_rows_are_thread_count_independent() {
    for (rows, len, scale, mode, antialias) in [
        (1, 100_000, 2.0, Mode::Linear, false),
        (2, 70_000, 3.0, Mode::Cubic, false),
        (3, 300_000, 0.3, Mode::Linear, true),
        (1, 200_000, 0.45, Mode::Area, false),
        (2, 90_000, 1.7, Mode::Nearest, false),
        (1, 1 << 20, 2.0, Mode::Linear, false),
    ] {
        let x = ramp(ndarray::Ix3(1, rows, len));
        let up = Upsample1d::scale([scale]).mode(mode).antialias(antialias);
        let one = in_pool(1, || upsample1d(&x, &up).unwrap());
        let two = in_pool(2, || upsample1d(&x, &up).unwrap());
        assert!(same_bits(&one, &two), "{rows} x {len} {mode:?}");
    }
}

/// A resize that changes nothing (ONNX Runtime returns the input when the shapes agree) of
/// one long row is a copy, with any number of threads (with two, such a row once took the
/// banded path with no table and wrote nothing).
#[test]
fn unchanged_long_rows_are_copied() {
    let x = ramp(ndarray::Ix1(100_000)).into_dyn();
    for threads in [1, 2] {
        let y = in_pool(threads, || {
            resize(&x, &Resize::new().scales(vec![1.0])).unwrap()
        });
        assert!(same_bits(&x, &y), "{threads} threads");
    }
}

/// ONNX `tf_crop_and_resize` with an extrapolation value: outputs outside the crop are that
/// value exactly, also when the resize runs in parallel tasks.
#[test]
fn extrapolated_resizes_are_thread_count_independent() {
    let x = ramp(ndarray::Ix4(4, 8, 100, 100)).into_dyn();
    let cfg = Resize::new()
        .mode(ResizeMode::Linear)
        .coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
        .roi(vec![0.0, 0.0, -0.3, -0.2, 1.0, 1.0, 1.4, 1.1])
        .sizes(vec![4, 8, 130, 170])
        .extrapolation_value(0.3);
    let one = in_pool(1, || resize(&x, &cfg).unwrap());
    let two = in_pool(2, || resize(&x, &cfg).unwrap());
    assert!(same_bits(&one, &two));
    assert!(one.iter().any(|&v| v == 0.3));
    // two planes: cut into bands of rows, the crop's outside rows among them
    let x = ramp(ndarray::Ix4(1, 2, 300, 300)).into_dyn();
    for mode in [ResizeMode::Nearest, ResizeMode::Linear, ResizeMode::Cubic] {
        let cfg = Resize::new()
            .mode(mode)
            .coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
            .roi(vec![0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 1.3, 0.9])
            .sizes(vec![1, 2, 400, 420])
            .extrapolation_value(0.3);
        let one = in_pool(1, || resize(&x, &cfg).unwrap());
        let two = in_pool(2, || resize(&x, &cfg).unwrap());
        assert!(same_bits(&one, &two), "{mode:?}");
        assert!(one.iter().any(|&v| v == 0.3), "{mode:?}");
    }
}
