//! Forward-convolution fast path: the output is cut into bands of rows, and each band is one
//! product of the weight with a matrix built from the input (its *lowering*, see [`Lowering`]):
//! im2col, im2col along the width only with one accumulating GEMM per kernel row, the input
//! span of a deep 1-D layer with one accumulating GEMM per tap, or the input itself for a 1x1
//! kernel. A task is a band (or a window of a long row) of one image and group, or half of
//! the output channels of a layer that is one band in all.
//!
//! 3x3 stride-1 2-D layers with enough channels go to [`super::winograd`] instead (2.25x fewer
//! multiply-adds), 1x1 layers with few output channels to [`super::pointwise`].
//!
//! A band's operand stays under [`super::COL_BUDGET`] elements (widened to
//! [`super::MIN_TILE_COLS`] columns), so no full-size im2col buffer is ever built. The
//! sub-pixel path of transposed convolution runs its phases through the same
//! [`band_product`].

use std::borrow::Cow;

use super::gemm::{few_rows_pay, matmul, matmul_col_major, may_have_few_rows, packing, Mat};
use super::parallel::for_each_task;
use super::pointwise::{self, Pointwise, WeightLayout};
use super::scratch::{sized, with_scratch, with_weight_scratch};
use super::{
    rows_alias, tap_ranges, tile_rows, window_cols, ALIAS_PAD, MIN_TILE_COLS, WEIGHT_COPY_BUDGET,
};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// How a band's GEMM operands are formed from the input (the "lowering" of the convolution).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lowering {
    /// 1x1 kernel, stride 1, no padding: the input itself is the right operand. (Only on
    /// planes that alias, see [`aliased_input`]; elsewhere such layers run as
    /// [`super::pointwise`] or [`super::pointwise_gemm`] products, without bands.)
    Pointwise,
    /// Full im2col: `C_in/g * taps` rows, one GEMM per band.
    Im2col,
    /// 1-D/2-D with stride 1 along the height and at least two kernel rows: im2col along the
    /// width only (`C_in/g * kW` rows) for the band's input rows plus a halo, and one
    /// accumulating GEMM per kernel row on a view shifted by whole rows (see
    /// [`width_im2col`]). It writes about `kH` times less than im2col.
    RowShift,
    /// 1-D with stride 1 (a long signal): the window's input span is copied once (`C_in/g`
    /// rows, padding as zeros) and each tap is one accumulating GEMM on a view of it shifted
    /// by the tap, with that tap's weight read in place (see [`input_span`]). It writes `K`
    /// times less than im2col and copies no weight. Taken only where im2col's operand is so
    /// deep (`C_in/g * K + C_out/g` over 2048 per position) that a row would go in windows
    /// under [`MIN_TILE_COLS`] positions, each packing the whole weight: `conv1d` 512 -> 512
    /// k7 on 8192 samples 0.55x the time; with 32-384 channels, where im2col's windows are
    /// wider, it was level to 1.6x slower (shallow GEMMs, fewer tasks), so those keep im2col.
    WidthShift,
}

/// Fewest input channels per group [`Lowering::WidthShift`] takes: each of its GEMMs is that
/// deep.
const MIN_WIDTH_SHIFT_DEPTH: usize = 64;

/// Shallowest product [`Lowering::RowShift`] runs (`C_in/g * kW`) for 32 or more output
/// channels per group: its `kH` accumulating GEMMs are each that deep, and shallower ones run
/// far below the GEMM's peak, so such layers pay im2col's extra writes for one `kH` times
/// deeper product (A/B: 3 -> 64 7x7 0.64-0.79x the time, 8 -> 512 5x5 0.79-0.89x, 16 -> 512
/// 4x4 0.73-0.77x). With fewer output channels the GEMM is small anyway and im2col's writes
/// dominate (8 -> 4 7x7 per group: 3.1x the time through im2col), so those keep the row shift.
const MIN_ROW_SHIFT_DEPTH: usize = 64;

/// The lowering for `p` (see [`Lowering`]).
pub(super) fn lowering(p: &Problem) -> Lowering {
    let a = &p.axes;
    if pointwise::is_pointwise(p) {
        return Lowering::Pointwise;
    }
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1 && a[0].pad_begin == 0;
    let linear =
        planar && a[1].strided == 1 && a[1].dense == 1 && a[1].kernel == 1 && a[1].pad_begin == 0;
    let reach = (a[2].kernel.max(1) - 1).saturating_mul(a[2].dilation);
    if linear
        && a[2].stride == 1
        && a[2].kernel >= 2
        && p.dense_channels >= MIN_WIDTH_SHIFT_DEPTH
        && reach < MIN_TILE_COLS
    {
        // only when im2col's operand is so deep that a row goes in narrow windows; and with a
        // reach shorter than such a window, or the span copied per window (window + reach)
        // would outgrow the tile budget (a 7-tap kernel dilated 4000 times: 27 MiB)
        let w = a[2].strided;
        let win = window_cols(p.dense_channels * a[2].kernel + p.strided_channels, w);
        if win < w && win < MIN_TILE_COLS {
            return Lowering::WidthShift;
        }
    }
    // the row-shift weight is a reordered copy: only while it is within the copy budget
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    if planar
        && a[1].stride == 1
        && a[1].kernel >= 2
        && a[2].kernel > 0
        && weight <= WEIGHT_COPY_BUDGET
        && (p.dense_channels * a[2].kernel >= MIN_ROW_SHIFT_DEPTH || p.strided_channels < 32)
    {
        // worth it while the halo is shorter than what im2col repeats: (kH-1) * band rows
        let band_rows = band_for(p, Lowering::RowShift).0;
        if a[1].dilation < band_rows {
            return Lowering::RowShift;
        }
    }
    Lowering::Im2col
}

/// Output rows (over the two outer axes) per band, and the number of rows.
pub(super) fn band(p: &Problem) -> (usize, usize) {
    band_for(p, lowering(p))
}

fn band_for(p: &Problem, lowering: Lowering) -> (usize, usize) {
    let rows = p.axes[0].strided * p.axes[1].strided;
    if window_for(p, lowering) < p.axes[2].strided {
        return (1, rows);
    }
    let taps = match lowering {
        Lowering::RowShift => p.axes[2].kernel,
        Lowering::WidthShift => 1,
        _ => p.kernel_volume(),
    };
    // the band's operand and its GEMM output tile
    let per_row = (p.dense_channels * taps + p.strided_channels) * p.axes[2].strided;
    (tile_rows(per_row, p.axes[2].strided, rows), rows)
}

