//! Strided 2-D transposed convolutions whose kernel is up to 2 or 3 times the stride (4x4 / 2,
//! the DCGAN and pix2pix layer; 6x6 / 3, 6x6 / 2, 8x8 / 4, 5x5 / 2) as one stride-1 Winograd
//! convolution with the stride phases stacked as output channels, then an interleave.
//!
//! With `o + pad = s*t + r` (`0 <= r < s`), output `o` gets the taps `k = r + s*j` of the
//! inputs `i = t - j`, `j = 0..R` (`R = ceil(K / s)`; a tap `k >= K` is zero):
//!
//! ```text
//! y[c, o] = sum over ci, j of w[ci, c, r + s*j] * x[ci, t - j]
//! ```
//!
//! For every residue `r` the input window of `t` is the same, `x[t-R+1 ..= t]`: the phases
//! differ only in their sub-kernels. So all `s` phases (`s_h * s_w` in 2-D) are one forward
//! convolution with `C_out/g * s_h * s_w` output channels (channel `c*S + r_h*s_w + r_w`, the
//! pixel-shuffle order), an `R x R` kernel (the phase's taps reversed), stride 1, padding
//! `R - 1 - t_lo` and `t` from `t_lo = pad / s` to `t_hi = (out - 1 + pad) / s`. That
//! convolution runs through Winograd ([`super::winograd`], [`super::winograd3`]) with its
//! input transform shared by all phases and products `S` times taller than a phase's; each
//! band of its rows is then interleaved into the output (`y[c, s*t + r - pad] = tmp[c*S + r,
//! t - t_lo]`), the bias added by the Winograd output transform.
//!
//! Against GEMM + col2im (which multiplies every tap of every input position, `K^2` products
//! per channel pair and input position, `R^2 S` when the kernel is a multiple of the stride)
//! Winograd F(2x2, 2x2) takes 9 products per 2x2 tile of `t` positions per phase, 9/16 of the
//! direct count, F(3x3, 2x2) 16 per 3x3 tile (16/36), F(2x2, 3x3) 16 per 2x2 tile (16/36), on
//! tiles covering `T = t_hi - t_lo + 1` positions per axis (one more than the input's length
//! when the padding is not a multiple of the stride).

use super::parallel::for_each_task;
use super::prepared::Prepared;
use super::scratch::{sized, with_scratch};
use super::WEIGHT_COPY_BUDGET;
use super::{winograd, winograd3};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Most weight elements copied at once ([`copies`]): a 256 -> 128 4x4 layer's whole
/// transformed weight, 1.2 million elements (4.5 MiB); deeper layers go a pass of blocks at a
/// time. `f32` only (see `conv_transpose::run_path`), so with the tasks' scratch a call stays
/// within 16 MiB.
const COPY_BUDGET: usize = 4 * WEIGHT_COPY_BUDGET;

/// Fewest channels per group on each side (as [`super::winograd`]'s own rule).
const MIN_CHANNELS: usize = 16;

/// The sub-kernel size `R = ceil(K / stride)` when `p` (a transposed convolution) is 2-D with
/// `R` 2 or 3 and the same on both axes (a kernel up to `R` times the stride; phases with
/// fewer taps get zeros), no dilation, padding not negative.
fn sub_kernel(p: &Problem) -> Option<usize> {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1 && a[0].pad_begin == 0;
    let r = a[2].kernel.div_ceil(a[2].stride.max(1));
    let fits = |x: &AxisMap| {
        x.stride >= 1
            && x.kernel.div_ceil(x.stride) == r
            && x.dilation == 1
            && x.pad_begin >= 0
            && x.strided >= 1
            && x.dense >= 1
    };
    let strided = a[1].stride > 1 || a[2].stride > 1;
    (planar && strided && (r == 2 || r == 3) && fits(&a[1]) && fits(&a[2])).then_some(r)
}

/// The stacked forward convolution of `p` (see the module docs): its "strided" side is its
/// output (`T` positions per axis, `C_out/g * S` channels), its dense side `p`'s input.
fn stacked(p: &Problem, r: usize) -> Problem {
    let axis = |a: &AxisMap| {
        let pad = a.pad_begin as usize;
        let (t_lo, t_hi) = (pad / a.stride, (a.dense - 1 + pad) / a.stride);
        AxisMap {
            strided: t_hi - t_lo + 1,
            dense: a.strided,
            kernel: r,
            stride: 1,
            dilation: 1,
            pad_begin: (r - 1) as i64 - t_lo as i64,
        }
    };
    Problem {
        batch: p.batch,
        groups: p.groups,
        strided_channels: p.dense_channels * phases(p),
        dense_channels: p.strided_channels,
        axes: [AxisMap::UNIT, axis(&p.axes[1]), axis(&p.axes[2])],
    }
}

