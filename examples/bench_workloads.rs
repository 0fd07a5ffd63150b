//! Times upconv on a workload file (the format of `bench/workloads.json`), one line per
//! workload, in the line format `scripts/compare.py` and the `peers/` crate also print:
//!
//! ```text
//! deconv <name> out=[N,C,...] <median ms> ms <GFLOP/s> GFLOP/s
//! up <name> out=[N,C,...] <median ms> ms <GB/s> GB/s
//! gemm <name> mnk=[m,n,k] <median ms> ms <GFLOP/s> GFLOP/s   (GEMM ceiling, same FLOP count)
//! copy <name> bytes=B <median ms> ms <GB/s> GB/s             (bandwidth ceiling, same bytes)
//! ```
//!
//! FLOPs are `2 * multiply_adds` and bytes are `bytes_moved()` (input, weights and output
//! once each) from upconv's cost model, so every implementation is rated on the same work.
//!
//! ```text
//! cargo run --release --example bench_workloads -- [WORKLOADS.json] [--threads N] [--into]
//!     [--layer] [--reps N] [--warmup N] [--only SUBSTRING] [--no-gemm] [--no-copy]
//!     [--paired ROUNDS]
//! ```
//!
//! * `WORKLOADS.json`: default `bench/workloads.json` (a copy of the project's standard set);
//!   inputs `x` of 3 to 5 axes (`[N, C, spatial...]`), kernel sizes, strides and paddings a
//!   number or one per spatial axis, upsampling `scale` likewise (`bench/nd_workloads.json`,
//!   `bench/modes_workloads.json`);
//! * `--threads N`: run inside a rayon pool of `N` threads (default: rayon's default, one per
//!   core); without the `rayon` feature everything is single-threaded;
//! * `--into`: reuse one preallocated output across iterations (`*_into` functions); by default
//!   every call allocates its output, as `F.conv_transpose2d` / `F.interpolate` do;
//! * `--layer`: transposed convolutions run through a [`ConvTranspose2dLayer`] built once
//!   before timing (weight held and prepared, as in an `nn.Module` or an ONNX Runtime
//!   session), `forward` or with `--into` `forward_into`; by default the functions, which take
//!   the weight afresh every call;
//! * `--reps N`: timed runs per workload (default: as many as fit in about 1 s, 5 to 50), after
//!   `--warmup N` untimed runs (default 2); the median is printed;
//! * `--gemm` / `--copy` (on by default; `--no-gemm` / `--no-copy` turn them off): after each
//!   deconv workload, one plain f32 matrix product (`gemm` crate) of the same FLOP count; after
//!   each workload, one plain memory copy moving the same bytes (half read, half written);
//! * `--paired R`: after each deconv workload, `R` rounds that time the workload and its GEMM
//!   ceiling back to back (in alternating order, each the median of a few calls), printed as
//!   `share <name> <median> of the GEMM ceiling (quartiles q1-q3, R rounds)`: the median of
//!   the per-round ratios of their GFLOP/s. On a shared, noisy machine the two separate lines
//!   above are taken seconds apart; the paired ratio is what moves least between runs.

use std::error::Error;
use std::time::Instant;

use ndarray::{ArrayD, Ix3, Ix4, Ix5, IxDyn};
use serde_json::Value;
use upconv::{
    conv_transpose1d, conv_transpose1d_into, conv_transpose2d, conv_transpose2d_into,
    conv_transpose3d, conv_transpose3d_into, pixel_shuffle, pixel_shuffle_into, upsample1d,
    upsample1d_into, upsample2d, upsample2d_into, upsample3d, upsample3d_into, ConvTranspose,
    ConvTranspose1dLayer, ConvTranspose2dLayer, ConvTranspose3dLayer, CoordinateMode, Mode,
    Upsample, Upsample1d, Upsample2d, Upsample3d,
};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

struct Opts {
    path: String,
    threads: Option<usize>,
    into: bool,
    layer: bool,
    reps: Option<usize>,
    warmup: usize,
    gemm: bool,
    copy: bool,
    only: Option<String>,
    paired: usize,
}