/// Output positions of a row per band: the whole row, unless a band of one row is over
/// [`super::TILE_CAP`] (long 1-D signals), then windows of it (see [`Problem::window`]).
pub(super) fn window_for(p: &Problem, lowering: Lowering) -> usize {
    let a = &p.axes;
    let per_col = match lowering {
        Lowering::Pointwise | Lowering::Im2col => p.dense_channels * p.kernel_volume(),
        Lowering::RowShift => p.dense_channels * a[2].kernel * halo_rows(p, 1),
        Lowering::WidthShift => p.dense_channels,
    } + p.strided_channels;
    window_cols(per_col, a[2].strided)
}

/// The lowering of a window of `p` computed with `lowering`'s weight layout: the input is no
/// longer the operand as it is, so a pointwise band becomes a (one-tap) im2col.
pub(super) fn window_lowering(lowering: Lowering) -> Lowering {
    match lowering {
        Lowering::Pointwise => Lowering::Im2col,
        other => other,
    }
}

/// Weight elements [`run`] copies into another layout for `p`.
pub(crate) fn copies(p: &Problem) -> usize {
    if super::winograd::applies(p) || super::winograd::applies_in_blocks(p) {
        return super::winograd::call_copies(p);
    }
    match lowering(p) {
        Lowering::RowShift => p.strided_channels_total() * p.dense_channels * p.kernel_volume(),
        _ => 0,
    }
}

/// Input rows a [`Lowering::RowShift`] band of `band_rows` output rows reads.
fn halo_rows(p: &Problem, band_rows: usize) -> usize {
    band_rows + (p.axes[1].kernel - 1) * p.axes[1].dilation
}

/// `p` (a 1x1 stride-1 layer) as one product per image and group: the output channels are
/// the rows, the input channels the depth.
fn pointwise_shape(p: &Problem) -> Pointwise {
    Pointwise {
        batch: p.batch,
        groups: p.groups,
        rows: p.strided_channels,
        depth: p.dense_channels,
        plane: p.strided_plane(),
    }
}

/// Whether `p` runs as [`super::pointwise_gemm`] products (no operand copy, no weight copy).
fn takes_pointwise_gemm(p: &Problem) -> bool {
    pointwise::is_pointwise(p) && super::pointwise_gemm::takes(&pointwise_shape(p))
}

/// Whether `p` runs as [`pointwise`] products (no scratch, no weight copy).
fn takes_pointwise(p: &Problem) -> bool {
    pointwise::is_pointwise(p)
        && pointwise::pays(p.strided_channels, p.dense_channels, p.strided_plane())
}

/// Whether a [`Lowering::Pointwise`] band copies its input rows (with [`ALIAS_PAD`] elements
/// after each) rather than reading them in place, whose planes alias ([`rows_alias`]). Randomized A/B, 2 threads, 1x1 layers of 20-64 outputs on 128x128, 64x256 and
/// 256x256 planes: 0.51-0.98x the time in 19 of 20 (1.06x in one), 96-256 outputs 0.81-1.04x.
fn aliased_input(p: &Problem) -> bool {
    rows_alias(p.dense_plane())
}

/// Scratch elements for the right operand of one band of `p`.
pub(super) fn operand_workspace(p: &Problem) -> usize {
    let (band_rows, _) = band(p);
    let w = p.axes[2].strided;
    let win = window_for(p, lowering(p));
    let w_out = if win < w { win } else { w };
    match window_lowering_if(lowering(p), win < w) {
        Lowering::Pointwise if aliased_input(p) => {
            p.dense_channels * (band_rows * w_out + ALIAS_PAD)
        }
        Lowering::Pointwise => 0,
        Lowering::Im2col => p.dense_channels * p.kernel_volume() * band_rows * w_out,
        Lowering::RowShift => p.dense_channels * p.axes[2].kernel * halo_rows(p, band_rows) * w_out,
        Lowering::WidthShift => p.dense_channels * span(&p.axes[2], w_out),
    }
}

/// `lowering`, or its [`window_lowering`] when the band is a window.
fn window_lowering_if(lowering: Lowering, windowed: bool) -> Lowering {
    if windowed {
        window_lowering(lowering)
    } else {
        lowering
    }
}

/// Scratch elements [`run`] allocates per task: the band's operand and output tile, and the
/// GEMM's packing buffers.
pub(crate) fn workspace(p: &Problem) -> usize {
    if takes_pointwise(p) {
        return 0;
    }
    if takes_pointwise_gemm(p) {
        return super::pointwise_gemm::workspace(&pointwise_shape(p));
    }
    if super::winograd::applies(p) || super::winograd::applies_in_blocks(p) {
        return super::winograd::call_workspace(p);
    }
    let w = p.axes[2].strided;
    let lowering = lowering(p);
    let win = window_for(p, lowering);
    let cols = if win < w { win } else { band(p).0 * w };
    let k = match lowering {
        Lowering::RowShift => p.dense_channels * p.axes[2].kernel,
        Lowering::WidthShift => p.dense_channels,
        _ => p.dense_channels * p.kernel_volume(),
    };
    let spare = if may_have_few_rows(p.strided_channels, cols) {
        p.strided_channels * cols
    } else {
        0
    };
    operand_workspace(p) + p.strided_channels * cols + spare + packing(p.strided_channels, k, cols)
}

/// Appends one operand row: output positions `0..w_out` of a row read input row `src` through
/// width tap `kw` (positions `lo..hi` land inside it, the rest read padding), or zeros when the
/// row itself is padding (`src == None`).
#[inline]
fn push_row<T: Element>(
    col: &mut Vec<T>,
    axis: &AxisMap,
    src: Option<&[T]>,
    kw: usize,
    (lo, hi): (usize, usize),
) {
    let w_out = axis.strided;
    let zeros = |col: &mut Vec<T>, n: usize| col.resize(col.len() + n, T::zero());
    let Some(src) = src.filter(|_| lo < hi) else {
        zeros(col, w_out);
        return;
    };
    // output positions lo..hi read input iw0, iw0 + stride, ...
    let iw0 = axis.dense_pos(lo, kw) as usize;
    zeros(col, lo);
    if axis.stride == 1 {
        col.extend_from_slice(&src[iw0..iw0 + (hi - lo)]);
    } else {
        col.extend(src[iw0..].iter().step_by(axis.stride).take(hi - lo));
    }
    zeros(col, w_out - hi);
}

