//! Pixel shuffle (depth to space) and pixel unshuffle (space to depth), PyTorch layout.

use ndarray::{Array4, ArrayRef4};

use super::{contiguous, write_output};
use crate::element::Element;
use crate::error::{Error, Result};

/// Output shape of `pixel_shuffle`: `[N, C*r*r, H, W] -> [N, C, H*r, W*r]`.
fn shuffle_dims(input: &[usize], r: usize) -> Result<[usize; 4]> {
    if r == 0 {
        return Err(Error::ZeroParameter {
            name: "upscale factor",
            axis: 0,
        });
    }
    let ov = || Error::Overflow {
        what: "pixel shuffle output shape",
    };
    let rr = r.checked_mul(r).ok_or_else(ov)?;
    let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
    if c % rr != 0 {
        return Err(Error::ShuffleChannels {
            channels: c,
            divisor: rr,
        });
    }
    let out = [
        n,
        c / rr,
        h.checked_mul(r).ok_or_else(ov)?,
        w.checked_mul(r).ok_or_else(ov)?,
    ];
    super::check_bytes::<f64>(&out)?;
    Ok(out)
}

/// Output shape of `pixel_unshuffle`: `[N, C, H*r, W*r] -> [N, C*r*r, H, W]`.
fn unshuffle_dims(input: &[usize], r: usize) -> Result<[usize; 4]> {
    if r == 0 {
        return Err(Error::ZeroParameter {
            name: "downscale factor",
            axis: 0,
        });
    }
    for axis in 0..2 {
        if input[axis + 2] % r != 0 {
            return Err(Error::ShuffleSpatial {
                axis,
                length: input[axis + 2],
                factor: r,
            });
        }
    }
    let rr = r.checked_mul(r).ok_or(Error::Overflow {
        what: "pixel unshuffle output shape",
    })?;
    let c = input[1].checked_mul(rr).ok_or(Error::Overflow {
        what: "pixel unshuffle output shape",
    })?;
    let out = [input[0], c, input[2] / r, input[3] / r];
    super::check_bytes::<f64>(&out)?;
    Ok(out)
}