fn parse_args() -> Res<Opts> {
    let mut o = Opts {
        path: "bench/workloads.json".into(),
        threads: None,
        into: false,
        layer: false,
        reps: None,
        warmup: 2,
        gemm: true,
        copy: true,
        only: None,
        paired: 0,
    };
    let mut args = std::env::args().skip(1);
    let num = |v: Option<String>, flag: &str| -> Res<usize> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        Ok(v.parse()
            .map_err(|_| format!("{flag}: not a number: {v}"))?)
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => o.threads = Some(num(args.next(), "--threads")?.max(1)),
            "--reps" => o.reps = Some(num(args.next(), "--reps")?.max(1)),
            "--warmup" => o.warmup = num(args.next(), "--warmup")?,
            "--into" => o.into = true,
            "--layer" => o.layer = true,
            "--gemm" => o.gemm = true,
            "--copy" => o.copy = true,
            "--no-gemm" => o.gemm = false,
            "--no-copy" => o.copy = false,
            "--only" => o.only = Some(args.next().ok_or("--only needs a value")?),
            "--paired" => o.paired = num(args.next(), "--paired")?,
            "-h" | "--help" => {
                println!(
                    "usage: bench_workloads [WORKLOADS.json] [--threads N] [--into] [--layer] [--reps N] \
                     [--warmup N] [--only SUBSTRING] [--no-gemm] [--no-copy] [--paired ROUNDS]"
                );
                std::process::exit(0);
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}").into()),
            s => o.path = s.to_string(),
        }
    }
    Ok(o)
}

/// Median wall time in ms of `f`, after `warmup` untimed runs; `reps` timed runs, or as many
/// as fit in about one second (5 to 50).
fn time_ms(reps: Option<usize>, warmup: usize, mut f: impl FnMut() -> Res<()>) -> Res<f64> {
    let mut first = f64::NAN;
    for i in 0..warmup.max(1) {
        let t = Instant::now();
        f()?;
        if i == 0 {
            first = t.elapsed().as_secs_f64();
        }
    }
    let n = reps.unwrap_or_else(|| ((1.0 / first.max(1e-6)).ceil() as usize).clamp(5, 50));
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Deterministic pseudo-random values in [-1, 1), of any shape.
fn random_d(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    })
}

fn get_usize(v: &Value, key: &str, default: Option<usize>) -> Res<usize> {
    match v.get(key) {
        Some(x) => Ok(x.as_u64().ok_or_else(|| format!("{key}: not an integer"))? as usize),
        None => default.ok_or_else(|| format!("missing key {key}").into()),
    }
}

/// `x`: the input's shape, any number of axes.
fn get_shape(v: &Value) -> Res<Vec<usize>> {
    v.get("x")
        .and_then(Value::as_array)
        .ok_or("missing x")?
        .iter()
        .map(|d| Ok(d.as_u64().ok_or("x: not an integer")? as usize))
        .collect()
}

fn fmt_shape(s: &[usize]) -> String {
    let v: Vec<String> = s.iter().map(ToString::to_string).collect();
    format!("[{}]", v.join(","))
}

/// A resize over one to three spatial axes, or a pixel shuffle.
enum UpOp {
    Resize1(Upsample1d),
    Resize2(Upsample2d),
    Resize3(Upsample3d),
    PixelShuffle(usize),
}

/// `scale` (a number, or one per spatial axis) as `D` factors.
fn scales<const D: usize>(wl: &Value) -> Res<[f64; D]> {
    let v: Vec<f64> = match wl.get("scale") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_f64().ok_or("scale: not a number"))
            .collect::<Result<_, _>>()?,
        Some(s) => vec![s.as_f64().ok_or("scale: not a number")?; D],
        None => return Err("missing scale".into()),
    };
    Ok(v.try_into()
        .map_err(|_| format!("scale: {D} factors expected"))?)
}

/// The workload's resize over `D` spatial axes: `mode`, `scale`, `align_corners`, `antialias`.
fn resize_cfg<const D: usize>(wl: &Value, mode: Mode) -> Res<Upsample<D>> {
    let mut cfg = Upsample::<D>::scale(scales::<D>(wl)?).mode(mode);
    if wl.get("align_corners").and_then(Value::as_bool) == Some(true) {
        cfg = cfg.coordinates(CoordinateMode::AlignCorners);
    }
    if wl.get("antialias").and_then(Value::as_bool) == Some(true) {
        cfg = cfg.antialias(true);
    }
    Ok(cfg)
}

