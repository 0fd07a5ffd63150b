//! Strided transposed convolution with shallow inputs, computed directly in register tiles,
//! for `f32` on CPUs with AVX2 and FMA (no column tile, no GEMM library).
//!
//! Along the width, output `ox = r + s*j` is in phase `r` (see [`AxisMap::phase`]): its
//! sub-tap `t` (original tap `kw`) reads input position `j + shift`, `shift = t*d' - pad`, so
//! eight consecutive phase outputs read eight consecutive inputs, the same for every output
//! channel. Output row `oy` likewise takes the input rows of its height phase. A register
//! tile is up to [`CO_BLOCK`] output channels times one to three vectors of eight phase
//! outputs (see [`max_vectors`]): for every reaching (input row, width tap) pair and input
//! channel it loads the input vectors once and adds them, times each channel's weight
//! (broadcast), into its accumulators with fused multiply-adds. The tile starts from the
//! bias and is stored once into a phase row; the phase rows are interleaved into the
//! output row.
//!
//! GEMM + col2im runs such a layer (16 or 32 input channels, say) as a product only that
//! deep whose result, `C_out/g * taps` rows as long as the input, is written out and read
//! back by the column pass; here every output is a chain of `C_in/g * reaching taps` fused
//! multiply-adds kept in registers and written once.
//!
//! Operands are laid out so the tile's inner loop reads three runs and checks no ranges:
//! each task copies the input rows its band reads once per distinct shift, as
//! `[shift][row][vector][C_in/g][8]` (zeros outside the row), and the weight is copied once
//! per call as `[group][channel block][kh][kw][C_in/g][co]`.
//!
//! Every output is `bias + sum over (kh, kw, ci)` as one chain of fused multiply-adds in
//! that order (reaching rows and width taps in sub-tap order, input channels innermost),
//! whatever the tile, band or thread: results do not depend on the thread count.

use super::parallel::for_each_task;
use super::prepared::Prepared;
use super::scratch::{sized, with_scratch};
use crate::problem::{AxisMap, Phase, Problem};
use crate::Element;

/// Most input channels per group this path takes, with [`OUTPUT_CHANNELS`] per group (see
/// [`applies`]).
const MAX_INPUT_CHANNELS: usize = 32;

/// Output channels per group this path takes from up to [`MAX_INPUT_CHANNELS`].
const OUTPUT_CHANNELS: std::ops::RangeInclusive<usize> = 8..=32;

/// Input channels per group up to which this path takes [`WIDE_OUTPUT_CHANNELS`] output
/// channels per group.
const WIDE_INPUT_CHANNELS: usize = 24;

/// See [`WIDE_INPUT_CHANNELS`].
const WIDE_OUTPUT_CHANNELS: std::ops::RangeInclusive<usize> = 8..=128;

/// Input channels per group up to which this path takes any layer with at least
/// [`MIN_TINY_OUTPUTS`] output channels per group.
const TINY_INPUT_CHANNELS: usize = 8;

/// See [`TINY_INPUT_CHANNELS`].
const MIN_TINY_OUTPUTS: usize = 4;

/// Largest stride and kernel (per axis) this path takes: FCN-32s's 64x64/32 head and below.
const MAX_STRIDE: usize = 64;

/// See [`MAX_STRIDE`].
const MAX_KERNEL: usize = 128;

/// Most weight elements [`run`] copies (8 MiB of `f32`, half the call's memory budget:
/// FCN-32s's 21 -> 21 64x64 head, 1.8M elements, fits; a layer over it reads its weight in
/// place on another path).
const MAX_WEIGHT_COPY: usize = 1 << 21;

/// Output channels per register tile: six, as two vectors each (12 accumulators, two input
/// vectors and a broadcast weight: 15 of AVX2's 16 registers), which load 8 values per 12
/// fused multiply-adds where tiles of 8 channels x 1 vector loaded 9 per 8. Alternating
/// builds against 8 x 1 (7 rounds, 2 threads, eight layers): 0.78-0.94x the time on seven
/// (fcn_16x16_s8 0.81x, small_3x3_s2_op1 0.94x, 16 -> 32 4x4/2 0.78x), a 16 -> 8 layer
/// level; blocks of 4 channels x 3 vectors (16 registers) were level with 6 x 2 overall
/// (11 rounds, geometric mean 1.02) and 1.18x the time on the 21-channel fcn head.
const CO_BLOCK: usize = 6;

/// Vectors of eight phase outputs per register tile of `co` output channels: eight to
/// twelve accumulators (eight independent chains of fused multiply-adds or more keep both
/// FMA units busy through their latency), no more than AVX2's sixteen registers hold with
/// the inputs and a weight.
fn max_vectors(co: usize) -> usize {
    match co {
        0..=3 => 3,
        _ => 2,
    }
}

/// `f32` lanes per vector.
const LANES: usize = 8;

/// Most padded input elements a task copies (1 MiB of `f32`).
const TASK_INPUT: usize = 1 << 18;

/// Tasks per call the output rows are cut into, when the images and groups are fewer.
const MIN_TASKS: usize = 8;

/// Fewest vectors of eight phase outputs per window of a one-row problem.
const MIN_WINDOW: usize = 8;

