//! Transposed convolution ("deconvolution"): options, validation and the public functions.

use ndarray::{Array, ArrayRef, ArrayRef1, ArrayRef3, ArrayRef4, ArrayRef5, Dimension};
use ndarray::{Array3, Array4, Array5};

use crate::axes::IntoAxes;
use crate::error::{Error, Result};
use crate::problem::{AxisMap, Problem};
use crate::shape::{self, AutoPad, AxisParams, Cost};
use crate::Element;

/// How the output length of each axis is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target<const D: usize> {
    /// From padding and output padding (the formula).
    Padding,
    /// PyTorch `forward(x, output_size=...)`: output padding is derived from the size.
    TorchSize([usize; D]),
    /// ONNX `auto_pad` and optional `output_shape`.
    Onnx {
        auto_pad: AutoPad,
        output_shape: Option<[usize; D]>,
    },
}

/// Options of a `D`-dimensional transposed convolution (PyTorch `ConvTranspose{D}d`, ONNX
/// `ConvTranspose`).
///
/// Defaults: stride 1, no padding, no output padding, dilation 1, one group. Setters take one
/// `usize` for all axes or a `[usize; D]` per axis (see [`IntoAxes`]).
///
/// ```text
/// input  [N, C_in, L...]            weight [C_in, C_out/groups, K...]     bias [C_out]
/// output [N, C_out, O...]  with per axis
/// O = (L - 1)*stride - pad_begin - pad_end + dilation*(K - 1) + output_padding + 1
/// ```
///
/// # Examples
///
/// ```
/// use upconv::ConvTranspose2d;
/// let cfg = ConvTranspose2d::new().stride(2).padding(1).output_padding(1);
/// assert_eq!(cfg.output_dims(&[4, 32, 56, 56], &[32, 16, 3, 3])?, vec![4, 16, 112, 112]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTranspose<const D: usize> {
    stride: [usize; D],
    pad_begin: [usize; D],
    pad_end: [usize; D],
    output_padding: [usize; D],
    dilation: [usize; D],
    groups: usize,
    target: Target<D>,
}

/// 1-D transposed convolution options (`[N, C, L]`).
pub type ConvTranspose1d = ConvTranspose<1>;
/// 2-D transposed convolution options (`[N, C, H, W]`).
pub type ConvTranspose2d = ConvTranspose<2>;
/// 3-D transposed convolution options (`[N, C, D, H, W]`).
pub type ConvTranspose3d = ConvTranspose<3>;

