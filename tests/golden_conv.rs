//! Golden tests: convolution and transposed convolution against fixtures produced by PyTorch
//! (CPU) and ONNX Runtime.
//!
//! The fixtures live in `tests/data/conv/` and are written by `scripts/gen_conv_fixtures.py`
//! (`/work/venv/bin/python scripts/gen_conv_fixtures.py`); CI only reads them. Each file is
//! `{"generator", "torch", "onnxruntime", "cases": [...]}`; a case holds the op, the dims,
//! the dtype, the tensors as `{"shape", "data"}` (row-major), the per-axis parameters and the
//! expected output `y`. `invalid_torch.json` holds shapes only and `torch_raises`.
//!
//! Tolerance: `max |got - expected| <= tol * max(1, max |expected|)` with `tol = 1e-5` for f32
//! and `1e-12` for f64; output shapes must match exactly. Every case of a file is checked and
//! all failures are reported together, each with its case name.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{Array, ArrayD, Dimension, Ix1, Ix3, Ix4, Ix5, IxDyn};
use serde_json::Value;
use upconv::{
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, AutoPad, Conv,
    ConvTranspose, ConvTransposeLayer, Error,
};

const CONV_TRANSPOSE_TORCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conv/conv_transpose_torch.json"
);
const CONV_TORCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conv/conv_torch.json"
);
const CONV_TRANSPOSE_ONNX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conv/conv_transpose_onnx.json"
);
const INVALID_TORCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conv/invalid_torch.json"
);

// ------------------------------------------------------------------------------------------
// JSON access

fn load(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    assert_eq!(
        v["generator"].as_str(),
        Some("scripts/gen_conv_fixtures.py"),
        "{path}: unexpected generator field"
    );
    v["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no \"cases\" array"))
        .clone()
}

fn name(c: &Value) -> &str {
    c["name"].as_str().expect("case without a name")
}

fn usizes(v: &Value, what: &str) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
        .iter()
        .map(|e| {
            let n = e
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: {e} is not a non-negative integer"));
            usize::try_from(n).unwrap()
        })
        .collect()
}

fn field(c: &Value, key: &str) -> Vec<usize> {
    usizes(&c[key], key)
}

fn opt_field(c: &Value, key: &str) -> Option<Vec<usize>> {
    match &c[key] {
        Value::Null => None,
        v => Some(usizes(v, key)),
    }
}

fn axes<const D: usize>(v: &[usize], what: &str) -> [usize; D] {
    v.try_into()
        .unwrap_or_else(|_| panic!("{what} has {} entries, expected {D}", v.len()))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("\"data\" is not an array")
        .iter()
        .map(|e| e.as_f64().expect("non-numeric tensor element"))
        .collect()
}

