//! Output sizes of upsampling / resizing (PyTorch `interpolate`, ONNX `Resize`).
//!
//! Pure functions over `usize` / `f64` with checked arithmetic: they never panic, and every
//! op of [`crate::upsample1d`] .. [`crate::resize`] calls them, so the shapes they report are
//! the shapes the ops produce.

use crate::error::{Error, Result};

/// Largest length accepted for one axis (`i64::MAX`, as PyTorch and ONNX store sizes in `i64`).
const MAX_LEN: f64 = 9.223_372_036_854_775e18;

/// Checks a user scale factor: finite and greater than 0.
///
/// # Errors
///
/// [`Error::InvalidScale`] naming `axis`.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::check_scale;
/// assert!(check_scale(0, 1.5).is_ok());
/// assert!(check_scale(1, f64::NAN).is_err());
/// assert!(check_scale(1, 0.0).is_err());
/// ```
pub fn check_scale(axis: usize, scale: f64) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidScale { axis, scale })
    }
}

/// PyTorch's output length for a `scale_factor` on one spatial axis.
///
/// ```text
/// out = floor(f64(in) * scale)          (C++ trunc of a positive double)
/// ```
///
/// # Errors
///
/// * [`Error::InvalidScale`] when `scale` is not finite and positive;
/// * [`Error::EmptyDimension`] when `input` is 0;
/// * [`Error::EmptyOutput`] when the product is below 1;
/// * [`Error::Overflow`] when it does not fit in `i64`.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::scaled_len;
/// assert_eq!(scaled_len(0, 5, 1.7)?, 8);
/// assert_eq!(scaled_len(0, 88, 120.0 / 88.0)?, 119); // f64 rounding, as in PyTorch
/// assert!(scaled_len(0, 3, 0.2).is_err());
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn scaled_len(axis: usize, input: usize, scale: f64) -> Result<usize> {
    check_scale(axis, scale)?;
    if input == 0 {
        return Err(Error::EmptyDimension {
            what: "input",
            dim: axis.saturating_add(2),
        });
    }
    let v = (input as f64 * scale).floor();
    if v.is_nan() || v >= MAX_LEN {
        return Err(Error::Overflow {
            what: "upsample output length",
        });
    }
    if v < 1.0 {
        return Err(Error::EmptyOutput { axis, length: 0 });
    }
    Ok(v as usize)
}

/// Output shape of PyTorch `F.interpolate` for an input `[N, C, spatial...]`.
///
/// Exactly one of `size` and `scale` must be given, with one entry per spatial axis.
/// `size` is used as is; `scale` gives `floor(in * scale)` per axis ([`scaled_len`]).
///
/// # Errors
///
/// * [`Error::InvalidOptions`] when both or neither of `size` and `scale` are given;
/// * [`Error::WrongRank`] when the input has fewer than 3 dimensions or the target's length
///   is not the number of spatial axes;
/// * [`Error::EmptyDimension`] when a channel or spatial input dimension is 0 (a batch of 0
///   gives an empty output, as in PyTorch);
/// * [`Error::EmptyOutput`] when a size is 0 or a scale gives 0;
/// * [`Error::InvalidScale`], [`Error::Overflow`] from [`scaled_len`];
/// * [`Error::Overflow`] when the output element count overflows `usize`.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::interpolate_output_dims;
/// assert_eq!(interpolate_output_dims(&[1, 3, 4, 5], None, Some(&[2.0, 1.5]))?, vec![1, 3, 8, 7]);
/// assert_eq!(interpolate_output_dims(&[1, 3, 4], Some(&[9]), None)?, vec![1, 3, 9]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn interpolate_output_dims(
    input: &[usize],
    size: Option<&[usize]>,
    scale: Option<&[f64]>,
) -> Result<Vec<usize>> {
    interpolate_dims(input, size, scale, false)
}

