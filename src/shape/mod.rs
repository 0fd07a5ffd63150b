//! The Shape calculator: every size computation of the crate, with checked arithmetic.
//!
//! All functions here are pure functions over `usize`, with no tensors involved, so a user can
//! size buffers, validate a layer or compare costs without running anything. Every op of the
//! crate calls these same functions, so the shapes they report are the shapes the ops produce.
//!
//! Arithmetic is done in `i128` with checks, so no combination of inputs can overflow or
//! underflow: impossible sizes come back as [`Error`]s.
//!
//! Spatial axes are numbered from 0 (the first axis after `N, C`) in every error.

pub(crate) mod cost;
pub mod resize;

pub use cost::Cost;

use crate::error::{Error, Result};

/// Per-axis parameters of a convolution or transposed convolution.
///
/// `output_padding` only applies to transposed convolution; for a forward convolution it must
/// be 0.
///
/// # Examples
///
/// ```
/// use upconv::shape::{conv_transpose_output_len, AxisParams};
/// let p = AxisParams::new(4).stride(2).padding(1);
/// assert_eq!(conv_transpose_output_len(0, 16, &p)?, 32);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AxisParams {
    /// Kernel length (taps).
    pub kernel: usize,
    /// Stride, at least 1.
    pub stride: usize,
    /// Dilation (spacing between taps), at least 1.
    pub dilation: usize,
    /// Implicit zero padding at the start of the axis.
    pub pad_begin: usize,
    /// Implicit zero padding at the end of the axis.
    pub pad_end: usize,
    /// Extra length at the end of a transposed convolution's output.
    pub output_padding: usize,
}

impl AxisParams {
    /// Kernel of length `kernel`, stride 1, dilation 1, no padding.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = upconv::shape::AxisParams::new(3);
    /// assert_eq!((p.stride, p.dilation, p.pad_begin), (1, 1, 0));
    /// ```
    pub const fn new(kernel: usize) -> Self {
        Self {
            kernel,
            stride: 1,
            dilation: 1,
            pad_begin: 0,
            pad_end: 0,
            output_padding: 0,
        }
    }
    /// Sets the stride.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(upconv::shape::AxisParams::new(3).stride(2).stride, 2);
    /// ```
    pub const fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the dilation.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(upconv::shape::AxisParams::new(3).dilation(2).dilation, 2);
    /// ```
    pub const fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets symmetric padding (PyTorch's `padding=`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = upconv::shape::AxisParams::new(3).padding(1);
    /// assert_eq!((p.pad_begin, p.pad_end), (1, 1));
    /// ```
    pub const fn padding(mut self, pad: usize) -> Self {
        self.pad_begin = pad;
        self.pad_end = pad;
        self
    }
    /// Sets asymmetric padding (ONNX `pads`).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = upconv::shape::AxisParams::new(3).pads(0, 2);
    /// assert_eq!((p.pad_begin, p.pad_end), (0, 2));
    /// ```
    pub const fn pads(mut self, begin: usize, end: usize) -> Self {
        self.pad_begin = begin;
        self.pad_end = end;
        self
    }
    /// Sets the output padding (transposed convolution only).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(upconv::shape::AxisParams::new(3).output_padding(1).output_padding, 1);
    /// ```
    pub const fn output_padding(mut self, output_padding: usize) -> Self {
        self.output_padding = output_padding;
        self
    }

    /// `dilation * (kernel - 1)`, the distance from the first to the last tap (below 2^128,
    /// so it fits in `i128`... except at the very top, where it saturates and the caller's
    /// checked arithmetic reports the overflow).
    fn span(&self) -> i128 {
        (self.dilation as i128)
            .checked_mul(self.kernel as i128 - 1)
            .unwrap_or(i128::MAX)
    }
}

/// Checks `kernel`, `stride` and `dilation` are at least 1.
///
/// # Errors
///
/// [`Error::ZeroParameter`] naming the parameter and `axis`; [`Error::Overflow`] when a
/// parameter is above [`MAX_PARAMETER`].
///
/// # Examples
///
/// ```
/// use upconv::shape::{check_axis, AxisParams};
/// assert!(check_axis(0, &AxisParams::new(3)).is_ok());
/// assert!(check_axis(0, &AxisParams::new(3).stride(0)).is_err());
/// ```
pub fn check_axis(axis: usize, p: &AxisParams) -> Result<()> {
    for (name, v) in [
        ("kernel size", p.kernel),
        ("stride", p.stride),
        ("dilation", p.dilation),
    ] {
        if v == 0 {
            return Err(Error::ZeroParameter { name, axis });
        }
    }
    for v in [
        p.kernel,
        p.stride,
        p.dilation,
        p.pad_begin,
        p.pad_end,
        p.output_padding,
    ] {
        if v > MAX_PARAMETER {
            return Err(Error::Overflow {
                what: "a kernel size, stride, dilation or padding above 2^60",
            });
        }
    }
    Ok(())
}

/// Largest kernel size, stride, dilation or padding accepted: with every parameter at most
/// 2^60 and lengths at most `usize::MAX`, the `i128` length formulas cannot overflow.
pub const MAX_PARAMETER: usize = 1 << 60;

/// Converts a non-negative `i128` length to `usize`.
fn to_usize(v: i128, what: &'static str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::Overflow { what })
}

/// Output length of a forward convolution on one axis.
///
/// ```text
/// out = floor((in + pad_begin + pad_end - dilation*(kernel - 1) - 1) / stride) + 1
/// ```
///
/// # Errors
///
/// * [`Error::ZeroParameter`] when kernel, stride or dilation is 0;
/// * [`Error::InvalidOptions`] when `output_padding` is not 0;
/// * [`Error::KernelTooLarge`] when the dilated kernel does not fit in the padded input.
///
/// # Examples
///
/// ```
/// use upconv::shape::{conv_output_len, AxisParams};
/// // 7 samples, kernel 3, stride 2, padding 1: 4 outputs
/// assert_eq!(conv_output_len(0, 7, &AxisParams::new(3).stride(2).padding(1))?, 4);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn conv_output_len(axis: usize, input: usize, p: &AxisParams) -> Result<usize> {
    check_axis(axis, p)?;
    if p.output_padding != 0 {
        return Err(Error::InvalidOptions(
            "output_padding applies to transposed convolution only",
        ));
    }
    let padded = input as i128 + p.pad_begin as i128 + p.pad_end as i128;
    let extent = p.span().saturating_add(1);
    if extent > padded {
        return Err(Error::KernelTooLarge {
            axis,
            kernel_extent: extent as u128,
            padded_input: padded as u128,
        });
    }
    to_usize(
        (padded - extent) / p.stride as i128 + 1,
        "conv output length",
    )
}

