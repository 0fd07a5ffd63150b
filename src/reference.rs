//! The readable definitions: plain loops straight from the formulas.
//!
//! These are the specification the fast paths are tested against (see `tests/`). They accept
//! the same arguments as the public ops and return the same errors, but run the textbook loop:
//! no GEMM, no tiling, no threads.
//!
//! * transposed convolution, scatter form: every input sample, times each kernel tap, is added
//!   into the output at `i*stride + k*dilation - pad_begin` (no kernel flip);
//! * convolution, gather form: every output sample sums input samples at
//!   `o*stride + k*dilation - pad_begin` times the taps.

use ndarray::{ArrayRef, ArrayRef1, Dimension};

use crate::conv::Conv;
use crate::conv_transpose::ConvTranspose;
use crate::problem::Problem;
use crate::{Element, Result};

/// Transposed convolution by the scatter-add definition, for 1-D, 2-D or 3-D (`D`) tensors.
///
/// Same contract as [`conv_transpose2d`](crate::conv_transpose2d) and its siblings.
///
/// # Errors
///
/// Exactly the errors of the fast ops, for example [`Error::ChannelMismatch`](crate::Error)
/// when the input's channels differ from the weight's first dimension, and
/// [`Error::WrongRank`](crate::Error) when the array rank is not `D + 2`.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use upconv::{reference, ConvTranspose1d};
/// let x = array![[[1.0, 1.0]]];
/// let w = array![[[1.0, 1.0, 1.0]]];
/// let cfg = ConvTranspose1d::new().stride(2).padding(1).output_padding(1);
/// // the last sample is a real contribution, not a forced zero
/// assert_eq!(reference::conv_transpose(&x, &w, None, &cfg)?, array![[[1.0, 2.0, 1.0, 1.0]]]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn conv_transpose<T: Element, const D: usize, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    weight: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    cfg: &ConvTranspose<D>,
) -> Result<ndarray::Array<T, Dm>> {
    crate::conv_transpose::run(input, weight, bias, cfg, scatter::<T>)
}

/// Convolution by the gather definition, for 1-D, 2-D or 3-D (`D`) tensors.
///
/// Same contract as [`conv2d`](crate::conv2d) and its siblings.
///
/// # Errors
///
/// Exactly the errors of the fast ops, e.g. [`Error::KernelTooLarge`](crate::Error) when the
/// dilated kernel is longer than the padded input.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use upconv::{reference, Conv1d};
/// let x = array![[[1.0, 2.0, 3.0, 4.0]]];
/// let w = array![[[1.0, 10.0]]];
/// assert_eq!(reference::conv(&x, &w, None, &Conv1d::new().stride(2))?, array![[[21.0, 43.0]]]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn conv<T: Element, const D: usize, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    weight: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    cfg: &Conv<D>,
) -> Result<ndarray::Array<T, Dm>> {
    crate::conv::run(input, weight, bias, cfg, gather::<T>)
}

/// Row-major offset of `(c, p0, p1, p2)` in a `[channels, n0, n1, n2]` block.
#[inline]
fn offset(c: usize, pos: [usize; 3], dims: [usize; 3]) -> usize {
    ((c * dims[0] + pos[0]) * dims[1] + pos[1]) * dims[2] + pos[2]
}

/// Dense position of strided `i` and tap `k` on every axis, or `None` when one falls outside.
fn dense_position(p: &Problem, i: [usize; 3], k: [usize; 3]) -> Option<[usize; 3]> {
    let mut o = [0usize; 3];
    for ax in 0..3 {
        let pos = p.axes[ax].dense_pos(i[ax], k[ax]);
        if pos < 0 || pos >= p.axes[ax].dense as i64 {
            return None;
        }
        o[ax] = pos as usize;
    }
    Some(o)
}

/// Every multi-index of a 3-axis box, outermost axis first.
fn positions(dims: [usize; 3]) -> impl Iterator<Item = [usize; 3]> {
    (0..dims[0])
        .flat_map(move |a| (0..dims[1]).flat_map(move |b| (0..dims[2]).map(move |c| [a, b, c])))
}

/// Scatter-add transposed convolution. `x`: strided side `[N, Cs, ...]`, `y`: dense side.
pub(crate) fn scatter<T: Element>(p: &Problem, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    let sdims = p.axes.map(|a| a.strided);
    let ddims = p.axes.map(|a| a.dense);
    let kdims = p.axes.map(|a| a.kernel);
    let (cs, cd) = (p.strided_channels_total(), p.dense_channels_total());
    for n in 0..p.batch {
        let yn = &mut y[n * cd * p.dense_plane()..(n + 1) * cd * p.dense_plane()];
        for co in 0..cd {
            let b = bias.map_or(T::zero(), |b| b[co]);
            yn[co * p.dense_plane()..(co + 1) * p.dense_plane()].fill(b);
        }
        for ci in 0..cs {
            let g = ci / p.strided_channels;
            for i in positions(sdims) {
                let xv = x[n * cs * p.strided_plane() + offset(ci, i, sdims)];
                for dc in 0..p.dense_channels {
                    let co = g * p.dense_channels + dc;
                    for k in positions(kdims) {
                        if let Some(o) = dense_position(p, i, k) {
                            let wv = w[offset(ci * p.dense_channels + dc, k, kdims)];
                            yn[offset(co, o, ddims)] = yn[offset(co, o, ddims)] + xv * wv;
                        }
                    }
                }
            }
        }
    }
}

/// Gather convolution. `x`: dense side `[N, Cd, ...]`, `y`: strided side.
pub(crate) fn gather<T: Element>(p: &Problem, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    let sdims = p.axes.map(|a| a.strided);
    let ddims = p.axes.map(|a| a.dense);
    let kdims = p.axes.map(|a| a.kernel);
    let (cs, cd) = (p.strided_channels_total(), p.dense_channels_total());
    for n in 0..p.batch {
        let xn = &x[n * cd * p.dense_plane()..(n + 1) * cd * p.dense_plane()];
        for co in 0..cs {
            let g = co / p.strided_channels;
            for i in positions(sdims) {
                let mut acc = bias.map_or(T::zero(), |b| b[co]);
                for dc in 0..p.dense_channels {
                    let ci = g * p.dense_channels + dc;
                    for k in positions(kdims) {
                        if let Some(o) = dense_position(p, i, k) {
                            acc = acc
                                + xn[offset(ci, o, ddims)]
                                    * w[offset(co * p.dense_channels + dc, k, kdims)];
                        }
                    }
                }
                y[n * cs * p.strided_plane() + offset(co, i, sdims)] = acc;
            }
        }
    }
}
