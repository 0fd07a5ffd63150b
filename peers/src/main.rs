//! Times the pure-Rust peers on upconv's workload file, in the line format of
//! `cargo run --release --example bench_workloads` with the peer's name in front:
//!
//! ```text
//! candle deconv <name> out=[N,C,H,W] <median ms> ms <GFLOP/s> GFLOP/s
//! rten up <name> out=[N,C,H,W] <median ms> ms <GB/s> GB/s
//! # check <peer> <name> max_abs_diff=<max |peer - upconv|>
//! # skip <peer> <name>: <why>
//! ```
//!
//! ```text
//! cd peers && nice -n 19 cargo build --release -j 1
//! cargo run --release -- [../bench/workloads.json] [--threads N] [--into] [--reps N]
//!     [--warmup N] [--only SUBSTRING] [--peers candle,burn-ndarray,burn-flex,rten,tract]
//! ```
//!
//! FLOPs and bytes come from upconv's cost model, so every rate refers to the same work.
//! Each peer's output is compared with upconv's (`# check` lines).
//!
//! Peers and what they can run (versions in Cargo.toml):
//! * candle-core 0.11 (CPU): `conv_transpose2d` has no `groups`, so the depthwise workload is
//!   skipped; `upsample_nearest2d`, `upsample_bilinear2d_with_scale`; no bicubic, no pixel
//!   shuffle. Multi-threaded through rayon (its gemm) and its own per-op threads.
//! * burn-tensor 0.22 on the `NdArray` backend and on the `Flex` backend (the CPU backend new
//!   in 0.22): `module::conv_transpose2d` (groups supported) and `module::interpolate`
//!   (nearest, bilinear, bicubic, align corners). Pixel shuffle is not timed.
//! * rten 0.27, its operators called directly (`rten::ops::conv_transpose`, `resize`,
//!   `depth_to_space`) with one `BufferPool`; no cubic resize, so bicubic is skipped. With
//!   `--into` each output buffer is handed back to the pool after the call, which is how
//!   rten's graph executor reuses outputs.
//! * tract 0.23 (tract-onnx): a one-node ONNX model (ConvTranspose / Resize / DepthToSpace)
//!   built in memory, optimised, run through `SimplePlan`, on one thread: tract's default
//!   executor is single-threaded, and its multithreaded one needs tract-linalg's
//!   `multithread-mm` feature, which rebuilds the whole tract chain (not worth it here).
//!
//! Threads: everything runs inside one rayon pool of `--threads N` threads (candle, burn and
//! rten use the current rayon pool); tract runs on one thread whatever `N`.
//! `--into` only changes rten (see above): candle, burn and tract have no API to write into a
//! caller's buffer, so every call allocates its output.

use std::error::Error;
use std::time::Instant;

use ndarray::Array4;
use serde_json::Value;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// A prepared call: `run(false)` only computes, `run(true)` also returns the output.
type Runner = Box<dyn FnMut(bool) -> Res<Option<Vec<f32>>>>;

const PEERS: [&str; 5] = ["candle", "burn-ndarray", "burn-flex", "rten", "tract"];

struct Opts {
    path: String,
    threads: usize,
    into: bool,
    reps: Option<usize>,
    warmup: usize,
    only: Option<String>,
    peers: Vec<String>,
}

fn parse_args() -> Res<Opts> {
    let default_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/workloads.json");
    let mut o = Opts {
        path: default_path.into(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        into: false,
        reps: None,
        warmup: 2,
        only: None,
        peers: PEERS.iter().map(|s| s.to_string()).collect(),
    };
    let mut args = std::env::args().skip(1);
    let num = |v: Option<String>, flag: &str| -> Res<usize> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        Ok(v.parse()
            .map_err(|_| format!("{flag}: not a number: {v}"))?)
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => o.threads = num(args.next(), "--threads")?.max(1),
            "--reps" => o.reps = Some(num(args.next(), "--reps")?.max(1)),
            "--warmup" => o.warmup = num(args.next(), "--warmup")?,
            "--into" => o.into = true,
            "--only" => o.only = Some(args.next().ok_or("--only needs a value")?),
            "--peers" => {
                let list = args.next().ok_or("--peers needs a value")?;
                o.peers = list.split(',').map(|s| s.trim().to_string()).collect();
                if let Some(p) = o.peers.iter().find(|p| !PEERS.contains(&p.as_str())) {
                    return Err(format!("unknown peer {p}; known: {}", PEERS.join(",")).into());
                }
            }
            "-h" | "--help" => {
                println!(
                    "usage: upconv-peers [WORKLOADS.json] [--threads N] [--into] [--reps N] \
                     [--warmup N] [--only SUBSTRING] [--peers {}]",
                    PEERS.join(",")
                );
                std::process::exit(0);
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}").into()),
            s => o.path = s.to_string(),
        }
    }
    Ok(o)
}

