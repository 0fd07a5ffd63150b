//! The hot loops, apart from the public API. Everything here is `pub(crate)`.

mod conv;
mod conv_transpose;
mod gemm;
pub(crate) mod io;
mod parallel;
mod subpixel;

use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Largest scratch tile (im2col or column buffer) in elements: 4 MiB of `f32`, so a tile stays
/// in the L3 cache between the GEMM that writes it and the pass that reads it, GEMM calls are
/// wide enough to run near peak, and memory use stays bounded for any image size.
pub(crate) const COL_BUDGET: usize = 1 << 20;

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
