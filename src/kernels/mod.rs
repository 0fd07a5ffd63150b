//! The hot loops, apart from the public API. Everything here is `pub(crate)`.

mod conv;
mod conv_transpose;
mod depthwise;
mod direct;
mod few_rows;
mod gather;
mod gemm;
pub(crate) mod io;
mod panel_tiles;
mod panels;
mod parallel;
mod phase_rows;
mod phase_stack;
mod pointwise;
mod pointwise_gemm;
mod prepared;
pub(crate) use prepared::Prepared;
mod scratch;
pub(crate) mod simd;
mod skinny;
mod subpixel;
mod tiled;
mod winograd;
mod winograd3;

use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Target size of a scratch tile (im2col or column buffer) in elements: 1 MiB of `f32`, so a
/// tile stays in the L2/L3 cache between the pass that writes it and the pass that reads it,
/// and memory use stays bounded for any image size. (Measured on srgan_3x3_s1: 1.3x faster
/// than a 4 MiB tile; the strided workloads did not change.)
pub(crate) const COL_BUDGET: usize = 1 << 18;

/// Fewest GEMM columns a tile should have when one row of positions is already over
/// [`COL_BUDGET`]: narrower products run well below the GEMM's peak.
pub(crate) const MIN_TILE_COLS: usize = 256;

/// Most elements one task's scratch tiles hold: 2 x [`COL_BUDGET`] (2 MiB of `f32`), reached
/// when a tile is widened to [`MIN_TILE_COLS`] columns or a row is cut into windows.
pub(crate) const TILE_CAP: usize = 2 * COL_BUDGET;

/// Most weight elements a call copies into another layout (2 MiB of `f32`). A path that needs
/// a bigger copy gives way to one that reads the weight where it is.
pub(crate) const WEIGHT_COPY_BUDGET: usize = 1 << 19;

/// What one call may allocate on top of the caller's arrays: scratch of every concurrent
/// task plus weight copies stay within this many bytes (or the output's size, when larger).
pub(crate) const CALL_BUDGET_BYTES: usize = 16 << 20;

/// Row strides (elements) at which a GEMM operand's rows alias: a multiple of 16384 elements
/// is 64 KiB or more of `f32`, so the rows fall into the same L1 and L2 cache sets, and the
/// GEMM library's few-row products slow down up to 2.4x (a microbenchmark on this crate's
/// benchmark machine, 32 rows 128 deep: 29 GFLOP/s with rows 16384 elements apart, 71 with
/// 16 more). Input planes of 128x128, 64x256 or 256x256 positions have such strides.
pub(crate) const ALIASED_STRIDE: usize = 1 << 14;

/// Elements after each row of an operand copied to avoid [`ALIASED_STRIDE`] (64 bytes of `f32`).
pub(crate) const ALIAS_PAD: usize = 16;

/// Whether rows `stride` elements apart alias (see [`ALIASED_STRIDE`]).
pub(crate) fn rows_alias(stride: usize) -> bool {
    stride > 0 && stride % ALIASED_STRIDE == 0
}

/// Rows (over the two outer axes) per tile when a row of positions is `row_len` wide and
/// costs `per_row` scratch elements, out of `rows` rows. Widening for [`MIN_TILE_COLS`]
/// never takes a tile past [`TILE_CAP`]; a row alone over it gets a tile of one row (cut
/// into windows by [`window_cols`]).
pub(crate) fn tile_rows(per_row: usize, row_len: usize, rows: usize) -> usize {
    let per_row = per_row.max(1);
    let by_budget = COL_BUDGET / per_row;
    let by_width = MIN_TILE_COLS
        .div_ceil(row_len.max(1))
        .min(TILE_CAP / per_row);
    let rows = rows.max(1);
    let widest = by_budget.max(by_width).clamp(1, rows);
    // as many tiles as the widest allow, shared out evenly: with tiles of 21 rows, 32 rows
    // would end in a sliver of 11 and one task of the two would do twice the other's work
    rows.div_ceil(rows.div_ceil(widest))
}