/// Median wall time in ms, as in upconv's example: `warmup` untimed runs, then `reps` timed
/// runs or as many as fit in about one second (5 to 50; `reps` must be given when `warmup`
/// is 0).
fn time_ms(reps: Option<usize>, warmup: usize, run: &mut Runner) -> Res<f64> {
    let mut first = f64::NAN;
    for i in 0..warmup {
        let t = Instant::now();
        run(false)?;
        if i == 0 {
            first = t.elapsed().as_secs_f64();
        }
    }
    let n = reps.unwrap_or_else(|| ((1.0 / first.max(1e-6)).ceil() as usize).clamp(5, 50));
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        run(false)?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Deterministic pseudo-random values in [-1, 1) (the same generator as upconv's example).
fn random(shape: [usize; 4], seed: u64) -> Array4<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array4::from_shape_simple_fn(shape, || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    })
}

fn fmt_shape(s: &[usize]) -> String {
    let v: Vec<String> = s.iter().map(ToString::to_string).collect();
    format!("[{}]", v.join(","))
}

fn get_usize(v: &Value, key: &str, default: Option<usize>) -> Res<usize> {
    match v.get(key) {
        Some(x) => Ok(x.as_u64().ok_or_else(|| format!("{key}: not an integer"))? as usize),
        None => default.ok_or_else(|| format!("missing key {key}").into()),
    }
}

fn get_pair(v: &Value, key: &str, default: Option<usize>) -> Res<[usize; 2]> {
    match v.get(key) {
        Some(Value::Array(a)) if a.len() == 2 => {
            let g = |i: usize| a[i].as_u64().map(|x| x as usize).ok_or("not an integer");
            Ok([g(0)?, g(1)?])
        }
        Some(_) => Ok([get_usize(v, key, None)?; 2]),
        None => Ok([default.ok_or_else(|| format!("missing key {key}"))?; 2]),
    }
}

fn get_shape4(v: &Value) -> Res<[usize; 4]> {
    let a = v
        .get("x")
        .and_then(Value::as_array)
        .filter(|a| a.len() == 4)
        .ok_or("x must be [N, C, H, W]")?;
    let mut s = [0; 4];
    for (d, x) in s.iter_mut().zip(a) {
        *d = x.as_u64().ok_or("x: not an integer")? as usize;
    }
    Ok(s)
}

fn contiguous(a: &Array4<f32>) -> Vec<f32> {
    a.as_standard_layout().iter().copied().collect()
}

/// One deconvolution workload, with upconv's output as the reference.
struct Deconv {
    x: Array4<f32>,
    w: Array4<f32>,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    outpad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    out: Vec<usize>,
    reference: Vec<f32>,
}

/// The upsampling modes of the workload format.
#[derive(Clone, Copy, PartialEq, Debug)]
enum UpMode {
    Nearest,
    Bilinear,
    Bicubic,
    PixelShuffle,
}

/// One upsampling workload, with upconv's output as the reference.
struct Up {
    x: Array4<f32>,
    mode: UpMode,
    scale: [f64; 2],
    align_corners: bool,
    out: Vec<usize>,
    reference: Vec<f32>,
}