/// The workload's operation for an input of `rank` axes (`[N, C, spatial...]`). Modes:
/// `nearest`, `nearest-exact`, `linear` (also spelled `bilinear` / `trilinear`), `bicubic`,
/// `area`, `pixel_shuffle` (4-D only).
fn up_op(wl: &Value, rank: usize) -> Res<UpOp> {
    let mode = wl
        .get("mode")
        .and_then(Value::as_str)
        .ok_or("missing mode")?;
    let mode = match mode {
        "nearest" => Mode::Nearest,
        "nearest-exact" | "nearest_exact" => Mode::NearestExact,
        "linear" | "bilinear" | "trilinear" => Mode::Linear,
        "cubic" | "bicubic" => Mode::Cubic,
        "area" => Mode::Area,
        "pixel_shuffle" if rank == 4 => {
            return Ok(UpOp::PixelShuffle(scales::<2>(wl)?[0] as usize))
        }
        m => return Err(format!("unknown mode {m} for a {rank}-D input").into()),
    };
    Ok(match rank {
        3 => UpOp::Resize1(resize_cfg(wl, mode)?),
        4 => UpOp::Resize2(resize_cfg(wl, mode)?),
        5 => UpOp::Resize3(resize_cfg(wl, mode)?),
        _ => return Err(format!("x must have 3 to 5 axes, not {rank}").into()),
    })
}

impl UpOp {
    fn output_dims(&self, x: &[usize]) -> Res<Vec<usize>> {
        match self {
            UpOp::Resize1(c) => Ok(c.output_dims(x)?),
            UpOp::Resize2(c) => Ok(c.output_dims(x)?),
            UpOp::Resize3(c) => Ok(c.output_dims(x)?),
            UpOp::PixelShuffle(r) => {
                let r2 = r * r;
                if *r == 0 || x[1] % r2 != 0 {
                    return Err(format!("pixel_shuffle: {} channels, factor {r}", x[1]).into());
                }
                Ok(vec![x[0], x[1] / r2, x[2] * r, x[3] * r])
            }
        }
    }

    /// The cost model's bytes (pixel shuffle moves what nearest-x1 would: input and output).
    fn bytes(&self, x: &[usize]) -> Res<u64> {
        match self {
            UpOp::Resize1(c) => Ok(c.cost(x, 4)?.bytes_moved()),
            UpOp::Resize2(c) => Ok(c.cost(x, 4)?.bytes_moved()),
            UpOp::Resize3(c) => Ok(c.cost(x, 4)?.bytes_moved()),
            UpOp::PixelShuffle(_) => Ok(2 * 4 * x.iter().product::<usize>() as u64),
        }
    }

    fn run(&self, x: &ArrayD<f32>) -> Res<ArrayD<f32>> {
        Ok(match self {
            UpOp::Resize1(c) => upsample1d(&x.view().into_dimensionality::<Ix3>()?, c)?.into_dyn(),
            UpOp::Resize2(c) => upsample2d(&x.view().into_dimensionality::<Ix4>()?, c)?.into_dyn(),
            UpOp::Resize3(c) => upsample3d(&x.view().into_dimensionality::<Ix5>()?, c)?.into_dyn(),
            UpOp::PixelShuffle(r) => {
                pixel_shuffle(&x.view().into_dimensionality::<Ix4>()?, *r)?.into_dyn()
            }
        })
    }

    fn run_into(&self, x: &ArrayD<f32>, y: &mut ArrayD<f32>) -> Res<()> {
        match self {
            UpOp::Resize1(c) => upsample1d_into(
                &x.view().into_dimensionality::<Ix3>()?,
                c,
                &mut y.view_mut().into_dimensionality::<Ix3>()?,
            )?,
            UpOp::Resize2(c) => upsample2d_into(
                &x.view().into_dimensionality::<Ix4>()?,
                c,
                &mut y.view_mut().into_dimensionality::<Ix4>()?,
            )?,
            UpOp::Resize3(c) => upsample3d_into(
                &x.view().into_dimensionality::<Ix5>()?,
                c,
                &mut y.view_mut().into_dimensionality::<Ix5>()?,
            )?,
            UpOp::PixelShuffle(r) => pixel_shuffle_into(
                &x.view().into_dimensionality::<Ix4>()?,
                *r,
                &mut y.view_mut().into_dimensionality::<Ix4>()?,
            )?,
        }
        Ok(())
    }
}