/// Whether `p` runs here (on a CPU with AVX2 and FMA, in `f32`; [`run`] declines `f64`):
/// 1-D or 2-D, strided, more than one tap, channel counts that [`pays`] names, and one output
/// row's input fits a task's scratch.
pub(super) fn applies(p: &Problem) -> bool {
    let [d, h, w] = &p.axes;
    let flat_depth = d.strided == 1 && d.dense == 1 && d.kernel == 1;
    // (the phase tables are as long as the stride and the kernel: bounded before they are
    // built, so hostile sizes cost nothing here)
    let modest = |a: &AxisMap| a.stride <= MAX_STRIDE && a.kernel <= MAX_KERNEL;
    flat_depth
        && available()
        && (h.stride > 1 || w.stride > 1)
        && modest(h)
        && modest(w)
        && p.kernel_volume() > 1
        && (pays(p.strided_channels, p.dense_channels) || pays_wide(p))
        && (!one_row(p) || one_row_pays(p))
        && copies(p) <= MAX_WEIGHT_COPY
        && p.strided_plane() > 0
        && p.dense_plane() > 0
        && {
            let g = Geometry::new(p);
            g.task_input(p, 1) <= TASK_INPUT && g.row_len() <= TASK_INPUT
        }
}

/// Whether a layer of `cin` input and `cout` output channels per group runs faster here than
/// through GEMM + col2im or sub-pixel phases. Randomized paired A/B over the 50 strided 2-D
/// layers of the benchmark sets with up to 64 input channels per group (11 rounds each): the
/// GEMM's product is `cin` deep, so shallow inputs favour the tiles (fcn heads 21 -> 21 with
/// 16x16 to 64x64 kernels 0.67-0.87x the time, 16 -> 8 to 32 -> 24 layers 0.61-1.0x, 3 ->
/// 256 0.58-0.62x); a tile of fewer than eight output channels keeps fewer than eight chains of
/// fused multiply-adds going and loses to the GEMM path's own small-row products (fsrcnn's
/// 56 -> 1 heads 1.8-2.1x, 64 -> 3 1.3-2.3x), and from 48-64 input channels, or 64 and more
/// output channels from 16 input channels, the GEMM's deeper or taller product wins
/// (1.0-2.8x). Layers with at most eight input channels gained with four outputs or more
/// (0.51-0.92x). (The 20 layers this rule picks, 15 rounds: geometric mean 0.85x.) With the
/// 6 x 2 tiles of session 22 (see [`CO_BLOCK`]), layers of up to [`WIDE_INPUT_CHANNELS`]
/// inputs gain up to 128 outputs ([`pays_wide`]; paired in-process A/B through the functions, 9 rounds,
/// thirteen layers: 16 -> 40 to 16 -> 128 and 12 -> 48 to 24 -> 64, 3x3/2 and 4x4/2 on
/// 16x16 to 128x128 maps, 0.67-0.96x the time); from 32 or more inputs more outputs still
/// lost (32 -> 48 1.32x, 32 -> 64 1.06x, 40 -> 32 1.13x).
fn pays(cin: usize, cout: usize) -> bool {
    (cin <= MAX_INPUT_CHANNELS && OUTPUT_CHANNELS.contains(&cout))
        || (cin <= TINY_INPUT_CHANNELS && cout >= MIN_TINY_OUTPUTS)
}

/// The wider rule of [`pays`] (up to [`WIDE_OUTPUT_CHANNELS`] outputs from up to
/// [`WIDE_INPUT_CHANNELS`] inputs), for layers whose taps overlap on some axis (a kernel
/// longer than the stride): with kernel == stride the GEMM path stores each product once
/// (depth to space), and two such layers ran slower here (16 -> 128 2x2/2 on sixteen 32x32
/// maps 1.08x the time, 24 -> 48 3x3/3 1.34x; alternating builds, 7 rounds).
fn pays_wide(p: &Problem) -> bool {
    let (cin, cout) = (p.strided_channels, p.dense_channels);
    cin <= WIDE_INPUT_CHANNELS
        && WIDE_OUTPUT_CHANNELS.contains(&cout)
        && p.axes[1..].iter().any(|a| a.kernel * a.dilation > a.stride)
}

/// Whether `p` is one row high (a 1-D signal, or a 2-D map of one row).
fn one_row(p: &Problem) -> bool {
    p.axes[1].strided == 1 && p.axes[1].dense == 1
}

/// Whether a one-row problem runs faster here, by the same kind of A/B over 18 1-D layers
/// (11-21 rounds): up to 16 input channels, or a kernel of 8 taps or more, the tiles won
/// (16 -> 16 8/4 and 8 -> 16 16/8 on 2-8k samples: 0.57-0.68x the time, HiFi-GAN-like
/// 16 -> 8 4/2 on 22k: 0.50x, 32 -> 16 16/8 on 2k: 0.76x); with 32 input channels and a
/// 4-tap kernel the GEMM path's product is deep enough, and it won on signals up to 2,000
/// samples (the tiles 1.06-1.28x its time) and on four batched ones (1.07-1.17x), while a
/// lone signal from 4,000 samples on ran faster here (0.62-0.81x, one run of four at 4,000
/// samples 1.15x).
fn one_row_pays(p: &Problem) -> bool {
    p.strided_channels <= 16
        || p.axes[2].kernel >= 8
        || (p.batch * p.groups == 1 && p.axes[2].strided >= 4000)
}