fn load_deconv(wl: &Value) -> Res<(Deconv, u64)> {
    let xs = get_shape4(wl)?;
    let k = get_pair(wl, "k", None)?;
    let groups = get_usize(wl, "groups", Some(1))?;
    let cout = get_usize(wl, "cout", None)?;
    if groups == 0 || cout % groups != 0 {
        return Err(format!("groups {groups} does not divide cout {cout}").into());
    }
    let d = Deconv {
        x: random(xs, 1),
        w: random([xs[1], cout / groups, k[0], k[1]], 2),
        k,
        stride: get_pair(wl, "stride", Some(1))?,
        pad: get_pair(wl, "pad", Some(0))?,
        outpad: get_pair(wl, "outpad", Some(0))?,
        dilation: get_pair(wl, "dilation", Some(1))?,
        groups,
        out: vec![],
        reference: vec![],
    };
    let cfg = upconv::ConvTranspose2d::new()
        .stride(d.stride)
        .padding(d.pad)
        .output_padding(d.outpad)
        .dilation(d.dilation)
        .groups(groups);
    let flops = cfg.cost(d.x.shape(), d.w.shape(), 4)?.flops();
    let y = upconv::conv_transpose2d(&d.x, &d.w, None, &cfg)?;
    Ok((
        Deconv {
            out: y.shape().to_vec(),
            reference: contiguous(&y),
            ..d
        },
        flops,
    ))
}

fn load_up(wl: &Value) -> Res<(Up, u64)> {
    let xs = get_shape4(wl)?;
    let mode_s = wl
        .get("mode")
        .and_then(Value::as_str)
        .ok_or("missing mode")?;
    let scale: [f64; 2] = match wl.get("scale") {
        Some(Value::Array(a)) if a.len() == 2 => [
            a[0].as_f64().ok_or("scale: not a number")?,
            a[1].as_f64().ok_or("scale: not a number")?,
        ],
        Some(s) => [s.as_f64().ok_or("scale: not a number")?; 2],
        None => return Err("missing scale".into()),
    };
    let align_corners = wl.get("align_corners").and_then(Value::as_bool) == Some(true);
    let x = random(xs, 3);
    let (mode, y, bytes) = match mode_s {
        "pixel_shuffle" => {
            let y = upconv::pixel_shuffle(&x, scale[0] as usize)?;
            (UpMode::PixelShuffle, y, 8 * x.len() as u64)
        }
        m => {
            let (mode, um) = match m {
                "nearest" => (UpMode::Nearest, upconv::Mode::Nearest),
                "bilinear" | "linear" => (UpMode::Bilinear, upconv::Mode::Linear),
                "bicubic" | "cubic" => (UpMode::Bicubic, upconv::Mode::Cubic),
                m => return Err(format!("mode {m} is not timed on the peers").into()),
            };
            let mut cfg = upconv::Upsample2d::scale(scale).mode(um);
            if align_corners {
                cfg = cfg.coordinates(upconv::CoordinateMode::AlignCorners);
            }
            let bytes = cfg.cost(x.shape(), 4)?.bytes_moved();
            (mode, upconv::upsample2d(&x, &cfg)?, bytes)
        }
    };
    Ok((
        Up {
            x,
            mode,
            scale,
            align_corners,
            out: y.shape().to_vec(),
            reference: contiguous(&y),
        },
        bytes,
    ))
}

/// A peer's prepared call, or why it cannot run the workload.
enum Prep {
    Run(Runner),
    Skip(String),
}

fn skip(why: impl Into<String>) -> Res<Prep> {
    Ok(Prep::Skip(why.into()))
}

// ------------------------------------------------------------------------------- candle

mod candle {
    use super::*;
    use candle_core::{Device, Tensor};

    type Resample = dyn Fn(&Tensor) -> candle_core::Result<Tensor>;

    fn tensor(a: &Array4<f32>) -> Res<Tensor> {
        Ok(Tensor::from_vec(contiguous(a), a.shape(), &Device::Cpu)?)
    }

    fn output(t: &Tensor) -> Res<Vec<f32>> {
        Ok(t.flatten_all()?.to_vec1::<f32>()?)
    }