/// Builds `col[(ci*kvol + tap), t]` for output rows `r0..r1` of one image and group: the input
/// sample each output position reads through each tap, or zero in the padding. The matrix is
/// appended in memory order, so every element is written exactly once (no zero pass first).
fn im2col<T: Element>(
    p: &Problem,
    x: &[T],
    rows: (usize, usize),
    col: &mut Vec<T>,
    w_ranges: &[(usize, usize)],
    pad: usize,
) {
    let a = &p.axes;
    let (w_in, pin) = (a[2].dense, p.dense_plane());
    col.clear();
    let row_len = (rows.1 - rows.0) * a[2].strided + pad;
    col.reserve_exact(p.dense_channels * p.kernel_volume() * row_len);
    for ci in 0..p.dense_channels {
        let plane = &x[ci * pin..(ci + 1) * pin];
        for kd in 0..a[0].kernel {
            for kh in 0..a[1].kernel {
                for (kw, &range) in w_ranges.iter().enumerate() {
                    for r in rows.0..rows.1 {
                        let (od, oh) = (r / a[1].strided, r % a[1].strided);
                        let id = a[0].dense_pos(od, kd);
                        let ih = a[1].dense_pos(oh, kh);
                        let inside =
                            id >= 0 && ih >= 0 && id < a[0].dense as i64 && ih < a[1].dense as i64;
                        let src = inside.then(|| {
                            &plane[(id as usize * a[1].dense + ih as usize) * w_in..][..w_in]
                        });
                        push_row(col, &a[2], src, kw, range);
                    }
                    col.resize(col.len() + pad, T::zero());
                }
            }
        }
    }
}

/// The [`Lowering::RowShift`] operand of output rows `r0..r1` (a 1-D/2-D problem with
/// height stride 1): row `(ci, kw)` holds `halo_rows` input rows `ih = r0 - pad + t`, each
/// read through width tap `kw` (zero rows above and below the input).
///
/// Output row `oh` reads input row `oh + kh*dil - pad` through kernel row `kh`, which is
/// operand row `t = (oh - r0) + kh*dil`: the product for kernel row `kh` is the same matrix
/// seen from element `kh*dil*W_out` on, with the same row stride. So the kernel rows become
/// `kH` GEMMs on shifted views instead of `kH` copies of the input.
fn width_im2col<T: Element>(
    p: &Problem,
    x: &[T],
    rows: (usize, usize),
    col: &mut Vec<T>,
    w_ranges: &[(usize, usize)],
) {
    let a = &p.axes;
    let (w_in, pin) = (a[2].dense, p.dense_plane());
    let ext = halo_rows(p, rows.1 - rows.0);
    col.clear();
    col.reserve_exact(p.dense_channels * w_ranges.len() * ext * a[2].strided);
    for ci in 0..p.dense_channels {
        let plane = &x[ci * pin..(ci + 1) * pin];
        for (kw, &range) in w_ranges.iter().enumerate() {
            for t in 0..ext {
                let ih = (rows.0 + t) as i64 - a[1].pad_begin;
                let src = (ih >= 0 && ih < a[1].dense as i64)
                    .then(|| &plane[ih as usize * w_in..][..w_in]);
                push_row(col, &a[2], src, kw, range);
            }
        }
    }
}

/// The convolution weight `[groups][C_out/g][C_in/g][taps]` in the layout `lowering` multiplies:
/// as it is, or for [`Lowering::RowShift`] with each kernel row's taps gathered into their own
/// matrix, `[groups][kH][C_out/g][C_in/g][kW]`.
pub(super) fn lowered_weight<'a, T: Element>(
    p: &Problem,
    lowering: Lowering,
    w: &'a [T],
) -> Cow<'a, [T]> {
    if lowering != Lowering::RowShift {
        return Cow::Borrowed(w);
    }
    let mut out = Vec::new();
    row_shift_into(p, w, &mut out);
    Cow::Owned(out)
}

/// The row-shift reordering of [`lowered_weight`] into `out` (cleared first).
fn row_shift_into<T: Element>(p: &Problem, w: &[T], out: &mut Vec<T>) {
    let (kh_n, kw_n) = (p.axes[1].kernel, p.axes[2].kernel);
    let rows = p.strided_channels * p.dense_channels;
    out.clear();
    out.reserve_exact(w.len());
    for wg in w.chunks_exact(rows * kh_n * kw_n) {
        for kh in 0..kh_n {
            for taps in wg.chunks_exact(kh_n * kw_n) {
                out.extend_from_slice(&taps[kh * kw_n..(kh + 1) * kw_n]);
            }
        }
    }
}

/// `tile[co*cols + t] = sum over (ci, taps) of w[co, ci, taps] * x[ci, input of t via tap]`
/// for output rows `rows` of one image and group: `xg` is that group's input, `wg` its weight
/// in the layout of [`lowered_weight`], `cols = (rows.1 - rows.0) * W_out`. Uses `col` as
/// scratch for the operand.
#[allow(clippy::too_many_arguments)]
pub(super) fn band_product<T: Element>(
    p: &Problem,
    lowering: Lowering,
    wg: &[T],
    xg: &[T],
    rows: (usize, usize),
    w_ranges: &[(usize, usize)],
    col: &mut Vec<T>,
    tile: &mut [T],
    spare: Option<&mut [T]>,
) {
    let all = (0, p.strided_channels);
    band_product_of(p, lowering, wg, xg, rows, w_ranges, col, tile, spare, all);
}