/// Phases per output channel, `s_h * s_w`.
fn phases(p: &Problem) -> usize {
    p.axes[1].stride * p.axes[2].stride
}

/// Output channels of `p` per block: a task's products cover one block of them (all their
/// phases). Two blocks where the stacked channels number 512 or more, so an image is two
/// tasks of products at least 256 rows tall; halved further while a block's transformed
/// weight is over [`COPY_BUDGET`] (deep layers, made a pass of blocks at a time, see [`run`]).
/// The transformed weight holds 16 values per channel pair for F(3x3, 2x2) and F(2x2, 3x3),
/// 9 for F(2x2, 2x2): 2x2 sub-kernels whose blocks sized for 16 values would not run
/// F(3x3, 2x2) get the larger blocks that 9 allow.
fn block_channels(p: &Problem) -> usize {
    let r = sub_kernel(p).unwrap_or(3);
    let wide = block_for(p, 16);
    if r == 2 && !three_by_three(&stacked_block(p, r, wide)) {
        block_for(p, 9)
    } else {
        wide
    }
}

/// [`block_channels`] for a transformed weight of `points` values per channel pair.
fn block_for(p: &Problem, points: usize) -> usize {
    let cg = p.dense_channels;
    let mut cb = if cg % 2 == 0 && cg * phases(p) >= 512 {
        cg / 2
    } else {
        cg
    };
    while points * cb * phases(p) * p.strided_channels > COPY_BUDGET && cb % 2 == 0 {
        cb /= 2;
    }
    cb
}

/// Elements of the transformed weight of one block of output channels.
fn block_copies(p: &Problem) -> usize {
    let c = block_problem(p, sub_kernel(p).unwrap_or(3));
    points(&c) * c.strided_channels * p.strided_channels
}

/// (group, block) pairs whose transformed weight one pass holds (all of them when the whole
/// transformed weight is within [`COPY_BUDGET`]).
fn pass_blocks(p: &Problem) -> usize {
    let total = p.groups * (p.dense_channels / block_channels(p));
    (COPY_BUDGET / block_copies(p).max(1)).clamp(1, total.max(1))
}

/// Share of the stacked sub-kernels' taps that are taps of the kernel: `K_h K_w / (R^2 s_h
/// s_w)`, below 1 where the kernel is not a multiple of the stride (3x3/2: its phases have
/// 4, 2, 2 and 1 taps of the 2x2 sub-kernel's 4).
fn useful_taps(p: &Problem) -> f64 {
    let r = sub_kernel(p).unwrap_or(1);
    p.kernel_volume() as f64 / (r * r * phases(p)) as f64
}

/// Fewest [`useful_taps`]: paired A/B against the path taken before (7 rounds), 3x3/2 layers
/// (0.56 of the taps) 1.09-1.27x the time, 5x5/2 (0.69) 0.76x and level, 7x7/4 (0.77) 0.87x.
const MIN_USEFUL_TAPS: f64 = 0.65;

/// Passes of (group, block) pairs [`run`] makes.
fn passes(p: &Problem) -> usize {
    (p.groups * (p.dense_channels / block_channels(p))).div_ceil(pass_blocks(p))
}

/// The stacked convolution of one block of output channels.
fn block_problem(p: &Problem, r: usize) -> Problem {
    stacked_block(p, r, block_channels(p))
}

/// The stacked convolution of a block of `cb` output channels.
fn stacked_block(p: &Problem, r: usize, cb: usize) -> Problem {
    Problem {
        strided_channels: cb * phases(p),
        ..stacked(p, r)
    }
}

/// Fewest tiles in a band for F(3x3, 2x2): its tiles hold 16 values for 9 outputs, so a band
/// of the same scratch has about half the columns of F(2x2, 2x2)'s. Paired A/B against
/// F(2x2, 2x2), 11 rounds: 0.85x and 0.91x the time with 66 and 129 tiles (128 -> 64 on four
/// 32x32 inputs, 64 -> 32 on 128x128), 1.2-1.3x with 22-56 (256 -> 128 on 48x40, 256 -> 256
/// on 32x32, 512 -> 128 on 64x64, 128 -> 64 8x8/4).
const MIN_F3_TILES: usize = 64;