/// Positions per window when one row of `row_len` positions costing `per_col` scratch
/// elements each is cut into windows: the whole row when it fits in [`TILE_CAP`], otherwise
/// [`COL_BUDGET`] worth (widened to [`MIN_TILE_COLS`] within the cap), at least one.
pub(crate) fn window_cols(per_col: usize, row_len: usize) -> usize {
    let per_col = per_col.max(1);
    if per_col.saturating_mul(row_len) <= TILE_CAP {
        return row_len.max(1);
    }
    (COL_BUDGET / per_col)
        .max(MIN_TILE_COLS.min(TILE_CAP / per_col))
        .clamp(1, row_len.max(1))
}

/// Tasks that may run at once so that `per_task` scratch elements each, plus `copies`
/// elements of weight copies, stay within [`CALL_BUDGET_BYTES`] (or `output` elements when
/// that is larger), for elements of `elem_bytes` bytes. At least one.
pub(crate) fn max_concurrent(
    per_task: usize,
    copies: usize,
    output: usize,
    elem_bytes: usize,
) -> usize {
    let budget = (CALL_BUDGET_BYTES / elem_bytes.max(1)).max(output);
    (budget.saturating_sub(copies) / per_task.max(1)).max(1)
}

/// Output elements a run of whole (image, group) blocks covers at least, when there are
/// enough blocks for eight runs.
const MIN_RUN_OUTPUT: usize = 1 << 12;

/// `y`, `blocks` consecutive blocks of `block` elements (one per image x group, all of its
/// output planes), cut into runs of whole blocks for tasks: `(first block, run)`, at least
/// [`MIN_RUN_OUTPUT`] elements each while that leaves eight runs or more. A task that listed
/// a slice per output plane instead would, for hundreds of thousands of tiny planes, hold
/// more than the outputs (each kernel splits its runs into planes inside the task). Fixed
/// by the problem alone, never by the thread count.
pub(crate) fn whole_runs<T>(blocks: usize, y: &mut [T], block: usize) -> Vec<(usize, &mut [T])> {
    let per_run = MIN_RUN_OUTPUT
        .div_ceil(block.max(1))
        .clamp(1, blocks.div_ceil(8).max(1));
    y.chunks_mut((per_run * block).max(1))
        .enumerate()
        .map(|(i, run)| (i * per_run, run))
        .collect()
}

/// For each tap of `axis`, the strided positions `lo..hi` that land inside the dense side.
pub(crate) fn tap_ranges(axis: &AxisMap) -> Vec<(usize, usize)> {
    (0..axis.kernel).map(|k| axis.tap_range(k)).collect()
}

/// Transposed convolution: picks the fastest path for the problem.
pub(crate) fn conv_transpose<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
) {
    conv_transpose_prepared(p, x, w, None, b, y)
}

/// [`conv_transpose`] of a prepared layer: the products that read a packed weight take it
/// from `prepared` (packing it on first use).
pub(crate) fn conv_transpose_prepared<T: Element>(
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
    if p.is_extreme() {
        return crate::reference::scatter(p, x, w, b, y);
    }
    conv_transpose::run(p, x, w, prepared, b, y)
}

/// Forward convolution: picks the fastest path for the problem.
pub(crate) fn conv<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    if y.is_empty() {
        return;
    }
    if p.is_extreme() {
        return crate::reference::gather(p, x, w, b, y);
    }
    conv::run(p, x, w, b, y)
}

/// Elements of memory one [`conv_transpose`] call of `p` allocates at most, with elements of
/// `elem_bytes` bytes on the current thread pool: weight copies plus the scratch of the tasks
/// that run at once (GEMM packing included).
pub(crate) fn conv_transpose_workspace(p: &Problem, elem_bytes: usize) -> usize {
    if p.is_extreme() || p.is_empty() {
        return 0;
    }
    let output = p.batch * p.dense_channels_total() * p.dense_plane();
    call_total(
        conv_transpose::workspace(p),
        conv_transpose::copies(p),
        output,
        elem_bytes,
    )
}