/// [`band_product`] for output channels `c0..c1` of the group only (`tile` holds their rows).
#[allow(clippy::too_many_arguments)]
fn band_product_of<T: Element>(
    p: &Problem,
    lowering: Lowering,
    wg: &[T],
    xg: &[T],
    rows: (usize, usize),
    w_ranges: &[(usize, usize)],
    col: &mut Vec<T>,
    tile: &mut [T],
    spare: Option<&mut [T]>,
    (c0, c1): (usize, usize),
) {
    let (cout, cin) = (c1 - c0, p.dense_channels);
    let w_out = p.axes[2].strided;
    let cols = (rows.1 - rows.0) * w_out;
    // a product of few rows runs column-major into `spare`, then is transposed into `tile`
    let depth = match lowering {
        Lowering::RowShift => cin * p.axes[2].kernel,
        Lowering::Pointwise | Lowering::WidthShift => cin,
        Lowering::Im2col => cin * p.kernel_volume(),
    };
    let spare = spare.filter(|_| few_rows_pay::<T>(cout, cols, depth));
    let mut dst = match spare {
        Some(s) => Dst::ColMajor(&mut s[..cout * cols], tile),
        None => Dst::RowMajor(tile),
    };
    // rows c0..c1 of the weight (within each kernel row's matrix for the row shift)
    let weight = |k: usize| Mat {
        data: &wg[c0 * k..],
        rows: cout,
        cols: k,
        row_stride: k,
        col_stride: 1,
    };
    // an input whose rows alias is copied into a one-tap im2col operand with padded rows
    let copied = lowering == Lowering::Pointwise && aliased_input(p);
    let lowering = if copied { Lowering::Im2col } else { lowering };
    match lowering {
        Lowering::Pointwise => {
            let rhs = Mat {
                data: &xg[rows.0 * w_out..],
                rows: cin,
                cols,
                row_stride: p.dense_plane(),
                col_stride: 1,
            };
            dst.product(cols, weight(cin), rhs, false);
        }
        Lowering::Im2col => {
            let pad = if copied { ALIAS_PAD } else { 0 };
            im2col(p, xg, rows, col, w_ranges, pad);
            let kc = cin * p.kernel_volume();
            let rhs = Mat {
                data: col,
                rows: kc,
                cols,
                row_stride: cols + pad,
                col_stride: 1,
            };
            dst.product(cols, weight(kc), rhs, false);
        }
        Lowering::RowShift => {
            width_im2col(p, xg, rows, col, w_ranges);
            let (kh_n, dil) = (p.axes[1].kernel, p.axes[1].dilation);
            let kc = cin * p.axes[2].kernel;
            let row_stride = halo_rows(p, rows.1 - rows.0) * w_out;
            // kernel row kh reaches output rows `tap_range(kh)`; the band's other rows would
            // read zero rows of the operand (the padding): their columns are skipped, and the
            // tile starts from zero unless every kernel row reaches every row of the band
            let reach: Vec<(usize, usize)> = (0..kh_n)
                .map(|kh| {
                    let (lo, hi) = p.axes[1].tap_range(kh);
                    let (lo, hi) = (lo.max(rows.0), hi.min(rows.1));
                    if lo < hi {
                        ((lo - rows.0) * w_out, (hi - rows.0) * w_out)
                    } else {
                        (0, 0)
                    }
                })
                .collect();
            let skips = skips_padding(&reach, cols);
            if skips {
                dst.zero(cout, cols);
            }
            for (kh, &(lo, hi)) in reach.iter().enumerate() {
                let (lo, hi) = if skips { (lo, hi) } else { (0, cols) };
                if lo >= hi {
                    continue;
                }
                let lhs = Mat {
                    data: &wg[(kh * p.strided_channels + c0) * kc..],
                    ..weight(kc)
                };
                let rhs = Mat {
                    data: &col[kh * dil * w_out + lo..],
                    rows: kc,
                    cols: hi - lo,
                    row_stride,
                    col_stride: 1,
                };
                dst.product_at(lo, cols, lhs, rhs, skips || kh > 0);
            }
        }
        Lowering::WidthShift => {
            // one row (1-D): tap kw of output t reads span element t + kw*d
            let a = &p.axes[2];
            let (k, d) = (a.kernel, a.dilation);
            let len = span(a, cols);
            input_span(p, xg, col, len);
            for kw in 0..k {
                let lhs = Mat {
                    data: &wg[c0 * cin * k + kw..],
                    rows: cout,
                    cols: cin,
                    row_stride: cin * k,
                    col_stride: k,
                };
                let rhs = Mat {
                    data: &col[kw * d..],
                    rows: cin,
                    cols,
                    row_stride: len,
                    col_stride: 1,
                };
                dst.product(cols, lhs, rhs, kw > 0);
            }
        }
    }
    dst.finish(cout, cols);
}

/// Whether a row-shift band skips the columns its kernel rows do not reach (`reach`, per
/// kernel row, of `cols`): when that is at least [`MIN_SKIPPED`] of the products' work, which
/// pays for zeroing the tile first and the narrower products. (Paired in-process A/B, 21 rounds:
/// stride-1 layers on small maps 0.78-0.95x the time, where a fifth to a third of the work
/// was padding; sub-pixel phases skipping 2-6% were level to 1.05x slower.)
fn skips_padding(reach: &[(usize, usize)], cols: usize) -> bool {
    let reached: usize = reach.iter().map(|&(lo, hi)| hi - lo).sum();
    let total = reach.len() * cols;
    (total - reached) * MIN_SKIPPED.1 >= total * MIN_SKIPPED.0
}

/// See [`skips_padding`]: an eighth.
const MIN_SKIPPED: (usize, usize) = (1, 8);

/// Input positions a [`Lowering::WidthShift`] operand holds per channel for `cols` outputs.
fn span(a: &AxisMap, cols: usize) -> usize {
    cols + (a.kernel - 1) * a.dilation
}

/// [`Lowering::WidthShift`]'s operand: `col[ci*len + t] = x[ci, t - pad_begin]`, zero where
/// that is outside the input (1-D, stride 1: output `o`, tap `kw` reads `o + kw*d - pad`).
fn input_span<T: Element>(p: &Problem, x: &[T], col: &mut Vec<T>, len: usize) {
    let (pin, pb) = (p.dense_plane(), p.axes[2].pad_begin);
    // span positions lo..hi are inside the input, starting at input position lo - pb
    let lo = pb.clamp(0, len as i64) as usize;
    let hi = (pb + pin as i64).clamp(lo as i64, len as i64) as usize;
    col.clear();
    col.reserve_exact(p.dense_channels * len);
    for ci in 0..p.dense_channels {
        col.resize(col.len() + lo, T::zero());
        if hi > lo {
            // lo >= pb here (span position lo is inside the input)
            let start = ci * pin + (lo as i64 - pb) as usize;
            col.extend_from_slice(&x[start..start + (hi - lo)]);
        }
        col.resize(col.len() + (len - hi), T::zero());
    }
}

/// Where [`band_product`]'s GEMMs write: straight into the row-major tile, or column-major
/// into a spare buffer that [`Dst::finish`] transposes into the tile.
enum Dst<'a, T> {
    RowMajor(&'a mut [T]),
    ColMajor(&'a mut [T], &'a mut [T]),
}

