//! Forward convolution (cross-correlation, as PyTorch's `conv*d`): the adjoint of the
//! transposed convolution.

use ndarray::{Array, ArrayRef, ArrayRef1, ArrayRef3, ArrayRef4, ArrayRef5, Dimension};
use ndarray::{Array3, Array4, Array5};

use crate::axes::IntoAxes;
use crate::conv_transpose::{check_nonzero, check_ranks, check_size, strided_dims, Kernel};
use crate::error::{Error, Result};
use crate::problem::{AxisMap, Problem};
use crate::shape::{self, AxisParams, Cost};
use crate::Element;

/// Options of a `D`-dimensional convolution (PyTorch `Conv{D}d` with `padding_mode='zeros'`,
/// ONNX `Conv` with explicit pads).
///
/// ```text
/// input  [N, C_in, L...]            weight [C_out, C_in/groups, K...]     bias [C_out]
/// output [N, C_out, O...]  with per axis
/// O = floor((L + pad_begin + pad_end - dilation*(K - 1) - 1) / stride) + 1
/// ```
///
/// # Examples
///
/// ```
/// let cfg = upconv::Conv2d::new().stride(2).padding(1);
/// assert_eq!(cfg.output_dims(&[1, 3, 7, 7], &[8, 3, 3, 3])?, vec![1, 8, 4, 4]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv<const D: usize> {
    stride: [usize; D],
    pad_begin: [usize; D],
    pad_end: [usize; D],
    dilation: [usize; D],
    groups: usize,
}

/// 1-D convolution options (`[N, C, L]`).
pub type Conv1d = Conv<1>;
/// 2-D convolution options (`[N, C, H, W]`).
pub type Conv2d = Conv<2>;
/// 3-D convolution options (`[N, C, D, H, W]`).
pub type Conv3d = Conv<3>;

