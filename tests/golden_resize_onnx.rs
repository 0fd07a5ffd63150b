//! ONNX Runtime golden tests for `resize` (ONNX `Resize`, opset 19).
//!
//! Expected numbers come from onnxruntime 1.32 CPU via `scripts/gen_upsample_fixtures.py`
//! (one single-node opset-19 model per case). Nearest must match exactly; linear and cubic
//! within 1e-5 of `max |expected|` (ORT has no f64 Resize kernel, so all cases are f32).

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use upconv::{resize, AspectRatioPolicy, CoordinateTransform, NearestMode, Resize, ResizeMode};

fn load() -> Value {
    let path = format!(
        "{}/tests/data/upsample/ort_resize.json",
        env!("CARGO_MANIFEST_DIR")
    );
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

fn config(case: &Value) -> Resize {
    let a = &case["attrs"];
    let mut cfg = Resize::new();
    if let Some(m) = a["mode"].as_str() {
        cfg = cfg.mode(match m {
            "nearest" => ResizeMode::Nearest,
            "linear" => ResizeMode::Linear,
            "cubic" => ResizeMode::Cubic,
            o => panic!("mode {o}"),
        });
    }
    if let Some(c) = a["coordinate_transformation_mode"].as_str() {
        cfg = cfg.coordinate_transformation_mode(match c {
            "half_pixel" => CoordinateTransform::HalfPixel,
            "half_pixel_symmetric" => CoordinateTransform::HalfPixelSymmetric,
            "pytorch_half_pixel" => CoordinateTransform::PytorchHalfPixel,
            "align_corners" => CoordinateTransform::AlignCorners,
            "asymmetric" => CoordinateTransform::Asymmetric,
            "tf_crop_and_resize" => CoordinateTransform::TfCropAndResize,
            o => panic!("coordinate mode {o}"),
        });
    }
    if let Some(n) = a["nearest_mode"].as_str() {
        cfg = cfg.nearest_mode(match n {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            o => panic!("nearest mode {o}"),
        });
    }
    if let Some(p) = a["keep_aspect_ratio_policy"].as_str() {
        cfg = cfg.keep_aspect_ratio_policy(match p {
            "stretch" => AspectRatioPolicy::Stretch,
            "not_larger" => AspectRatioPolicy::NotLarger,
            "not_smaller" => AspectRatioPolicy::NotSmaller,
            o => panic!("policy {o}"),
        });
    }
    if let Some(v) = a["cubic_coeff_a"].as_f64() {
        cfg = cfg.cubic_coeff_a(v);
    }
    if let Some(v) = a["exclude_outside"].as_i64() {
        cfg = cfg.exclude_outside(v != 0);
    }
    if let Some(v) = a["antialias"].as_i64() {
        cfg = cfg.antialias(v != 0);
    }
    if let Some(v) = a["extrapolation_value"].as_f64() {
        cfg = cfg.extrapolation_value(v);
    }
    if let Some(ax) = a["axes"].as_array() {
        cfg = cfg.axes(ax.iter().map(|v| v.as_i64().unwrap()).collect::<Vec<_>>());
    }
    if !case["scales"].is_null() {
        cfg = cfg.scales(floats(&case["scales"]));
    }
    if !case["sizes"].is_null() {
        cfg = cfg.sizes(usizes(&case["sizes"]));
    }
    if !case["roi"].is_null() {
        cfg = cfg.roi(floats(&case["roi"]));
    }
    cfg
}

#[test]
fn resize_matches_onnx_runtime() {
    let fx = load();
    let (mut n, mut worst) = (0, 0.0f64);
    let mut failures = Vec::new();
    let mut known = 0;
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        // ORT 1.32 bug: keep_aspect_ratio_policy ignores negative `axes` (its helper compares
        // the raw values with 0..rank), so ORT returns the input shape. We follow the spec.
        if name.starts_with("policy_not_") && name.ends_with("_neg") {
            assert_eq!(case["output_shape"], case["input_shape"], "{name}");
            let cfg = config(case);
            let positive = cfg.clone().axes(vec![3, 2]);
            assert_eq!(
                cfg.output_dims(&[1, 1, 4, 6]),
                positive.output_dims(&[1, 1, 4, 6])
            );
            known += 1;
            continue;
        }
        let shape = usizes(&case["input_shape"]);
        let data: Vec<f32> = floats(&case["input"]).iter().map(|&v| v as f32).collect();
        let x = ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap();
        let want: Vec<f32> = floats(&case["output"]).iter().map(|&v| v as f32).collect();
        let y = match resize(&x, &config(case)) {
            Ok(y) => y,
            Err(e) => {
                failures.push(format!("{name}: error {e}"));
                continue;
            }
        };
        if y.shape() != usizes(&case["output_shape"]).as_slice() {
            failures.push(format!("{name}: shape {:?}", y.shape()));
            continue;
        }
        let exact = case["attrs"]["mode"].as_str().unwrap_or("nearest") == "nearest";
        let max = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
        let mut e = 0.0f64;
        for (g, w) in y.iter().zip(&want) {
            if exact && g != w {
                e = f64::INFINITY;
            }
            e = e.max(f64::from((g - w).abs() / max));
        }
        if e > 1e-5 {
            failures.push(format!("{name}: relative error {e}"));
        }
        worst = worst.max(e);
        n += 1;
    }
    eprintln!("{n} ONNX Runtime cases, worst relative error {worst:e}, {known} known ORT bugs");
    assert_eq!(known, 4);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n > 150, "only {n} cases checked");
}