/// Elements of memory one [`conv`] call of `p` allocates at most (see
/// [`conv_transpose_workspace`]).
pub(crate) fn conv_workspace(p: &Problem, elem_bytes: usize) -> usize {
    if p.is_extreme() || p.is_empty() {
        return 0;
    }
    let output = p.batch * p.strided_channels_total() * p.strided_plane();
    call_total(conv::workspace(p), conv::copies(p), output, elem_bytes)
}

/// Weight copies plus `per_task` scratch for every task that may run at once.
fn call_total(per_task: usize, copies: usize, output: usize, elem_bytes: usize) -> usize {
    let at_once = parallel::threads().min(max_concurrent(per_task, copies, output, elem_bytes));
    copies.saturating_add(per_task.saturating_mul(at_once))
}

/// Shared by the kernels' unit tests: deterministic data and a comparison of a fast path with
/// the definition ([`crate::reference::scatter`]).
/// Rows of the transpose each [`transpose_rows`] call writes.
pub(crate) const TRANSPOSE_BLOCK: usize = 16;

/// Rows `j0..j0 + n` of the transpose of the `rows x cols` row-major `src` into `dst`
/// (`n = dst.len() / rows`, at most [`TRANSPOSE_BLOCK`]): `dst[(j - j0)*rows + i] =
/// src[i*cols + j]`.
///
/// Through a 16x16 buffer: 16 source rows are read (16 contiguous elements each), then 16
/// destination rows written, so every cache line is used once, whole. Writing straight to 16
/// rows a power-of-two stride apart thrashes one L1 set (a 512 x 1024 weight, perf: 11% of a
/// unet-sized layer's time that way, under 2% through the buffer).
pub(crate) fn transpose_rows<T: Element>(
    src: &[T],
    dst: &mut [T],
    rows: usize,
    cols: usize,
    j0: usize,
) {
    const B: usize = TRANSPOSE_BLOCK;
    let n = dst.len() / rows.max(1);
    let mut buf = [[T::zero(); B]; B];
    for i0 in (0..rows).step_by(B) {
        let m = B.min(rows - i0);
        for (b, row) in buf.iter_mut().zip(src[i0 * cols..].chunks(cols)).take(m) {
            // a whole block is a fixed-size copy (inlined; a 16-element memmove call costs more
            // than the copy)
            match <&[T; B]>::try_from(&row[j0..j0 + n]) {
                Ok(full) => *b = *full,
                Err(_) => b[..n].copy_from_slice(&row[j0..j0 + n]),
            }
        }
        for (jj, out) in dst.chunks_exact_mut(rows).enumerate().take(n) {
            for (o, b) in out[i0..i0 + m].iter_mut().zip(&buf) {
                *o = b[jj];
            }
        }
    }
}