/// An integer, or one per spatial axis (`D` of them).
fn get_axes<const D: usize>(v: &Value, key: &str, default: usize) -> Res<[usize; D]> {
    match v.get(key) {
        Some(Value::Array(a)) => {
            let g: Vec<usize> = a
                .iter()
                .map(|x| x.as_u64().map(|x| x as usize).ok_or("not an integer"))
                .collect::<Result<_, _>>()?;
            Ok(g.try_into()
                .map_err(|_| format!("{key}: {D} values expected"))?)
        }
        Some(_) => Ok([get_usize(v, key, None)?; D]),
        None => Ok([default; D]),
    }
}

/// The deconv workload over `D` spatial axes: its configuration and weight shape
/// (`[C_in, C_out/groups, k...]`).
fn deconv_cfg<const D: usize>(wl: &Value, x: &[usize]) -> Res<(ConvTranspose<D>, Vec<usize>)> {
    let k = get_axes::<D>(wl, "k", 0)?;
    if k.contains(&0) {
        return Err("missing or zero kernel size k".into());
    }
    let groups = get_usize(wl, "groups", Some(1))?;
    let cout = get_usize(wl, "cout", None)?;
    let cfg = ConvTranspose::<D>::new()
        .stride(get_axes::<D>(wl, "stride", 1)?)
        .padding(get_axes::<D>(wl, "pad", 0)?)
        .output_padding(get_axes::<D>(wl, "outpad", 0)?)
        .dilation(get_axes::<D>(wl, "dilation", 1)?)
        .groups(groups);
    if groups == 0 || cout % groups != 0 {
        return Err(format!("groups {groups} does not divide cout {cout}").into());
    }
    let mut ws = vec![x[1], cout / groups];
    ws.extend_from_slice(&k);
    Ok((cfg, ws))
}

/// A deconv workload: `x` of 3 to 5 axes (`[N, C, spatial...]`).
fn run_deconv(o: &Opts, wl: &Value) -> Res<()> {
    let xs = get_shape(wl)?;
    match xs.len() {
        3 => run_deconv1(o, wl, &xs),
        4 => run_deconv2(o, wl, &xs),
        5 => run_deconv3(o, wl, &xs),
        r => Err(format!("x must have 3 to 5 axes, not {r}").into()),
    }
}

/// `run_deconvD`: one deconv workload over `D` spatial axes.
macro_rules! deconv_runner {
    ($name:ident, $d:literal, $ix:ty, $layer:ident, $f:ident, $f_into:ident) => {
        fn $name(o: &Opts, wl: &Value, xs: &[usize]) -> Res<()> {
            let name = wl.get("name").and_then(Value::as_str).unwrap_or("?");
            let (cfg, ws) = deconv_cfg::<$d>(wl, xs)?;
            let x = random_d(xs, 1).into_dimensionality::<$ix>()?;
            let w = random_d(&ws, 2).into_dimensionality::<$ix>()?;
            let cost = cfg.cost(xs, &ws, 4)?;
            let out = cfg.output_dims(xs, &ws)?;
            println!(
                "# cost {name} multiply_adds={} bytes_moved={} workspace_bytes={}",
                cost.multiply_adds,
                cost.bytes_moved(),
                cost.workspace_bytes
            );
            let layer = if o.layer {
                Some($layer::new(&w, None, cfg)?)
            } else {
                None
            };
            let mut y = ArrayD::<f32>::zeros(out.clone()).into_dimensionality::<$ix>()?;
            // one call in the chosen form: layer or function, into `y` or allocating
            let mut call = || -> Res<()> {
                match (&layer, o.into) {
                    (Some(layer), true) => layer.forward_into(&x, &mut y)?,
                    (Some(layer), false) => {
                        std::hint::black_box(layer.forward(&x)?);
                    }
                    (None, true) => $f_into(&x, &w, None, &cfg, &mut y)?,
                    (None, false) => {
                        std::hint::black_box($f(&x, &w, None, &cfg)?);
                    }
                }
                Ok(())
            };
            let ms = time_ms(o.reps, o.warmup, &mut call)?;
            println!(
                "deconv {name} out={} {ms:.3} ms {:.1} GFLOP/s",
                fmt_shape(&out),
                cost.flops() as f64 / (ms * 1e6)
            );
            if o.gemm {
                gemm_line(o, name, cost.multiply_adds)?;
            }
            if o.copy {
                copy_line(o, name, cost.bytes_moved())?;
            }
            if o.paired > 0 {
                paired_share(o, name, cost.flops() as f64, &mut call)?;
            }
            Ok(())
        }
    };
}

