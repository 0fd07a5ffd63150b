//! The element types the crate computes with.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, FromPrimitive, ToPrimitive};

pub(crate) mod sealed {
    use std::cell::RefCell;
    use std::thread::LocalKey;

    /// Three scratch vectors per thread, reused by the kernels from call to call: two for
    /// a task's tiles, one for a call's weight copy.
    pub(crate) type Scratch<T> = RefCell<[Vec<T>; 3]>;

    /// Crate-private capabilities of the element types (users can name neither the trait nor
    /// its methods).
    pub trait Sealed: Sized + 'static {
        /// This thread's scratch vectors for the type.
        fn scratch() -> &'static LocalKey<Scratch<Self>>;

        /// The slice as `f32`s when the type is `f32` (for kernels written for one type).
        fn as_f32(s: &[Self]) -> Option<&[f32]>;

        /// The slice as `f32`s when the type is `f32`.
        fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
    }

    thread_local! {
        static F32: Scratch<f32> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
        static F64: Scratch<f64> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    }

    impl Sealed for f32 {
        fn scratch() -> &'static LocalKey<Scratch<f32>> {
            &F32
        }
        fn as_f32(s: &[f32]) -> Option<&[f32]> {
            Some(s)
        }
        fn as_f32_mut(s: &mut [f32]) -> Option<&mut [f32]> {
            Some(s)
        }
    }
    impl Sealed for f64 {
        fn scratch() -> &'static LocalKey<Scratch<f64>> {
            &F64
        }
        fn as_f32(_: &[f64]) -> Option<&[f32]> {
            None
        }
        fn as_f32_mut(_: &mut [f64]) -> Option<&mut [f32]> {
            None
        }
    }
}

/// A floating-point element type: `f32` or `f64`.
///
/// The trait is sealed so that methods can be added later (f16 and bf16 are planned)
/// without breaking users. All arithmetic of an op happens in `Self`, as PyTorch does on
/// the CPU: an `f32` tensor computes its interpolation coordinates in `f32`, which is what
/// makes nearest-neighbour index choices match PyTorch bit for bit.
///
/// # Examples
///
/// ```
/// fn total<T: upconv::Element>(xs: &[T]) -> T {
///     xs.iter().copied().sum()
/// }
/// assert_eq!(total(&[1.0f32, 2.0]), 3.0);
/// ```
pub trait Element:
    Float
    + FromPrimitive
    + ToPrimitive
    + Default
    + Debug
    + Display
    + Sum
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// The type's name as PyTorch spells it (`"float32"`, `"float64"`).
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64_lossy(v: f64) -> Self;

    /// Converts from `usize`, rounding to nearest (exact for lengths below 2^24 in `f32`).
    fn from_usize_lossy(v: usize) -> Self;

    /// Widens to `f64`.
    fn to_f64_lossless(self) -> f64;
}

impl Element for f32 {
    const NAME: &'static str = "float32";
    #[inline]
    fn from_f64_lossy(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn from_usize_lossy(v: usize) -> Self {
        v as f32
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        f64::from(self)
    }
}

impl Element for f64 {
    const NAME: &'static str = "float64";
    #[inline]
    fn from_f64_lossy(v: f64) -> Self {
        v
    }
    #[inline]
    fn from_usize_lossy(v: usize) -> Self {
        v as f64
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
}