impl<const D: usize> Default for Conv<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize> Conv<D> {
    /// Stride 1, no padding, dilation 1, one group.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new();
    /// assert_eq!(cfg.output_dims(&[1, 1, 5], &[1, 1, 3])?, vec![1, 1, 3]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn new() -> Self {
        Self {
            stride: [1; D],
            pad_begin: [0; D],
            pad_end: [0; D],
            dilation: [1; D],
            groups: 1,
        }
    }

    /// Sets the stride.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new().stride(2);
    /// assert_eq!(cfg.output_dims(&[1, 1, 5], &[1, 1, 3])?, vec![1, 1, 2]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn stride(mut self, stride: impl IntoAxes<D>) -> Self {
        self.stride = stride.into_axes();
        self
    }

    /// Sets symmetric zero padding.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new().padding(1);
    /// assert_eq!(cfg.output_dims(&[1, 1, 5], &[1, 1, 3])?, vec![1, 1, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn padding(mut self, padding: impl IntoAxes<D>) -> Self {
        self.pad_begin = padding.into_axes();
        self.pad_end = self.pad_begin;
        self
    }

    /// Sets asymmetric zero padding (ONNX `pads`).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new().pads(0, 2);
    /// assert_eq!(cfg.output_dims(&[1, 1, 5], &[1, 1, 3])?, vec![1, 1, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn pads(mut self, begin: impl IntoAxes<D>, end: impl IntoAxes<D>) -> Self {
        self.pad_begin = begin.into_axes();
        self.pad_end = end.into_axes();
        self
    }

    /// Sets the dilation.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new().dilation(2);
    /// assert_eq!(cfg.output_dims(&[1, 1, 5], &[1, 1, 3])?, vec![1, 1, 1]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn dilation(mut self, dilation: impl IntoAxes<D>) -> Self {
        self.dilation = dilation.into_axes();
        self
    }

    /// Sets the number of groups.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv1d::new().groups(2);
    /// // weight [C_out, C_in/groups, K]
    /// assert_eq!(cfg.output_dims(&[1, 4, 5], &[6, 2, 1])?, vec![1, 6, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The per-axis parameters for a kernel of length `kernel` on `axis`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = upconv::Conv2d::new().dilation([1, 2]).axis_params(1, 3);
    /// assert_eq!(p.dilation, 2);
    /// ```
    pub fn axis_params(&self, axis: usize, kernel: usize) -> AxisParams {
        let a = axis.min(D.saturating_sub(1));
        AxisParams::new(kernel)
            .stride(self.stride[a])
            .dilation(self.dilation[a])
            .pads(self.pad_begin[a], self.pad_end[a])
    }

    /// The output shape for `input` (`[N, C_in, L...]`) and `weight` (`[C_out, C_in/groups, K...]`).
    ///
    /// # Errors
    ///
    /// * [`Error::WrongRank`] when a shape does not have `D + 2` entries;
    /// * [`Error::ZeroGroups`], [`Error::GroupsDoNotDivide`], [`Error::ChannelMismatch`];
    /// * [`Error::EmptyDimension`], [`Error::ZeroParameter`], [`Error::KernelTooLarge`],
    ///   [`Error::Overflow`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Conv2d::new();
    /// assert!(cfg.output_dims(&[1, 3, 2, 2], &[1, 3, 3, 3]).is_err()); // kernel too large
    /// ```
    pub fn output_dims(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        Ok(strided_dims::<D>(&self.problem(input, weight)?))
    }

    /// The cost of one call (see [`Cost`]); `elem_bytes` is 4 for `f32`, 8 for `f64`.
    ///
    /// # Errors
    ///
    /// The errors of [`output_dims`](Self::output_dims); [`Error::Overflow`] for a kernel axis
    /// over 2^24 taps long (the estimate walks the taps).
    ///
    /// # Examples
    ///
    /// ```
    /// let cost = upconv::Conv1d::new().cost(&[1, 1, 5], &[1, 1, 3], 8)?;
    /// assert_eq!(cost.multiply_adds, 9);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn cost(&self, input: &[usize], weight: &[usize], elem_bytes: usize) -> Result<Cost> {
        let p = self.problem(input, weight)?;
        p.check_cost_taps()?;
        let eb = elem_bytes as u64;
        let x = (p.batch * p.dense_channels_total()) as u64 * p.dense_plane() as u64;
        let w = (p.strided_channels_total() * p.dense_channels * p.kernel_volume()) as u64;
        let b = p.strided_channels_total() as u64;
        let y = (p.batch * p.strided_channels_total() * p.strided_plane()) as u64;
        Ok(Cost {
            multiply_adds: p.multiply_adds(),
            parameters: w + b,
            bytes_read: (x + w + b).saturating_mul(eb),
            bytes_written: y.saturating_mul(eb),
            workspace_bytes: (crate::kernels::conv_workspace(&p, elem_bytes) as u64)
                .saturating_mul(eb),
        })
    }

    /// Validates everything and resolves the problem (output = strided side).
    pub(crate) fn problem(&self, input: &[usize], weight: &[usize]) -> Result<Problem> {
        check_ranks::<D>(input, weight)?;
        if self.groups == 0 {
            return Err(Error::ZeroGroups);
        }
        check_nonzero("weight", weight)?;
        check_nonzero("input", &input[1..2])?;
        for (what, channels) in [("input channels", input[1]), ("output channels", weight[0])] {
            if channels % self.groups != 0 {
                return Err(Error::GroupsDoNotDivide {
                    what,
                    channels,
                    groups: self.groups,
                });
            }
        }
        if input[1] / self.groups != weight[1] {
            return Err(Error::ChannelMismatch {
                input: input[1],
                expected: weight[1].saturating_mul(self.groups),
            });
        }
        let mut axes = [AxisMap::UNIT; 3];
        for a in 0..D {
            let p = self.axis_params(a, weight[2 + a]);
            let len = input[2 + a];
            if len == 0 {
                return Err(Error::EmptyDimension {
                    what: "input",
                    dim: a + 2,
                });
            }
            axes[3 - D + a] = AxisMap {
                strided: shape::conv_output_len(a, len, &p)?,
                dense: len,
                kernel: p.kernel,
                stride: p.stride,
                dilation: p.dilation,
                pad_begin: p.pad_begin as i64,
            };
        }
        let p = Problem {
            batch: input[0],
            groups: self.groups,
            strided_channels: weight[0] / self.groups,
            dense_channels: weight[1],
            axes,
        };
        check_size::<D>(&strided_dims::<D>(&p))?;
        p.check_extent()?;
        Ok(p)
    }
}

/// Validates the arrays, runs `kernel` and returns a new output.
pub(crate) fn run<T: Element, const D: usize, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    weight: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    cfg: &Conv<D>,
    kernel: Kernel<T>,
) -> Result<Array<T, Dm>> {
    let p = cfg.problem(input.shape(), weight.shape())?;
    let w = crate::kernels::io::row_major(weight);
    let dims = strided_dims::<D>(&p);
    crate::kernels::io::new_output(input, bias, &dims, |x, b, y| kernel(&p, x, &w, b, y))
}

