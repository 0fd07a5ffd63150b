//! PyTorch golden tests for `upsample{1,2,3}d` and pixel (un)shuffle.
//!
//! Expected numbers come from torch 2.15 CPU (`F.interpolate`, `F.pixel_shuffle`,
//! `F.pixel_unshuffle`) via `scripts/gen_upsample_fixtures.py`; see that script for the exact
//! calls. Nearest modes must match exactly; the others within 1e-5 (f32) / 1e-12 (f64) of
//! `max |expected|`.

use ndarray::{ArrayD, Dimension, IxDyn};
use serde_json::Value;
use upconv::{
    pixel_shuffle, pixel_unshuffle, upsample1d, upsample2d, upsample3d, CoordinateMode, Element,
    Mode, Upsample,
};

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/upsample/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).expect("json")
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn array<T: Element, D: Dimension>(shape: &[usize], data: &[f64]) -> ndarray::Array<T, D> {
    ArrayD::from_shape_vec(
        IxDyn(shape),
        data.iter().map(|&v| T::from_f64_lossy(v)).collect(),
    )
    .unwrap()
    .into_dimensionality::<D>()
    .unwrap()
}

fn mode_of(s: &str) -> Mode {
    match s {
        "nearest" => Mode::Nearest,
        "nearest-exact" => Mode::NearestExact,
        "linear" | "bilinear" | "trilinear" => Mode::Linear,
        "bicubic" => Mode::Cubic,
        "area" => Mode::Area,
        other => panic!("unknown mode {other}"),
    }
}

fn config<const D: usize>(case: &Value) -> Upsample<D> {
    let mut cfg = if case["size"].is_null() {
        let s = floats(&case["scale"]);
        Upsample::<D>::scale(s.try_into().unwrap())
    } else {
        let s = usizes(&case["size"]);
        Upsample::<D>::size(s.try_into().unwrap())
    };
    cfg = cfg.mode(mode_of(case["mode"].as_str().unwrap()));
    if case["align_corners"].as_bool().unwrap() {
        cfg = cfg.coordinates(CoordinateMode::AlignCorners);
    }
    cfg.antialias(case["antialias"].as_bool().unwrap())
        .recompute_scale_factor(case["recompute"].as_bool().unwrap())
}

/// Returns the error relative to max |expected|.
fn compare(name: &str, got: &[f64], got_shape: &[usize], case: &Value, exact: bool) -> f64 {
    let mut want = floats(&case["output"]);
    if case["dtype"] == "float32" {
        // serde_json's default float parser can be 1 ulp off in f64; the f32 value is exact
        want.iter_mut().for_each(|v| *v = f64::from(*v as f32));
    }
    assert_eq!(
        got_shape,
        usizes(&case["output_shape"]).as_slice(),
        "{name}: shape"
    );
    let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if exact {
            assert_eq!(g, w, "{name}: element {i}");
        }
        worst = worst.max((g - w).abs() / max);
    }
    worst
}

fn run_case<T: Element>(case: &Value) -> (Vec<f64>, Vec<usize>) {
    let shape = usizes(&case["input_shape"]);
    let data = floats(&case["input"]);
    let y: ArrayD<T> = match case["dims"].as_u64().unwrap() {
        1 => upsample1d(&array::<T, ndarray::Ix3>(&shape, &data), &config::<1>(case))
            .unwrap()
            .into_dyn(),
        2 => upsample2d(&array::<T, ndarray::Ix4>(&shape, &data), &config::<2>(case))
            .unwrap()
            .into_dyn(),
        _ => upsample3d(&array::<T, ndarray::Ix5>(&shape, &data), &config::<3>(case))
            .unwrap()
            .into_dyn(),
    };
    (
        y.iter().map(|v| v.to_f64_lossless()).collect(),
        y.shape().to_vec(),
    )
}

#[test]
fn interpolate_matches_pytorch() {
    let fx = load("torch_interpolate.json");
    let cases = fx["cases"].as_array().unwrap();
    let (mut n, mut worst32, mut worst64) = (0, 0.0f64, 0.0f64);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let exact = case["mode"].as_str().unwrap().starts_with("nearest");
        if case["dtype"] == "float32" {
            let (g, s) = run_case::<f32>(case);
            let e = compare(name, &g, &s, case, exact);
            assert!(e <= 1e-5, "{name}: relative error {e}");
            worst32 = worst32.max(e);
        } else {
            let (g, s) = run_case::<f64>(case);
            let e = compare(name, &g, &s, case, exact);
            assert!(e <= 1e-12, "{name}: relative error {e}");
            worst64 = worst64.max(e);
        }
        n += 1;
    }
    eprintln!("{n} interpolate cases, worst f32 {worst32:e}, worst f64 {worst64:e}");
    assert!(n > 250, "only {n} cases checked");
}

#[test]
fn pixel_shuffle_matches_pytorch() {
    let fx = load("torch_pixel_shuffle.json");
    let mut n = 0;
    for case in fx["cases"].as_array().unwrap() {
        let shape = usizes(&case["input_shape"]);
        let mut data = floats(&case["input"]);
        if case["dtype"] == "float32" {
            data.iter_mut().for_each(|v| *v = f64::from(*v as f32));
        }
        let r = case["r"].as_u64().unwrap() as usize;
        let x = array::<f64, ndarray::Ix4>(&shape, &data);
        let y = if case["op"] == "pixel_shuffle" {
            pixel_shuffle(&x, r).unwrap()
        } else {
            pixel_unshuffle(&x, r).unwrap()
        };
        let got: Vec<f64> = y.iter().copied().collect();
        compare(case["op"].as_str().unwrap(), &got, y.shape(), case, true);
        n += 1;
    }
    assert_eq!(n, 5);
}