/// Whether the CPU has AVX2 and FMA.
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        pulp::x86::V3::try_new().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Scratch elements per task: the shifted input of its band (and up to [`LANES`] skipped to
/// align it), one padded input row and [`CO_BLOCK`] channels' phase rows.
pub(super) fn workspace(p: &Problem) -> usize {
    Geometry::new(p).task_scratch(p)
}

/// Weight elements [`run`] copies (once per call).
pub(super) fn copies(p: &Problem) -> usize {
    p.strided_channels_total()
        .saturating_mul(p.dense_channels)
        .saturating_mul(p.kernel_volume())
}

/// The per-call layout of the width axis: its phases and the shifted copies of the input
/// they read.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Geometry {
    /// Width phase `r` of the output (`ox = r + s*j`).
    phases: Vec<Phase>,
    /// Per phase, per sub-tap: `(tap, shift index)`, phase output `j` of that tap reading
    /// input position `j + shifts[shift index]`.
    taps: Vec<Vec<(usize, usize)>>,
    /// The distinct shifts `t*d' - pad` of all phases' sub-taps.
    shifts: Vec<i64>,
    /// Vectors of eight phase outputs per phase row (the longest phase's, rounded up).
    blocks: usize,
    /// Vectors of eight phase outputs per task window: a task computes phase outputs
    /// `j0..j0 + 8*window` of every phase (all of them, `blocks`, unless the problem is one
    /// row: a 1-D signal is cut into windows, see [`Geometry::window_for`]).
    window: usize,
    /// The lowest and highest shift (`shifts` is sorted).
    low: i64,
    high: i64,
}

impl Geometry {
    fn new(p: &Problem) -> Self {
        let a = &p.axes[2];
        let phases: Vec<Phase> = (0..a.stride).map(|r| a.phase(r)).collect();
        let blocks = phases
            .iter()
            .map(|ph| ph.axis.strided.div_ceil(LANES))
            .max()
            .unwrap_or(0);
        // sub-tap t of a phase: output j reads input j + t*d' - pad
        let shift = |ph: &Phase, t: usize| (t * ph.axis.dilation) as i64 - ph.axis.pad_begin;
        let mut shifts: Vec<i64> = phases
            .iter()
            .flat_map(|ph| (0..ph.axis.kernel).map(move |t| shift(ph, t)))
            .collect();
        shifts.sort_unstable();
        shifts.dedup();
        let taps = phases
            .iter()
            .map(|ph| {
                (0..ph.axis.kernel)
                    .map(|t| {
                        let u = shifts.binary_search(&shift(ph, t)).unwrap_or(0);
                        (ph.tap(t), u)
                    })
                    .collect()
            })
            .collect();
        let low = shifts.first().copied().unwrap_or(0);
        let high = shifts.last().copied().unwrap_or(0);
        let mut g = Geometry {
            phases,
            taps,
            shifts,
            blocks,
            window: blocks,
            low,
            high,
        };
        g.window = g.window_for(p);
        g
    }

    /// Vectors per task window: the whole row unless the problem is one row (a 1-D signal,
    /// or a 2-D map one row high), which is cut into windows of at least [`MIN_WINDOW`]
    /// vectors so that its tasks number about [`MIN_TASKS`] and each window's shifted input
    /// fits [`TASK_INPUT`].
    fn window_for(&self, p: &Problem) -> usize {
        if !one_row(p) {
            return self.blocks;
        }
        let per_vector = (self.shifts.len() * LANES * p.strided_channels).max(1);
        let by_memory = (TASK_INPUT / per_vector).max(1);
        let windows = MIN_TASKS.div_ceil((p.batch * p.groups).max(1));
        let by_tasks = self.blocks.div_ceil(windows).max(MIN_WINDOW);
        by_memory.min(by_tasks).min(self.blocks).max(1)
    }

    /// Elements of a task's padded input row: input positions `8*j0 + low ..
    /// 8*(j0 + window) + high` of a window starting at phase output `j0`.
    fn row_len(&self) -> usize {
        self.window * LANES + (self.high - self.low) as usize
    }

    /// Input rows a band of `rows` output rows reads (at most).
    fn band_input_rows(p: &Problem, rows: usize) -> usize {
        let h = &p.axes[1];
        let span = (h.kernel.max(1) - 1) * h.dilation;
        ((rows.max(1) - 1) / h.stride + 1 + span.div_ceil(h.stride) + 1).min(h.strided)
    }

    /// Elements of the shifted input a band of `rows` output rows packs:
    /// `[shift][input row][block][C_in/g][8]`.
    fn task_input(&self, p: &Problem, rows: usize) -> usize {
        self.shifts
            .len()
            .saturating_mul(Self::band_input_rows(p, rows))
            .saturating_mul(self.window)
            .saturating_mul(LANES)
            .saturating_mul(p.strided_channels)
    }