macro_rules! conv_fns {
    ($d:literal, $name:ident, $name_into:ident, $aref:ident, $arr:ident, $x:literal, $w:literal, $y:literal) => {
        #[doc = concat!("Convolution of a ", $d, "-D input (PyTorch `F.conv", $d, "d`, a cross-correlation).")]
        ///
        /// Every output sample sums the input at `o*stride + k*dilation - pad_begin` times the
        /// taps; see [`Conv`] for shapes and options. This is the adjoint of the transposed
        /// convolution with the same weight and options.
        ///
        /// # Errors
        ///
        /// * [`Error::ChannelMismatch`] when `input`'s channels are not `weight`'s second
        ///   dimension times `groups`;
        /// * [`Error::GroupsDoNotDivide`], [`Error::ZeroGroups`], [`Error::BiasLength`];
        /// * [`Error::EmptyDimension`], [`Error::ZeroParameter`], [`Error::KernelTooLarge`],
        ///   [`Error::Overflow`] for impossible shapes.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("use ndarray::", stringify!($arr), ";")]
        #[doc = concat!("let x = ", stringify!($arr), "::<f32>::ones(", $x, ");")]
        #[doc = concat!("let w = ", stringify!($arr), "::<f32>::ones(", $w, ");")]
        #[doc = concat!("let y = upconv::", stringify!($name), "(&x, &w, None, &upconv::Conv", $d, "d::new().stride(2).padding(1))?;")]
        #[doc = concat!("assert_eq!(y.shape(), &", $y, ");")]
        /// # Ok::<(), upconv::Error>(())
        /// ```
        pub fn $name<T: Element>(
            input: &$aref<T>,
            weight: &$aref<T>,
            bias: Option<&ArrayRef1<T>>,
            cfg: &Conv<$d>,
        ) -> Result<$arr<T>> {
            run(input, weight, bias, cfg, crate::kernels::conv::<T>)
        }

        #[doc = concat!("[`", stringify!($name), "`] into a caller-provided output (its shape is checked).")]
        ///
        /// # Errors
        ///
        #[doc = concat!("The errors of [`", stringify!($name), "`], and [`Error::OutputShapeMismatch`] when `out` has the wrong shape.")]
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("use ndarray::", stringify!($arr), ";")]
        #[doc = concat!("let x = ", stringify!($arr), "::<f64>::ones(", $x, ");")]
        #[doc = concat!("let w = ", stringify!($arr), "::<f64>::ones(", $w, ");")]
        #[doc = concat!("let mut y = ", stringify!($arr), "::<f64>::zeros(", $y, ");")]
        #[doc = concat!("upconv::", stringify!($name_into), "(&x, &w, None, &upconv::Conv", $d, "d::new().stride(2).padding(1), &mut y)?;")]
        /// assert!(y.iter().all(|&v| v > 0.0));
        /// # Ok::<(), upconv::Error>(())
        /// ```
        pub fn $name_into<T: Element>(
            input: &$aref<T>,
            weight: &$aref<T>,
            bias: Option<&ArrayRef1<T>>,
            cfg: &Conv<$d>,
            out: &mut $aref<T>,
        ) -> Result<()> {
            let p = cfg.problem(input.shape(), weight.shape())?;
            let dims = strided_dims::<$d>(&p);
            let w = crate::kernels::io::row_major(weight);
            crate::kernels::io::into_output(input, bias, &dims, out, |x, b, y| {
                crate::kernels::conv(&p, x, &w, b, y)
            })
        }
    };
}

conv_fns!(
    1,
    conv1d,
    conv1d_into,
    ArrayRef3,
    Array3,
    "(1, 2, 9)",
    "(4, 2, 3)",
    "[1, 4, 5]"
);
conv_fns!(
    2,
    conv2d,
    conv2d_into,
    ArrayRef4,
    Array4,
    "(1, 2, 9, 9)",
    "(4, 2, 3, 3)",
    "[1, 4, 5, 5]"
);
conv_fns!(
    3,
    conv3d,
    conv3d_into,
    ArrayRef5,
    Array5,
    "(1, 2, 5, 9, 9)",
    "(4, 2, 3, 3, 3)",
    "[1, 4, 3, 5, 5]"
);