    pub(super) fn deconv(d: &Deconv) -> Res<Prep> {
        if d.groups != 1 {
            return skip("conv_transpose2d has no groups");
        }
        let same = |a: [usize; 2]| a[0] == a[1];
        if !(same(d.stride) && same(d.pad) && same(d.outpad) && same(d.dilation)) {
            return skip("conv_transpose2d takes one stride/padding/dilation for both axes");
        }
        let (x, w) = (tensor(&d.x)?, tensor(&d.w)?);
        let (p, op, s, dl) = (d.pad[0], d.outpad[0], d.stride[0], d.dilation[0]);
        Ok(Prep::Run(Box::new(move |want| {
            let y = x.conv_transpose2d(&w, p, op, s, dl)?;
            Ok(if want { Some(output(&y)?) } else { None })
        })))
    }

    pub(super) fn up(u: &Up) -> Res<Prep> {
        let x = tensor(&u.x)?;
        let (oh, ow) = (u.out[2], u.out[3]);
        let (sh, sw, ac) = (u.scale[0], u.scale[1], u.align_corners);
        let f: Box<Resample> = match u.mode {
            UpMode::Nearest => Box::new(move |x| x.upsample_nearest2d(oh, ow)),
            UpMode::Bilinear => Box::new(move |x| x.upsample_bilinear2d_with_scale(sh, sw, ac)),
            UpMode::Bicubic => return skip("no bicubic upsampling"),
            UpMode::PixelShuffle => return skip("no pixel shuffle op"),
        };
        Ok(Prep::Run(Box::new(move |want| {
            let y = f(&x)?;
            Ok(if want { Some(output(&y)?) } else { None })
        })))
    }
}

// ------------------------------------------------------------------------------- burn

mod burn {
    use super::*;
    use burn_tensor::module::{conv_transpose2d, interpolate};
    use burn_tensor::ops::{ConvTransposeOptions, InterpolateMode, InterpolateOptions};
    use burn_tensor::{Device, Tensor, TensorData};

    // burn 0.22 deprecates the NdArray backend in favour of Flex; it is still the one most
    // burn users have, so it is timed too.
    #[allow(deprecated)]
    pub(super) fn device(name: &str) -> Device {
        if name == "burn-flex" {
            Device::flex()
        } else {
            Device::ndarray()
        }
    }

    fn tensor(a: &Array4<f32>, dev: &Device) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(contiguous(a), a.shape().to_vec()), dev)
    }

    fn output(t: Tensor<4>) -> Res<Vec<f32>> {
        Ok(t.into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?)
    }

    pub(super) fn deconv(d: &Deconv, dev: Device) -> Res<Prep> {
        let (x, w) = (tensor(&d.x, &dev), tensor(&d.w, &dev));
        let opts = ConvTransposeOptions::new(d.stride, d.pad, d.outpad, d.dilation, d.groups);
        Ok(Prep::Run(Box::new(move |want| {
            let y = conv_transpose2d(x.clone(), w.clone(), None, opts.clone());
            if want {
                return Ok(Some(output(y)?));
            }
            // the CPU backends run eagerly; reading nothing back keeps the timing to the op
            dev.sync().map_err(|e| format!("{e:?}"))?;
            drop(y);
            Ok(None)
        })))
    }

    pub(super) fn up(u: &Up, dev: Device) -> Res<Prep> {
        let mode = match u.mode {
            UpMode::Nearest => InterpolateMode::Nearest,
            UpMode::Bilinear => InterpolateMode::Bilinear,
            UpMode::Bicubic => InterpolateMode::Bicubic,
            UpMode::PixelShuffle => return skip("pixel shuffle is not timed on burn"),
        };
        let x = tensor(&u.x, &dev);
        let opts = InterpolateOptions::new(mode)
            .with_align_corners(u.align_corners)
            .with_output_size([u.out[2], u.out[3]]);
        Ok(Prep::Run(Box::new(move |want| {
            let y = interpolate(x.clone(), opts.clone());
            if want {
                return Ok(Some(output(y)?));
            }
            dev.sync().map_err(|e| format!("{e:?}"))?;
            drop(y);
            Ok(None)
        })))
    }
}

// ------------------------------------------------------------------------------- rten