/// Checks PyTorch's output-padding rule: `output_padding < stride || output_padding < dilation`.
///
/// # Errors
///
/// [`Error::OutputPaddingTooLarge`] when the rule is broken.
///
/// # Examples
///
/// ```
/// use upconv::shape::{check_output_padding, AxisParams};
/// assert!(check_output_padding(0, &AxisParams::new(3).stride(2).output_padding(1)).is_ok());
/// assert!(check_output_padding(0, &AxisParams::new(3).output_padding(1)).is_err());
/// // allowed because it is smaller than the dilation
/// assert!(check_output_padding(0, &AxisParams::new(3).dilation(3).output_padding(2)).is_ok());
/// ```
pub fn check_output_padding(axis: usize, p: &AxisParams) -> Result<()> {
    if p.output_padding >= p.stride && p.output_padding >= p.dilation {
        return Err(Error::OutputPaddingTooLarge {
            axis,
            output_padding: p.output_padding,
            stride: p.stride,
            dilation: p.dilation,
        });
    }
    Ok(())
}

/// The output length before output padding, `(in - 1)*stride - pads + dilation*(kernel - 1) + 1`,
/// which may be zero or negative.
fn transposed_base_len(input: usize, p: &AxisParams) -> Result<i128> {
    // |(in - 1)*stride| < 2^128 can still overflow i128, so multiply with a check; the sums of
    // a few values below 2^127 and 2^64 cannot.
    (input as i128 - 1)
        .checked_mul(p.stride as i128)
        .and_then(|v| v.checked_add(p.span()))
        .map(|v| (v - p.pad_begin as i128 - p.pad_end as i128).saturating_add(1))
        .ok_or(Error::Overflow {
            what: "transposed conv output length",
        })
}