/// [`interpolate_output_dims`], with zero-length output axes allowed when `allow_empty`
/// (PyTorch's `mode="area"`, which is adaptive average pooling, returns an empty tensor
/// there instead of raising).
pub(crate) fn interpolate_dims(
    input: &[usize],
    size: Option<&[usize]>,
    scale: Option<&[f64]>,
    allow_empty: bool,
) -> Result<Vec<usize>> {
    if input.len() < 3 {
        return Err(Error::WrongRank {
            what: "interpolate input shape [N, C, spatial...]",
            expected: 3,
            got: input.len(),
        });
    }
    let spatial = input.len() - 2;
    // a batch of 0 is allowed (an empty output), as in PyTorch; channels and spatial axes
    // must not be empty
    for (dim, &d) in input.iter().enumerate().skip(1) {
        if d == 0 {
            return Err(Error::EmptyDimension { what: "input", dim });
        }
    }
    let mut out = input.to_vec();
    match (size, scale) {
        (Some(size), None) => {
            if size.len() != spatial {
                return Err(Error::WrongRank {
                    what: "size",
                    expected: spatial,
                    got: size.len(),
                });
            }
            for (axis, &s) in size.iter().enumerate() {
                if s == 0 && !allow_empty {
                    return Err(Error::EmptyOutput { axis, length: 0 });
                }
                out[axis + 2] = s;
            }
        }
        (None, Some(scale)) => {
            if scale.len() != spatial {
                return Err(Error::WrongRank {
                    what: "scale factor",
                    expected: spatial,
                    got: scale.len(),
                });
            }
            for (axis, &s) in scale.iter().enumerate() {
                out[axis + 2] = match scaled_len(axis, input[axis + 2], s) {
                    Err(Error::EmptyOutput { .. }) if allow_empty => 0,
                    other => other?,
                };
            }
        }
        _ => {
            return Err(Error::InvalidOptions(
                "exactly one of size and scale factor must be given",
            ))
        }
    }
    super::checked_product(&out, "upsample output element count")?;
    Ok(out)
}

/// Start and end (exclusive) of PyTorch's adaptive-average-pool bin `o` (`mode="area"`).
///
/// ```text
/// start = floor(o * in / out),   end = ceil((o + 1) * in / out)
/// ```
///
/// # Errors
///
/// * [`Error::InvalidOptions`] when `input` or `output` is 0;
/// * [`Error::Overflow`] when `(o + 1) * in` overflows.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::area_bin;
/// assert_eq!(area_bin(0, 5, 3)?, (0, 2));
/// assert_eq!(area_bin(1, 5, 3)?, (1, 4));
/// assert_eq!(area_bin(2, 5, 3)?, (3, 5));
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn area_bin(o: usize, input: usize, output: usize) -> Result<(usize, usize)> {
    if input == 0 || output == 0 {
        return Err(Error::InvalidOptions(
            "area bins need non-zero input and output lengths",
        ));
    }
    let ov = Error::Overflow {
        what: "area bin bounds",
    };
    let start = o.checked_mul(input).ok_or(ov.clone())? / output;
    let end = o
        .checked_add(1)
        .and_then(|e| e.checked_mul(input))
        .ok_or(ov)?
        .div_ceil(output);
    Ok((start, end))
}

/// ONNX `Resize` `keep_aspect_ratio_policy` (used with `sizes` only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AspectRatioPolicy {
    /// `stretch` (default): the sizes are used as given.
    #[default]
    Stretch,
    /// `not_larger`: one scale `s = min(sizes_i / in_i)` for every listed axis,
    /// `out_i = round(s * in_i)`; the result fits inside `sizes`.
    NotLarger,
    /// `not_smaller`: one scale `s = max(sizes_i / in_i)`; the result covers `sizes`.
    NotSmaller,
}

/// Output shape and per-axis scales of an ONNX `Resize`, as ONNX Runtime resolves them.
#[derive(Clone, Debug, PartialEq)]
pub struct ResizeDims {
    /// Output shape (full rank).
    pub output: Vec<usize>,
    /// Scale of every axis (`out / in` in ONNX's sense, 1 on axes not resized), as the `f32`
    /// value ONNX Runtime computes with, widened to `f64`.
    pub scales: Vec<f64>,
    /// The resized axes, normalised to `0..rank` (all axes when `axes` was not given).
    pub axes: Vec<usize>,
}

