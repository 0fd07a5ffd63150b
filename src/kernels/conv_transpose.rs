//! Transposed-convolution fast paths.
//!
//! * [`depthwise`]: one input and one output channel per group, a direct per-plane scatter
//!   (memory-bound, no GEMM);
//! * stride 1 on every axis: a forward convolution with the kernel flipped and the channel
//!   roles swapped (see [`as_forward_conv`]), so no output receives overlapping adds;
//! * otherwise [`gemm_col2im`]: `col = W^T X` by GEMM for a band of input rows, then each
//!   column row is added into the output at `i*stride + k*dilation - pad_begin`. When every
//!   output position is hit exactly once (kernel == stride, no padding: the U-Net case) the
//!   adds become plain stores with the bias fused, and the output is never initialised.

use super::gemm::{matmul, Mat};
use super::parallel::{for_each_chunk, for_each_task};
use super::scratch::{sized, with_scratch};
use super::{tap_ranges, tile_rows};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Picks the path for `p` and runs it. `x` is the strided side, `y` the dense side.
pub(crate) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    if p.strided_channels == 1 && p.dense_channels == 1 {
        depthwise(p, x, w, b, y);
    } else if p.axes.iter().all(|a| a.stride == 1) {
        as_forward_conv(p, x, w, b, y);
    } else if prefers_subpixel(p) {
        super::subpixel::run(p, x, w, b, y);
    } else {
        gemm_col2im(p, x, w, b, y);
    }
}

/// Chooses between the two strided paths by the memory traffic each adds to the same GEMM
/// work, per image and group, in elements:
///
/// * GEMM + col2im: the column buffer (`C_out/g * taps * P_in`) is written and read, and the
///   output is initialised once and then read and written once per overlapping contribution
///   (`pairs / Q` of them on average);
/// * sub-pixel: the im2col matrices of the phases (`C_in/g * sub-taps * phase outputs`, none
///   for a phase that reads the input as it is) are written and read, and each output is
///   stored once, with a stride (counted twice).
///
/// When every output is hit exactly once, col2im stores (no init, no adds) and the GEMM has
/// `taps` times more rows, so it stays. Ties go to col2im: its GEMM reads the input directly.
/// (Measured on the benchmark shapes and the performance guide's cases A-D: sub-pixel wins
/// for `C_in <= C_out` with overlapping kernels, col2im for `C_in = 2 C_out`.)
fn prefers_subpixel(p: &Problem) -> bool {
    if p.axes.iter().all(AxisMap::covers_exactly_once) {
        return false;
    }
    let (q, pin) = (p.dense_plane() as f64, p.strided_plane() as f64);
    let cout = p.dense_channels as f64;
    let pairs: f64 = p.axes.iter().map(|a| a.valid_pairs() as f64).product();
    let col2im = 2.0 * cout * p.kernel_volume() as f64 * pin + cout * (q + 2.0 * pairs);
    let subpixel = 2.0 * super::subpixel::im2col_elements(p) as f64 + 2.0 * cout * q;
    subpixel < 0.9 * col2im
}

/// Scratch elements [`run`] allocates for `p` (per task; tasks may run concurrently, one per
/// thread).
pub(crate) fn workspace(p: &Problem) -> usize {
    if p.strided_channels == 1 && p.dense_channels == 1 {
        0
    } else if p.axes.iter().all(|a| a.stride == 1) {
        let conv = flipped_problem(p);
        p.strided_channels_total() * p.dense_channels * p.kernel_volume()
            + super::conv::workspace(&conv)
    } else if prefers_subpixel(p) {
        super::subpixel::workspace(p)
    } else {
        let (_, rows) = col_tile(p, block_channels(p));
        block_channels(p) * p.kernel_volume() * rows * p.axes[2].strided
    }
}

/// Output channels per GEMM block: whole groups when there are several independent
/// (image, group) tasks, otherwise a split into about four blocks so threads have work. Fixed
/// by the problem alone, so the arithmetic never depends on the thread count.
pub(super) fn block_channels(p: &Problem) -> usize {
    let tasks = p.batch * p.groups;
    let cg = p.dense_channels;
    if tasks >= 4 || cg < 8 {
        cg
    } else {
        cg.div_ceil(4)
            .max(64usize.div_ceil(p.kernel_volume()))
            .min(cg)
    }
}

/// Rows of the strided side per GEMM tile, and the total number of such rows.
fn col_tile(p: &Problem, block: usize) -> (usize, usize) {
    let rows = p.axes[0].strided * p.axes[1].strided;
    let per_row = block * p.kernel_volume() * p.axes[2].strided;
    (tile_rows(per_row, p.axes[2].strided, rows), rows)
}