impl<const D: usize> Default for ConvTranspose<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize> ConvTranspose<D> {
    /// Stride 1, no padding, no output padding, dilation 1, one group.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose2d::new();
    /// assert_eq!(cfg.output_dims(&[1, 1, 3, 3], &[1, 1, 2, 2])?, vec![1, 1, 4, 4]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn new() -> Self {
        Self {
            stride: [1; D],
            pad_begin: [0; D],
            pad_end: [0; D],
            output_padding: [0; D],
            dilation: [1; D],
            groups: 1,
            target: Target::Padding,
        }
    }

    /// Sets the stride.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose2d::new().stride([2, 1]);
    /// assert_eq!(cfg.output_dims(&[1, 1, 3, 3], &[1, 1, 2, 2])?, vec![1, 1, 6, 4]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn stride(mut self, stride: impl IntoAxes<D>) -> Self {
        self.stride = stride.into_axes();
        self
    }

    /// Sets symmetric padding (PyTorch `padding=`): `p` samples are cropped at each end.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().stride(2).padding(1);
    /// assert_eq!(cfg.output_dims(&[1, 1, 16], &[1, 1, 4])?, vec![1, 1, 32]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn padding(mut self, padding: impl IntoAxes<D>) -> Self {
        self.pad_begin = padding.into_axes();
        self.pad_end = self.pad_begin;
        self
    }

    /// Sets asymmetric padding (ONNX `pads`): `begin` cropped at the start, `end` at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().pads(0, 2);
    /// assert_eq!(cfg.output_dims(&[1, 1, 4], &[1, 1, 3])?, vec![1, 1, 4]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn pads(mut self, begin: impl IntoAxes<D>, end: impl IntoAxes<D>) -> Self {
        self.pad_begin = begin.into_axes();
        self.pad_end = end.into_axes();
        self
    }

    /// Sets the output padding: extra length at the end of each axis. It only selects more of
    /// the computed result; those samples get their normal contributions.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().stride(2).padding(1).output_padding(1);
    /// assert_eq!(cfg.output_dims(&[1, 1, 56], &[1, 1, 3])?, vec![1, 1, 112]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn output_padding(mut self, output_padding: impl IntoAxes<D>) -> Self {
        self.output_padding = output_padding.into_axes();
        self
    }

    /// Sets the dilation (spacing between kernel taps).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().dilation(2);
    /// assert_eq!(cfg.output_dims(&[1, 1, 4], &[1, 1, 3])?, vec![1, 1, 8]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn dilation(mut self, dilation: impl IntoAxes<D>) -> Self {
        self.dilation = dilation.into_axes();
        self
    }

    /// Sets the number of groups; `groups == C_in` with one output channel per group is a
    /// depthwise transposed convolution.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().groups(4);
    /// // weight [C_in, C_out/groups, K]: 4 groups of 2 output channels
    /// assert_eq!(cfg.output_dims(&[1, 4, 5], &[4, 2, 1])?, vec![1, 8, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The groups (set by [`groups`](Self::groups)).
    pub(crate) const fn groups_count(&self) -> usize {
        self.groups
    }

    /// Requests an exact output size per spatial axis, as PyTorch's
    /// `ConvTranspose{D}d.forward(x, output_size=...)`: the output padding is derived from it
    /// (and the configured output padding ignored). Valid sizes are
    /// [`shape::conv_transpose_size_range`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose2d::new().stride(2).padding(1).output_size([8, 7]);
    /// assert_eq!(cfg.output_dims(&[1, 1, 4, 4], &[1, 1, 3, 3])?, vec![1, 1, 8, 7]);
    /// let too_big = upconv::ConvTranspose2d::new().stride(2).padding(1).output_size([9, 7]);
    /// assert!(too_big.output_dims(&[1, 1, 4, 4], &[1, 1, 3, 3]).is_err());
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn output_size(mut self, size: [usize; D]) -> Self {
        self.target = Target::TorchSize(size);
        self
    }

    /// Sets ONNX's `auto_pad` (see [`shape::onnx_conv_transpose_pads`] for the split rules).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{AutoPad, ConvTranspose1d};
    /// let cfg = ConvTranspose1d::new().stride(2).auto_pad(AutoPad::SameUpper);
    /// assert_eq!(cfg.output_dims(&[1, 1, 3], &[1, 1, 3])?, vec![1, 1, 6]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn auto_pad(mut self, auto_pad: AutoPad) -> Self {
        let output_shape = match self.target {
            Target::Onnx { output_shape, .. } => output_shape,
            _ => None,
        };
        self.target = Target::Onnx {
            auto_pad,
            output_shape,
        };
        self
    }

    /// Sets ONNX's `output_shape` (spatial sizes); the pads are then derived from it and the
    /// configured ones ignored, with ONNX Runtime's split rule.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose1d::new().stride(2).onnx_output_shape([8]);
    /// // the full result has 7 samples; the 8th is a zero tail
    /// assert_eq!(cfg.output_dims(&[1, 1, 3], &[1, 1, 3])?, vec![1, 1, 8]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn onnx_output_shape(mut self, output_shape: [usize; D]) -> Self {
        let auto_pad = match self.target {
            Target::Onnx { auto_pad, .. } => auto_pad,
            _ => AutoPad::NotSet,
        };
        self.target = Target::Onnx {
            auto_pad,
            output_shape: Some(output_shape),
        };
        self
    }

    /// The per-axis parameters for a kernel of lengths `kernel`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = upconv::ConvTranspose2d::new().stride([2, 3]).axis_params(1, 4);
    /// assert_eq!((p.kernel, p.stride), (4, 3));
    /// ```
    pub fn axis_params(&self, axis: usize, kernel: usize) -> AxisParams {
        let a = axis.min(D.saturating_sub(1));
        AxisParams {
            kernel,
            stride: self.stride[a],
            dilation: self.dilation[a],
            pad_begin: self.pad_begin[a],
            pad_end: self.pad_end[a],
            output_padding: self.output_padding[a],
        }
    }

    /// The output shape for an input of shape `input` (`[N, C_in, L...]`) and a weight of shape
    /// `weight` (`[C_in, C_out/groups, K...]`).
    ///
    /// # Errors
    ///
    /// * [`Error::WrongRank`] when a shape does not have `D + 2` entries;
    /// * [`Error::ZeroGroups`], [`Error::GroupsDoNotDivide`], [`Error::ChannelMismatch`];
    /// * [`Error::EmptyDimension`] for zero channels, kernel or input lengths;
    /// * [`Error::ZeroParameter`] for zero stride or dilation;
    /// * [`Error::OutputPaddingTooLarge`], [`Error::EmptyOutput`],
    ///   [`Error::OutputSizeOutOfRange`], [`Error::Overflow`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::ConvTranspose2d::new().groups(3);
    /// assert!(cfg.output_dims(&[1, 4, 5, 5], &[4, 1, 3, 3]).is_err()); // 3 does not divide 4
    /// ```
    pub fn output_dims(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        let p = self.problem(input, weight)?;
        Ok(dense_dims::<D>(&p))
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
    /// let cfg = upconv::ConvTranspose2d::new().stride(2);
    /// let cost = cfg.cost(&[1, 1, 3, 3], &[1, 1, 2, 2], 4)?;
    /// assert_eq!(cost.multiply_adds, 36); // 9 input pixels x 4 taps, none cropped
    /// assert_eq!(cost.bytes_written, 36 * 4); // a 6x6 output
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn cost(&self, input: &[usize], weight: &[usize], elem_bytes: usize) -> Result<Cost> {
        let p = self.problem(input, weight)?;
        p.check_cost_taps()?;
        let eb = elem_bytes as u64;
        let x = (p.batch * p.strided_channels_total() * p.strided_plane()) as u64;
        let w = (p.strided_channels_total() * p.dense_channels * p.kernel_volume()) as u64;
        let b = p.dense_channels_total() as u64;
        let y = (p.batch * p.dense_channels_total()) as u64 * p.dense_plane() as u64;
        Ok(Cost {
            multiply_adds: p.multiply_adds(),
            parameters: w + b,
            bytes_read: (x + w + b).saturating_mul(eb),
            bytes_written: y.saturating_mul(eb),
            workspace_bytes: (crate::kernels::conv_transpose_workspace(&p, elem_bytes) as u64)
                .saturating_mul(eb),
        })
    }

    /// Validates everything and resolves the problem the kernels run.
    pub(crate) fn problem(&self, input: &[usize], weight: &[usize]) -> Result<Problem> {
        check_ranks::<D>(input, weight)?;
        if self.groups == 0 {
            return Err(Error::ZeroGroups);
        }
        check_nonzero("weight", weight)?;
        check_nonzero("input", &input[1..2])?;
        if input[1] != weight[0] {
            return Err(Error::ChannelMismatch {
                input: input[1],
                expected: weight[0],
            });
        }
        if input[1] % self.groups != 0 {
            return Err(Error::GroupsDoNotDivide {
                what: "input channels",
                channels: input[1],
                groups: self.groups,
            });
        }
        weight[1].checked_mul(self.groups).ok_or(Error::Overflow {
            what: "output channels",
        })?;
        let mut axes = [AxisMap::UNIT; 3];
        for a in 0..D {
            let p = self.axis_params(a, weight[2 + a]);
            let len = input[2 + a];
            let (out, pad_begin) = match self.target {
                Target::Padding => (
                    shape::conv_transpose_output_len(a, len, &p)?,
                    p.pad_begin as i64,
                ),
                Target::TorchSize(size) => {
                    shape::output_padding_for_size(a, len, &p, size[a])?;
                    (size[a], p.pad_begin as i64)
                }
                Target::Onnx {
                    auto_pad,
                    output_shape,
                } => {
                    let pads = shape::onnx_conv_transpose_pads(
                        a,
                        len,
                        &p,
                        auto_pad,
                        output_shape.map(|s| s[a]),
                    )?;
                    let full = shape::conv_transpose_output_len(a, len, &p.pads(0, 0))?;
                    let out = full as i128 - pads.begin as i128 - pads.end as i128;
                    (out as usize, pads.begin)
                }
            };
            axes[3 - D + a] = AxisMap {
                strided: len,
                dense: out,
                kernel: p.kernel,
                stride: p.stride,
                dilation: p.dilation,
                pad_begin,
            };
        }
        let p = Problem {
            batch: input[0],
            groups: self.groups,
            strided_channels: input[1] / self.groups,
            dense_channels: weight[1],
            axes,
        };
        check_size::<D>(&dense_dims::<D>(&p))?;
        p.check_extent()?;
        Ok(p)
    }
}