mod rten_peer {
    use super::*;
    use rten::ops::{
        conv_transpose, depth_to_space, resize, CoordTransformMode, DepthToSpaceMode, NearestMode,
        ResizeMode, ResizeTarget,
    };
    use rten::BufferPool;
    use rten_tensor::{NdTensorView, Tensor, TensorView};

    fn finish(pool: &BufferPool, y: Tensor, want: bool, into: bool) -> Option<Vec<f32>> {
        if want {
            return Some(y.into_data());
        }
        if into {
            pool.add(y.into_data());
        }
        None
    }

    pub(super) fn deconv(d: &Deconv, into: bool) -> Res<Prep> {
        let (x, w) = (contiguous(&d.x), contiguous(&d.w));
        let (xs, ws) = (d.x.shape().to_vec(), d.w.shape().to_vec());
        let pads = [d.pad[0], d.pad[1], d.pad[0], d.pad[1]];
        let (s, dl, op, g) = (d.stride, d.dilation, d.outpad, d.groups);
        let pool = BufferPool::new();
        Ok(Prep::Run(Box::new(move |want| {
            let y = conv_transpose(
                &pool,
                TensorView::from_data(&xs, &x[..]),
                TensorView::from_data(&ws, &w[..]),
                None,
                pads.into(),
                g,
                &s,
                &dl,
                Some(&op),
            )
            .map_err(|e| e.to_string())?;
            Ok(finish(&pool, y, want, into))
        })))
    }

    pub(super) fn up(u: &Up, into: bool) -> Res<Prep> {
        let x = contiguous(&u.x);
        let xs = u.x.shape().to_vec();
        let pool = BufferPool::new();
        if u.mode == UpMode::PixelShuffle {
            let r = u.scale[0] as u32;
            return Ok(Prep::Run(Box::new(move |want| {
                let y = depth_to_space(
                    &pool,
                    TensorView::from_data(&xs, &x[..]),
                    r,
                    DepthToSpaceMode::ColumnRowDepth,
                )
                .map_err(|e| e.to_string())?;
                Ok(finish(&pool, y, want, into))
            })));
        }
        let (mode, coord, nearest) = match (u.mode, u.align_corners) {
            (UpMode::Nearest, _) => (
                ResizeMode::Nearest,
                CoordTransformMode::Asymmetric,
                NearestMode::Floor,
            ),
            (UpMode::Bilinear, false) => (
                ResizeMode::Linear,
                CoordTransformMode::PytorchHalfPixel,
                NearestMode::default(),
            ),
            (UpMode::Bilinear, true) => (
                ResizeMode::Linear,
                CoordTransformMode::AlignCorners,
                NearestMode::default(),
            ),
            (UpMode::Bicubic, _) => return skip("no cubic resize mode"),
            (UpMode::PixelShuffle, _) => unreachable!(),
        };
        let scales = [1.0f32, 1.0, u.scale[0] as f32, u.scale[1] as f32];
        Ok(Prep::Run(Box::new(move |want| {
            let y = resize(
                &pool,
                TensorView::from_data(&xs, &x[..]),
                ResizeTarget::Scales(NdTensorView::from_data([4], &scales[..])),
                mode,
                coord,
                nearest,
            )
            .map_err(|e| e.to_string())?;
            Ok(finish(&pool, y, want, into))
        })))
    }
}

// ------------------------------------------------------------------------------- tract

mod tract {
    use super::*;
    use tract_onnx::pb::{
        attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
        TensorShapeProto, TypeProto, ValueInfoProto,
    };
    use tract_onnx::prelude::{
        onnx, tvec, Framework, InferenceModelExt, IntoRunnable, Tensor as TTensor,
    };