/// Adds (or, with `assign`, stores) `src` times `scale` plus `bias` into every `stride`-th
/// element of `dst`.
#[inline]
fn scatter_row<T: Element>(dst: &mut [T], src: &[T], stride: usize, bias: T, assign: bool) {
    if stride == 1 {
        let dst = &mut dst[..src.len()];
        if assign {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s + bias);
        } else {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + s);
        }
    } else if assign {
        dst.iter_mut()
            .step_by(stride)
            .zip(src)
            .for_each(|(d, &s)| *d = s + bias);
    } else {
        dst.iter_mut()
            .step_by(stride)
            .zip(src)
            .for_each(|(d, &s)| *d = *d + s);
    }
}

/// Where strided row `r` (an index over the two outer axes) lands with taps `(kd, kh)`:
/// the dense row index, or `None` when it falls outside.
#[inline]
fn dense_row(axes: &[AxisMap; 3], r: usize, kd: usize, kh: usize) -> Option<usize> {
    let (id, ih) = (r / axes[1].strided, r % axes[1].strided);
    let od = axes[0].dense_pos(id, kd);
    let oh = axes[1].dense_pos(ih, kh);
    if od < 0 || oh < 0 || od >= axes[0].dense as i64 || oh >= axes[1].dense as i64 {
        return None;
    }
    Some(od as usize * axes[1].dense + oh as usize)
}

/// Adds column rows `col[m, ...]` for strided rows `r0..r1` into the output planes of one
/// block. `col` has `(r1 - r0) * W` columns; row `m = j*kvol + tap`.
#[allow(clippy::too_many_arguments)]
fn col2im<T: Element>(
    p: &Problem,
    col: &[T],
    rows: (usize, usize),
    block: &mut [T],
    bias: &[T],
    assign: bool,
    w_ranges: &[(usize, usize)],
) {
    let a = &p.axes;
    let (kd_n, kh_n, kw_n) = (a[0].kernel, a[1].kernel, a[2].kernel);
    let kvol = p.kernel_volume();
    let (w_in, w_out, q) = (a[2].strided, a[2].dense, p.dense_plane());
    let cols = (rows.1 - rows.0) * w_in;
    let pairs = !assign && a[2].stride == 2 && a[2].dilation == 1;
    for (j, plane) in block.chunks_mut(q).enumerate() {
        for kd in 0..kd_n {
            for kh in 0..kh_n {
                for r in rows.0..rows.1 {
                    let Some(orow) = dense_row(a, r, kd, kh) else {
                        continue;
                    };
                    let out_row = &mut plane[orow * w_out..(orow + 1) * w_out];
                    // column row of tap (kd, kh, kw) is m0 + kw; this input row starts at
                    // `base(kw)` in it
                    let m0 = j * kvol + (kd * kh_n + kh) * kw_n;
                    let base = |kw: usize| (m0 + kw) * cols + (r - rows.0) * w_in;
                    let single = |out_row: &mut [T], kw: usize, lo: usize, hi: usize| {
                        if lo < hi {
                            let ow0 = a[2].dense_pos(lo, kw) as usize;
                            scatter_row(
                                &mut out_row[ow0..],
                                &col[base(kw) + lo..base(kw) + hi],
                                a[2].stride,
                                bias[j],
                                assign,
                            );
                        }
                    };
                    let mut kw = 0;
                    while kw < kw_n {
                        let (lo0, hi0) = w_ranges[kw];
                        if pairs && kw + 1 < kw_n {
                            // Stride 2, dilation 1: taps kw and kw+1 of input i land on two
                            // neighbouring outputs, 2i + kw - pb and the next, so over the
                            // range both taps cover the two column rows interleave into one
                            // contiguous run (vectorisable, unlike two stride-2 passes).
                            let (lo1, hi1) = w_ranges[kw + 1];
                            let (lo, hi) = (lo0.max(lo1), hi0.min(hi1));
                            if lo < hi {
                                let ow0 = a[2].dense_pos(lo, kw) as usize;
                                let (c0, c1) = (base(kw), base(kw + 1));
                                out_row[ow0..ow0 + 2 * (hi - lo)]
                                    .chunks_exact_mut(2)
                                    .zip(&col[c0 + lo..c0 + hi])
                                    .zip(&col[c1 + lo..c1 + hi])
                                    .for_each(|((d, &u), &v)| {
                                        d[0] = d[0] + u;
                                        d[1] = d[1] + v;
                                    });
                                single(out_row, kw, lo0, lo.min(hi0));
                                single(out_row, kw, hi.max(lo0), hi0);
                                single(out_row, kw + 1, lo1, lo.min(hi1));
                                single(out_row, kw + 1, hi.max(lo1), hi1);
                                kw += 2;
                                continue;
                            }
                        }
                        single(out_row, kw, lo0, hi0);
                        kw += 1;
                    }
                }
            }
        }
    }
}