/// `[N, C, L...]` of the dense side.
pub(crate) fn dense_dims<const D: usize>(p: &Problem) -> Vec<usize> {
    let mut d = vec![p.batch, p.dense_channels_total()];
    d.extend(p.axes[3 - D..].iter().map(|a| a.dense));
    d
}

/// `[N, C, L...]` of the strided side.
pub(crate) fn strided_dims<const D: usize>(p: &Problem) -> Vec<usize> {
    let mut d = vec![p.batch, p.strided_channels_total()];
    d.extend(p.axes[3 - D..].iter().map(|a| a.strided));
    d
}

/// Both shapes have `D + 2` entries.
pub(crate) fn check_ranks<const D: usize>(input: &[usize], weight: &[usize]) -> Result<()> {
    for (what, s) in [("input shape", input), ("weight shape", weight)] {
        if s.len() != D + 2 {
            return Err(Error::WrongRank {
                what,
                expected: D + 2,
                got: s.len(),
            });
        }
    }
    Ok(())
}

/// Every entry of `dims` is non-zero.
pub(crate) fn check_nonzero(what: &'static str, dims: &[usize]) -> Result<()> {
    match dims.iter().position(|&d| d == 0) {
        Some(dim) => Err(Error::EmptyDimension {
            what,
            dim: if what == "input" { dim + 1 } else { dim },
        }),
        None => Ok(()),
    }
}