/// Output length of a transposed convolution on one axis (PyTorch and ONNX agree).
///
/// ```text
/// out = (in - 1)*stride - pad_begin - pad_end + dilation*(kernel - 1) + output_padding + 1
/// ```
/// with `stride, dilation, kernel >= 1`, `output_padding < stride || output_padding < dilation`
/// and `out >= 1`.
///
/// # Errors
///
/// * [`Error::ZeroParameter`] when kernel, stride or dilation is 0;
/// * [`Error::OutputPaddingTooLarge`] when PyTorch's output-padding rule is broken;
/// * [`Error::EmptyDimension`] when `input` is 0;
/// * [`Error::EmptyOutput`] when the formula gives less than 1.
///
/// # Examples
///
/// ```
/// use upconv::shape::{conv_transpose_output_len, AxisParams};
/// let p = AxisParams::new(3).stride(2).padding(1).output_padding(1);
/// assert_eq!(conv_transpose_output_len(0, 56, &p)?, 112);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn conv_transpose_output_len(axis: usize, input: usize, p: &AxisParams) -> Result<usize> {
    check_axis(axis, p)?;
    check_output_padding(axis, p)?;
    if input == 0 {
        return Err(Error::EmptyDimension {
            what: "input",
            dim: axis.saturating_add(2),
        });
    }
    let len = transposed_base_len(input, p)? + p.output_padding as i128;
    if len < 1 {
        return Err(Error::EmptyOutput { axis, length: len });
    }
    to_usize(len, "transposed conv output length")
}

/// The output lengths PyTorch's `ConvTranspose*d.forward(x, output_size=...)` accepts on one axis.
///
/// ```text
/// min = (in - 1)*stride - pad_begin - pad_end + dilation*(kernel - 1) + 1
/// max = min + stride - 1          (stride only, not dilation: PyTorch's rule)
/// ```
/// `output_padding` of `p` is ignored, as PyTorch ignores the module's own value.
///
/// # Errors
///
/// * [`Error::ZeroParameter`] when kernel, stride or dilation is 0;
/// * [`Error::EmptyDimension`] when `input` is 0;
/// * [`Error::EmptyOutput`] when even `max` is below 1.
///
/// # Examples
///
/// ```
/// use upconv::shape::{conv_transpose_size_range, AxisParams};
/// let p = AxisParams::new(3).stride(2).padding(1);
/// assert_eq!(conv_transpose_size_range(0, 4, &p)?, 7..=8);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn conv_transpose_size_range(
    axis: usize,
    input: usize,
    p: &AxisParams,
) -> Result<std::ops::RangeInclusive<usize>> {
    check_axis(axis, p)?;
    if input == 0 {
        return Err(Error::EmptyDimension {
            what: "input",
            dim: axis.saturating_add(2),
        });
    }
    let min = transposed_base_len(input, p)?;
    let max = min + p.stride as i128 - 1;
    if max < 1 {
        return Err(Error::EmptyOutput { axis, length: max });
    }
    Ok(to_usize(min.max(1), "output size")?..=to_usize(max, "output size")?)
}

/// The output padding that makes a transposed convolution produce `requested` samples on one
/// axis (PyTorch's `output_size=` argument).
///
/// # Errors
///
/// * the errors of [`conv_transpose_size_range`];
/// * [`Error::OutputSizeOutOfRange`] when `requested` is outside that range.
///
/// # Examples
///
/// ```
/// use upconv::shape::{output_padding_for_size, AxisParams};
/// let p = AxisParams::new(3).stride(2).padding(1);
/// assert_eq!(output_padding_for_size(0, 4, &p, 8)?, 1);
/// assert!(output_padding_for_size(0, 4, &p, 9).is_err());
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn output_padding_for_size(
    axis: usize,
    input: usize,
    p: &AxisParams,
    requested: usize,
) -> Result<usize> {
    let range = conv_transpose_size_range(axis, input, p)?;
    let min = transposed_base_len(input, p)?;
    if !range.contains(&requested) {
        return Err(Error::OutputSizeOutOfRange {
            axis,
            requested,
            min: min.max(1),
            max: *range.end() as i128,
        });
    }
    to_usize(requested as i128 - min, "output padding")
}

/// ONNX `ConvTranspose` `auto_pad` attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoPad {
    /// `NOTSET`: use the explicit pads, or split for `output_shape` like `SAME_LOWER`
    /// (ONNX Runtime's rule).
    #[default]
    NotSet,
    /// `SAME_UPPER`: output length `in * stride`, the odd pad at the end.
    SameUpper,
    /// `SAME_LOWER`: output length `in * stride`, the odd pad at the beginning.
    SameLower,
    /// `VALID`: no padding.
    Valid,
}

