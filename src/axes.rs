//! Per-axis arguments: one value for every axis, or one per axis.

/// A per-axis parameter: a single `usize` applies to every spatial axis, an array gives one
/// value per axis (in `[D, H, W]` order).
///
/// # Examples
///
/// ```
/// use upconv::IntoAxes;
/// assert_eq!(IntoAxes::<2>::into_axes(3usize), [3, 3]);
/// assert_eq!(IntoAxes::<2>::into_axes([1usize, 2]), [1, 2]);
/// ```
pub trait IntoAxes<const D: usize> {
    /// The value for each axis.
    fn into_axes(self) -> [usize; D];
}

impl<const D: usize> IntoAxes<D> for usize {
    fn into_axes(self) -> [usize; D] {
        [self; D]
    }
}

impl<const D: usize> IntoAxes<D> for [usize; D] {
    fn into_axes(self) -> [usize; D] {
        self
    }
}
