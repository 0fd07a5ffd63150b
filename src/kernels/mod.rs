//! The hot loops, apart from the public API. Everything here is `pub(crate)`.

mod conv;
mod conv_transpose;
mod gemm;
pub(crate) mod io;
mod parallel;
mod scratch;
mod subpixel;

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

/// Rows (over the two outer axes) per tile when a row of positions is `row_len` wide and
/// costs `per_row` scratch elements, out of `rows` rows. Widening for [`MIN_TILE_COLS`]
/// never takes a tile past 8 × [`COL_BUDGET`] (8 MiB of `f32`).
pub(crate) fn tile_rows(per_row: usize, row_len: usize, rows: usize) -> usize {
    let per_row = per_row.max(1);
    let by_budget = COL_BUDGET / per_row;
    let by_width = MIN_TILE_COLS
        .div_ceil(row_len.max(1))
        .min(8 * COL_BUDGET / per_row);
    by_budget.max(by_width).clamp(1, rows.max(1))
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
    conv_transpose::run(p, x, w, b, y)
}

/// Forward convolution: picks the fastest path for the problem.
pub(crate) fn conv<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    conv::run(p, x, w, b, y)
}

/// Elements of scratch memory [`conv_transpose`] uses for `p` (per concurrent task).
pub(crate) fn conv_transpose_workspace(p: &Problem) -> usize {
    conv_transpose::workspace(p)
}

/// Elements of scratch memory [`conv`] uses for `p` (per concurrent task).
pub(crate) fn conv_workspace(p: &Problem) -> usize {
    conv::workspace(p)
}