/// Whether the stacked convolution `c` runs Winograd F(3x3, 2x2) ([`super::winograd3`]; a 2x2
/// kernel with bands of at least [`MIN_F3_TILES`] tiles) rather than F(2x2, 2x2) or
/// F(2x2, 3x3) ([`super::winograd`]).
fn three_by_three(c: &Problem) -> bool {
    c.axes[2].kernel == 2 && winograd3::fits(c) && winograd3::band_tiles(c) >= MIN_F3_TILES
}

/// Transformed values per tile of `c`'s Winograd form.
fn points(c: &Problem) -> usize {
    if three_by_three(c) || c.axes[2].kernel == 3 {
        16
    } else {
        9
    }
}

/// Output rows per band of `c`'s Winograd form.
fn band_rows(c: &Problem) -> usize {
    if three_by_three(c) {
        winograd3::band_rows(c)
    } else {
        winograd::band_rows(c)
    }
}

/// Tiles in a whole band of `c`.
fn band_tiles(c: &Problem) -> usize {
    if three_by_three(c) {
        winograd3::band_tiles(c)
    } else {
        let rows = winograd::band_rows(c).min(c.axes[1].strided);
        rows.div_ceil(2) * c.axes[2].strided.div_ceil(2)
    }
}

/// Fewest positions of the stacked convolution's plane (about a 32x32 input): on smaller
/// planes the transforms and the narrow products cost what the multiply-adds save.
const MIN_PLANE: usize = 1024;

/// Fewest tiles in a band's products (their columns). The band's scratch holds 9 or 16
/// values per tile for each of `C_in/g + stacked channels`, so deep inputs get short bands: a 1024 -> 256 4x4/2 layer on 32x32 had 34 and ran 1.35x the time of GEMM +
/// col2im; 512 -> 128 on 64x64 (66 tiles) and 256 -> 256 on 32x32 (68) ran 0.83x.
const MIN_BAND_TILES: usize = 64;

/// Whether this path runs `p`: [`fits`], on a plane of at least [`MIN_PLANE`] positions, in
/// bands of at least [`MIN_BAND_TILES`] tiles, at least [`MIN_USEFUL_TAPS`] real taps, at
/// most [`MAX_WIDENING`] outputs per input channel, with the transformed weight in at most two
/// passes (each pass transforms the input again: alternating builds, 5 rounds, 512 -> 128
/// on 64x64 and 256 -> 256 on two 32x32 inputs, two passes, 0.89x and 0.92x the time of
/// GEMM + col2im; 512 -> 256 and 512 -> 512 on 32x32, four and eight passes, 1.14x and 1.10x).
pub(super) fn applies(p: &Problem) -> bool {
    let Some(c) = sub_kernel(p).map(|r| block_problem(p, r)) else {
        return false;
    };
    fits(p)
        && c.strided_plane() >= MIN_PLANE
        && band_tiles(&c) >= MIN_BAND_TILES
        && passes(p) <= 2
        && useful_taps(p) >= MIN_USEFUL_TAPS
        && p.dense_channels <= MAX_WIDENING * p.strided_channels
}

/// Most output channels per input channel (per group). The products are `C_in/g` deep and
/// the output transform and interleave handle every stacked output, so shallow inputs into
/// many outputs spend their time there: alternating builds (7 rounds), 16 -> 256 4x4/2 on
/// 32x32 1.45x the time of the path before, 16 -> 64 on two 32x32 1.27x, 24 -> 128 and
/// 32 -> 256 1.13-1.17x, 16 -> 128 on 64x64 1.12x; 16 -> 32 and 16 -> 16 0.89-0.92x.
const MAX_WIDENING: usize = 2;

/// Whether [`run`] can compute `p`: a sub-kernel of 2 or 3, enough channels, and the
/// transformed weight and a band's scratch within their budgets.
fn fits(p: &Problem) -> bool {
    let Some(r) = sub_kernel(p) else {
        return false;
    };
    let c = block_problem(p, r);
    p.strided_channels >= MIN_CHANNELS
        && p.dense_channels >= MIN_CHANNELS
        && block_copies(p) <= COPY_BUDGET
        && if three_by_three(&c) {
            winograd3::fits(&c)
        } else {
            winograd::fits(&c)
        }
}