/// `dst[j*rows + i] = src[i*cols + j]`: the whole `cols x rows` transpose of the `rows x cols`
/// row-major `src`, [`TRANSPOSE_BLOCK`] destination rows at a time.
pub(crate) fn transpose<T: Element>(src: &[T], dst: &mut [T], rows: usize, cols: usize) {
    for (k, d) in dst[..rows * cols]
        .chunks_mut((TRANSPOSE_BLOCK * rows).max(1))
        .enumerate()
    {
        transpose_rows(src, d, rows, cols, k * TRANSPOSE_BLOCK);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::problem::{AxisMap, Problem};
    use crate::reference::scatter;
    use proptest::prelude::*;
    use std::ops::Range;

    /// Ranges of an axis's `(strided, kernel, stride, dilation, pad_begin, dense)`.
    pub(crate) type AxisRanges = (
        Range<usize>,
        Range<usize>,
        Range<usize>,
        Range<usize>,
        Range<i64>,
        Range<usize>,
    );

    /// One image of one group: `strided_channels` on the strided side, `dense_channels` on the
    /// dense side, over `axes`.
    pub(crate) fn one_image(
        strided_channels: usize,
        dense_channels: usize,
        axes: [AxisMap; 3],
    ) -> Problem {
        Problem {
            batch: 1,
            groups: 1,
            strided_channels,
            dense_channels,
            axes,
        }
    }

    /// An axis of `strided` positions, kernel `kernel`, stride `stride`, no dilation and
    /// `pad` on both ends; the dense length is the transposed convolution's output length
    /// `(strided - 1) * stride + kernel - 2 * pad` (for a 1x1 stride-1 axis, `strided`).
    pub(crate) fn plain_axis(strided: usize, kernel: usize, stride: usize, pad: usize) -> AxisMap {
        AxisMap {
            strided,
            dense: (strided - 1) * stride + kernel - 2 * pad,
            kernel,
            stride,
            dilation: 1,
            pad_begin: pad as i64,
        }
    }

    /// Axes with lengths, kernel, stride, dilation and padding drawn from the given ranges.
    pub(crate) fn axis_in(
        (strided, kernel, stride, dilation, pad_begin, dense): AxisRanges,
    ) -> impl Strategy<Value = AxisMap> {
        (strided, kernel, stride, dilation, pad_begin, dense).prop_map(
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

    /// `n` test values, multiples of 1/4 in `-2..=2`, shifted by `seed`.
    pub(crate) fn data(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (((i * 7 + seed * 13) % 17) as f64 - 8.0) / 4.0)
            .collect()
    }

    /// Input, weight and bias of `p` from seeds `seed`, `seed + 1` and `seed + 2`, and the
    /// definition's output for them (with the bias when `with_bias`).
    fn seeded_case(p: &Problem, seed: usize, with_bias: bool) -> [Vec<f64>; 4] {
        let x = data(
            p.batch * p.strided_channels_total() * p.strided_plane(),
            seed,
        );
        let w = data(
            p.strided_channels_total() * p.dense_channels * p.kernel_volume(),
            seed + 1,
        );
        let b = data(p.dense_channels_total(), seed + 2);
        let mut want = vec![0.0; p.batch * p.dense_channels_total() * p.dense_plane()];
        scatter(p, &x, &w, with_bias.then_some(&b[..]), &mut want);
        [x, w, b, want]
    }

    /// The first of `got` that differs from `want` by more than `tol` relative, described.
    /// NaN (an output never written) is never close.
    fn first_mismatch(p: &Problem, got: &[f64], want: &[f64], tol: f64) -> Option<String> {
        let close = |g: f64, v: f64| (g - v).abs() <= tol * (1.0 + v.abs());
        got.iter()
            .zip(want)
            .position(|(&g, &v)| !close(g, v))
            .map(|i| format!("{p:?} at {i}: {} vs {}", got[i], want[i]))
    }

    /// [`mismatch`] in `f32` (with the bias): the same data (multiples of 1/4, exact in
    /// `f32`) run in `f32` against the definition in `f64`. Products of such data are
    /// multiples of 1/16, so every partial sum below 2^20 in magnitude is exact in `f32` as
    /// well: a tolerance of 0 holds whatever the order of the sums.
    pub(crate) fn mismatch_f32(
        p: &Problem,
        seed: usize,
        tol: f64,
        run: impl FnOnce(&[f32], &[f32], Option<&[f32]>, &mut [f32]),
    ) -> Option<String> {
        let [x, w, b, want] = seeded_case(p, seed, true);
        let narrow = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let mut got = vec![f32::NAN; want.len()];
        run(&narrow(&x), &narrow(&w), Some(&narrow(&b)), &mut got);
        let got: Vec<f64> = got.into_iter().map(f64::from).collect();
        first_mismatch(p, &got, &want, tol)
    }

    /// Runs `run(x, w, bias, y)` on `p` (input, weight and bias from seeds `seed`,
    /// `seed + 1`, `seed + 2`; no bias unless `with_bias`; `y` starts as NaN) and returns the
    /// first output that differs from the definition by more than `tol` relative, if any.
    pub(crate) fn mismatch(
        p: &Problem,
        seed: usize,
        with_bias: bool,
        tol: f64,
        run: impl FnOnce(&[f64], &[f64], Option<&[f64]>, &mut [f64]),
    ) -> Option<String> {
        let [x, w, b, want] = seeded_case(p, seed, with_bias);
        let mut got = vec![f64::NAN; want.len()];
        run(&x, &w, with_bias.then_some(&b[..]), &mut got);
        first_mismatch(p, &got, &want, tol)
    }
}