/// Normalises ONNX `axes` (negative values count from the end) and checks them.
///
/// # Errors
///
/// * [`Error::AxisOutOfRange`] for an axis outside `[-rank, rank)`;
/// * [`Error::DuplicateAxis`] when an axis appears twice.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::normalize_axes;
/// assert_eq!(normalize_axes(&[-1, 1], 4)?, vec![3, 1]);
/// assert!(normalize_axes(&[4], 4).is_err());
/// assert!(normalize_axes(&[1, -3], 4).is_err());
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn normalize_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let r = rank as i128;
    let mut out: Vec<usize> = Vec::with_capacity(axes.len());
    for &a in axes {
        let v = a as i128;
        let n = if v < 0 { v + r } else { v };
        if n < 0 || n >= r {
            return Err(Error::AxisOutOfRange { axis: a, rank });
        }
        let n = n as usize;
        if out.contains(&n) {
            return Err(Error::DuplicateAxis { axis: n });
        }
        out.push(n);
    }
    Ok(out)
}

/// Output shape of ONNX `Resize` (opset 19), with ONNX Runtime's arithmetic.
///
/// `scales` / `sizes` have one entry per listed axis (`axes`, default all). Scales are ONNX
/// `float` values, so they are rounded to `f32` first.
///
/// ```text
/// scales:  out_i = trunc(f32(scale_i) * f32(in_i))                      (f32 product, as ORT)
/// sizes:   stretch:      out_i = sizes_i,   scale_i = f32(out_i) / f32(in_i)
///          not_larger:   s = min_i f32(sizes_i)/f32(in_i);  out_i = round(s * in_i), scale_i = s
///          not_smaller:  s = max_i ...
/// ```
///
/// # Errors
///
/// * [`Error::InvalidOptions`] when both or neither of `scales` and `sizes` are given, or a
///   policy other than stretch is used with `scales`;
/// * [`Error::AxisOutOfRange`], [`Error::DuplicateAxis`] for bad `axes`;
/// * [`Error::WrongRank`] when `scales` / `sizes` do not have one entry per axis;
/// * [`Error::EmptyDimension`] when `sizes` resizes an axis of length 0;
/// * [`Error::InvalidScale`] for a non-finite or non-positive scale;
/// * [`Error::EmptyOutput`] when a `sizes` entry is 0 (a scale or the aspect-ratio rounding
///   may give length 0: an empty output, as in ONNX Runtime);
/// * [`Error::Overflow`] when a length or the element count overflows.
///
/// # Examples
///
/// ```
/// use upconv::shape::resize::{onnx_resize_dims, AspectRatioPolicy};
/// let d = onnx_resize_dims(&[1, 1, 4, 6], None, Some(&[5, 5]), Some(&[2, 3]),
///                          AspectRatioPolicy::NotLarger)?;
/// assert_eq!(d.output, vec![1, 1, 3, 5]);
/// let d = onnx_resize_dims(&[1, 1, 5], Some(&[1.0, 1.0, 1.7]), None, None,
///                          AspectRatioPolicy::Stretch)?;
/// assert_eq!(d.output, vec![1, 1, 8]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn onnx_resize_dims(
    input: &[usize],
    scales: Option<&[f64]>,
    sizes: Option<&[usize]>,
    axes: Option<&[i64]>,
    policy: AspectRatioPolicy,
) -> Result<ResizeDims> {
    let rank = input.len();
    let axes = match axes {
        Some(a) => normalize_axes(a, rank)?,
        None => (0..rank).collect(),
    };
    let mut output = input.to_vec();
    let mut out_scales = vec![1.0f64; rank];
    // a computed (already truncated or rounded) length must be finite and fit; 0 is allowed
    // (ONNX Runtime returns an empty tensor when a scale or the aspect-ratio rounding gives 0)
    let checked_len = |len: f32| -> Result<usize> {
        if len.is_nan() || f64::from(len) >= MAX_LEN {
            return Err(Error::Overflow {
                what: "resize output length",
            });
        }
        Ok(len as usize)
    };
    match (scales, sizes) {
        (Some(scales), None) => {
            if scales.len() != axes.len() {
                return Err(Error::WrongRank {
                    what: "scales",
                    expected: axes.len(),
                    got: scales.len(),
                });
            }
            if policy != AspectRatioPolicy::Stretch {
                return Err(Error::InvalidOptions(
                    "keep_aspect_ratio_policy applies to sizes only",
                ));
            }
            for (&ax, &s) in axes.iter().zip(scales) {
                check_scale(ax, s)?;
                let s32 = s as f32;
                if s32.is_nan() || s32 <= 0.0 || !s32.is_finite() {
                    return Err(Error::InvalidScale { axis: ax, scale: s });
                }
                output[ax] = checked_len((s32 * input[ax] as f32).trunc())?;
                out_scales[ax] = f64::from(s32);
            }
        }
        (None, Some(sizes)) => {
            if sizes.len() != axes.len() {
                return Err(Error::WrongRank {
                    what: "sizes",
                    expected: axes.len(),
                    got: sizes.len(),
                });
            }
            for (&ax, &s) in axes.iter().zip(sizes) {
                // ORT derives the scale s / in, which must be positive and finite
                if input[ax] == 0 {
                    return Err(Error::EmptyDimension {
                        what: "input",
                        dim: ax,
                    });
                }
                if s == 0 {
                    return Err(Error::EmptyOutput {
                        axis: ax,
                        length: 0,
                    });
                }
                output[ax] = s;
                out_scales[ax] = f64::from(s as f32 / input[ax] as f32);
            }
            if policy != AspectRatioPolicy::Stretch {
                let ratios = axes.iter().map(|&ax| out_scales[ax] as f32);
                let s = if policy == AspectRatioPolicy::NotLarger {
                    ratios.fold(f32::MAX, f32::min)
                } else {
                    ratios.fold(f32::MIN_POSITIVE, f32::max)
                };
                for &ax in &axes {
                    output[ax] = checked_len((s * input[ax] as f32).round())?;
                    out_scales[ax] = f64::from(s);
                }
            }
        }
        _ => {
            return Err(Error::InvalidOptions(
                "exactly one of scales and sizes must be given",
            ))
        }
    }
    super::checked_product(&output, "resize output element count")?;
    Ok(ResizeDims {
        output,
        scales: out_scales,
        axes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytorch_lengths() {
        assert_eq!(scaled_len(0, 4, 2.2), Ok(8));
        assert_eq!(scaled_len(0, 3, 0.5), Ok(1));
        assert_eq!(
            scaled_len(1, 3, 0.3),
            Err(Error::EmptyOutput { axis: 1, length: 0 })
        );
        assert_eq!(
            scaled_len(0, 3, -1.0),
            Err(Error::InvalidScale {
                axis: 0,
                scale: -1.0
            })
        );
        assert!(matches!(
            scaled_len(0, usize::MAX, 4.0),
            Err(Error::Overflow { .. })
        ));
        assert!(interpolate_output_dims(&[1, 2, 3], None, None).is_err());
        assert!(interpolate_output_dims(&[1, 2, 3], Some(&[2]), Some(&[2.0])).is_err());
        assert!(interpolate_output_dims(&[1, 0, 3], Some(&[2]), None).is_err());
        assert!(interpolate_output_dims(&[1, 2], Some(&[2]), None).is_err());
        assert!(interpolate_output_dims(&[1, 2, 3, 3], Some(&[2]), None).is_err());
        assert!(interpolate_output_dims(&[usize::MAX, 2, 3], Some(&[usize::MAX]), None).is_err());
    }

    #[test]
    fn onnx_lengths() {
        let d = onnx_resize_dims(
            &[1, 1, 4, 6],
            None,
            Some(&[5, 5]),
            Some(&[-2, -1]),
            AspectRatioPolicy::NotSmaller,
        )
        .unwrap();
        assert_eq!(d.output, vec![1, 1, 5, 8]);
        assert_eq!(d.axes, vec![2, 3]);
        assert!(onnx_resize_dims(&[1, 4], None, None, None, AspectRatioPolicy::Stretch).is_err());
        assert!(onnx_resize_dims(
            &[1, 4],
            Some(&[1.0, 2.0]),
            Some(&[1, 8]),
            None,
            AspectRatioPolicy::Stretch
        )
        .is_err());
        assert_eq!(
            onnx_resize_dims(
                &[1, 4],
                Some(&[2.0]),
                None,
                Some(&[1, 1]),
                AspectRatioPolicy::Stretch
            ),
            Err(Error::DuplicateAxis { axis: 1 })
        );
        assert!(onnx_resize_dims(
            &[1, 4],
            Some(&[2.0]),
            None,
            None,
            AspectRatioPolicy::Stretch
        )
        .is_err());
        assert!(onnx_resize_dims(
            &[1, 4],
            Some(&[1.0, 1e30]),
            None,
            None,
            AspectRatioPolicy::Stretch
        )
        .is_err());
    }
}
