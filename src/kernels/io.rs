//! Moving ndarray arguments in and out of the flat row-major buffers the kernels use.

use std::borrow::Cow;

use ndarray::{Array, ArrayRef, ArrayRef1, ArrayView, Dimension};

use crate::error::{Error, Result};
use crate::Element;

/// The elements of `a` in row-major order, borrowed when `a` is already contiguous row-major
/// (a permuted or strided view is copied once).
pub(crate) fn row_major<T: Element, Dm: Dimension>(a: &ArrayRef<T, Dm>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

/// Checks the bias length against the output channels (`dims[1]`).
fn check_bias<'a, T: Element>(
    bias: Option<&'a ArrayRef1<T>>,
    dims: &[usize],
) -> Result<Option<Cow<'a, [T]>>> {
    match bias {
        None => Ok(None),
        Some(b) if b.len() != dims[1] => Err(Error::BiasLength {
            expected: dims[1],
            got: b.len(),
        }),
        Some(b) => Ok(Some(row_major(b))),
    }
}

/// `dims` as the dimension type `Dm` (same rank as `like`).
fn to_dim<Dm: Dimension>(like: Dm, dims: &[usize]) -> Dm {
    let mut d = like;
    d.slice_mut().copy_from_slice(dims);
    d
}

/// Runs `kernel(input, bias, output)` (flat row-major slices) into a new array of shape
/// `dims`.
pub(crate) fn new_output<T: Element, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    dims: &[usize],
    kernel: impl FnOnce(&[T], Option<&[T]>, &mut [T]),
) -> Result<Array<T, Dm>> {
    let bias = check_bias(bias, dims)?;
    // `vec![0; n]` is a calloc: the pages arrive zeroed from the OS, there is no fill pass.
    let mut out = vec![T::zero(); dims.iter().product()];
    kernel(&row_major(input), bias.as_deref(), &mut out);
    Array::from_shape_vec(to_dim(input.raw_dim(), dims), out).map_err(|_| Error::Overflow {
        what: "output array",
    })
}

/// Runs `kernel(input, bias, output)` (see [`new_output`]) into `out`, whose shape must be
/// `dims`.
pub(crate) fn into_output<T: Element, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    dims: &[usize],
    out: &mut ArrayRef<T, Dm>,
    kernel: impl FnOnce(&[T], Option<&[T]>, &mut [T]),
) -> Result<()> {
    if out.shape() != dims {
        return Err(Error::OutputShapeMismatch {
            expected: dims.to_vec(),
            got: out.shape().to_vec(),
        });
    }
    let bias = check_bias(bias, dims)?;
    let x = row_major(input);
    if let Some(slice) = out.as_slice_mut() {
        kernel(&x, bias.as_deref(), slice);
    } else {
        let mut tmp = vec![T::zero(); dims.iter().product()];
        kernel(&x, bias.as_deref(), &mut tmp);
        let view = ArrayView::from_shape(to_dim(input.raw_dim(), dims), &tmp).map_err(|_| {
            Error::Overflow {
                what: "output array",
            }
        })?;
        out.assign(&view);
    }
    Ok(())
}