/// Weight elements copied: the transformed stacked weight of one pass of blocks (the whole
/// of it, 9 or 16 values per channel pair and phase, when it is within [`COPY_BUDGET`]).
pub(super) fn copies(p: &Problem) -> usize {
    block_copies(p) * pass_blocks(p)
}

/// Scratch elements of one task: the Winograd band's and the stacked output rows it
/// interleaves.
pub(super) fn workspace(p: &Problem) -> usize {
    let Some(r) = sub_kernel(p) else {
        return 0;
    };
    let c = block_problem(p, r);
    let rows = band_rows(&c) * c.axes[2].strided;
    let form = if three_by_three(&c) {
        winograd3::workspace(&c)
    } else {
        winograd::workspace(&c)
    };
    form + c.strided_channels * rows
}

/// Output channels per task of [`transformed_weight`].
const TRANSFORM_CHANNELS: usize = 8;

/// Input channels transformed into a local block before they are stored (see
/// `winograd::transform_kernels`: stores straight into the slabs, a power of two apart,
/// thrash one cache set).
const TRANSFORM_RUN: usize = 64;

/// The Winograd transform of the stacked kernels, per (group, block) of output channels in
/// the layout [`winograd::band_product`] reads, `[g][block][xi][k][ci]`, for the (group,
/// block) pairs `gb0..gb1` (index `g * blocks + block`): for stacked channel
/// `k = c*S + r_h*s_w + r_w` of the block and input channel `ci`, `(G g G^T)[xi]` of the
/// `R x R` kernel `g[a][b] = w[ci][c][r_h + s_h*(R-1-a)][r_w + s_w*(R-1-b)]` (the phase's
/// taps, reversed: a forward convolution's kernel), read straight from the transposed
/// convolution's weight. Tasks of [`TRANSFORM_CHANNELS`] output channels, in parallel when
/// `parallel` (a layer's copy is made on one thread: see [`super::prepared`]).
pub(super) fn transformed_weight<T: Element>(
    p: &Problem,
    w: &[T],
    (gb0, gb1): (usize, usize),
    parallel: bool,
) -> Vec<T> {
    let r = sub_kernel(p).unwrap_or(2);
    let f3 = three_by_three(&block_problem(p, r));
    let np = points(&block_problem(p, r));
    let (cin, cg) = (p.strided_channels, p.dense_channels);
    let (s_h, s_w) = (p.axes[1].stride, p.axes[2].stride);
    let (k_h, k_w) = (p.axes[1].kernel, p.axes[2].kernel);
    let kvol = p.kernel_volume();
    let (s, cb) = (phases(p), block_channels(p));
    let blocks = cg / cb;
    let slab = cb * s * cin;
    debug_assert_eq!(np * slab, block_copies(p));
    let mut u = vec![T::zero(); (gb1 - gb0) * np * slab];
    // task (group-block gb, channels c0..c0+n of the block): the rows of its channels in
    // each of the np slabs of gb
    let mut tasks: Vec<(usize, usize, Vec<&mut [T]>)> = Vec::new();
    for (gb, slabs) in (gb0..gb1).zip(u.chunks_mut(np * slab)) {
        let first = tasks.len();
        for c0 in (0..cb).step_by(TRANSFORM_CHANNELS) {
            tasks.push((gb, c0, Vec::with_capacity(np)));
        }
        for slab_xi in slabs.chunks_mut(slab) {
            let mut rest = slab_xi;
            for task in &mut tasks[first..] {
                let n = TRANSFORM_CHANNELS.min(cb - task.1);
                let (head, tail) = rest.split_at_mut(n * s * cin);
                task.2.push(head);
                rest = tail;
            }
        }
    }
    let transform = |(gb, c0, mut slabs): (usize, usize, Vec<&mut [T]>)| {
        let (g, blk) = (gb / blocks, gb % blocks);
        let n = TRANSFORM_CHANNELS.min(cb - c0);
        // one input channel's taps (one cache line for a 4x4 kernel) serve all its phases
        let mut run = vec![T::zero(); s * np * TRANSFORM_RUN];
        for cl in 0..n {
            let c = blk * cb + c0 + cl;
            for i0 in (0..cin).step_by(TRANSFORM_RUN) {
                let len = TRANSFORM_RUN.min(cin - i0);
                for ci in i0..i0 + len {
                    let taps = &w[((g * cin + ci) * cg + c) * kvol..][..kvol];
                    for r_h in 0..s_h {
                        for r_w in 0..s_w {
                            // (zero past the kernel: a phase with fewer taps than R)
                            let at = |a: usize, b: usize| {
                                let kh = r_h + s_h * (r - 1 - a);
                                let kw = r_w + s_w * (r - 1 - b);
                                if kh < k_h && kw < k_w {
                                    taps[kh * k_w + kw]
                                } else {
                                    T::zero()
                                }
                            };
                            // values of (phase, xi) go to run[(phase*np + xi)*RUN + ci - i0]
                            let base = (r_h * s_w + r_w) * np * TRANSFORM_RUN + ci - i0;
                            let mut put = |xi: usize, v: T| run[base + xi * TRANSFORM_RUN] = v;
                            if f3 {
                                let g = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                                let u = winograd3::transform_kernel(g);
                                u.iter().enumerate().for_each(|(xi, &v)| put(xi, v));
                            } else {
                                winograd::transform_kernel(r, at, &mut put);
                            }
                        }
                    }
                }
                for phase in 0..s {
                    let k = cl * s + phase;
                    for (xi, slab) in slabs.iter_mut().enumerate() {
                        let src = &run[(phase * np + xi) * TRANSFORM_RUN..][..len];
                        slab[k * cin + i0..][..len].copy_from_slice(src);
                    }
                }
            }
        }
    };
    if parallel {
        let work = (TRANSFORM_CHANNELS * s * cin * np) as u64 * 16;
        for_each_task(tasks, work, usize::MAX, transform);
    } else {
        tasks.into_iter().for_each(transform);
    }
    u
}