impl<T: Element> Dst<'_, T> {
    /// `dst (+)= lhs * rhs` for a product `cols` wide.
    fn product(&mut self, cols: usize, lhs: Mat<'_, T>, rhs: Mat<'_, T>, accumulate: bool) {
        match self {
            Dst::RowMajor(tile) => matmul(tile, cols, lhs, rhs, accumulate),
            Dst::ColMajor(spare, _) => matmul_col_major(spare, lhs.rows, lhs, rhs, accumulate),
        }
    }

    /// [`Self::product`] into columns `lo..lo + rhs.cols` of the product (`cols` wide).
    fn product_at(
        &mut self,
        lo: usize,
        cols: usize,
        lhs: Mat<'_, T>,
        rhs: Mat<'_, T>,
        accumulate: bool,
    ) {
        match self {
            Dst::RowMajor(tile) => matmul(&mut tile[lo..], cols, lhs, rhs, accumulate),
            Dst::ColMajor(spare, _) => {
                let rows = lhs.rows;
                matmul_col_major(&mut spare[lo * rows..], rows, lhs, rhs, accumulate)
            }
        }
    }

    /// Zeros the `rows x cols` product.
    fn zero(&mut self, rows: usize, cols: usize) {
        match self {
            Dst::RowMajor(tile) => tile[..rows * cols].fill(T::zero()),
            Dst::ColMajor(spare, _) => spare[..rows * cols].fill(T::zero()),
        }
    }

    /// Moves a column-major result into the tile: `tile[i*cols + j] = spare[j*rows + i]`.
    fn finish(self, rows: usize, cols: usize) {
        if let Dst::ColMajor(spare, tile) = self {
            super::transpose(spare, tile, cols, rows);
        }
    }
}

/// Forward convolution: `x` is the dense side (input), `y` the strided side (output).
pub(crate) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    run_after_copies(p, x, w, b, y, 0)
}

/// One forward-convolution task: image, group, first output row of its band, and the band's
/// segment of each of the group's output-channel planes.
pub(super) type BandTask<'a, T> = (usize, usize, usize, Vec<&'a mut [T]>);

/// The output `y` of `p` cut into tasks: every (image, group) in bands of `band_rows` of its
/// `rows` output rows (over the two outer axes) of `row_len` elements each.
pub(super) fn band_tasks<'a, T>(
    p: &Problem,
    y: &'a mut [T],
    (band_rows, rows): (usize, usize),
    row_len: usize,
) -> Vec<BandTask<'a, T>> {
    let cout_g = p.strided_channels;
    let q = rows * row_len;
    let mut tasks: Vec<BandTask<'a, T>> = Vec::new();
    let mut rest: &mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            let first = tasks.len();
            for r0 in (0..rows).step_by(band_rows.max(1)) {
                tasks.push((n, g, r0, Vec::with_capacity(cout_g)));
            }
            for _ in 0..cout_g {
                let (mut plane, tail) = rest.split_at_mut(q);
                rest = tail;
                for task in &mut tasks[first..] {
                    let len = (rows - task.2).min(band_rows) * row_len;
                    let (seg, after) = plane.split_at_mut(len);
                    task.3.push(seg);
                    plane = after;
                }
            }
        }
    }
    tasks
}

/// Fewest multiply-adds of a lone band task that [`conv_tasks`] splits.
const LONE_SPLIT_WORK: u64 = 1 << 20;

/// Fewest output channels per half of a split lone band task.
const LONE_SPLIT_CHANNELS: usize = 16;

/// Whether [`conv_tasks`] splits `p`'s band task in two: `p` is one task in all (one image and
/// group in one band, a small image), whose GEMM would run on one thread while the others
/// wait. The split is fixed by the problem, never by the thread count; each half builds the
/// band's operand itself (a few percent of the work on such layers). Randomized A/B, 2
/// threads, as transposed convolutions at stride 1: 16 -> 128 8x8 on 16x16 0.62x the time,
/// 8 -> 512 5x5 on 8x8 0.74x; the 29 other stride-1 layers of one or two images in the
/// benchmark sets level.
pub(super) fn splits_lone_band(p: &Problem) -> bool {
    let (band_rows, rows) = band(p);
    let tasks = p.batch * p.groups * rows.div_ceil(band_rows.max(1));
    tasks == 1
        && !takes_pointwise(p)
        && !super::winograd::applies(p)
        && !super::winograd::applies_in_blocks(p)
        && window_for(p, lowering(p)) >= p.axes[2].strided
        && p.strided_channels >= 2 * LONE_SPLIT_CHANNELS
        && p.multiply_adds() >= LONE_SPLIT_WORK
}

/// A task of [`run_after_copies`]: output channels `channel..` (as many as `segments`) of a
/// band, over positions `columns` of its rows (a window of a long row, otherwise the whole
/// row); `segments` holds those positions of each channel's band.
struct ConvTask<'a, T> {
    image: usize,
    group: usize,
    first_row: usize,
    channel: usize,
    columns: (usize, usize),
    segments: Vec<&'a mut [T]>,
}

/// The band tasks as [`ConvTask`]s: as they are; or, when a row is computed in windows of
/// `win` positions (a long 1-D signal), one task per window, so a single signal runs on every
/// thread (`conv1d` of one signal, 2 threads: 64 -> 64 k3 on 32768 samples, 256 -> 256 k3 on
/// 4096 and 128 -> 128 k7 dilation 3 on 16384 0.55-0.6x the time); or, when `p` is a lone
/// task ([`splits_lone_band`]), its output channels in two halves, each a task with the whole
/// band's operand and half of the GEMM's rows.
fn conv_tasks<'a, T>(p: &Problem, tasks: Vec<BandTask<'a, T>>, win: usize) -> Vec<ConvTask<'a, T>> {
    let w_out = p.axes[2].strided;
    let task = |(n, g, r0, segments): BandTask<'a, T>, channel, columns| ConvTask {
        image: n,
        group: g,
        first_row: r0,
        channel,
        columns,
        segments,
    };
    if win < w_out {
        // a windowed band is one row: each segment is that row of one channel
        let mut windows = Vec::with_capacity(tasks.len() * w_out.div_ceil(win));
        for (n, g, r0, segments) in tasks {
            let mut rests: Vec<&'a mut [T]> = segments;
            for c0 in (0..w_out).step_by(win) {
                let len = win.min(w_out - c0);
                let mut pieces = Vec::with_capacity(rests.len());
                for rest in rests.iter_mut() {
                    let (piece, after) = std::mem::take(rest).split_at_mut(len);
                    pieces.push(piece);
                    *rest = after;
                }
                windows.push(task((n, g, r0, pieces), 0, (c0, c0 + len)));
            }
        }
        return windows;
    }
    if tasks.len() != 1 || !splits_lone_band(p) {
        return tasks.into_iter().map(|t| task(t, 0, (0, w_out))).collect();
    }
    let mut halves = Vec::with_capacity(2);
    for (n, g, r0, mut segments) in tasks {
        let half = segments.len() / 2;
        let second = segments.split_off(half);
        halves.push(task((n, g, r0, segments), 0, (0, w_out)));
        halves.push(task((n, g, r0, second), half, (0, w_out)));
    }
    halves
}