/// GEMM into a bounded column tile, then column-to-image adds.
fn gemm_col2im<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (cin_g, cg, kvol, q) = (
        p.strided_channels,
        p.dense_channels,
        p.kernel_volume(),
        p.dense_plane(),
    );
    let pin = p.strided_plane();
    let block = block_channels(p);
    let (tile_rows, rows) = col_tile(p, block);
    let assign = p.axes.iter().all(AxisMap::covers_exactly_once);
    let w_ranges: Vec<(usize, usize)> = tap_ranges(&p.axes[2]);
    let w_in = p.axes[2].strided;

    // Tasks: (image, group, block of output channels), each owning its contiguous planes.
    let mut tasks = Vec::new();
    let mut rest: &mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            let mut co = 0;
            while co < cg {
                let len = block.min(cg - co);
                let (head, tail) = rest.split_at_mut(len * q);
                tasks.push((n, g, co, head));
                rest = tail;
                co += len;
            }
        }
    }
    // The GEMM's left operand is the weight of each group, [C_in/g, C_out/g * taps], read as
    // its transpose. The GEMM packs a row-major left operand much faster than this
    // column-major one (perf, dcgan_4x4_s2: packing 9% of the time as is, 1% row-major), so
    // when each weight block goes through more than one GEMM (several images or tiles) it is
    // transposed once per call first (3% there). With one GEMM per block (unet_2x2_s2) the
    // copy costs more than it saves.
    let rows_t = cg * kvol;
    let gemms_per_block = p.batch * rows.div_ceil(tile_rows);
    let wt: Option<Vec<T>> = (gemms_per_block > 1).then(|| {
        let mut wt = vec![T::zero(); p.groups * rows_t * cin_g];
        for (src, dst) in w
            .chunks_exact(cin_g * rows_t)
            .zip(wt.chunks_exact_mut(cin_g * rows_t))
        {
            transpose(src, dst, cin_g, rows_t);
        }
        wt
    });
    let work = p.multiply_adds() / tasks.len().max(1) as u64;
    for_each_task(tasks, work, |(n, g, co0, planes)| {
        let cbk = planes.len() / q;
        let gco = g * cg + co0;
        let bias: Vec<T> = (0..cbk)
            .map(|j| b.map_or(T::zero(), |b| b[gco + j]))
            .collect();
        if !assign {
            for (plane, &bv) in planes.chunks_mut(q).zip(&bias) {
                plane.fill(bv);
            }
        }
        with_scratch(|col: &mut Vec<T>, _| {
            let col = sized(col, cbk * kvol * tile_rows * w_in);
            // A[m, c] = w[g*C_in/g + c][co0*taps + m]: this block's rows of the transposed
            // weight.
            let lhs = match &wt {
                Some(wt) => Mat {
                    data: &wt[(g * cg * kvol + co0 * kvol) * cin_g..],
                    rows: cbk * kvol,
                    cols: cin_g,
                    row_stride: cin_g,
                    col_stride: 1,
                },
                None => Mat {
                    data: &w[g * cin_g * rows_t + co0 * kvol..],
                    rows: cbk * kvol,
                    cols: cin_g,
                    row_stride: 1,
                    col_stride: rows_t,
                },
            };
            let x_base = (n * p.groups + g) * cin_g * pin;
            let mut r0 = 0;
            while r0 < rows {
                let r1 = (r0 + tile_rows).min(rows);
                let cols = (r1 - r0) * w_in;
                let rhs = Mat {
                    data: &x[x_base + r0 * w_in..],
                    rows: cin_g,
                    cols,
                    row_stride: pin,
                    col_stride: 1,
                };
                matmul(col, cols, lhs, rhs);
                col2im(p, col, (r0, r1), planes, &bias, assign, &w_ranges);
                r0 = r1;
            }
        })
    });
}

/// `dst[j*rows + i] = src[i*cols + j]` for a `rows x cols` row-major `src`, in 32x32 blocks so
/// both sides stay in cache.
fn transpose<T: Element>(src: &[T], dst: &mut [T], rows: usize, cols: usize) {
    const B: usize = 32;
    for i0 in (0..rows).step_by(B) {
        for j0 in (0..cols).step_by(B) {
            for i in i0..(i0 + B).min(rows) {
                for j in j0..(j0 + B).min(cols) {
                    dst[j * rows + i] = src[i * cols + j];
                }
            }
        }
    }
}