    /// Output rows per task: the planes cut into about [`MIN_TASKS`] tasks in all, and each
    /// band's input within [`TASK_INPUT`].
    fn band_rows(&self, p: &Problem) -> usize {
        let h_out = p.axes[1].dense.max(1);
        let planes = (p.batch * p.groups).max(1);
        let bands = MIN_TASKS.div_ceil(planes).min(h_out);
        let mut rows = h_out.div_ceil(bands);
        while rows > 1 && self.task_input(p, rows) > TASK_INPUT {
            rows = rows.div_ceil(2);
        }
        rows
    }

    /// Scratch elements per task.
    fn task_scratch(&self, p: &Problem) -> usize {
        self.task_input(p, self.band_rows(p))
            + LANES
            + self.row_len()
            + CO_BLOCK * p.axes[2].stride * self.window * LANES
    }
}

/// Runs `p` (see [`applies`]) and returns `true`; returns `false`, having written nothing,
/// for `f64` or a CPU without AVX2 and FMA (the caller then takes another path). A layer's
/// `prepared` keeps the packed weight across calls (a plain call packs it each time).
pub(super) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return false;
        };
        let Some(x) = T::as_f32(x) else {
            return false;
        };
        let bias = match b.map(T::as_f32) {
            Some(None) => return false,
            Some(Some(b)) => Some(b),
            None => None,
        };
        let Some(y) = T::as_f32_mut(y) else {
            return false;
        };
        let y_len = y.len();
        let geometry = Geometry::new(p);
        let fresh;
        let (weight, held) = match prepared {
            Some(prepared) => (prepared.direct(|| packed_weight(p, w)), 0),
            None => {
                fresh = packed_weight(p, w);
                (&fresh[..], fresh.len())
            }
        };
        let Some(weight) = T::as_f32(weight) else {
            return false;
        };
        let (cg, h_out, w_out) = (p.dense_channels, p.axes[1].dense, p.axes[2].dense);
        let q = p.dense_plane();
        let rows = geometry.band_rows(p);
        let bands = h_out.div_ceil(rows);
        // a one-row problem's windows: `span` output columns each (2-D maps: one window)
        let span = p.axes[2].stride * geometry.window * LANES;
        let windows = w_out.div_ceil(span);
        let tasks = tasks(
            p,
            y,
            (rows, bands),
            (geometry.window * LANES, span, windows),
        );
        let work = (rows * w_out.min(span) * cg * p.strided_channels) as u64
            * p.kernel_volume() as u64
            / (p.axes[1].stride * p.axes[2].stride) as u64;
        let scratch = geometry.task_scratch(p);
        // (a layer's kept weight is not this call's: it counts before the call)
        let at_once = super::max_concurrent(scratch, held, y_len, 4);
        let geometry = &geometry;
        for_each_task(tasks, work, at_once, |task| {
            with_scratch(|buf: &mut Vec<T>, _: &mut Vec<T>| {
                let Some(buf) = T::as_f32_mut(sized(buf, scratch)) else {
                    return;
                };
                let band = |ng, rows, window, cols, out: &mut [&mut [f32]], buf: &mut [f32]| {
                    simd.vectorize(avx2::Band {
                        simd,
                        p,
                        geometry,
                        x,
                        weight,
                        bias,
                        image_group: ng,
                        rows,
                        window,
                        cols,
                        out,
                        scratch: buf,
                    })
                };
                match task {
                    Task::Part {
                        image_group,
                        rows,
                        window,
                        cols,
                        mut planes,
                    } => band(image_group, rows, window, cols, &mut planes, buf),
                    Task::Whole { first, out } => {
                        // each image x group's planes, whole
                        let whole = (0, p.axes[1].dense);
                        for (i, planes) in out.chunks_mut(cg * q).enumerate() {
                            let mut planes: Vec<&mut [f32]> = planes.chunks_mut(q).collect();
                            band(first + i, whole, 0, (0, w_out), &mut planes, buf);
                        }
                    }
                }
            })
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (p, x, w, prepared, b, y);
        false
    }
}

/// One task of [`run`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Task<'a> {
    /// Output rows `rows` of image x group `image_group`, columns `cols` of them (phase
    /// outputs from `window` on), in each of the group's planes.
    Part {
        image_group: usize,
        rows: (usize, usize),
        window: usize,
        cols: (usize, usize),
        planes: Vec<&'a mut [f32]>,
    },
    /// Whole image x group pairs from `first` on, their planes one run of `out`: a problem
    /// of many small planes lists no plane per task.
    Whole { first: usize, out: &'a mut [f32] },
}