deconv_runner!(
    run_deconv1,
    1,
    Ix3,
    ConvTranspose1dLayer,
    conv_transpose1d,
    conv_transpose1d_into
);
deconv_runner!(
    run_deconv2,
    2,
    Ix4,
    ConvTranspose2dLayer,
    conv_transpose2d,
    conv_transpose2d_into
);
deconv_runner!(
    run_deconv3,
    3,
    Ix5,
    ConvTranspose3dLayer,
    conv_transpose3d,
    conv_transpose3d_into
);

fn paired_share(o: &Opts, name: &str, flops: f64, call: &mut impl FnMut() -> Res<()>) -> Res<()> {
    let mut ceiling = Ceiling::new(flops as u64 / 2);
    // calls per timing: about 50 ms worth, at least 3
    let reps = |ms: f64| Some(((50.0 / ms.max(1e-3)).ceil() as usize).clamp(3, 50));
    let (d0, g0) = (time_ms(Some(1), 1, &mut *call)?, ceiling.time(Some(1), 1)?);
    let (rd, rg) = (reps(d0), reps(g0));
    let mut shares = Vec::with_capacity(o.paired);
    for round in 0..o.paired {
        let (d, g) = if round % 2 == 0 {
            let d = time_ms(rd, 1, &mut *call)?;
            (d, ceiling.time(rg, 1)?)
        } else {
            let g = ceiling.time(rg, 1)?;
            (time_ms(rd, 1, &mut *call)?, g)
        };
        shares.push((flops / d) / (ceiling.flops / g));
    }
    shares.sort_by(f64::total_cmp);
    let q = |f: f64| shares[((shares.len() - 1) as f64 * f).round() as usize];
    println!(
        "share {name} {:.3} of the GEMM ceiling (quartiles {:.3}-{:.3}, {} rounds)",
        q(0.5),
        q(0.25),
        q(0.75),
        shares.len()
    );
    Ok(())
}

fn run_up(o: &Opts, wl: &Value) -> Res<()> {
    let name = wl.get("name").and_then(Value::as_str).unwrap_or("?");
    let xs = get_shape(wl)?;
    let op = up_op(wl, xs.len())?;
    let x = random_d(&xs, 3);
    let out = op.output_dims(&xs)?;
    let bytes = op.bytes(&xs)?;
    println!("# cost {name} bytes_moved={bytes}");
    let ms = if o.into {
        let mut y = ArrayD::<f32>::zeros(out.clone());
        time_ms(o.reps, o.warmup, || op.run_into(&x, &mut y))?
    } else {
        time_ms(o.reps, o.warmup, || {
            std::hint::black_box(op.run(&x)?);
            Ok(())
        })?
    };
    println!(
        "up {name} out={} {ms:.3} ms {:.2} GB/s",
        fmt_shape(&out),
        bytes as f64 / (ms * 1e6)
    );
    if o.copy {
        copy_line(o, name, bytes)?;
    }
    Ok(())
}

/// Number of threads work is split over (the current rayon pool's).
fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// `m x n x k` with `m*n*k` close to `macs`, each side a multiple of 8 (at least 8).
fn gemm_shape(macs: u64) -> [usize; 3] {
    let side = (((macs as f64).cbrt() / 8.0).round() as usize).max(1) * 8;
    let n = ((macs as f64 / (side * side) as f64 / 8.0).round() as usize).max(1) * 8;
    [side, n, side]
}