/// The element count fits in memory addressing.
pub(crate) fn check_size<const D: usize>(dims: &[usize]) -> Result<()> {
    // over the non-zero lengths, as ndarray requires even of an empty array
    let nonzero: Vec<usize> = dims.iter().copied().filter(|&d| d != 0).collect();
    let n = shape::checked_product(&nonzero, "output element count")?;
    if n > (isize::MAX as usize) / 8 {
        return Err(Error::Overflow {
            what: "output element count",
        });
    }
    Ok(())
}

/// A kernel: problem, strided-side input, weight, bias, dense-side output.
pub(crate) type Kernel<T> = fn(&Problem, &[T], &[T], Option<&[T]>, &mut [T]);

/// Validates the arrays, runs `kernel` and returns a new output.
pub(crate) fn run<T: Element, const D: usize, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    weight: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    cfg: &ConvTranspose<D>,
    kernel: Kernel<T>,
) -> Result<Array<T, Dm>> {
    let p = cfg.problem(input.shape(), weight.shape())?;
    let dims = dense_dims::<D>(&p);
    let w = crate::kernels::io::row_major(weight);
    crate::kernels::io::new_output(input, bias, &dims, |x, b, y| kernel(&p, x, &w, b, y))
}

/// Validates the arrays and runs `kernel` into `out`.
pub(crate) fn run_into<T: Element, const D: usize, Dm: Dimension>(
    input: &ArrayRef<T, Dm>,
    weight: &ArrayRef<T, Dm>,
    bias: Option<&ArrayRef1<T>>,
    cfg: &ConvTranspose<D>,
    out: &mut ArrayRef<T, Dm>,
    kernel: Kernel<T>,
) -> Result<()> {
    let p = cfg.problem(input.shape(), weight.shape())?;
    let dims = dense_dims::<D>(&p);
    let w = crate::kernels::io::row_major(weight);
    crate::kernels::io::into_output(input, bias, &dims, out, |x, b, y| kernel(&p, x, &w, b, y))
}