/// The tasks of `p` over `y`: with bands of `rows` output rows (`bands` per plane) or
/// windows of `window` phase outputs (`span` output columns, `windows` per row), each band
/// or window of each image x group is a task; otherwise runs of whole image x group pairs
/// (see [`super::whole_runs`]). Fixed by the problem alone.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn tasks<'a>(
    p: &Problem,
    y: &'a mut [f32],
    (rows, bands): (usize, usize),
    (window, span, windows): (usize, usize, usize),
) -> Vec<Task<'a>> {
    let (cg, h_out, w_out, q) = (
        p.dense_channels,
        p.axes[1].dense,
        p.axes[2].dense,
        p.dense_plane(),
    );
    let planes = p.batch * p.groups;
    if bands == 1 && windows == 1 {
        return super::whole_runs(planes, y, cg * q)
            .into_iter()
            .map(|(first, out)| Task::Whole { first, out })
            .collect();
    }
    let mut tasks: Vec<Task<'a>> = Vec::new();
    for ng in 0..planes {
        for k in 0..bands {
            let r0 = k * rows;
            for m in 0..windows {
                let cols = if windows == 1 {
                    (0, w_out)
                } else {
                    (m * span, ((m + 1) * span).min(w_out))
                };
                tasks.push(Task::Part {
                    image_group: ng,
                    rows: (r0, (r0 + rows).min(h_out)),
                    window: m * window,
                    cols,
                    planes: Vec::with_capacity(cg),
                });
            }
        }
    }
    let per_plane = bands * windows;
    for (plane_index, plane) in y.chunks_mut(q).enumerate() {
        let mut rest = plane;
        for task in &mut tasks[(plane_index / cg) * per_plane..][..per_plane] {
            if let Task::Part {
                rows, cols, planes, ..
            } = task
            {
                let (piece, tail) = rest.split_at_mut((rows.1 - rows.0) * (cols.1 - cols.0));
                rest = tail;
                planes.push(piece);
            }
        }
    }
    tasks
}

