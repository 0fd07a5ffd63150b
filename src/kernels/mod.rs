//! The hot loops, apart from the public API. Everything here is `pub(crate)`.

pub(crate) mod io;

use crate::problem::Problem;
use crate::Element;

/// Transposed convolution: picks the fastest path for the problem.
pub(crate) fn conv_transpose<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
) {
    crate::reference::scatter(p, x, w, b, y)
}

/// Forward convolution: picks the fastest path for the problem.
pub(crate) fn conv<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    crate::reference::gather(p, x, w, b, y)
}

/// Elements of scratch memory [`conv_transpose`] uses for `p`.
pub(crate) fn conv_transpose_workspace(_p: &Problem) -> usize {
    0
}

/// Elements of scratch memory [`conv`] uses for `p`.
pub(crate) fn conv_workspace(_p: &Problem) -> usize {
    0
}
