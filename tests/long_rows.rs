//! Rows too long for one scratch tile (audio-length 1-D signals, very wide images) are cut
//! into windows along the row, and images with too many rows for one tile into bands of rows.
//! Every path that does so must still give the definition's numbers: checked against
//! `upconv::reference` on rows of tens of thousands of samples and on tall images.

mod common;

use ndarray::{Array, Dimension};
use upconv::{
    conv1d, conv2d, conv_transpose1d, conv_transpose2d, conv_transpose3d, reference, Conv1d,
    Conv2d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
};

fn data<D: Dimension>(shape: &[usize], seed: u64) -> Array<f64, D> {
    common::seeded(shape, seed)
        .into_dimensionality::<D>()
        .unwrap()
}

fn assert_close<D: Dimension>(what: &str, got: &Array<f64, D>, want: &Array<f64, D>) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err <= 1e-12 * scale,
        "{what}: max error {err} (scale {scale})"
    );
}

/// `[C_in, length]`, `C_out`, kernel, stride, padding, output padding.
type Case1d = (usize, usize, usize, usize, usize, usize, usize);

#[test]
fn transposed_1d_long_signals_match_the_definition() {
    let cases: [(&str, Case1d); 4] = [
        // kernel == stride: every output written once, GEMM + col2im in windows
        ("2x upsampling, kernel 2", (64, 20_000, 32, 2, 2, 0, 0)),
        // overlapping taps, more inputs than outputs channels: GEMM + col2im in windows
        ("4/2, 64 -> 16 channels", (64, 20_000, 16, 4, 2, 1, 0)),
        // few input channels, many output channels: sub-pixel phases in windows
        ("4/2, 4 -> 64 channels", (4, 30_000, 64, 4, 2, 1, 0)),
        // stride 1: the flipped forward convolution in windows
        ("stride 1, kernel 3", (32, 30_000, 32, 3, 1, 1, 0)),
    ];
    for (i, (name, (cin, len, cout, k, s, pad, op))) in cases.into_iter().enumerate() {
        let x = data(&[1, cin, len], 10 + i as u64);
        let w = data(&[cin, cout, k], 20 + i as u64);
        let b = data(&[cout], 30 + i as u64);
        let cfg = ConvTranspose1d::new()
            .stride(s)
            .padding(pad)
            .output_padding(op);
        let got = conv_transpose1d(&x, &w, Some(&b), &cfg).unwrap();
        let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
        assert_close(name, &got, &want);
    }
}

#[test]
fn transposed_2d_wide_rows_match_the_definition() {
    // several rows, each cut into windows: the windows of one row and the rows' overlapping
    // taps must land in the right places
    for (i, (cin, cout)) in [(16, 16), (2, 48)].into_iter().enumerate() {
        let x = data(&[1, cin, 3, 20_000], 40 + i as u64);
        let w = data(&[cin, cout, 3, 3], 50 + i as u64);
        let cfg = ConvTranspose2d::new()
            .stride(2)
            .padding(1)
            .output_padding(1);
        let got = conv_transpose2d(&x, &w, None, &cfg).unwrap();
        let want = reference::conv_transpose(&x, &w, None, &cfg).unwrap();
        assert_close(&format!("3x3/2, {cin} -> {cout}"), &got, &want);
    }
}

#[test]
fn transposed_tall_images_match_the_definition() {
    // More input rows than one column tile holds (more input than output channels, so GEMM +
    // col2im): output rows between two bands get taps from both, the first band to reach a
    // row stores it and the next adds to it.
    let x = data(&[1, 32, 200, 40], 70);
    let w = data(&[32, 8, 3, 3], 71);
    let b = data(&[8], 72);
    let cfg = ConvTranspose2d::new()
        .stride(2)
        .padding(1)
        .output_padding(1);
    let got = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
    let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
    assert_close("3x3/2, 200 rows", &got, &want);

    // dilation, stride 3 and padding that crops: rows some bands never reach
    let x = data(&[1, 32, 600, 30], 73);
    let w = data(&[32, 4, 3, 3], 74);
    let b = data(&[4], 75);
    let cfg = ConvTranspose2d::new().stride(3).padding(2).dilation(2);
    let got = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
    let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
    assert_close("3x3/3 dilation 2, 600 rows", &got, &want);

    // depthwise, tall enough that the rows' tap lists are not shared between planes
    let x = data(&[1, 2, 30_000, 3], 78);
    let w = data(&[2, 1, 3, 2], 79);
    let cfg = ConvTranspose2d::new().padding([1, 0]).groups(2);
    let got = conv_transpose2d(&x, &w, None, &cfg).unwrap();
    let want = reference::conv_transpose(&x, &w, None, &cfg).unwrap();
    assert_close("depthwise 3x2, 30000 rows", &got, &want);

    // 3-D: bands of rows that cross from one depth slice to the next
    let x = data(&[1, 16, 6, 40, 40], 76);
    let w = data(&[16, 4, 3, 3, 3], 77);
    let cfg = ConvTranspose3d::new().stride(2).padding(1);
    let got = conv_transpose3d(&x, &w, None, &cfg).unwrap();
    let want = reference::conv_transpose(&x, &w, None, &cfg).unwrap();
    assert_close("3x3x3/2, 6 x 40 rows", &got, &want);
}

