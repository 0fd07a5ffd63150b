//! Inputs far from any real layer (found by a panic-hunting fuzz run): each must give an
//! error or a correct result, quickly, without a panic, an abort or a huge allocation.
//! Results are checked against `upconv::reference` (itself checked against PyTorch by the
//! golden tests); errors must name the problem.

use ndarray::{Array3, Array4};
use upconv::shape::{self, AxisParams};
use upconv::*;

fn ramp3(shape: (usize, usize, usize)) -> Array3<f64> {
    let mut v = 0.0;
    Array3::from_shape_simple_fn(shape, || {
        v += 0.37;
        (v * 7.0) % 3.0 - 1.5
    })
}

/// The same layer through a `ConvTranspose1dLayer` (called twice).
fn via_layer(x: &Array3<f64>, w: &Array3<f64>, cfg: ConvTranspose1d) -> Array3<f64> {
    let layer = ConvTranspose1dLayer::new(w, None, cfg).unwrap();
    let first = layer.forward(x).unwrap();
    assert_eq!(first, layer.forward(x).unwrap());
    first
}

#[test]
fn huge_strides_and_dilations_with_small_outputs_run_the_definition() {
    // a 2^32 stride whose result padding crops to 8 samples (the fast paths' stride-phase
    // rows would be 2^32 long)
    let x = ramp3((2, 9, 1));
    let w = ramp3((9, 1, 4));
    let cfg = ConvTranspose1d::new()
        .stride(1 << 32)
        .pads(1, 2)
        .output_padding(1)
        .dilation(3)
        .groups(3);
    let y = conv_transpose1d(&x, &w, None, &cfg).unwrap();
    assert_eq!(y, via_layer(&x, &w, cfg));
    assert_eq!(y.shape(), &[2, 3, 8]);
    assert_eq!(y, reference::conv_transpose(&x, &w, None, &cfg).unwrap());

    // 2^40 stride, ONNX output shape 12 (the padding crops 2^40 samples)
    let x = ramp3((1, 3, 2));
    let w = ramp3((3, 1, 1));
    let cfg = ConvTranspose1d::new()
        .stride(1 << 40)
        .onnx_output_shape([12]);
    let y = conv_transpose1d(&x, &w, None, &cfg).unwrap();
    assert_eq!(y, via_layer(&x, &w, cfg));
    assert_eq!(y, reference::conv_transpose(&x, &w, None, &cfg).unwrap());

    // depthwise with a 2^32 dilation
    let x = ramp3((2, 4, 3));
    let w = ramp3((4, 1, 3));
    let cfg = ConvTranspose1d::new()
        .stride(2)
        .dilation(1 << 32)
        .groups(4)
        .auto_pad(AutoPad::SameLower)
        .onnx_output_shape([2]);
    let y = conv_transpose1d(&x, &w, None, &cfg).unwrap();
    assert_eq!(y, via_layer(&x, &w, cfg));
    assert_eq!(y, reference::conv_transpose(&x, &w, None, &cfg).unwrap());

    // forward convolution with a 2^59 stride
    let x = ramp3((2, 3, 4));
    let w = ramp3((3, 3, 3));
    let cfg = Conv1d::new().stride(1 << 59).padding(3);
    let y = conv1d(&x, &w, None, &cfg).unwrap();
    assert_eq!(y, reference::conv(&x, &w, None, &cfg).unwrap());
}