/// One task: an image, a group, a block of output channels and a band of the stacked
/// convolution's rows, with the output rows `rows` of the block's channels that the band
/// makes.
struct Task<'a, T> {
    image: usize,
    group: usize,
    block: usize,
    band: (usize, usize),
    rows: (usize, usize),
    planes: Vec<&'a mut [T]>,
}

/// Runs `p` (for which [`applies`] holds): a pass of (group, block) pairs at a time, each
/// with its share of the transformed weight (all of it in one pass, kept by a layer, unless
/// it is over [`COPY_BUDGET`]).
pub(super) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    if y.is_empty() {
        return;
    }
    let c = block_problem(p, sub_kernel(p).unwrap_or(2));
    let cb = block_channels(p);
    let gbs = p.groups * (p.dense_channels / cb);
    let per_pass = pass_blocks(p);
    let kept: Option<&[T]> = prepared
        .filter(|_| per_pass >= gbs)
        .map(|prepared| prepared.winograd(|| transformed_weight(p, w, (0, gbs), false)));
    let per_block = block_copies(p);
    let at_once = super::max_concurrent(workspace(p), copies(p), y.len(), size_of::<T>());
    for gb0 in (0..gbs).step_by(per_pass) {
        let gb1 = (gb0 + per_pass).min(gbs);
        let u_of_pass: Vec<T>;
        let u: &[T] = match kept {
            Some(u) => &u[gb0 * per_block..gb1 * per_block],
            None => {
                u_of_pass = transformed_weight(p, w, (gb0, gb1), true);
                &u_of_pass
            }
        };
        let tasks = pass_tasks(p, &c, y, (gb0, gb1));
        let work = p.multiply_adds() / (tasks.len() * gbs.div_ceil(per_pass)).max(1) as u64;
        for_each_task(tasks, work, at_once, |task| {
            let gb = task.group * (gbs / p.groups) + task.block;
            let ub = &u[(gb - gb0) * per_block..][..per_block];
            run_task(p, &c, x, ub, b, task);
        });
    }
}