/// The weight (`[C_in][C_out/g][kh][kw]`) as `[group][channel block][kh][kw][C_in/g][co]`
/// for blocks of [`CO_BLOCK`] output channels (`co` of them, the last block maybe fewer):
/// the weights one tap of a tile reads, input channel after input channel, are one run.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn packed_weight<T: Element>(p: &Problem, w: &[T]) -> Vec<T> {
    let (cin, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    let mut packed = vec![T::zero(); p.groups * cin * cg * kvol];
    for (src, dst) in w
        .chunks_exact(cin * cg * kvol)
        .zip(packed.chunks_exact_mut(cin * cg * kvol))
    {
        for c0 in (0..cg).step_by(CO_BLOCK) {
            let co = (cg - c0).min(CO_BLOCK);
            let block = &mut dst[c0 * kvol * cin..][..co * kvol * cin];
            for (ci, c, t) in (0..cin)
                .flat_map(|ci| (0..co).flat_map(move |c| (0..kvol).map(move |t| (ci, c, t))))
            {
                block[(t * cin + ci) * co + c] = src[(ci * cg + c0 + c) * kvol + t];
            }
        }
    }
    packed
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// The input rows (`0..strided`) that reach output row `o` of `axis`, with their taps:
/// `(tap, row)` pairs, in sub-tap order.
fn reaching(axis: &AxisMap, phases: &[Phase], o: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let ph = &phases[o % axis.stride];
    let j = (o / axis.stride) as i64;
    for t in 0..ph.axis.kernel {
        let i = j + (t * ph.axis.dilation) as i64 - ph.axis.pad_begin;
        if i >= 0 && (i as usize) < axis.strided {
            out.push((ph.tap(t), i as usize));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{max_vectors, reaching, Geometry, CO_BLOCK, LANES};
    use crate::kernels::gather::interleave;
    use crate::problem::{Phase, Problem};
    use pulp::x86::V3;
    use pulp::{cast, f32x8};

    /// Output rows `rows` of image x group `image_group`, columns `cols` of them (phase
    /// outputs `window..` of every phase: `cols.0 = stride * window`), in each of the
    /// group's planes (`out[co]`: those rows and columns).
    pub(super) struct Band<'a, 'b> {
        pub(super) simd: V3,
        pub(super) p: &'a Problem,
        pub(super) geometry: &'a Geometry,
        pub(super) x: &'a [f32],
        pub(super) weight: &'a [f32],
        pub(super) bias: Option<&'a [f32]>,
        pub(super) image_group: usize,
        pub(super) rows: (usize, usize),
        pub(super) window: usize,
        pub(super) cols: (usize, usize),
        pub(super) out: &'a mut [&'b mut [f32]],
        pub(super) scratch: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Band<'_, '_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Band {
                simd,
                p,
                geometry: geo,
                x,
                weight,
                bias,
                image_group: ng,
                rows: (r0, r1),
                window: j0,
                cols: (ox0, ox1),
                out,
                scratch,
            } = self;
            let [_, ha, wa] = &p.axes;
            let (cin, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
            let (h_in, w_in, pin) = (ha.strided, wa.strided, p.strided_plane());
            let (s_w, kw_n, width) = (wa.stride, wa.kernel, ox1 - ox0);
            let (n, g) = (ng / p.groups, ng % p.groups);
            let h_phases: Vec<Phase> = (0..ha.stride).map(|r| ha.phase(r)).collect();
            let blocks = geo.window;
            let phase_len = blocks * LANES;

            // the input rows lo..hi the band reads
            let mut reach = Vec::new();
            let (mut lo, mut hi) = (usize::MAX, 0);
            for oy in r0..r1 {
                reaching(ha, &h_phases, oy, &mut reach);
                for &(_, ih) in &reach {
                    lo = lo.min(ih);
                    hi = hi.max(ih + 1);
                }
            }
            let in_rows = hi.saturating_sub(lo);
            // shifted[((u * in_rows + r) * blocks + jb) * cin * 8 + ci * 8 + l] = input
            // (ci, row lo + r, position j0 + 8*jb + l + shifts[u]), zero outside the row,
            // copied from `padded`, which holds positions j0 + low + k
            let run_len = cin * LANES;
            // the shifted input starts on a 32-byte boundary: its vector loads then never
            // straddle two cache lines (1-2% on four layers, paired A/B)
            let skip = (LANES - (scratch.as_ptr() as usize / 4) % LANES) % LANES;
            let (shifted, rest) =
                scratch[skip..].split_at_mut(geo.shifts.len() * in_rows * blocks * run_len);
            let (padded, phase_rows) = rest.split_at_mut(geo.row_len());
            let phase_rows = &mut phase_rows[..CO_BLOCK * s_w * phase_len];
            let first = j0 as i64 + geo.low;
            // padded[k] is input position first + k: the part inside 0..w_in
            let k0 = (-first).clamp(0, padded.len() as i64) as usize;
            let k1 = (w_in as i64 - first).clamp(k0 as i64, padded.len() as i64) as usize;
            padded.fill(0.0);
            for r in 0..in_rows {
                for ci in 0..cin {
                    let plane = &x[((n * p.groups + g) * cin + ci) * pin..][..h_in * w_in];
                    let row = &plane[(lo + r) * w_in..][..w_in];
                    if k1 > k0 {
                        let from = (first + k0 as i64) as usize;
                        padded[k0..k1].copy_from_slice(&row[from..][..k1 - k0]);
                    }
                    for (u, &shift) in geo.shifts.iter().enumerate() {
                        let src = &padded[(shift - geo.low) as usize..][..phase_len];
                        let rows = &mut shifted[(u * in_rows + r) * blocks * run_len..];
                        for (jb, v) in src.chunks_exact(LANES).enumerate() {
                            rows[jb * run_len + ci * LANES..][..LANES].copy_from_slice(v);
                        }
                    }
                }
            }
            let shifted = &*shifted;
            let weight = &weight[g * cin * kvol * cg..][..cin * kvol * cg];

            let mut pairs: Vec<(usize, usize)> = Vec::new();
            for oy in r0..r1 {
                reaching(ha, &h_phases, oy, &mut reach);
                for c0 in (0..cg).step_by(CO_BLOCK) {
                    let co = (cg - c0).min(CO_BLOCK);
                    let block_weight = &weight[c0 * kvol * cin..][..co * kvol * cin];
                    let mut init = [0.0f32; CO_BLOCK];
                    if let Some(b) = bias {
                        init[..co].copy_from_slice(&b[g * cg + c0..][..co]);
                    }
                    for (r, taps) in geo.taps.iter().enumerate() {
                        // (shifted rows, weight run) per reaching (row, width tap) pair
                        pairs.clear();
                        for &(kh, ih) in &reach {
                            for &(kw, u) in taps {
                                pairs.push((
                                    (u * in_rows + ih - lo) * blocks * run_len,
                                    (kh * kw_n + kw) * cin * co,
                                ));
                            }
                        }
                        let tile_in = TileIn {
                            shifted,
                            weight: block_weight,
                            pairs: &pairs,
                            run_len,
                            weight_len: cin * co,
                        };
                        // the phase's outputs in this window, from j0
                        let len = geo.phases[r].axis.strided.saturating_sub(j0).min(phase_len);
                        let dst = &mut phase_rows[r * phase_len..];
                        let mut jb = 0;
                        while jb * LANES < len {
                            let vectors = (len - jb * LANES).div_ceil(LANES).min(max_vectors(co));
                            let step = s_w * phase_len;
                            let t = (simd, &tile_in, jb, init, &mut *dst, step);
                            match (co, vectors) {
                                (1, 1) => tile::<1, 1>(t),
                                (1, 2) => tile::<1, 2>(t),
                                (1, _) => tile::<1, 3>(t),
                                (2, 1) => tile::<2, 1>(t),
                                (2, 2) => tile::<2, 2>(t),
                                (2, _) => tile::<2, 3>(t),
                                (3, 1) => tile::<3, 1>(t),
                                (3, 2) => tile::<3, 2>(t),
                                (3, _) => tile::<3, 3>(t),
                                (4, 1) => tile::<4, 1>(t),
                                (4, _) => tile::<4, 2>(t),
                                (5, 1) => tile::<5, 1>(t),
                                (5, _) => tile::<5, 2>(t),
                                // (`co` is at most CO_BLOCK)
                                (_, 1) => tile::<6, 1>(t),
                                _ => tile::<6, 2>(t),
                            }
                            jb += vectors;
                        }
                    }
                    // phase r of channel c0 + c is phase row c * s_w + r; output ox is
                    // element (ox - ox0) / s_w of phase ox % s_w (ox0 = s_w * j0)
                    for c in 0..co {
                        let out_row = &mut out[c0 + c][(oy - r0) * width..][..width];
                        let phase =
                            |r: usize| &phase_rows[(c * s_w + r) * phase_len..][..phase_len];
                        interleave(out_row, s_w, 0, (0, width), phase, |o, v| *o = v);
                    }
                }
            }
        }
    }

    /// What a register tile reads.
    struct TileIn<'a> {
        /// The band's shifted input (see [`Band`]).
        shifted: &'a [f32],
        /// The channel block's packed weight, `[kh][kw][C_in/g][co]`.
        weight: &'a [f32],
        /// `(offset into shifted, offset into weight)` per reaching (row, width tap) pair.
        pairs: &'a [(usize, usize)],
        /// Elements of one vector block of all input channels (`C_in/g * 8`).
        run_len: usize,
        /// Elements of one tap's weights (`C_in/g * co`).
        weight_len: usize,
    }

    /// One register tile: `CO` output channels times `V` vectors of phase outputs from
    /// vector `jb`, stored into the phase rows `dst` (channel `c`'s at `c * channel_step`).
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn tile<const CO: usize, const V: usize>(
        (simd, tin, jb, init, dst, channel_step): (
            V3,
            &TileIn<'_>,
            usize,
            [f32; CO_BLOCK],
            &mut [f32],
            usize,
        ),
    ) {
        let mut acc = [[simd.splat_f32x8(0.0); V]; CO];
        for (a, &b) in acc.iter_mut().zip(&init) {
            *a = [simd.splat_f32x8(b); V];
        }
        let load = |s: &[f32]| -> f32x8 { cast(<[f32; LANES]>::try_from(s).expect("8 lanes")) };
        // per (row, width tap) pair, input channel after input channel: V vectors of the
        // shifted input (one run each) and CO weights (one run)
        for &(at, wt) in tin.pairs {
            let weights = &tin.weight[wt..][..tin.weight_len];
            let runs: [&[f32]; V] =
                std::array::from_fn(|v| &tin.shifted[at + (jb + v) * tin.run_len..][..tin.run_len]);
            for (i, ws) in weights.chunks_exact(CO).enumerate() {
                let xs: [f32x8; V] = std::array::from_fn(|v| load(&runs[v][i * LANES..][..LANES]));
                for (a, &wc) in acc.iter_mut().zip(ws) {
                    let wv = simd.splat_f32x8(wc);
                    for (av, &xv) in a.iter_mut().zip(&xs) {
                        *av = simd.mul_add_f32x8(wv, xv, *av);
                    }
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            let row = &mut dst[c * channel_step + jb * LANES..][..V * LANES];
            for (v, av) in a.iter().enumerate() {
                let lanes: [f32; LANES] = cast(*av);
                row[v * LANES..][..LANES].copy_from_slice(&lanes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{axis_in, mismatch_f32, one_image, plain_axis};
    use proptest::prelude::*;

    /// A 1-D or 2-D problem: up to 2 images and groups, 1-19 output channels per group (three
    /// blocks of six and every remainder), 1-11 input channels.
    fn problem() -> impl Strategy<Value = Problem> {
        let axis = || axis_in((1..12, 1..6, 1..5, 1..4, -3..6, 1..40));
        (
            (1usize..3, 1usize..3, 1usize..12, 1usize..20),
            axis(),
            axis(),
            any::<bool>(),
        )
            .prop_map(|((batch, groups, cin, cout), h, w, flat)| Problem {
                batch,
                groups,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, if flat { AxisMap::UNIT } else { h }, w],
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// In `f32`, equal to the definition exactly (see `mismatch_f32`) on any index map:
        /// strides, dilations, negative and large padding, outputs cropped and extended,
        /// phases no tap reaches, tiles of every width; and the same bits through a layer's
        /// kept weight, on its first call (which packs it) and its second (which reads it).
        #[test]
        fn direct_matches_the_definition_in_f32(p in problem()) {
            prop_assume!(applies(&p));
            let mut first: Option<Vec<u32>> = None;
            let layer = Prepared::<f32>::new();
            for prepared in [None, Some(&layer), Some(&layer)] {
                let bad = mismatch_f32(&p, 5, 0.0, |x, w, b, y| {
                    assert!(run(&p, x, w, prepared, b, y));
                    let bits: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
                    if let Some(first) = &first {
                        assert!(*first == bits, "a second call changed bits: {p:?}");
                    }
                    first = Some(bits);
                });
                prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
            prop_assert_eq!(layer.held(), copies(&p));
        }
    }

    /// A one-row problem (a 1-D signal) is cut into windows along the row, by task count or
    /// by the shifted input's size, and equals the definition exactly (`mismatch_f32`):
    /// strides 2-4, dilation, padding wider than a window's edge, cropped and extended ends,
    /// and a 2-D map one row high.
    #[test]
    fn long_rows_run_in_windows() {
        if !available() {
            return;
        }
        // (batch, cin, cout, length, kernel, stride, dilation, pad_begin, dense)
        for (batch, cin, cout, len, k, s, d, pb, dense) in [
            (1, 12, 9, 700, 4, 2, 1, 1, 1400),
            (2, 5, 16, 333, 7, 3, 2, 4, 1000),
            (1, 32, 16, 5000, 4, 2, 1, 1, 10000),
            (1, 8, 4, 901, 16, 4, 1, 6, 3611),
            (1, 16, 8, 500, 5, 2, 1, -3, 1010),
        ] {
            let w = AxisMap {
                strided: len,
                dense,
                kernel: k,
                stride: s,
                dilation: d,
                pad_begin: pb,
            };
            for h in [AxisMap::UNIT, plain_axis(1, 1, 2, 0)] {
                let p = Problem {
                    batch,
                    ..one_image(cin, cout, [AxisMap::UNIT, h, w])
                };
                assert!(applies(&p), "{p:?}");
                let g = Geometry::new(&p);
                assert!(g.window < g.blocks, "{p:?}: one window");
                let bad = mismatch_f32(&p, 3, 0.0, |x, w, b, y| assert!(run(&p, x, w, None, b, y)));
                assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
        }
    }

    /// A row whose window reads only padding (the one output lies before the input, in a
    /// phase no tap reaches; found by the proptest above) copies nothing and gives the bias.
    #[test]
    fn a_window_of_padding_reads_no_input() {
        let axis = |strided, dense, kernel, stride, dilation, pad_begin| AxisMap {
            strided,
            dense,
            kernel,
            stride,
            dilation,
            pad_begin,
        };
        let p = one_image(
            1,
            4,
            [
                AxisMap::UNIT,
                axis(2, 1, 2, 1, 2, 0),
                axis(1, 1, 1, 2, 1, 3),
            ],
        );
        if !applies(&p) {
            return;
        }
        let bad = mismatch_f32(&p, 7, 0.0, |x, w, b, y| assert!(run(&p, x, w, None, b, y)));
        assert!(bad.is_none(), "{}", bad.unwrap_or_default());
    }

    /// Without a bias, every output starts from zero (small integers: exact in `f32`).
    #[test]
    fn no_bias_starts_from_zero() {
        let axis = plain_axis(9, 3, 2, 1);
        let p = one_image(5, 11, [AxisMap::UNIT, axis, axis]);
        if !applies(&p) {
            return;
        }
        let x: Vec<f32> = (0..5 * 81).map(|i| ((i * 7) % 9) as f32 - 4.0).collect();
        let w: Vec<f32> = (0..5 * 11 * 9)
            .map(|i| ((i * 5) % 7) as f32 - 3.0)
            .collect();
        let mut got = vec![f32::NAN; 11 * p.dense_plane()];
        assert!(run(&p, &x, &w, None, None, &mut got));
        let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let mut want = vec![0.0f64; got.len()];
        crate::reference::scatter(&p, &wide(&x), &wide(&w), None, &mut want);
        assert_eq!(wide(&got), want);
    }

    /// The layers this path takes: strided, shallow inputs with 8-32 output channels, or very
    /// shallow ones with four or more; not one-output heads, deep inputs, a 1x1 kernel,
    /// stride 1, a weight too large to copy, or a short 32-channel signal with a 4-tap kernel.
    #[test]
    fn shallow_strided_layers_run_here() {
        if !available() {
            return;
        }
        let square = |cin, cout, side, k, s, pad| {
            let a = plain_axis(side, k, s, pad);
            Problem {
                batch: 4,
                ..one_image(cin, cout, [AxisMap::UNIT, a, a])
            }
        };
        for (p, want) in [
            (square(32, 16, 56, 3, 2, 1), true),
            (square(21, 21, 32, 16, 8, 4), true),
            (square(3, 256, 64, 4, 2, 1), true),
            (square(8, 4, 64, 7, 2, 0), true),
            (square(56, 1, 64, 9, 2, 4), false),
            (square(64, 64, 32, 4, 2, 1), false),
            (square(16, 128, 32, 4, 2, 1), true),
            (square(16, 160, 32, 4, 2, 1), false),
            // kernel == stride: 8-32 outputs here, more through GEMM + depth to space
            (square(16, 32, 32, 2, 2, 0), true),
            (square(16, 64, 32, 2, 2, 0), false),
            (square(32, 48, 32, 4, 2, 1), false),
            (square(32, 16, 32, 1, 2, 0), false),
            (square(32, 16, 32, 3, 1, 1), false),
            // a 96x96 kernel: a 9.4M-element weight, too large to copy
            (square(32, 32, 4, 96, 32, 0), false),
        ] {
            assert_eq!(applies(&p), want, "{p:?}");
        }
        let signal = |batch, cin, len, k| Problem {
            batch,
            ..one_image(
                cin,
                16,
                [AxisMap::UNIT, AxisMap::UNIT, plain_axis(len, k, 2, 1)],
            )
        };
        for (p, want) in [
            (signal(1, 32, 2000, 4), false),
            (signal(4, 32, 8000, 4), false),
            (signal(1, 32, 8000, 4), true),
            (signal(1, 32, 2000, 8), true),
            (signal(4, 16, 2000, 4), true),
        ] {
            assert_eq!(applies(&p), want, "{p:?}");
        }
    }

    /// `f64` declines, writes nothing and keeps no form (the caller takes another path).
    #[test]
    fn f64_declines() {
        let axis = plain_axis(6, 3, 2, 1);
        let p = one_image(4, 8, [AxisMap::UNIT, axis, axis]);
        let (x, w) = (vec![1.0f64; 4 * 36], vec![1.0f64; 4 * 8 * 9]);
        let mut y = vec![f64::NAN; 8 * p.dense_plane()];
        let layer = Prepared::<f64>::new();
        assert!(!run(&p, &x, &w, Some(&layer), None, &mut y));
        assert!(y.iter().all(|v| v.is_nan()));
        assert_eq!(layer.held(), 0, "a form made for nothing");
    }
}