macro_rules! conv_transpose_fns {
    ($d:literal, $name:ident, $name_into:ident, $aref:ident, $arr:ident, $x:literal, $w:literal, $y:literal) => {
        #[doc = concat!("Transposed convolution of a ", $d, "-D input (PyTorch `F.conv_transpose", $d, "d`).")]
        ///
        /// Every input sample, times each kernel tap, is added into the output at
        /// `i*stride + k*dilation - pad_begin` on each axis; see [`ConvTranspose`] for the shapes
        /// and options, and [`crate::reference::conv_transpose`] for the plain definition this
        /// agrees with. Any array works: owned, views, non-contiguous or permuted views.
        ///
        /// # Errors
        ///
        /// * [`Error::ChannelMismatch`] when `input`'s channels differ from `weight`'s first dimension;
        /// * [`Error::GroupsDoNotDivide`], [`Error::ZeroGroups`];
        /// * [`Error::BiasLength`] when the bias is not `[C_out]`;
        /// * [`Error::EmptyDimension`], [`Error::ZeroParameter`], [`Error::OutputPaddingTooLarge`],
        ///   [`Error::EmptyOutput`], [`Error::OutputSizeOutOfRange`], [`Error::Overflow`]
        ///   for impossible shapes (see [`ConvTranspose::output_dims`]).
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("use ndarray::{", stringify!($arr), ", Array1};")]
        #[doc = concat!("let x = ", stringify!($arr), "::<f32>::ones(", $x, ");")]
        #[doc = concat!("let w = ", stringify!($arr), "::<f32>::ones(", $w, ");")]
        #[doc = concat!("let cfg = upconv::ConvTranspose", $d, "d::new().stride(2).padding(1);")]
        #[doc = concat!("let y = upconv::", stringify!($name), "(&x, &w, Some(&Array1::zeros(4)), &cfg)?;")]
        #[doc = concat!("assert_eq!(y.shape(), &", $y, ");")]
        /// # Ok::<(), upconv::Error>(())
        /// ```
        pub fn $name<T: Element>(
            input: &$aref<T>,
            weight: &$aref<T>,
            bias: Option<&ArrayRef1<T>>,
            cfg: &ConvTranspose<$d>,
        ) -> Result<$arr<T>> {
            run(input, weight, bias, cfg, crate::kernels::conv_transpose::<T>)
        }

        #[doc = concat!("[`", stringify!($name), "`] into a caller-provided output (its shape is checked).")]
        ///
        /// When `out` is contiguous the result is written in place with no output allocation;
        /// otherwise it is computed into a temporary and copied.
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
        #[doc = concat!("let cfg = upconv::ConvTranspose", $d, "d::new().stride(2).padding(1);")]
        #[doc = concat!("let mut y = ", stringify!($arr), "::<f64>::zeros(", $y, ");")]
        #[doc = concat!("upconv::", stringify!($name_into), "(&x, &w, None, &cfg, &mut y)?;")]
        /// assert!(y.iter().all(|&v| v > 0.0));
        /// # Ok::<(), upconv::Error>(())
        /// ```
        pub fn $name_into<T: Element>(
            input: &$aref<T>,
            weight: &$aref<T>,
            bias: Option<&ArrayRef1<T>>,
            cfg: &ConvTranspose<$d>,
            out: &mut $aref<T>,
        ) -> Result<()> {
            run_into(input, weight, bias, cfg, out, crate::kernels::conv_transpose::<T>)
        }
    };
}

conv_transpose_fns!(
    1,
    conv_transpose1d,
    conv_transpose1d_into,
    ArrayRef3,
    Array3,
    "(1, 2, 5)",
    "(2, 4, 4)",
    "[1, 4, 10]"
);
conv_transpose_fns!(
    2,
    conv_transpose2d,
    conv_transpose2d_into,
    ArrayRef4,
    Array4,
    "(1, 2, 5, 5)",
    "(2, 4, 4, 4)",
    "[1, 4, 10, 10]"
);
conv_transpose_fns!(
    3,
    conv_transpose3d,
    conv_transpose3d_into,
    ArrayRef5,
    Array5,
    "(1, 2, 3, 5, 5)",
    "(2, 4, 4, 4, 4)",
    "[1, 4, 6, 10, 10]"
);