/// The tasks of (group, block) pairs `gb0..gb1`: for every image, each band of the stacked
/// rows with the output rows it makes of the block's channels.
fn pass_tasks<'a, T>(
    p: &Problem,
    c: &Problem,
    y: &'a mut [T],
    (gb0, gb1): (usize, usize),
) -> Vec<Task<'a, T>> {
    let (h, cb) = (&p.axes[1], block_channels(p));
    let blocks = p.dense_channels / cb;
    let (out_h, out_w) = (h.dense, p.axes[2].dense);
    let (pad, t_lo) = (h.pad_begin as usize, h.pad_begin as usize / h.stride);
    let (band, rows_t) = (band_rows(c).max(1), c.axes[1].strided);
    // band k of the stacked rows (t - t_lo) makes output rows from s*(t_lo + band start) - pad
    let out_row = |tau: usize| (h.stride * (t_lo + tau)).saturating_sub(pad).min(out_h);
    let mut tasks: Vec<Task<'a, T>> = Vec::new();
    let mut rest: &'a mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            for blk in 0..blocks {
                let (block, tail) = rest.split_at_mut(cb * out_h * out_w);
                rest = tail;
                if !(gb0..gb1).contains(&(g * blocks + blk)) {
                    continue;
                }
                let first = tasks.len();
                for t0 in (0..rows_t).step_by(band) {
                    let t1 = (t0 + band).min(rows_t);
                    tasks.push(Task {
                        image: n,
                        group: g,
                        block: blk,
                        band: (t0, t1),
                        rows: (out_row(t0), out_row(t1)),
                        planes: Vec::with_capacity(cb),
                    });
                }
                for mut plane in block.chunks_mut(out_h * out_w) {
                    for task in &mut tasks[first..] {
                        let len = (task.rows.1 - task.rows.0) * out_w;
                        let (seg, after) = plane.split_at_mut(len);
                        task.planes.push(seg);
                        plane = after;
                    }
                }
            }
        }
    }
    tasks
}