/// Rearranges `[N, C*r*r, H, W]` into `[N, C, H*r, W*r]` (PyTorch `F.pixel_shuffle`, ONNX
/// `DepthToSpace` with `mode="CRD"`), the sub-pixel convolution output stage.
///
/// ```text
/// out[n, c, h*r + i, w*r + j] = in[n, c*r*r + i*r + j, h, w]
/// ```
///
/// # Errors
///
/// * [`Error::ZeroParameter`] when `upscale_factor` is 0;
/// * [`Error::ShuffleChannels`] when the channels are not a multiple of `r*r`;
/// * [`Error::Overflow`] when the output shape overflows.
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::from_shape_vec((1, 4, 1, 1), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// let y = upconv::pixel_shuffle(&x, 2)?;
/// assert_eq!(y.shape(), &[1, 1, 2, 2]);
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn pixel_shuffle<T: Element>(input: &ArrayRef4<T>, upscale_factor: usize) -> Result<Array4<T>> {
    let d = shuffle_dims(input.shape(), upscale_factor)?;
    let mut out = Array4::zeros(d);
    pixel_shuffle_into(input, upscale_factor, &mut out)?;
    Ok(out)
}

/// [`pixel_shuffle`] into a caller-provided array of shape `[N, C, H*r, W*r]`.
///
/// # Errors
///
/// * the errors of [`pixel_shuffle`];
/// * [`Error::OutputShapeMismatch`] when `out` has the wrong shape.
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::<f64>::ones((2, 9, 2, 3));
/// let mut y = Array4::<f64>::zeros((2, 1, 6, 9));
/// upconv::pixel_shuffle_into(&x, 3, &mut y)?;
/// assert!(y.iter().all(|&v| v == 1.0));
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn pixel_shuffle_into<T: Element>(
    input: &ArrayRef4<T>,
    upscale_factor: usize,
    out: &mut ArrayRef4<T>,
) -> Result<()> {
    let r = upscale_factor;
    let d = shuffle_dims(input.shape(), r)?;
    let [n, c, oh, ow] = d;
    let (h, w) = (oh / r, ow / r);
    let src = contiguous(input);
    write_output(out, &d, |dst| {
        // one output row (h*r + i) interleaves row h of the r channels c*r*r + i*r + j
        let plane_in = h * w;
        for (b, dst_nc) in dst.chunks_exact_mut(oh * ow).enumerate() {
            let (bn, bc) = (b / c.max(1), b % c.max(1));
            let base = (bn * c * r * r + bc * r * r) * plane_in;
            for (orow, drow) in dst_nc.chunks_exact_mut(ow).enumerate() {
                let (hh, i) = (orow / r, orow % r);
                for j in 0..r {
                    let s = &src[base + (i * r + j) * plane_in + hh * w..][..w];
                    for (dd, &v) in drow[j..].iter_mut().step_by(r).zip(s) {
                        *dd = v;
                    }
                }
            }
        }
        let _ = n;
    })
}

/// Rearranges `[N, C, H*r, W*r]` into `[N, C*r*r, H, W]` (PyTorch `F.pixel_unshuffle`, ONNX
/// `SpaceToDepth`-like with PyTorch's channel order); the inverse of [`pixel_shuffle`].
///
/// ```text
/// out[n, c*r*r + i*r + j, h, w] = in[n, c, h*r + i, w*r + j]
/// ```
///
/// # Errors
///
/// * [`Error::ZeroParameter`] when `downscale_factor` is 0;
/// * [`Error::ShuffleSpatial`] when `H*r` or `W*r` is not a multiple of `r`;
/// * [`Error::Overflow`] when the channel count overflows.
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::from_shape_vec((1, 1, 2, 2), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// let y = upconv::pixel_unshuffle(&x, 2)?;
/// assert_eq!(y.shape(), &[1, 4, 1, 1]);
/// assert_eq!(upconv::pixel_shuffle(&y, 2)?, x);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn pixel_unshuffle<T: Element>(
    input: &ArrayRef4<T>,
    downscale_factor: usize,
) -> Result<Array4<T>> {
    let d = unshuffle_dims(input.shape(), downscale_factor)?;
    let mut out = Array4::zeros(d);
    pixel_unshuffle_into(input, downscale_factor, &mut out)?;
    Ok(out)
}

/// [`pixel_unshuffle`] into a caller-provided array of shape `[N, C*r*r, H, W]`.
///
/// # Errors
///
/// * the errors of [`pixel_unshuffle`];
/// * [`Error::OutputShapeMismatch`] when `out` has the wrong shape.
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::<f32>::ones((1, 2, 4, 4));
/// let mut y = Array4::<f32>::zeros((1, 8, 2, 2));
/// upconv::pixel_unshuffle_into(&x, 2, &mut y)?;
/// assert!(upconv::pixel_unshuffle_into(&x, 2, &mut Array4::zeros((1, 8, 2, 3))).is_err());
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn pixel_unshuffle_into<T: Element>(
    input: &ArrayRef4<T>,
    downscale_factor: usize,
    out: &mut ArrayRef4<T>,
) -> Result<()> {
    let r = downscale_factor;
    let d = unshuffle_dims(input.shape(), r)?;
    let [_, oc, h, w] = d;
    let (ih, iw) = (h * r, w * r);
    let c = oc / (r * r);
    let src = contiguous(input);
    write_output(out, &d, |dst| {
        for (b, dst_c) in dst.chunks_exact_mut(h * w).enumerate() {
            // b = n*oc + c_in*r*r + i*r + j
            let (bn, rem) = (b / oc, b % oc);
            let (ci, ij) = (rem / (r * r), rem % (r * r));
            let (i, j) = (ij / r, ij % r);
            let base = (bn * c + ci) * ih * iw;
            for (hh, drow) in dst_c.chunks_exact_mut(w).enumerate() {
                let s = &src[base + (hh * r + i) * iw..][..iw];
                for (dd, &v) in drow.iter_mut().zip(s[j..].iter().step_by(r)) {
                    *dd = v;
                }
            }
        }
    })
}