/// One input and one output channel per group: every plane scatters into its own output plane.
fn depthwise<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let a = &p.axes;
    let (pin, q, kvol) = (p.strided_plane(), p.dense_plane(), p.kernel_volume());
    let channels = p.groups;
    let assign = a.iter().all(AxisMap::covers_exactly_once);
    let w_ranges = tap_ranges(&a[2]);
    let pairs = assign && a[2].kernel == 2 && a[2].stride == 2 && a[2].dense == 2 * a[2].strided;
    let rows = a[0].strided * a[1].strided;
    let (w_in, w_out) = (a[2].strided, a[2].dense);
    let work = (q * kvol) as u64;
    for_each_chunk(y, q, work, |idx, plane| {
        let c = idx % channels;
        let bias = b.map_or(T::zero(), |b| b[c]);
        if !assign {
            plane.fill(bias);
        }
        let src = &x[idx * pin..(idx + 1) * pin];
        // Input row outermost: the output rows it feeds are written close together in time
        // (for kernel == stride, consecutively), which keeps the stores streaming (2.2x
        // faster on depthwise_2x2_s2 than tap-outermost). col2im keeps tap-outermost: there
        // it reads the column buffer sequentially, which measured faster on dcgan.
        for r in 0..rows {
            for kd in 0..a[0].kernel {
                for kh in 0..a[1].kernel {
                    let Some(orow) = dense_row(a, r, kd, kh) else {
                        continue;
                    };
                    let out_row = &mut plane[orow * w_out..(orow + 1) * w_out];
                    let in_row = &src[r * w_in..(r + 1) * w_in];
                    let taps =
                        &w[c * kvol + (kd * a[1].kernel + kh) * a[2].kernel..][..a[2].kernel];
                    if pairs {
                        // kernel 2, stride 2 along W: out[2i], out[2i+1] = x[i]*w0, x[i]*w1,
                        // written front to back in one pass (the compiler vectorises it).
                        let (w0, w1) = (taps[0], taps[1]);
                        for (o, &v) in out_row.chunks_exact_mut(2).zip(in_row) {
                            o[0] = v * w0 + bias;
                            o[1] = v * w1 + bias;
                        }
                        continue;
                    }
                    for (kw, &(lo, hi)) in w_ranges.iter().enumerate() {
                        if lo >= hi {
                            continue;
                        }
                        let wv = taps[kw];
                        let ow0 = a[2].dense_pos(lo, kw) as usize;
                        let dst = &mut out_row[ow0..];
                        let s = a[2].stride;
                        if assign {
                            dst.iter_mut()
                                .step_by(s)
                                .zip(&in_row[lo..hi])
                                .for_each(|(d, &v)| *d = v * wv + bias);
                        } else if s == 1 {
                            dst.iter_mut()
                                .zip(&in_row[lo..hi])
                                .for_each(|(d, &v)| *d = *d + v * wv);
                        } else {
                            dst.iter_mut()
                                .step_by(s)
                                .zip(&in_row[lo..hi])
                                .for_each(|(d, &v)| *d = *d + v * wv);
                        }
                    }
                }
            }
        }
    });
}

/// The forward convolution that equals a stride-1 transposed convolution: output `o` gathers
/// input `i = o + pad_begin - k*d`; with the flipped tap `k' = K-1-k` that is
/// `i = o + k'*d - (d*(K-1) - pad_begin)`, a convolution with padding `d*(K-1) - pad_begin`
/// (negative means cropping) and the channel roles swapped.
fn flipped_problem(p: &Problem) -> Problem {
    Problem {
        batch: p.batch,
        groups: p.groups,
        strided_channels: p.dense_channels,
        dense_channels: p.strided_channels,
        axes: p.axes.map(|a| AxisMap {
            strided: a.dense,
            dense: a.strided,
            kernel: a.kernel,
            stride: 1,
            dilation: a.dilation,
            pad_begin: (a.dilation * (a.kernel - 1)) as i64 - a.pad_begin,
        }),
    }
}