/// One task: the band's stacked rows through Winograd (`u` the block's transformed weight),
/// then interleaved into its output rows.
fn run_task<T: Element>(
    p: &Problem,
    c: &Problem,
    x: &[T],
    u: &[T],
    b: Option<&[T]>,
    task: Task<'_, T>,
) {
    let Task {
        image: n,
        group: g,
        block: blk,
        band: (t0, t1),
        rows: (o0, o1),
        mut planes,
    } = task;
    if o0 >= o1 {
        return;
    }
    let (h, wa) = (&p.axes[1], &p.axes[2]);
    let (s_h, s_w) = (h.stride, wa.stride);
    let (pad_h, pad_w) = (h.pad_begin as usize, wa.pad_begin as usize);
    let (t_lo_h, t_lo_w) = (pad_h / s_h, pad_w / s_w);
    let (cin_g, pin, out_w) = (p.strided_channels, p.strided_plane(), wa.dense);
    let (s, w_t) = (phases(p), c.axes[2].strided);
    let xg = &x[(n * p.groups + g) * cin_g * pin..][..cin_g * pin];
    let c0 = g * p.dense_channels + blk * block_channels(p);
    let bias = |k: usize| b.map_or(T::zero(), |b| b[c0 + k / s]);
    with_scratch(|scratch: &mut Vec<T>, tile: &mut Vec<T>| {
        let cols = (t1 - t0) * w_t;
        let tile = sized(tile, c.strided_channels * cols);
        let mut dst: Vec<&mut [T]> = tile.chunks_mut(cols).collect();
        if three_by_three(c) {
            winograd3::band_product(c, u, xg, (t0, t1), scratch, &mut dst, bias);
        } else {
            winograd::band_product(c, u, xg, (t0, t1), scratch, &mut dst, bias);
        }
        // interleave: output row o of channel j is stacked row (o + pad)/s - t_lo of
        // stacked channel j*S + ((o + pad) % s)*s_w + r_w, every s_w-th output from the
        // first with residue r_w
        for (j, plane) in planes.iter_mut().enumerate() {
            for o in o0..o1 {
                let (t, r_h) = ((o + pad_h) / s_h, (o + pad_h) % s_h);
                let row = t - t_lo_h - t0;
                let dst_row = &mut plane[(o - o0) * out_w..][..out_w];
                if s_w == 2 {
                    // column 2i + e (e = 0, 1) has residue (e + pad) % 2: both phase rows
                    // at once, in pairs of columns
                    let src = |e: usize| {
                        let (r_w, tau) = ((e + pad_w) % 2, (e + pad_w) / 2 - t_lo_w);
                        &tile[(j * s + r_h * 2 + r_w) * cols + row * w_t + tau..]
                    };
                    let (even, odd) = (src(0), src(1));
                    for ((pair, &a), &b) in dst_row.chunks_exact_mut(2).zip(even).zip(odd) {
                        pair[0] = a;
                        pair[1] = b;
                    }
                    if out_w % 2 == 1 {
                        dst_row[out_w - 1] = even[out_w / 2];
                    }
                    continue;
                }
                for r_w in 0..s_w {
                    // first output column with (col + pad) % s_w == r_w
                    let first = (r_w + s_w - pad_w % s_w) % s_w;
                    if first >= out_w {
                        continue;
                    }
                    let tau = (first + pad_w) / s_w - t_lo_w;
                    let k = (j * s + r_h * s_w + r_w) * cols + row * w_t + tau;
                    let src = &tile[k..k + (out_w - first).div_ceil(s_w)];
                    dst_row[first..]
                        .iter_mut()
                        .step_by(s_w)
                        .zip(src)
                        .for_each(|(d, &v)| *d = v);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{mismatch, mismatch_f32};
    use proptest::prelude::*;

    /// A strided 2-D problem with kernel `ceil(K / stride) = r` on both axes (a multiple of
    /// the stride or up to `stride - 1` taps less), any padding (not negative) and any output
    /// length from the natural one down by the padding to up by `extra`.
    fn problem() -> impl Strategy<Value = Problem> {
        let axis = |r: usize| {
            (1usize..8, 1usize..4, 0usize..7, 0usize..4, 0usize..3).prop_map(
                move |(strided, stride, pad, extra, cut)| {
                    // up to stride - 1 taps short of R * stride: phases with fewer taps
                    let kernel = r * stride - cut.min(stride - 1);
                    let pad = pad.min(kernel - 1);
                    let natural = (strided - 1) * stride + kernel - pad;
                    let dense = (natural + extra).saturating_sub(pad).max(1);
                    AxisMap {
                        strided,
                        dense,
                        kernel,
                        stride,
                        dilation: 1,
                        pad_begin: pad as i64,
                    }
                },
            )
        };
        (2usize..4)
            .prop_flat_map(move |r| (axis(r), axis(r)))
            .prop_filter("strided", |(h, w)| h.stride > 1 || w.stride > 1)
            .prop_flat_map(|(h, w)| {
                (1usize..3, 1usize..3, 16usize..19, 16usize..19).prop_map(
                    move |(batch, groups, cin, cout)| Problem {
                        batch,
                        groups,
                        strided_channels: cin,
                        dense_channels: cout,
                        axes: [AxisMap::UNIT, h, w],
                    },
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every problem the path takes runs the definition, in `f64` (to rounding) and in
        /// `f32`, through a call and through a layer's kept weight (twice).
        #[test]
        fn stacked_phases_match_the_definition(p in problem(), seed in 0usize..50) {
            prop_assume!(fits(&p));
            let bad = mismatch(&p, seed, true, 1e-12, |x, w, b, y| run(&p, x, w, None, b, y));
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            let layer = Prepared::new();
            for _ in 0..2 {
                let bad = mismatch_f32(&p, seed, 1e-5, |x, w, b, y| {
                    run(&p, x, w, Some(&layer), b, y)
                });
                prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
        }
    }

    /// Channels in two blocks (256 stacked channels or more) and bands of rows (a plane
    /// large enough for several): a 4x4 / 2 layer and a 6x6 / 3 one.
    #[test]
    fn blocks_and_bands_match_the_definition() {
        for (k, s, side, cin, cout) in [(4, 2, 30, 16, 128), (6, 3, 12, 24, 64), (4, 2, 4, 16, 256)]
        {
            let axis = AxisMap {
                strided: side,
                dense: (side - 1) * s + k - 2,
                kernel: k,
                stride: s,
                dilation: 1,
                pad_begin: 1,
            };
            let p = Problem {
                batch: 1,
                groups: 1,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, axis, axis],
            };
            assert!(fits(&p), "{p:?}");
            let c = block_problem(&p, k / s);
            let several = c.axes[1].strided > band_rows(&c) || block_channels(&p) < cout;
            assert!(several, "{p:?}");
            let bad = mismatch(&p, 3, true, 1e-12, |x, w, b, y| run(&p, x, w, None, b, y));
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            if cin == 1024 {
                assert_eq!((pass_blocks(&p), block_channels(&p)), (1, 32));
                let layer = Prepared::new();
                let bad = mismatch(&p, 4, true, 1e-12, |x, w, b, y| {
                    run(&p, x, w, Some(&layer), b, y)
                });
                assert!(bad.is_none(), "{}", bad.unwrap_or_default());
                assert_eq!(layer.held(), 0);
            }
        }
    }
}