/// Begin and end padding of one axis after resolving ONNX `auto_pad` / `output_shape`.
///
/// Either may be negative: a negative begin pad shifts the result right (leading zeros), a
/// negative end pad extends the output with zeros, as ONNX Runtime does when `output_shape`
/// is larger than the full result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignedPads {
    /// Padding removed at the start (negative: zeros added).
    pub begin: i64,
    /// Padding removed at the end (negative: zeros added).
    pub end: i64,
}

/// Resolves ONNX `ConvTranspose` padding on one axis, with ONNX Runtime's split rules.
///
/// ```text
/// target = output_shape, or in*stride for SAME_UPPER / SAME_LOWER
/// total  = stride*(in - 1) + output_padding + dilation*(kernel - 1) + 1 - target
/// SAME_UPPER:           begin = floor(total/2), end = total - begin
/// SAME_LOWER or NOTSET: end = floor(total/2),   begin = total - end
/// total < 0 (target longer than the full result): begin = 0, end = total (zeros at the
///   end) for an output_shape; 0, 0 (the full result) for SAME_* without one, as ONNX Runtime
///   clamps that total to 0
/// VALID (no output_shape): 0, 0;  NOTSET (no output_shape): the pads of `p`
/// target may exceed the full result by at most stride - 1 (ONNX Runtime's limit)
/// ```
///
/// # Errors
///
/// * [`Error::ZeroParameter`], [`Error::OutputPaddingTooLarge`] for invalid parameters;
/// * [`Error::InvalidOptions`] when `output_padding >= stride` (ONNX Runtime rejects it even
///   below the dilation, which PyTorch allows);
/// * [`Error::EmptyOutput`] when `output_shape` is 0 or the pads leave nothing;
/// * [`Error::OutputSizeOutOfRange`] when `output_shape` exceeds the full result by `stride` or more;
/// * [`Error::Overflow`] for absurd sizes.
///
/// # Examples
///
/// ```
/// use upconv::shape::{onnx_conv_transpose_pads, AutoPad, AxisParams, SignedPads};
/// let p = AxisParams::new(3).stride(2);
/// // in=3 gives a full length of 7; SAME_UPPER keeps 6 and drops the last sample
/// assert_eq!(onnx_conv_transpose_pads(0, 3, &p, AutoPad::SameUpper, None)?,
///            SignedPads { begin: 0, end: 1 });
/// assert_eq!(onnx_conv_transpose_pads(0, 3, &p, AutoPad::SameLower, None)?,
///            SignedPads { begin: 1, end: 0 });
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn onnx_conv_transpose_pads(
    axis: usize,
    input: usize,
    p: &AxisParams,
    auto_pad: AutoPad,
    output_shape: Option<usize>,
) -> Result<SignedPads> {
    check_axis(axis, p)?;
    check_output_padding(axis, p)?;
    if p.output_padding >= p.stride {
        // ONNX Runtime checks that the output maps back to the input length, which holds
        // only when output_padding < stride (PyTorch also allows output_padding < dilation)
        return Err(Error::InvalidOptions(
            "ONNX ConvTranspose (auto_pad or output_shape) needs output padding smaller than the stride",
        ));
    }
    if input == 0 {
        return Err(Error::EmptyDimension {
            what: "input",
            dim: axis.saturating_add(2),
        });
    }
    let target = match (auto_pad, output_shape) {
        (_, Some(t)) => Some(t as i128),
        (AutoPad::SameUpper | AutoPad::SameLower, None) => Some(input as i128 * p.stride as i128),
        _ => None,
    };
    let (begin, end) = match target {
        Some(t) => {
            if t < 1 {
                return Err(Error::EmptyOutput { axis, length: t });
            }
            let full = transposed_base_len(input, &p.pads(0, 0))? + p.output_padding as i128;
            // ONNX Runtime accepts at most `stride - 1` samples beyond the full result.
            let max = full - p.output_padding as i128 + p.stride as i128 - 1;
            if t > max {
                return Err(Error::OutputSizeOutOfRange {
                    axis,
                    requested: t as usize,
                    min: 1,
                    max,
                });
            }
            let total = full - t;
            let half = total.div_euclid(2);
            if total < 0 && output_shape.is_none() {
                // SAME_* with a full result shorter than in*stride: ONNX Runtime clamps the
                // total padding to 0 and returns the full result
                (0, 0)
            } else if total < 0 {
                // a longer output_shape is never split: all the zeros go at the end
                (0, total)
            } else if auto_pad == AutoPad::SameUpper {
                (half, total - half)
            } else {
                (total - half, half)
            }
        }
        None if auto_pad == AutoPad::Valid => (0, 0),
        None => (p.pad_begin as i128, p.pad_end as i128),
    };
    let len = transposed_base_len(input, &p.pads(0, 0))? + p.output_padding as i128 - begin - end;
    if len < 1 {
        return Err(Error::EmptyOutput { axis, length: len });
    }
    let conv = |v: i128| i64::try_from(v).map_err(|_| Error::Overflow { what: "pads" });
    Ok(SignedPads {
        begin: conv(begin)?,
        end: conv(end)?,
    })
}