#[test]
fn parameters_beyond_two_to_the_sixty_are_errors() {
    let x = ramp3((1, 1, 1));
    let w = ramp3((1, 1, 2));
    let cfg = ConvTranspose1d::new()
        .dilation((1 << 63) + 2)
        .pads(1 << 63, 0);
    let e = conv_transpose1d(&x, &w, None, &cfg).unwrap_err();
    assert!(matches!(e, Error::Overflow { .. }), "{e}");
    assert!(e.to_string().contains("2^60"), "{e}");
    let e = ConvTranspose1dLayer::new(&w, None, cfg)
        .unwrap()
        .forward(&x)
        .unwrap_err();
    assert!(e.to_string().contains("2^60"), "{e}");
    let e = shape::check_axis(0, &AxisParams::new(3).stride(usize::MAX)).unwrap_err();
    assert!(matches!(e, Error::Overflow { .. }), "{e}");
    for r in [
        shape::conv_transpose_output_len(0, 1, &AxisParams::new(usize::MAX).output_padding(1)),
        shape::conv_transpose_output_len(usize::MAX, 0, &AxisParams::new(1)),
    ] {
        assert!(r.is_err());
    }
    assert!(shape::resize::area_bin(usize::MAX, 1, 1).is_err());
}

#[test]
fn empty_batches_with_huge_planes_allocate_nothing() {
    // 2^40 output samples per plane, but no images: nothing is computed or allocated
    let x = Array3::<f32>::zeros((0, 2, 1 << 40));
    let w = Array3::<f32>::ones((2, 2, 4));
    let cfg = ConvTranspose1d::new().stride(2).dilation(2);
    let y = conv_transpose1d(&x, &w, None, &cfg).unwrap();
    // (2^40 - 1)*2 + (4 - 1)*2 + 1
    assert_eq!(y.shape(), &[0, 2, (1 << 41) + 5]);
    assert!(cfg.cost(&[0, 2, 1 << 40], &[2, 2, 4], 4).is_ok());
    let layer = ConvTranspose1dLayer::new(&w, None, cfg).unwrap();
    assert_eq!(layer.forward(&x).unwrap().shape(), &[0, 2, (1 << 41) + 5]);

    let x = Array4::<f32>::zeros((0, 1, 1 << 24, 1 << 24));
    let up = Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear);
    assert_eq!(
        upsample2d(&x, &up).unwrap().shape(),
        &[0, 1, 1 << 25, 1 << 25]
    );
    // an empty array whose other lengths multiply past isize::MAX cannot exist (ndarray's
    // rule): an error, not a panic
    let x = Array4::<f32>::zeros((0, 1, 1 << 31, 1 << 31));
    assert!(matches!(upsample2d(&x, &up), Err(Error::Overflow { .. })));

    // area with one empty output axis and a huge other one
    let x = Array4::<f32>::ones((1, 1, 2, 2));
    let area = Upsample2d::size([0, 1 << 40]).mode(Mode::Area);
    assert_eq!(upsample2d(&x, &area).unwrap().shape(), &[1, 1, 0, 1 << 40]);
}

#[test]
fn cost_estimates_of_absurd_layers_are_errors_not_hangs() {
    let e = ConvTranspose1d::new()
        .cost(&[1, 1, 1], &[1, 1, 1 << 40], 4)
        .unwrap_err();
    assert!(e.to_string().contains("2^24"), "{e}");
    assert!(Conv1d::new()
        .pads(1 << 40, 1 << 40)
        .cost(&[1, 1, 1], &[1, 1, 1 << 40], 4)
        .is_err());
    assert!(Upsample1d::size([1 << 40])
        .mode(Mode::Linear)
        .cost(&[1, 1, 1], 4)
        .is_err());
    assert!(Upsample1d::size([1])
        .mode(Mode::Linear)
        .antialias(true)
        .cost(&[1, 1, 1 << 40], 4)
        .is_err());
    // a huge stride with a cropped output: the estimate is immediate. The 12 outputs sit
    // 2^39 - 5 samples into the full result, between the two input samples (at 0 and 2^40),
    // so no product lands in them
    let c = ConvTranspose1d::new()
        .stride(1 << 40)
        .onnx_output_shape([12])
        .cost(&[1, 3, 2], &[3, 1, 1], 4)
        .unwrap();
    assert_eq!(c.multiply_adds, 0);
    assert_eq!(c.bytes_written, 12 * 4);
}