fn auto_pad(s: &str) -> AutoPad {
    match s {
        "NOTSET" => AutoPad::NotSet,
        "SAME_UPPER" => AutoPad::SameUpper,
        "SAME_LOWER" => AutoPad::SameLower,
        "VALID" => AutoPad::Valid,
        other => panic!("unknown auto_pad {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Element types

/// The two dtypes of the fixtures, with exact conversions from the JSON's f64 values
/// (float32 data is written as the f64 of an f32, so `as f32` is exact).
trait Num: upconv::Element {
    const DTYPE: &'static str;
    /// Relative tolerance of the comparison.
    const TOL: f64;
    fn of(v: f64) -> Self;
    fn to(self) -> f64;
}

impl Num for f32 {
    const DTYPE: &'static str = "float32";
    const TOL: f64 = 1e-5;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn to(self) -> f64 {
        f64::from(self)
    }
}

impl Num for f64 {
    const DTYPE: &'static str = "float64";
    const TOL: f64 = 1e-12;
    fn of(v: f64) -> Self {
        v
    }
    fn to(self) -> f64 {
        self
    }
}

/// A tensor from `{"shape": [...], "data": [...]}`, or zeros of that shape when there is no
/// `"data"` (invalid cases).
fn tensor<T: Num, Dm: Dimension>(v: &Value, what: &str) -> Array<T, Dm> {
    let shape = usizes(&v["shape"], what);
    let dynamic: ArrayD<T> = match &v["data"] {
        Value::Null => ArrayD::zeros(IxDyn(&shape)),
        data => {
            let data: Vec<T> = floats(data).into_iter().map(T::of).collect();
            Array::from_shape_vec(IxDyn(&shape), data)
                .unwrap_or_else(|e| panic!("{what}: data does not fit shape {shape:?}: {e}"))
        }
    };
    dynamic
        .into_dimensionality::<Dm>()
        .unwrap_or_else(|e| panic!("{what}: shape {shape:?} has the wrong rank: {e}"))
}

fn bias<T: Num>(c: &Value) -> Option<Array<T, Ix1>> {
    match &c["b"] {
        Value::Null => None,
        b => Some(tensor::<T, Ix1>(b, "b")),
    }
}

// ------------------------------------------------------------------------------------------
// Configurations

fn ct_cfg<const D: usize>(c: &Value) -> ConvTranspose<D> {
    let mut cfg = ConvTranspose::<D>::new()
        .stride(axes::<D>(&field(c, "stride"), "stride"))
        .dilation(axes::<D>(&field(c, "dilation"), "dilation"))
        .groups(c["groups"].as_u64().expect("groups") as usize);
    let (pb, pe) = (field(c, "pad_begin"), field(c, "pad_end"));
    if pb.iter().chain(&pe).any(|&p| p != 0) {
        cfg = cfg.pads(axes::<D>(&pb, "pad_begin"), axes::<D>(&pe, "pad_end"));
    }
    let op = opt_field(c, "output_padding").unwrap_or_else(|| vec![0; D]);
    if op.iter().any(|&p| p != 0) {
        cfg = cfg.output_padding(axes::<D>(&op, "output_padding"));
    }
    if let Some(size) = opt_field(c, "output_size") {
        cfg = cfg.output_size(axes::<D>(&size, "output_size"));
    }
    if let Some(ap) = c["auto_pad"].as_str() {
        cfg = cfg.auto_pad(auto_pad(ap));
    }
    if let Some(shape) = opt_field(c, "output_shape") {
        cfg = cfg.onnx_output_shape(axes::<D>(&shape, "output_shape"));
    }
    cfg
}

fn conv_cfg<const D: usize>(c: &Value) -> Conv<D> {
    let mut cfg = Conv::<D>::new()
        .stride(axes::<D>(&field(c, "stride"), "stride"))
        .dilation(axes::<D>(&field(c, "dilation"), "dilation"))
        .groups(c["groups"].as_u64().expect("groups") as usize);
    let (pb, pe) = (field(c, "pad_begin"), field(c, "pad_end"));
    if pb.iter().chain(&pe).any(|&p| p != 0) {
        cfg = cfg.pads(axes::<D>(&pb, "pad_begin"), axes::<D>(&pe, "pad_end"));
    }
    cfg
}

// ------------------------------------------------------------------------------------------
// Running one case

/// Output shape and values (widened to f64).
type Output = (Vec<usize>, Vec<f64>);

fn flatten<T: Num, Dm: Dimension>(y: Array<T, Dm>) -> Output {
    (y.shape().to_vec(), y.iter().map(|&v| v.to()).collect())
}

/// How a transposed convolution is run: the function, or a [`ConvTransposeLayer`] built from
/// the case's weight and bias and called twice (the first call packs what it packs, the
/// second reads it; both outputs are checked).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Function,
    Layer,
}

macro_rules! run_dims {
    ($c:expr, $via:expr, $T:ty, $Ix:ty, $D:literal, $ct:ident, $cv:ident) => {{
        let x = tensor::<$T, $Ix>(&$c["x"], "x");
        let w = tensor::<$T, $Ix>(&$c["w"], "w");
        let b = bias::<$T>($c);
        match $c["op"].as_str() {
            Some("conv_transpose") if $via == Via::Layer => {
                let layer = ConvTransposeLayer::<$T, $D>::new(&w, b.as_deref(), ct_cfg::<$D>($c))?;
                let first = layer.forward(&x)?;
                let mut second = first.clone();
                layer.forward_into(&x, &mut second)?;
                assert_eq!(
                    first, second,
                    "a layer's second call differs from its first"
                );
                Ok(flatten(second))
            }
            Some("conv_transpose") => $ct(&x, &w, b.as_deref(), &ct_cfg::<$D>($c)).map(flatten),
            Some("conv") => $cv(&x, &w, b.as_deref(), &conv_cfg::<$D>($c)).map(flatten),
            other => panic!("unknown op {other:?}"),
        }
    }};
}

fn run_typed<T: Num>(c: &Value, via: Via) -> Result<Output, Error> {
    match c["dims"].as_u64() {
        Some(1) => run_dims!(c, via, T, Ix3, 1, conv_transpose1d, conv1d),
        Some(2) => run_dims!(c, via, T, Ix4, 2, conv_transpose2d, conv2d),
        Some(3) => run_dims!(c, via, T, Ix5, 3, conv_transpose3d, conv3d),
        other => panic!("unsupported dims {other:?}"),
    }
}

/// Runs a case in its dtype; a panic inside the crate becomes an `Err` message.
fn run(c: &Value, via: Via) -> Result<Result<Output, Error>, String> {
    let dtype = c["dtype"].as_str();
    catch_unwind(AssertUnwindSafe(|| match dtype {
        Some(d) if d == f32::DTYPE => run_typed::<f32>(c, via),
        Some(d) if d == f64::DTYPE => run_typed::<f64>(c, via),
        other => panic!("unknown dtype {other:?}"),
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })
}

fn tol(c: &Value) -> f64 {
    match c["dtype"].as_str() {
        Some(d) if d == f32::DTYPE => f32::TOL,
        Some(d) if d == f64::DTYPE => f64::TOL,
        other => panic!("unknown dtype {other:?}"),
    }
}

/// Checks one golden case; `Err` describes the mismatch.
fn check_golden(c: &Value, via: Via) -> Result<f64, String> {
    let expected_shape = usizes(&c["y"]["shape"], "y.shape");
    let expected = floats(&c["y"]["data"]);
    let (shape, got) = match run(c, via) {
        Err(panic) => return Err(format!("panicked: {panic}")),
        Ok(Err(e)) => return Err(format!("returned Err({e}) [{e:?}]")),
        Ok(Ok(out)) => out,
    };
    if shape != expected_shape {
        return Err(format!(
            "output shape {shape:?}, expected {expected_shape:?}"
        ));
    }
    assert_eq!(got.len(), expected.len());
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let bound = tol(c) * scale;
    let (mut err, mut at) = (0.0f64, 0usize);
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        let d = (g - e).abs();
        if d > err || d.is_nan() {
            err = if d.is_nan() { f64::INFINITY } else { d };
            at = i;
        }
    }
    if err > bound {
        return Err(format!(
            "max abs error {err:e} > {bound:e} at flat index {at} (got {}, expected {})",
            got[at], expected[at]
        ));
    }
    Ok(err / scale)
}

fn check_golden_file(path: &str, expect_op: &str, via: Via) {
    let cases = load(path);
    assert!(!cases.is_empty(), "{path}: no cases");
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    for c in &cases {
        assert_eq!(
            c["op"].as_str(),
            Some(expect_op),
            "{}: unexpected op",
            name(c)
        );
        match check_golden(c, via) {
            Ok(rel) => {
                if rel > worst.0 {
                    worst = (rel, name(c).to_string());
                }
            }
            Err(msg) => {
                let line = format!("{}: {msg}", name(c));
                eprintln!("FAIL {line}");
                failures.push(line);
            }
        }
    }
    println!(
        "{path}: {} cases checked, {} failed; worst relative error {:e} ({})",
        cases.len(),
        failures.len(),
        worst.0,
        worst.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases of {path} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// Tests

#[test]
fn conv_transpose_matches_pytorch() {
    check_golden_file(CONV_TRANSPOSE_TORCH, "conv_transpose", Via::Function);
}

/// The same cases through [`ConvTransposeLayer`] (its packed weight where a case's products
/// have few columns).
#[test]
fn conv_transpose_layer_matches_pytorch() {
    check_golden_file(CONV_TRANSPOSE_TORCH, "conv_transpose", Via::Layer);
}

#[test]
fn conv_matches_pytorch() {
    check_golden_file(CONV_TORCH, "conv", Via::Function);
}

#[test]
fn conv_transpose_matches_onnxruntime() {
    check_golden_file(CONV_TRANSPOSE_ONNX, "conv_transpose", Via::Function);
}

#[test]
fn conv_transpose_layer_matches_onnxruntime() {
    check_golden_file(CONV_TRANSPOSE_ONNX, "conv_transpose", Via::Layer);
}

/// The crate returns `Err` exactly when PyTorch raised, and otherwise PyTorch's output shape
/// (functions and layers).
#[test]
fn invalid_parameters_rejected_like_pytorch() {
    let cases = load(INVALID_TORCH);
    assert!(!cases.is_empty(), "{INVALID_TORCH}: no cases");
    let mut failures = Vec::new();
    // transposed convolutions also through a layer: `Err` from `new` or `forward` alike
    for (via, c) in [Via::Function, Via::Layer]
        .into_iter()
        .flat_map(|via| cases.iter().map(move |c| (via, c)))
    {
        let raises = c["torch_raises"]
            .as_bool()
            .unwrap_or_else(|| panic!("{}: no torch_raises", name(c)));
        let msg = match run(c, via) {
            Err(panic) => Some(format!("panicked: {panic}")),
            Ok(Err(e)) if !raises => Some(format!(
                "returned Err({e}) but PyTorch accepts it (output {})",
                c["torch_output_shape"]
            )),
            Ok(Ok((shape, _))) if raises => Some(format!(
                "returned Ok (shape {shape:?}) but PyTorch raises: {}",
                c["torch_error"].as_str().unwrap_or("?")
            )),
            Ok(Ok((shape, _))) => {
                let want = opt_field(c, "torch_output_shape");
                (want.as_ref() != Some(&shape))
                    .then(|| format!("output shape {shape:?}, PyTorch gives {want:?}"))
            }
            Ok(Err(_)) => None,
        };
        if let Some(m) = msg {
            let line = format!("{} ({via:?}): {m}", name(c));
            eprintln!("FAIL {line}");
            failures.push(line);
        }
    }
    println!(
        "{INVALID_TORCH}: {} cases checked, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases of {INVALID_TORCH} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