#[test]
fn winograd_bands_match_the_definition() {
    // 3x3 stride 1 with enough channels for Winograd F(2x2, 3x3), tall enough for several
    // bands of tile rows, odd height and width (the last tile row and column are half used)
    let x = data(&[1, 32, 129, 67], 80);
    let w = data(&[24, 32, 3, 3], 81);
    let b = data(&[24], 82);
    let cfg = Conv2d::new().padding(1);
    let got = conv2d(&x, &w, Some(&b), &cfg).unwrap();
    let want = reference::conv(&x, &w, Some(&b), &cfg).unwrap();
    assert_close("conv2d 3x3, 129 x 67", &got, &want);
}

#[test]
fn winograd_subpixel_phases_match_the_definition() {
    // strided transposed convolutions whose stride phases are 2x2 or 3x3 stride-1 convolutions
    // (kernel 4 or 6 with stride 2 or 3), on inputs large enough for Winograd phases; padding
    // and output padding shift the phases' windows
    let x = data(&[1, 32, 64, 66], 90);
    let b = data(&[32], 91);
    for (i, (k, s, pad, op)) in [(4, 2, 1, 0), (4, 2, 2, 1), (6, 3, 1, 0), (6, 2, 2, 1)]
        .into_iter()
        .enumerate()
    {
        let w = data(&[32, 32, k, k], 92 + i as u64);
        let cfg = ConvTranspose2d::new()
            .stride(s)
            .padding(pad)
            .output_padding(op);
        let got = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
        let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
        assert_close(&format!("{k}x{k}/{s} pad {pad} op {op}"), &got, &want);
    }
    // two groups of 32 channels: each group's transformed weight
    let x = data(&[1, 64, 64, 64], 97);
    let w = data(&[64, 32, 4, 4], 98);
    let b = data(&[64], 99);
    let cfg = ConvTranspose2d::new().stride(2).padding(1).groups(2);
    let got = conv_transpose2d(&x, &w, Some(&b), &cfg).unwrap();
    let want = reference::conv_transpose(&x, &w, Some(&b), &cfg).unwrap();
    assert_close("4x4/2, 2 groups", &got, &want);
}

#[test]
fn forward_long_rows_match_the_definition() {
    let x = data(&[1, 32, 30_000], 60);
    let w = data(&[32, 32, 5], 61);
    let b = data(&[32], 62);
    let cfg = Conv1d::new().padding(2);
    let got = conv1d(&x, &w, Some(&b), &cfg).unwrap();
    assert_close(
        "conv1d k5",
        &got,
        &reference::conv(&x, &w, Some(&b), &cfg).unwrap(),
    );

    // several rows with a kernel of three rows (the row-shift lowering), and a 1x1 kernel
    let x = data(&[1, 8, 4, 30_000], 63);
    for (k, pad) in [(3, 1), (1, 0)] {
        let w = data(&[16, 8, k, k], 64 + k as u64);
        let cfg = Conv2d::new().padding(pad);
        let got = conv2d(&x, &w, None, &cfg).unwrap();
        let want = reference::conv(&x, &w, None, &cfg).unwrap();
        assert_close(&format!("conv2d {k}x{k}"), &got, &want);
    }
    let x = data(&[1, 64, 1, 30_000], 66);
    let w = data(&[64, 64, 1, 1], 67);
    let cfg = Conv2d::new();
    let got = conv2d(&x, &w, None, &cfg).unwrap();
    assert_close(
        "conv2d 1x1, 64 channels",
        &got,
        &reference::conv(&x, &w, None, &cfg).unwrap(),
    );
}