/// [`run`] when the caller already holds `held` elements of weight copies (they count
/// against the call's memory budget).
pub(super) fn run_after_copies<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
) {
    run_with_row_shift(p, x, w, None, b, y, held)
}

/// [`run_after_copies`] with the row-shift weight (see [`lowered_weight`]) already made when
/// `row_shift` is given (a layer's kept form), used if `p` takes that lowering.
pub(super) fn run_with_row_shift<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    row_shift: Option<&[T]>,
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
) {
    if takes_pointwise(p) {
        let layout = WeightLayout::output_major(p.dense_channels);
        return pointwise::run(pointwise_shape(p), layout, x, w, b, y);
    }
    if takes_pointwise_gemm(p) {
        let layout = WeightLayout::output_major(p.dense_channels);
        let at_once = super::max_concurrent(workspace(p), held, y.len(), std::mem::size_of::<T>());
        return super::pointwise_gemm::run(pointwise_shape(p), layout, x, w, b, y, at_once);
    }
    if super::winograd::applies(p) {
        return super::winograd::run(p, x, w, b, y, held);
    }
    if super::winograd::applies_in_blocks(p) {
        let per_block = super::winograd::block_channels(p);
        return super::winograd::run_blocked(p, x, (w, false), b, y, held, per_block);
    }
    let (cout_g, cin_g, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    let pin = p.dense_plane();
    let kc = cin_g * kvol;
    let w_out = p.axes[2].strided;
    let (band_rows, rows) = band(p);
    let lowering = lowering(p);
    if lowering == Lowering::RowShift && row_shift.is_none() {
        // a call of its own: the reordered kernel in this thread's weight slot, not in a
        // fresh buffer page-faulted in on every call (see `with_weight_scratch`)
        return with_weight_scratch(|lowered: &mut Vec<T>| {
            row_shift_into(p, w, lowered);
            run_with_row_shift(p, x, w, Some(lowered), b, y, held);
        });
    }
    let weight = match row_shift {
        Some(kept) if lowering == Lowering::RowShift => Cow::Borrowed(kept),
        _ => lowered_weight(p, lowering, w),
    };
    let w_ranges = tap_ranges(&p.axes[2]);

    let y_len = y.len();
    let win = window_for(p, lowering);
    // one band per (image, group), no windows, more than one task
    let whole_planes = band_rows >= rows && win >= w_out && p.batch * p.groups > 1;
    let at_once = super::max_concurrent(
        workspace(p),
        held + copies(p),
        y_len,
        std::mem::size_of::<T>(),
    );
    let body = |task: ConvTask<'_, T>| {
        let ConvTask {
            image: n,
            group: g,
            first_row: r0,
            channel: c0,
            columns: (w0, w1),
            mut segments,
        } = task;
        with_scratch(|col: &mut Vec<T>, out: &mut Vec<T>| {
            let r1 = (r0 + band_rows).min(rows);
            let cols = (r1 - r0) * w_out;
            let xg = &x[(n * p.groups + g) * cin_g * pin..][..cin_g * pin];
            let wg = &weight[g * cout_g * kc..][..cout_g * kc];
            if win < w_out {
                // one window of a band of one row: a problem of its own along the row
                let pw = p.window(w0, w1);
                let ranges = tap_ranges(&pw.axes[2]);
                let n_cols = w1 - w0;
                let out = sized(out, cout_g * n_cols);
                let lw = window_lowering(lowering);
                band_product(&pw, lw, wg, xg, (r0, r1), &ranges, col, out, None);
                for (co, seg) in segments.iter_mut().enumerate() {
                    let bias = b.map_or(T::zero(), |b| b[g * cout_g + co]);
                    seg.iter_mut()
                        .zip(&out[co * n_cols..(co + 1) * n_cols])
                        .for_each(|(d, &v)| *d = v + bias);
                }
                return;
            }
            // a spare tile for a product of few rows (see `band_product`)
            let cout = segments.len();
            let spare_len = if may_have_few_rows(cout, cols) {
                cout * cols
            } else {
                0
            };
            let (out, spare) = sized(out, cout * cols + spare_len).split_at_mut(cout * cols);
            let spare = (spare_len > 0).then_some(spare);
            let channels = (c0, c0 + cout);
            band_product_of(
                p,
                lowering,
                wg,
                xg,
                (r0, r1),
                &w_ranges,
                col,
                out,
                spare,
                channels,
            );
            for (co, seg) in segments.iter_mut().enumerate() {
                let bias = b.map_or(T::zero(), |b| b[g * cout_g + c0 + co]);
                seg.iter_mut()
                    .zip(&out[co * cols..(co + 1) * cols])
                    .for_each(|(d, &v)| *d = v + bias);
            }
        })
    };
    if whole_planes {
        // (image, group) blocks of whole planes in runs, each block's channel segments split
        // off inside its task (a task per block listing a segment per channel outgrew tiny
        // outputs: 65536 images of 1x2 took 71.5 MiB against a 32 MiB output)
        let block = cout_g * rows * w_out;
        let runs = super::whole_runs(p.batch * p.groups, y, block);
        let work = p.multiply_adds() / runs.len().max(1) as u64;
        for_each_task(runs, work, at_once, |(first, out)| {
            for (i, out) in out.chunks_mut(block).enumerate() {
                let ng = first + i;
                body(ConvTask {
                    image: ng / p.groups,
                    group: ng % p.groups,
                    first_row: 0,
                    channel: 0,
                    columns: (0, w_out),
                    segments: out.chunks_mut(rows * w_out).collect(),
                });
            }
        });
        return;
    }
    let tasks = conv_tasks(p, band_tasks(p, y, (band_rows, rows), w_out), win);
    let work = p.multiply_adds() / tasks.len().max(1) as u64;
    for_each_task(tasks, work, at_once, body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{data, one_image, plain_axis};
    use crate::problem::AxisMap;

    /// Runs `p` on seeded data with a bias and compares every output with the gather
    /// definition.
    fn assert_equals_definition(p: &Problem) {
        let (groups, cout, cin) = (p.groups, p.strided_channels, p.dense_channels);
        let x = data(p.batch * groups * cin * p.dense_plane(), 1);
        let w = data(groups * cout * cin * p.kernel_volume(), 2);
        let b = data(groups * cout, 3);
        let mut want = vec![0.0; p.batch * groups * cout * p.strided_plane()];
        crate::reference::gather(p, &x, &w, Some(&b), &mut want);
        let mut got = vec![f64::NAN; want.len()];
        run(p, &x, &w, Some(&b), &mut got);
        for (i, (g, v)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - v).abs() <= 1e-12 * (1.0 + v.abs()),
                "{p:?} at {i}: {g} vs {v}"
            );
        }
    }

    /// A 1x1 stride-1 problem of the forward convolution.
    fn one_by_one(
        batch: usize,
        groups: usize,
        cout: usize,
        cin: usize,
        (h, w): (usize, usize),
    ) -> Problem {
        Problem {
            batch,
            groups,
            strided_channels: cout,
            dense_channels: cin,
            axes: [
                AxisMap::UNIT,
                plain_axis(h, 1, 1, 0),
                plain_axis(w, 1, 1, 0),
            ],
        }
    }

    /// 1x1 layers with more than 8 output channels run as [`super::pointwise_gemm`] products
    /// (a lone image in channel blocks, batches, groups, a long 1-D signal) and equal the
    /// definition; an aliasing plane does not.
    #[test]
    fn one_by_one_layers_with_more_outputs_run_in_place() {
        for p in [
            one_by_one(1, 1, 64, 512, (4, 5)),
            one_by_one(3, 2, 12, 20, (6, 7)),
            one_by_one(1, 1, 40, 9, (1, 3000)),
        ] {
            assert!(takes_pointwise_gemm(&p), "{p:?}");
            assert_equals_definition(&p);
        }
        assert!(!takes_pointwise_gemm(&one_by_one(1, 1, 16, 32, (128, 128))));
    }

    /// Products of 8-16 rows, 128+ deep, run column-major and are transposed into the tile:
    /// under each lowering (row shift, im2col, pointwise), with groups and bias.
    #[test]
    fn few_row_products_match_the_definition() {
        // (groups, C_out/g, C_in/g, kernel, stride, pad, input side)
        for (groups, cout, cin, k, stride, pad, side) in [
            (1, 16, 32, 5, 1, 2, 20),
            (2, 12, 20, 3, 2, 1, 17),
            (1, 16, 130, 1, 1, 0, 12),
            (1, 8, 40, 4, 1, 0, 12),
        ] {
            let axis = |dense: usize| AxisMap {
                strided: (dense + 2 * pad - k) / stride + 1,
                dense,
                kernel: k,
                stride,
                dilation: 1,
                pad_begin: pad as i64,
            };
            let p = Problem {
                batch: 2,
                groups,
                strided_channels: cout,
                dense_channels: cin,
                axes: [AxisMap::UNIT, axis(side), axis(side + 1)],
            };
            assert!(!super::super::winograd::applies(&p));
            let (band_rows, _) = band(&p);
            let cols = band_rows * p.axes[2].strided;
            let depth = match lowering(&p) {
                Lowering::RowShift => cin * k,
                Lowering::Pointwise | Lowering::WidthShift => cin,
                Lowering::Im2col => cin * k * k,
            };
            assert!(few_rows_pay::<f64>(cout, cols, depth), "{p:?}");
            assert_equals_definition(&p);
        }
    }

    /// Row-shift bands whose kernel rows miss an eighth or more of their rows (padding of
    /// about the kernel on small maps: the flipped kernel of a stride-1 transposed layer)
    /// skip those columns: equal to the definition row-major and column-major (8 outputs,
    /// 128+ deep), with dilation, with padding on one side only, and with a band no kernel
    /// row reaches at all.
    #[test]
    fn row_shift_skips_the_padding_rows() {
        // (C_out, C_in, kernel, dilation, pad top, pad bottom, input rows, input cols)
        for (cout, cin, k, dil, top, bottom, rows, cols) in [
            (24, 6, 7, 1, 6, 6, 5, 6),
            (8, 40, 4, 1, 3, 3, 6, 9),
            (16, 5, 3, 2, 4, 1, 7, 8),
            (12, 4, 5, 1, 0, 4, 9, 5),
            (10, 3, 3, 1, 7, 7, 2, 4),
        ] {
            let h = AxisMap {
                strided: rows + top + bottom - (k - 1) * dil,
                dense: rows,
                kernel: k,
                stride: 1,
                dilation: dil,
                pad_begin: top as i64,
            };
            let p = Problem {
                batch: 2,
                groups: 1,
                strided_channels: cout,
                dense_channels: cin,
                axes: [AxisMap::UNIT, h, plain_axis(cols, 3, 1, 1)],
            };
            assert_eq!(lowering(&p), Lowering::RowShift, "{p:?}");
            let w_out = p.axes[2].strided;
            let reach: Vec<(usize, usize)> = (0..k)
                .map(|kh| {
                    let (lo, hi) = h.tap_range(kh);
                    (lo * w_out, hi * w_out)
                })
                .collect();
            assert!(skips_padding(&reach, h.strided * w_out), "{p:?}");
            assert_equals_definition(&p);
        }
        // nothing skipped: every kernel row reaches every row
        assert!(!skips_padding(&[(0, 40), (0, 40), (0, 40)], 40));
        assert!(!skips_padding(
            &[(0, 40), (0, 40), (0, 40), (0, 40), (4, 40)],
            40
        ));
        assert!(skips_padding(&[(0, 40), (0, 40), (0, 40), (0, 20)], 40));
    }

    /// A lone band task (one small image) is split into two halves of its output channels,
    /// each from its own rows of the weight: the row shift (weight in kernel-row matrices),
    /// im2col with an odd channel count, and a 1-D layer.
    #[test]
    fn lone_band_halves_match_the_definition() {
        // (C_out, C_in, kernel, stride, pad, spatial sides; 1 for a 1-D layer's height)
        for (cout, cin, k, stride, pad, (h, w)) in [
            (40, 16, 5, 1, 2, (12, 12)),
            (33, 40, 3, 2, 1, (21, 21)),
            (48, 20, 7, 1, 3, (1, 200)),
        ] {
            let axis =
                |dense: usize| plain_axis((dense + 2 * pad - k) / stride + 1, k, stride, pad);
            let height = if h == 1 { AxisMap::UNIT } else { axis(h) };
            let p = one_image(cout, cin, [AxisMap::UNIT, height, axis(w)]);
            assert!(splits_lone_band(&p), "{p:?}");
            let want = if k == 5 {
                Lowering::RowShift
            } else {
                Lowering::Im2col
            };
            assert_eq!(lowering(&p), want, "{p:?}");
            assert_equals_definition(&p);
            // two images are two tasks already
            assert!(!splits_lone_band(&Problem { batch: 2, ..p }), "{p:?}");
        }
    }

    /// A row too long for one operand (a long 1-D signal, a very wide map) is computed in
    /// windows, each window a task of its own: one per window of every (image, row), and the
    /// result equals the definition.
    #[test]
    fn long_rows_run_as_window_tasks() {
        // (batch, C_out, C_in, kernel, pad, height, width)
        for (batch, cout, cin, k, pad, h, w) in
            [(1, 16, 24, 5, 2, 1, 40000), (2, 8, 6, 3, 1, 3, 70000)]
        {
            let axis = |dense: usize| plain_axis(dense + 2 * pad - k + 1, k, 1, pad);
            let height = if h == 1 { AxisMap::UNIT } else { axis(h) };
            let p = Problem {
                batch,
                groups: 1,
                strided_channels: cout,
                dense_channels: cin,
                axes: [AxisMap::UNIT, height, axis(w)],
            };
            let win = window_for(&p, lowering(&p));
            let w_out = p.axes[2].strided;
            assert!(win < w_out, "{p:?}");
            let mut y = vec![0.0f64; batch * cout * p.strided_plane()];
            let rows = band(&p);
            let tasks = conv_tasks(&p, band_tasks(&p, &mut y, rows, w_out), win);
            assert_eq!(tasks.len(), batch * rows.1 * w_out.div_ceil(win), "{p:?}");
            assert_equals_definition(&p);
        }
    }

    /// A 1-D stride-1 forward convolution of `len` inputs through `k` taps dilated `d` times,
    /// padded by `pad` at both ends (negative: cropped); `None` when no output is left.
    fn linear(
        (batch, groups, cout, cin): (usize, usize, usize, usize),
        (k, d, pad, len): (usize, usize, i64, usize),
    ) -> Option<Problem> {
        let strided = len as i64 + 2 * pad - (d * (k - 1)) as i64;
        let axis = AxisMap {
            strided: usize::try_from(strided).ok().filter(|&s| s >= 1)?,
            dense: len,
            kernel: k,
            stride: 1,
            dilation: d,
            pad_begin: pad,
        };
        Some(Problem {
            batch,
            groups,
            strided_channels: cout,
            dense_channels: cin,
            axes: [AxisMap::UNIT, AxisMap::UNIT, axis],
        })
    }

    /// Deep 1-D stride-1 layers take [`Lowering::WidthShift`]: padding, dilation, groups,
    /// cropping (negative padding, from a transposed convolution), a lone signal split into
    /// channel halves and a long one cut into windows all equal the definition; a shallower
    /// layer keeps im2col.
    #[test]
    fn width_shift_matches_the_definition() {
        // (batch, groups, C_out/g, C_in/g, kernel, dilation, pad_begin, input length)
        for (batch, groups, cout, cin, k, d, pad, len) in [
            (1, 1, 36, 300, 7, 1, 3, 600),
            (2, 2, 8, 320, 7, 3, 0, 1000),
            (1, 1, 16, 300, 7, 1, 3, 3000),
            (1, 1, 20, 300, 7, 1, -1, 400),
            // windows wholly inside the padding (a span of zeros)
            (1, 1, 16, 300, 7, 1, 2000, 300),
        ] {
            let p = linear((batch, groups, cout, cin), (k, d, pad, len)).expect("has outputs");
            assert_eq!(lowering(&p), Lowering::WidthShift, "{p:?}");
            assert_equals_definition(&p);
        }
        let windowed = plain_axis(3000, 7, 1, 3);
        let p = one_image(16, 300, [AxisMap::UNIT, AxisMap::UNIT, windowed]);
        assert!(window_for(&p, lowering(&p)) < 3000);
        let lone = Problem {
            strided_channels: 36,
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(600, 7, 1, 3)],
            ..p
        };
        assert!(splits_lone_band(&lone));
        let shallow = Problem {
            dense_channels: 128,
            ..lone
        };
        assert_eq!(lowering(&shallow), Lowering::Im2col);
        // a reach (taps - 1) * dilation of 256 or more keeps im2col too
        let dilated = |d: usize| linear((1, 1, 16, 300), (7, d, 0, 3000 + 6 * d)).expect("outputs");
        assert_eq!(lowering(&dilated(43)), Lowering::Im2col);
        assert_eq!(lowering(&dilated(42)), Lowering::WidthShift);
    }

    /// 1x1 layers with few output channels per group go to [`pointwise`] with the
    /// convolution's weight layout: 1-D and 2-D, groups, bias, 1-8 output channels, 12 on a
    /// 128x128 plane.
    #[test]
    fn pointwise_layers_match_the_definition() {
        // (groups, C_out/g, C_in/g, spatial sides)
        for (groups, cout, cin, sides) in [
            (1, 8, 70, (9, 31)),
            (3, 1, 5, (1, 300)),
            (2, 2, 33, (4, 4)),
            (1, 7, 128, (17, 3)),
            (1, 12, 64, (128, 128)),
        ] {
            let p = one_by_one(2, groups, cout, cin, sides);
            assert!(takes_pointwise(&p) && workspace(&p) == 0, "{p:?}");
            assert_equals_definition(&p);
        }
    }

    /// A 1x1 layer on a plane of a multiple of 16384 positions copies its input into padded
    /// rows (a one-tap im2col) instead of reading it in place; both equal the definition, with
    /// groups and bias, in 2-D and 1-D.
    #[test]
    fn aliased_one_by_one_inputs_match_the_definition() {
        // (groups, C_out/g, C_in/g, spatial sides)
        for (groups, cout, cin, sides) in [(1, 24, 32, (128, 128)), (2, 40, 9, (1, 16384))] {
            let p = one_by_one(1, groups, cout, cin, sides);
            assert!(aliased_input(&p) && !takes_pointwise(&p), "{p:?}");
            assert!(operand_workspace(&p) > 0, "{p:?}");
            assert_equals_definition(&p);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Deep 1-D stride-1 layers (the width shift) over random widths, taps, dilations,
        /// padding (including cropping and windows in the padding), groups and batches equal
        /// the definition.
        #[test]
        fn width_shift_agrees_with_the_definition(
            (batch, groups) in (1usize..3, 1usize..3),
            (cout, cin) in (1usize..24, 290usize..360),
            (k, d) in (6usize..10, 1usize..4),
            pad in -3i64..400,
            len in 1usize..900,
        ) {
            let p = linear((batch, groups, cout, cin), (k, d, pad, len));
            proptest::prop_assume!(p.is_some());
            let p = p.expect("assumed");
            proptest::prop_assume!(lowering(&p) == Lowering::WidthShift);
            assert_equals_definition(&p);
        }
    }
}