/// Stride 1: flip the kernel, swap the channel roles, run the forward convolution.
fn as_forward_conv<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let conv = flipped_problem(p);
    let (cin_g, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    // w'[g*cg + co, ci, k'] = w[g*cin_g + ci, co, kvol-1-k']: reversing the flat tap index
    // flips every spatial axis at once.
    let mut flipped = vec![T::zero(); p.groups * cg * cin_g * kvol];
    for g in 0..p.groups {
        for co in 0..cg {
            for ci in 0..cin_g {
                let dst = &mut flipped[((g * cg + co) * cin_g + ci) * kvol..][..kvol];
                let src = &w[((g * cin_g + ci) * cg + co) * kvol..][..kvol];
                dst.iter_mut()
                    .zip(src.iter().rev())
                    .for_each(|(d, &s)| *d = s);
            }
        }
    }
    super::conv::run(&conv, x, &flipped, b, y);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition on a `Problem`: every input sample scattered through every tap.
    fn scatter(p: &Problem, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
        let (cin_g, cg, kvol, q, pin) = (
            p.strided_channels,
            p.dense_channels,
            p.kernel_volume(),
            p.dense_plane(),
            p.strided_plane(),
        );
        let a = &p.axes;
        let mut y = vec![0.0; p.batch * p.groups * cg * q];
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / q) % (p.groups * cg)];
        }
        for n in 0..p.batch {
            for g in 0..p.groups {
                for ci in 0..cin_g {
                    for co in 0..cg {
                        for pos in 0..pin {
                            let i = [
                                pos / (a[1].strided * a[2].strided),
                                (pos / a[2].strided) % a[1].strided,
                                pos % a[2].strided,
                            ];
                            for tap in 0..kvol {
                                let k = [
                                    tap / (a[1].kernel * a[2].kernel),
                                    (tap / a[2].kernel) % a[1].kernel,
                                    tap % a[2].kernel,
                                ];
                                let o: Vec<i64> =
                                    (0..3).map(|d| a[d].dense_pos(i[d], k[d])).collect();
                                if (0..3).any(|d| o[d] < 0 || o[d] >= a[d].dense as i64) {
                                    continue;
                                }
                                let opos = (o[0] as usize * a[1].dense + o[1] as usize)
                                    * a[2].dense
                                    + o[2] as usize;
                                let xv = x[((n * p.groups + g) * cin_g + ci) * pin + pos];
                                let wv = w[((g * cin_g + ci) * cg + co) * kvol + tap];
                                y[((n * p.groups + g) * cg + co) * q + opos] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
        y
    }

    fn axis() -> impl Strategy<Value = AxisMap> {
        (
            1usize..6,
            1usize..5,
            1usize..4,
            1usize..4,
            -2i64..5,
            1usize..24,
        )
            .prop_map(
                |(strided, kernel, stride, dilation, pad_begin, dense)| AxisMap {
                    strided,
                    dense,
                    kernel,
                    stride,
                    dilation,
                    pad_begin,
                },
            )
    }

    fn problem() -> impl Strategy<Value = Problem> {
        (
            1usize..3,
            1usize..3,
            1usize..4,
            1usize..4,
            axis(),
            axis(),
            axis(),
            0usize..3,
        )
            .prop_map(
                |(batch, groups, strided_channels, dense_channels, d, h, w, rank)| Problem {
                    batch,
                    groups,
                    strided_channels,
                    dense_channels,
                    // rank 0, 1, 2: 1-D, 2-D or 3-D
                    axes: match rank {
                        0 => [AxisMap::UNIT, AxisMap::UNIT, w],
                        1 => [AxisMap::UNIT, h, w],
                        _ => [d, h, w],
                    },
                },
            )
    }

    fn data(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (((i * 7 + seed * 13) % 17) as f64 - 8.0) / 4.0)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Both strided paths equal the definition on any index map, whichever the dispatch
        /// would pick: arbitrary output lengths (cropped or extended), negative padding,
        /// dilation sharing factors with the stride, phases no tap reaches.
        #[test]
        fn strided_paths_match_the_definition(p in problem()) {
            let x = data(p.batch * p.strided_channels_total() * p.strided_plane(), 1);
            let w = data(p.strided_channels_total() * p.dense_channels * p.kernel_volume(), 2);
            let b = data(p.dense_channels_total(), 3);
            let want = scatter(&p, &x, &w, &b);
            let n = want.len();
            let mut via_col2im = vec![f64::NAN; n];
            gemm_col2im(&p, &x, &w, Some(&b), &mut via_col2im);
            let mut via_subpixel = vec![f64::NAN; n];
            super::super::subpixel::run(&p, &x, &w, Some(&b), &mut via_subpixel);
            for i in 0..n {
                prop_assert!((via_col2im[i] - want[i]).abs() <= 1e-9 * (1.0 + want[i].abs()), "col2im at {i}: {} vs {}", via_col2im[i], want[i]);
                prop_assert!((via_subpixel[i] - want[i]).abs() <= 1e-9 * (1.0 + want[i].abs()), "subpixel at {i}: {} vs {}", via_subpixel[i], want[i]);
            }
        }
    }
}