/// `a * b` for shapes, with an error instead of overflow.
pub(crate) fn checked_product(dims: &[usize], what: &'static str) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(Error::Overflow { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Case {
        input: usize,
        p: AxisParams,
        expected: Result<usize>,
    }

    #[test]
    fn transposed_lengths_table() {
        let cases = [
            Case {
                input: 3,
                p: AxisParams::new(2),
                expected: Ok(4),
            },
            Case {
                input: 3,
                p: AxisParams::new(2).stride(2),
                expected: Ok(6),
            },
            Case {
                input: 5,
                p: AxisParams::new(3).padding(3),
                expected: Ok(1),
            },
            Case {
                input: 5,
                p: AxisParams::new(3).padding(4),
                expected: Err(Error::EmptyOutput {
                    axis: 0,
                    length: -1,
                }),
            },
            Case {
                input: 4,
                p: AxisParams::new(3).dilation(3).output_padding(2),
                expected: Ok(12),
            },
            Case {
                input: 4,
                p: AxisParams::new(3).stride(2).output_padding(2),
                expected: Err(Error::OutputPaddingTooLarge {
                    axis: 0,
                    output_padding: 2,
                    stride: 2,
                    dilation: 1,
                }),
            },
            Case {
                input: 0,
                p: AxisParams::new(3),
                expected: Err(Error::EmptyDimension {
                    what: "input",
                    dim: 2,
                }),
            },
            Case {
                input: 3,
                p: AxisParams::new(0),
                expected: Err(Error::ZeroParameter {
                    name: "kernel size",
                    axis: 0,
                }),
            },
            Case {
                input: usize::MAX,
                p: AxisParams::new(3).stride(usize::MAX),
                expected: Err(Error::Overflow {
                    what: "a kernel size, stride, dilation or padding above 2^60",
                }),
            },
            Case {
                input: usize::MAX,
                p: AxisParams::new(3).stride(MAX_PARAMETER),
                expected: Err(Error::Overflow {
                    what: "transposed conv output length",
                }),
            },
        ];
        for case in cases {
            assert_eq!(
                conv_transpose_output_len(0, case.input, &case.p),
                case.expected,
                "{case:?}"
            );
        }
    }

    #[test]
    fn conv_lengths_table() {
        assert_eq!(conv_output_len(0, 5, &AxisParams::new(3)), Ok(3));
        assert_eq!(conv_output_len(0, 5, &AxisParams::new(3).stride(2)), Ok(2));
        assert_eq!(conv_output_len(0, 1, &AxisParams::new(1).pads(2, 3)), Ok(6));
        assert!(matches!(
            conv_output_len(1, 2, &AxisParams::new(3)),
            Err(Error::KernelTooLarge { axis: 1, .. })
        ));
        assert!(conv_output_len(0, usize::MAX, &AxisParams::new(1).padding(usize::MAX)).is_err());
    }

    #[test]
    fn onnx_pads_follow_runtime_split() {
        // numbers from semantics.md section 1.5 (ONNX Runtime 1.32)
        let p = AxisParams::new(3).stride(2);
        let r = |ap, os| onnx_conv_transpose_pads(0, 3, &p, ap, os).unwrap();
        assert_eq!(r(AutoPad::NotSet, Some(6)), SignedPads { begin: 1, end: 0 });
        assert_eq!(
            r(AutoPad::NotSet, Some(8)),
            SignedPads { begin: 0, end: -1 }
        );
        assert_eq!(
            r(AutoPad::SameUpper, Some(8)),
            SignedPads { begin: 0, end: -1 }
        );
        assert!(r(AutoPad::NotSet, Some(8)) != r(AutoPad::NotSet, Some(6)));
        assert!(onnx_conv_transpose_pads(0, 3, &p, AutoPad::NotSet, Some(9)).is_err());
        assert_eq!(r(AutoPad::Valid, None), SignedPads { begin: 0, end: 0 });
    }
}