    fn ints(name: &str, v: &[usize]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Ints as i32,
            ints: v.iter().map(|&x| x as i64).collect(),
            ..Default::default()
        }
    }

    fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Int as i32,
            i: v,
            ..Default::default()
        }
    }

    fn float(name: &str, v: f32) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Float as i32,
            f: v,
            ..Default::default()
        }
    }

    fn string(name: &str, v: &str) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::String as i32,
            s: v.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
        let dim = shape
            .iter()
            .map(|&d| tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
                ..Default::default()
            })
            .collect();
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: DataType::Float as i32,
                    shape: Some(TensorShapeProto { dim }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn initializer(name: &str, shape: &[usize], data: Vec<f32>) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            float_data: data,
            ..Default::default()
        }
    }

    /// Optimises and runs a one-node model with input `X` (shape of `x`) and output `Y`.
    fn runner(
        node: NodeProto,
        inits: Vec<TensorProto>,
        x: &Array4<f32>,
        out: &[usize],
    ) -> Res<Prep> {
        let graph = GraphProto {
            node: vec![node],
            name: "g".into(),
            initializer: inits,
            input: vec![value_info("X", x.shape())],
            output: vec![value_info("Y", out)],
            ..Default::default()
        };
        let proto = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(graph),
            ..Default::default()
        };
        let plan = onnx()
            .model_for_proto_model(&proto)?
            .into_optimized()?
            .into_runnable()?;
        let input = TTensor::from_shape(x.shape(), &contiguous(x))?;
        Ok(Prep::Run(Box::new(move |want| {
            let y = plan.run(tvec!(input.clone().into()))?;
            Ok(if want {
                Some(y[0].to_plain_array_view::<f32>()?.iter().copied().collect())
            } else {
                None
            })
        })))
    }

    pub(super) fn deconv(d: &Deconv) -> Res<Prep> {
        let node = NodeProto {
            input: vec!["X".into(), "W".into()],
            output: vec!["Y".into()],
            op_type: "ConvTranspose".into(),
            attribute: vec![
                ints("kernel_shape", &d.k),
                ints("strides", &d.stride),
                ints("pads", &[d.pad[0], d.pad[1], d.pad[0], d.pad[1]]),
                ints("output_padding", &d.outpad),
                ints("dilations", &d.dilation),
                int("group", d.groups as i64),
            ],
            ..Default::default()
        };
        let w = initializer("W", d.w.shape(), contiguous(&d.w));
        runner(node, vec![w], &d.x, &d.out)
    }

    pub(super) fn up(u: &Up) -> Res<Prep> {
        let (op_type, inputs, attribute, inits) = if u.mode == UpMode::PixelShuffle {
            let attrs = vec![int("blocksize", u.scale[0] as i64), string("mode", "CRD")];
            ("DepthToSpace", vec!["X".into()], attrs, vec![])
        } else {
            // PyTorch's semantics in ONNX terms, as scripts/compare.py sets them for ORT
            let coord = if u.align_corners {
                "align_corners"
            } else {
                "pytorch_half_pixel"
            };
            let attrs = match u.mode {
                UpMode::Nearest => vec![
                    string("mode", "nearest"),
                    string("coordinate_transformation_mode", "asymmetric"),
                    string("nearest_mode", "floor"),
                ],
                UpMode::Bilinear => vec![
                    string("mode", "linear"),
                    string("coordinate_transformation_mode", coord),
                ],
                _ => vec![
                    string("mode", "cubic"),
                    string("coordinate_transformation_mode", coord),
                    float("cubic_coeff_a", -0.75),
                ],
            };
            let scales = vec![1.0, 1.0, u.scale[0] as f32, u.scale[1] as f32];
            let inputs = vec!["X".into(), String::new(), "scales".into()];
            (
                "Resize",
                inputs,
                attrs,
                vec![initializer("scales", &[4], scales)],
            )
        };
        let node = NodeProto {
            input: inputs,
            output: vec!["Y".into()],
            op_type: op_type.into(),
            attribute,
            ..Default::default()
        };
        runner(node, inits, &u.x, &u.out)
    }
}

// ------------------------------------------------------------------------------- driver

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::NAN;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m, d| if d.is_nan() { f32::NAN } else { m.max(d) })
}

fn prepare_deconv(peer: &str, d: &Deconv, o: &Opts) -> Res<Prep> {
    match peer {
        "candle" => candle::deconv(d),
        "burn-ndarray" | "burn-flex" => burn::deconv(d, burn::device(peer)),
        "rten" => rten_peer::deconv(d, o.into),
        "tract" => tract::deconv(d),
        p => Err(format!("unknown peer {p}").into()),
    }
}