/// Row-major `c[m x n] = a[m x k] * b[k x n]` with `gemm`, single-threaded.
fn matmul(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the asserts above keep every index the strides reach in bounds: `c` is m x n
    // with row stride n, `a` is m x k with row stride k, `b` is k x n with row stride n, all
    // column strides 1; `c` is a unique borrow that aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// One plain f32 matrix product of (about) `macs` multiply-adds: the compute ceiling. With
/// several threads the rows of the product are split evenly between them.
struct Ceiling {
    shape: [usize; 3],
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    flops: f64,
}

impl Ceiling {
    fn new(macs: u64) -> Self {
        let [m, n, k] = gemm_shape(macs);
        Ceiling {
            shape: [m, n, k],
            a: random_d(&[m, k], 4).into_raw_vec_and_offset().0,
            b: random_d(&[k, n], 5).into_raw_vec_and_offset().0,
            c: vec![0f32; m * n],
            flops: 2.0 * (m * n * k) as f64,
        }
    }

    /// Median ms of the product (see [`time_ms`]).
    fn time(&mut self, reps: Option<usize>, warmup: usize) -> Res<f64> {
        let [m, n, k] = self.shape;
        let (a, b, c) = (&self.a, &self.b, &mut self.c);
        let t = threads();
        time_ms(reps, warmup, || {
            let rows = m.div_ceil(t).max(1);
            #[cfg(feature = "rayon")]
            {
                use rayon::prelude::*;
                c.par_chunks_mut(rows * n)
                    .zip(a.par_chunks(rows * k))
                    .for_each(|(c, a)| matmul(c.len() / n, n, k, a, b, c));
            }
            #[cfg(not(feature = "rayon"))]
            matmul(rows.min(m), n, k, a, b, c);
            Ok(())
        })
    }
}

/// The ceiling's line: `gemm <name> mnk=[m,n,k] <ms> ms <GFLOP/s> GFLOP/s`.
fn gemm_line(o: &Opts, name: &str, macs: u64) -> Res<()> {
    let mut ceiling = Ceiling::new(macs);
    let ms = ceiling.time(o.reps, o.warmup)?;
    println!(
        "gemm {name} mnk={} {ms:.3} ms {:.1} GFLOP/s",
        fmt_shape(&ceiling.shape),
        ceiling.flops / (ms * 1e6)
    );
    Ok(())
}

/// A plain copy of `bytes / 2` bytes (so `bytes` move): the bandwidth ceiling. With several
/// threads each copies a contiguous share.
fn copy_line(o: &Opts, name: &str, bytes: u64) -> Res<()> {
    let len = (bytes / 8).max(1) as usize;
    let src = random_d(&[len], 6).into_raw_vec_and_offset().0;
    let mut dst = vec![0f32; len];
    let t = threads();
    let ms = time_ms(o.reps, o.warmup, || {
        let chunk = len.div_ceil(t).max(1);
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = chunk;
            dst.copy_from_slice(&src);
        }
        std::hint::black_box(&mut dst);
        Ok(())
    })?;
    println!(
        "copy {name} bytes={} {ms:.3} ms {:.2} GB/s",
        len * 8,
        (len * 8) as f64 / (ms * 1e6)
    );
    Ok(())
}

fn run_all(o: &Opts, doc: &Value) -> Res<()> {
    println!(
        "# upconv bench_workloads: file={} threads={} into={} layer={} reps={} warmup={}",
        o.path,
        threads(),
        o.into,
        o.layer,
        o.reps.map_or("auto".to_string(), |r| r.to_string()),
        o.warmup
    );
    let wanted = |wl: &Value| match (&o.only, wl.get("name").and_then(Value::as_str)) {
        (Some(s), Some(n)) => n.contains(s.as_str()),
        _ => true,
    };
    let empty = Vec::new();
    for wl in doc
        .get("deconv")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        if wanted(wl) {
            run_deconv(o, wl)?;
        }
    }
    for wl in doc.get("up").and_then(Value::as_array).unwrap_or(&empty) {
        if wanted(wl) {
            run_up(o, wl)?;
        }
    }
    Ok(())
}

fn main() -> Res<()> {
    let o = parse_args()?;
    let text = std::fs::read_to_string(&o.path).map_err(|e| format!("{}: {e}", o.path))?;
    let doc: Value = serde_json::from_str(&text)?;
    match o.threads {
        #[cfg(feature = "rayon")]
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()?
            .install(|| run_all(&o, &doc)),
        #[cfg(not(feature = "rayon"))]
        Some(n) if n > 1 => {
            eprintln!("built without the rayon feature: --threads {n} ignored, 1 thread");
            run_all(&o, &doc)
        }
        _ => run_all(&o, &doc),
    }
}