fn prepare_up(peer: &str, u: &Up, o: &Opts) -> Res<Prep> {
    match peer {
        "candle" => candle::up(u),
        "burn-ndarray" | "burn-flex" => burn::up(u, burn::device(peer)),
        "rten" => rten_peer::up(u, o.into),
        "tract" => tract::up(u),
        p => Err(format!("unknown peer {p}").into()),
    }
}

/// What `measure` prints a line for.
struct Case<'a> {
    kind: &'a str,
    name: &'a str,
    out: &'a [usize],
    reference: &'a [f32],
}

/// Times one prepared call, checks it against upconv, prints its lines.
fn measure(o: &Opts, peer: &str, c: &Case<'_>, prep: Res<Prep>, rate: impl Fn(f64) -> String) {
    let Case {
        kind,
        name,
        out,
        reference,
    } = *c;
    let mut run = match prep {
        Ok(Prep::Run(r)) => r,
        Ok(Prep::Skip(why)) => return println!("# skip {peer} {name}: {why}"),
        Err(e) => return println!("# skip {peer} {name}: error preparing: {e}"),
    };
    let t = Instant::now();
    let result = run(true).and_then(|y| {
        let diff = max_abs_diff(y.as_deref().unwrap_or(&[]), reference);
        // a call slower than a second: the checked call was the warm-up, 3 timed runs
        let (reps, warmup) = match (o.reps, t.elapsed().as_secs_f64() > 1.0) {
            (None, true) => (Some(3), 0),
            _ => (o.reps, o.warmup),
        };
        let ms = time_ms(reps, warmup, &mut run)?;
        Ok((ms, diff))
    });
    match result {
        Ok((ms, diff)) => {
            println!(
                "{peer} {kind} {name} out={} {ms:.3} ms {}",
                fmt_shape(out),
                rate(ms)
            );
            println!("# check {peer} {name} max_abs_diff={diff:.3e}");
        }
        Err(e) => println!("# skip {peer} {name}: error running: {e}"),
    }
}

fn run_all(o: &Opts, doc: &Value) -> Res<()> {
    println!(
        "# upconv-peers: file={} threads={} into={} reps={} warmup={} peers={}",
        o.path,
        o.threads,
        o.into,
        o.reps.map_or("auto".to_string(), |r| r.to_string()),
        o.warmup,
        o.peers.join(",")
    );
    let wanted = |wl: &Value| match (&o.only, wl.get("name").and_then(Value::as_str)) {
        (Some(s), Some(n)) => n.contains(s.as_str()),
        _ => true,
    };
    let empty = Vec::new();
    let list = |k: &str| doc.get(k).and_then(Value::as_array).unwrap_or(&empty);
    for wl in list("deconv").iter().filter(|w| wanted(w)) {
        let name = wl.get("name").and_then(Value::as_str).unwrap_or("?");
        let (d, flops) = load_deconv(wl)?;
        for peer in &o.peers {
            let rate = |ms: f64| format!("{:.1} GFLOP/s", flops as f64 / (ms * 1e6));
            let case = Case {
                kind: "deconv",
                name,
                out: &d.out,
                reference: &d.reference,
            };
            measure(o, peer, &case, prepare_deconv(peer, &d, o), rate);
        }
    }
    for wl in list("up").iter().filter(|w| wanted(w)) {
        let name = wl.get("name").and_then(Value::as_str).unwrap_or("?");
        let (u, bytes) = match load_up(wl) {
            Ok(v) => v,
            Err(e) => {
                println!("# skip all {name}: {e}");
                continue;
            }
        };
        for peer in &o.peers {
            let rate = |ms: f64| format!("{:.2} GB/s", bytes as f64 / (ms * 1e6));
            let case = Case {
                kind: "up",
                name,
                out: &u.out,
                reference: &u.reference,
            };
            measure(o, peer, &case, prepare_up(peer, &u, o), rate);
        }
    }
    Ok(())
}

fn main() -> Res<()> {
    let o = parse_args()?;
    let text = std::fs::read_to_string(&o.path).map_err(|e| format!("{}: {e}", o.path))?;
    let doc: Value = serde_json::from_str(&text)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build()?
        .install(|| run_all(&o, &doc))
}
