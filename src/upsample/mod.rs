//! Upsampling and resizing: PyTorch `F.interpolate` (every mode), ONNX `Resize` (opset 19),
//! pixel shuffle / unshuffle.
//!
//! # Design
//!
//! One N-D engine serves everything. Each resized axis gets a table of taps
//! (`tables.rs`, the readable definition of every mode), and the fused separable kernel
//! (`kernels.rs`) nests the per-axis sums with the last axis innermost, caching the inner
//! results of each needed input row in a small ring, so each output is written once. The
//! 1-D/2-D/3-D PyTorch functions and the any-rank ONNX [`resize`] only differ in how they
//! build the tables. `reference.rs` evaluates each output element on its own from the same
//! tables and is what the property tests compare the fast path with.
//!
//! # Which settings compute the same thing
//!
//! Verified numerically against torch 2.15 / onnxruntime 1.32 / TF 2.21 / OpenCV 5 (see
//! `semantics.md`); "=" means the same formula up to float rounding.
//!
//! | this crate | PyTorch | ONNX `Resize` | TensorFlow | OpenCV |
//! |---|---|---|---|---|
//! | [`Mode::Nearest`] | `nearest` | `nearest` + `asymmetric` + `floor` (index can differ at exact integer products: PyTorch multiplies by `f32(in/out)`, ORT divides by `out/in`) | TF1 nearest (legacy) | `INTER_NEAREST` |
//! | [`Mode::NearestExact`] | `nearest-exact` | `nearest` + `half_pixel` + `round_prefer_ceil` | TF2 `nearest` | (not `INTER_NEAREST_EXACT`) |
//! | [`Mode::Linear`], [`CoordinateMode::HalfPixel`] | `linear`/`bilinear`/`trilinear` | `linear` + `half_pixel` (`pytorch_half_pixel` except out==1) | TF2 `bilinear` | `INTER_LINEAR` |
//! | [`Mode::Linear`], [`CoordinateMode::AlignCorners`] | `align_corners=True` | `linear` + `align_corners` | TF1 `align_corners=True` | — |
//! | [`Mode::Cubic`], [`CoordinateMode::HalfPixel`] | `bicubic` | `cubic` + `half_pixel`, a=-0.75, exclude_outside=0 | — (TF2 uses a=-0.5) | `INTER_CUBIC` |
//! | [`Mode::Cubic`], [`CoordinateMode::AlignCorners`] | `bicubic`, `align_corners=True` | `cubic` + `align_corners` | TF1 bicubic ≈ (LUT) | — |
//! | [`Mode::Linear`] + antialias | `bilinear`, `antialias=True` | `linear`, antialias=1, exclude_outside=1, `half_pixel` | TF2 bilinear antialias | — |
//! | [`Mode::Cubic`] + antialias | `bicubic`, `antialias=True` | `cubic`, antialias=1, a=-0.5, exclude_outside=1 | TF2 bicubic antialias | — |
//! | [`Mode::Area`] | `area` | none (AveragePool / ReduceMean) | `area` for integer downscale only | `INTER_AREA` for integer downscale only |
//! | [`Upsample::scale`] | `scale_factor=` | `scales` | — | `fx, fy` (but OpenCV rounds the size) |
//! | [`Upsample::size`], or `recompute_scale_factor(true)` | `size=` / `recompute_scale_factor=True` | `sizes` | `size` | `dsize` |
//!
//! # Differences from PyTorch
//!
//! * Antialias and bicubic work on any spatial rank (PyTorch: 4-D only).
//! * `area` sums each axis separately (PyTorch sums the whole window, then divides), so
//!   results may differ in the last bits.
//! * An axis whose table is the identity (e.g. linear with out == in) is copied, so an
//!   infinite input there stays infinite where PyTorch computes `inf * 0 = NaN`.

mod bands;
mod config;
mod kernels;
mod onnx;
mod pixel_shuffle;
#[cfg(test)]
pub(crate) mod reference;
mod small_planes;
mod table_kernels;
pub(crate) mod tables;

use std::borrow::Cow;

use ndarray::{
    Array, Array3, Array4, Array5, ArrayD, ArrayRef, ArrayRef3, ArrayRef4, ArrayRef5, ArrayView,
    Dimension, IxDyn,
};

pub use crate::shape::resize::AspectRatioPolicy;
pub use config::{CoordinateMode, Mode, Upsample, Upsample1d, Upsample2d, Upsample3d};
pub use onnx::{resize, resize_into, CoordinateTransform, NearestMode, Resize, ResizeMode};
pub use pixel_shuffle::{pixel_shuffle, pixel_shuffle_into, pixel_unshuffle, pixel_unshuffle_into};

use crate::element::Element;
use crate::error::{Error, Result};
use tables::AxisSource;

/// The elements of `input` in row-major order, borrowed when already contiguous.
pub(crate) fn contiguous<T: Element, D: Dimension>(input: &ArrayRef<T, D>) -> Cow<'_, [T]> {
    match input.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(input.iter().copied().collect()),
    }
}

/// Checks `out`'s shape, then lets `fill` write every element of a contiguous row-major
/// buffer: `out` itself when it is in standard layout, a temporary copied in otherwise.
pub(crate) fn write_output<T: Element, D: Dimension>(
    out: &mut ArrayRef<T, D>,
    shape: &[usize],
    fill: impl FnOnce(&mut [T]),
) -> Result<()> {
    if out.shape() != shape {
        return Err(Error::OutputShapeMismatch {
            expected: shape.to_vec(),
            got: out.shape().to_vec(),
        });
    }
    if out.is_empty() {
        return Ok(());
    }
    if let Some(dst) = out.as_slice_mut() {
        fill(dst);
        return Ok(());
    }
    let mut tmp = vec![T::zero(); out.len()];
    fill(&mut tmp);
    let view =
        ArrayView::from_shape(out.raw_dim(), &tmp).map_err(|_| Error::OutputShapeMismatch {
            expected: shape.to_vec(),
            got: out.shape().to_vec(),
        })?;
    out.assign(&view);
    Ok(())
}

/// Runs the engine: `input` through the tables of `sources` into `out` (shape `shape`).
pub(crate) fn execute<T: Element, D: Dimension>(
    input: &ArrayRef<T, D>,
    sources: &[Option<AxisSource<'_, T>>],
    shape: &[usize],
    extrapolation: T,
    out: &mut ArrayRef<T, D>,
) -> Result<()> {
    let src = contiguous(input);
    write_output(out, shape, |dst| {
        bands::resize(&src, input.shape(), sources, extrapolation, dst)
    })
}

/// Checks that a tensor of `shape` fits in memory addressing (at most `isize::MAX` bytes).
pub(crate) fn check_bytes<T>(shape: &[usize]) -> Result<()> {
    // ndarray requires the product of the non-zero lengths to fit, even for an empty array
    let nonzero: Vec<usize> = shape.iter().copied().filter(|&d| d != 0).collect();
    let n = crate::shape::checked_product(&nonzero, "output element count")?;
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(b) if b <= isize::MAX as usize => Ok(()),
        _ => Err(Error::Overflow {
            what: "output size in bytes",
        }),
    }
}

/// Allocates a zeroed array of `shape` with dimension type `D` (calloc: no zero pass).
pub(crate) fn zeros<T: Element, D: Dimension>(shape: &[usize]) -> Result<Array<T, D>> {
    check_bytes::<T>(shape)?;
    ArrayD::<T>::zeros(IxDyn(shape))
        .into_dimensionality::<D>()
        .map_err(|_| Error::WrongRank {
            what: "output shape",
            expected: D::NDIM.unwrap_or(shape.len()),
            got: shape.len(),
        })
}

fn upsample_nd<T: Element, D: Dimension, const S: usize>(
    input: &ArrayRef<T, D>,
    cfg: &Upsample<S>,
) -> Result<Array<T, D>> {
    let (shape, tabs) = cfg.tables::<T>(input.shape())?;
    let mut out = zeros::<T, D>(&shape)?;
    execute(input, &tabs, &shape, T::zero(), &mut out)?;
    Ok(out)
}

fn upsample_nd_into<T: Element, D: Dimension, const S: usize>(
    input: &ArrayRef<T, D>,
    cfg: &Upsample<S>,
    out: &mut ArrayRef<T, D>,
) -> Result<()> {
    let (shape, tabs) = cfg.tables::<T>(input.shape())?;
    execute(input, &tabs, &shape, T::zero(), out)
}

/// Upsamples `[N, C, L]` like PyTorch `F.interpolate` on a 3-D tensor.
///
/// ```text
/// input [N, C, L]  ->  output [N, C, L_out],  L_out = size, or floor(L * scale)
/// ```
///
/// Any memory layout is accepted (views, permuted axes). `f32` input computes its coordinates
/// in `f32`, as PyTorch does.
///
/// # Errors
///
/// * [`Error::InvalidOptions`] for align corners or antialias with a nearest or area mode,
///   or `recompute_scale_factor` with a size;
/// * [`Error::EmptyDimension`] for a zero-length channel or spatial input dimension (a batch
///   of 0 gives an empty output);
/// * [`Error::InvalidScale`] for a non-finite or non-positive scale;
/// * [`Error::EmptyOutput`] for a zero-length output axis, except in [`Mode::Area`] (an empty
///   array, as in PyTorch);
/// * [`Error::NonFinite`] for a non-finite cubic coefficient;
/// * [`Error::Overflow`] when sizes overflow.
///
/// # Examples
///
/// ```
/// use upconv::{upsample1d, Mode, Upsample1d};
/// let x = ndarray::array![[[1.0f32, 2.0, 4.0]]];
/// let y = upsample1d(&x, &Upsample1d::scale([2.0]).mode(Mode::Nearest))?;
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample1d<T: Element>(input: &ArrayRef3<T>, cfg: &Upsample1d) -> Result<Array3<T>> {
    upsample_nd(input, cfg)
}

/// [`upsample1d`] into a caller-provided array (reuse it across calls to skip allocation).
///
/// # Errors
///
/// * the errors of [`upsample1d`];
/// * [`Error::OutputShapeMismatch`] when `out` does not have the output shape.
///
/// # Examples
///
/// ```
/// use ndarray::Array3;
/// use upconv::{upsample1d_into, Mode, Upsample1d};
/// let x = Array3::<f64>::ones((1, 2, 3));
/// let mut y = Array3::<f64>::zeros((1, 2, 6));
/// upsample1d_into(&x, &Upsample1d::scale([2.0]).mode(Mode::Linear), &mut y)?;
/// assert!(y.iter().all(|&v| v == 1.0));
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample1d_into<T: Element>(
    input: &ArrayRef3<T>,
    cfg: &Upsample1d,
    out: &mut ArrayRef3<T>,
) -> Result<()> {
    upsample_nd_into(input, cfg, out)
}

/// Upsamples `[N, C, H, W]` like PyTorch `F.interpolate` on a 4-D tensor.
///
/// ```text
/// input [N, C, H, W]  ->  output [N, C, H_out, W_out]
/// ```
///
/// With [`Mode::Nearest`] and a scale factor, PyTorch's 2-D kernel copies when `out == in` and
/// uses `o / 2` when `out == 2 in`, whatever the factor; this is reproduced.
///
/// # Errors
///
/// The errors of [`upsample1d`].
///
/// # Examples
///
/// ```
/// use upconv::{upsample2d, Mode, Upsample2d};
/// let x = ndarray::array![[[[1.0f32, 2.0], [3.0, 4.0]]]];
/// let y = upsample2d(&x, &Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear))?;
/// assert_eq!(y.shape(), &[1, 1, 4, 4]);
/// assert_eq!(y[[0, 0, 1, 1]], 1.75); // 0.75 * (0.75*1 + 0.25*2) + 0.25 * (0.75*3 + 0.25*4)
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample2d<T: Element>(input: &ArrayRef4<T>, cfg: &Upsample2d) -> Result<Array4<T>> {
    upsample_nd(input, cfg)
}

/// [`upsample2d`] into a caller-provided array.
///
/// # Errors
///
/// * the errors of [`upsample1d`];
/// * [`Error::OutputShapeMismatch`] when `out` does not have the output shape.
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// use upconv::{upsample2d_into, Upsample2d};
/// let x = Array4::<f32>::ones((1, 1, 2, 2));
/// let mut y = Array4::<f32>::zeros((1, 1, 4, 4));
/// upsample2d_into(&x, &Upsample2d::size([4, 4]), &mut y)?;
/// assert!(upsample2d_into(&x, &Upsample2d::size([4, 5]), &mut y).is_err());
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample2d_into<T: Element>(
    input: &ArrayRef4<T>,
    cfg: &Upsample2d,
    out: &mut ArrayRef4<T>,
) -> Result<()> {
    upsample_nd_into(input, cfg, out)
}

/// Upsamples `[N, C, D, H, W]` like PyTorch `F.interpolate` on a 5-D tensor.
///
/// ```text
/// input [N, C, D, H, W]  ->  output [N, C, D_out, H_out, W_out]
/// ```
///
/// # Errors
///
/// The errors of [`upsample1d`].
///
/// # Examples
///
/// ```
/// use ndarray::Array5;
/// use upconv::{upsample3d, Mode, Upsample3d};
/// let x = Array5::<f64>::from_elem((1, 1, 2, 2, 2), 3.0);
/// let y = upsample3d(&x, &Upsample3d::scale([2.0, 2.0, 2.0]).mode(Mode::Linear))?;
/// assert_eq!(y.shape(), &[1, 1, 4, 4, 4]);
/// assert!(y.iter().all(|&v| v == 3.0));
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample3d<T: Element>(input: &ArrayRef5<T>, cfg: &Upsample3d) -> Result<Array5<T>> {
    upsample_nd(input, cfg)
}

/// [`upsample3d`] into a caller-provided array.
///
/// # Errors
///
/// * the errors of [`upsample1d`];
/// * [`Error::OutputShapeMismatch`] when `out` does not have the output shape.
///
/// # Examples
///
/// ```
/// use ndarray::Array5;
/// use upconv::{upsample3d_into, Mode, Upsample3d};
/// let x = Array5::<f32>::ones((1, 1, 2, 2, 2));
/// let mut y = Array5::<f32>::zeros((1, 1, 1, 1, 1));
/// upsample3d_into(&x, &Upsample3d::size([1, 1, 1]).mode(Mode::Area), &mut y)?;
/// assert_eq!(y[[0, 0, 0, 0, 0]], 1.0);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn upsample3d_into<T: Element>(
    input: &ArrayRef5<T>,
    cfg: &Upsample3d,
    out: &mut ArrayRef5<T>,
) -> Result<()> {
    upsample_nd_into(input, cfg, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    fn ramp<D: Dimension>(shape: D, seed: u64) -> Array<f64, D> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Array::from_shape_simple_fn(shape, || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 1000) as f64 / 100.0 - 5.0
        })
    }

    #[test]
    fn fast_equals_reference_all_modes() {
        let x = ramp(ndarray::Ix4(2, 3, 5, 7), 1);
        for mode in [
            Mode::Nearest,
            Mode::NearestExact,
            Mode::Linear,
            Mode::Cubic,
            Mode::Area,
        ] {
            for (h, w) in [(9, 4), (5, 7), (1, 13), (3, 2)] {
                let cfg = Upsample2d::size([h, w]).mode(mode);
                let (_, sources) = cfg.tables::<f64>(x.shape()).unwrap();
                let tabs = tables::whole_tables(&sources);
                let fast = upsample2d(&x, &cfg).unwrap();
                let slow = reference::resize_reference(&x.view().into_dyn(), &tabs, 0.0);
                assert_eq!(fast.into_dyn(), slow, "{mode:?} {h}x{w}");
            }
        }
    }

    /// Integer upscales of rows of 24 inputs or more take the periodic row kernel (see
    /// `AxisTable::periodic`): the same bits as the reference, in `f32` and `f64`, linear and
    /// cubic, half-pixel and align-corners (whose weights are not periodic: the general loop),
    /// for 1-D to 3-D; and the kernel does run for the half-pixel tables. Nearest and
    /// nearest-exact (the repeat kernels for x2, x3, x4, x8, whole planes for 2-D and 3-D, the
    /// plain loop for x5) likewise.
    #[test]
    fn periodic_rows_equal_reference() {
        fn check<T: Element>(x: &Array<T, ndarray::IxDyn>, scale: usize, mode: Mode, ac: bool) {
            fn plan<T: Element, const D: usize>(
                x: &[usize],
                scale: usize,
                mode: Mode,
                ac: bool,
            ) -> tables::Plan<'static, T> {
                let mut cfg = Upsample::<D>::scale([scale as f64; D]).mode(mode);
                if ac {
                    cfg = cfg.coordinates(CoordinateMode::AlignCorners);
                }
                cfg.tables::<T>(x).unwrap()
            }
            let (shape, sources) = match x.ndim() {
                3 => plan::<T, 1>(x.shape(), scale, mode, ac),
                4 => plan::<T, 2>(x.shape(), scale, mode, ac),
                _ => plan::<T, 3>(x.shape(), scale, mode, ac),
            };
            let mut fast = Array::<T, _>::zeros(ndarray::IxDyn(&shape));
            execute(x, &sources, &shape, T::zero(), &mut fast).unwrap();
            let tabs = tables::whole_tables(&sources);
            let slow = reference::resize_reference(&x.view(), &tabs, T::zero());
            assert_eq!(fast, slow, "{mode:?} x{scale} ac {ac} {:?}", x.shape());
            let inner = tabs.last().and_then(Option::as_ref).expect("resized");
            let periodic = inner.periodic();
            if !ac && scale.is_power_of_two() && matches!(mode, Mode::Linear | Mode::Cubic) {
                let per = periodic.expect("a periodic run");
                assert_eq!(per.period, scale);
                assert!(per.hi - per.lo >= inner.in_len - 4, "{per:?}");
            }
        }
        for (seed, dims) in [
            (3, vec![2, 3, 40]),
            (4, vec![1, 2, 5, 29]),
            (5, vec![1, 1, 3, 4, 37]),
            (6, vec![2, 1, 7, 64]),
        ] {
            let x = ramp(ndarray::IxDyn(&dims), seed);
            let x32 = x.mapv(|v| v as f32);
            for scale in [2, 3, 4, 5, 8] {
                for mode in [Mode::Linear, Mode::Cubic, Mode::Nearest, Mode::NearestExact] {
                    for ac in [false, true] {
                        if ac && !matches!(mode, Mode::Linear | Mode::Cubic) {
                            continue;
                        }
                        check(&x, scale, mode, ac);
                        check(&x32, scale, mode, ac);
                    }
                }
            }
        }
    }

    /// Tables with any number of taps per output on the innermost axis (antialiased and area
    /// resizes) go eight input rows at a time through `rows_together` (side by side, or read
    /// in place when longer than 32768), the last rows of an axis fewer; the same bits as the
    /// reference, in `f32` and `f64`, 1-D to 3-D.
    #[test]
    fn rows_together_equal_reference() {
        fn check<T: Element, const D: usize>(x: &Array<T, ndarray::IxDyn>, cfg: Upsample<D>) {
            let (shape, sources) = cfg.tables::<T>(x.shape()).unwrap();
            let mut fast = Array::<T, _>::zeros(ndarray::IxDyn(&shape));
            execute(x, &sources, &shape, T::zero(), &mut fast).unwrap();
            let tabs = tables::whole_tables(&sources);
            let slow = reference::resize_reference(&x.view(), &tabs, T::zero());
            assert_eq!(fast, slow, "{cfg:?} {:?}", x.shape());
        }
        let x = ramp(ndarray::IxDyn(&[1, 2, 37, 41]), 7);
        let x32 = x.mapv(|v| v as f32);
        let volume = ramp(ndarray::IxDyn(&[1, 1, 5, 19, 23]), 8);
        // 1-D: rows are planes, eight at a time, then the last one alone
        let signals = ramp(ndarray::IxDyn(&[3, 3, 50]), 9);
        for (mode, len, antialias) in [(Mode::Area, 13, false), (Mode::Linear, 11, true)] {
            let cfg = Upsample1d::size([len]).mode(mode).antialias(antialias);
            check(&signals, cfg);
            check(&signals.mapv(|v| v as f32), cfg);
        }
        // rows over 32768 samples are read in place, not laid side by side
        let long = ramp(ndarray::IxDyn(&[1, 1, 16, 40_000]), 10);
        for (mode, antialias) in [(Mode::Area, false), (Mode::Linear, true)] {
            let cfg = Upsample2d::size([5, 9_000]).mode(mode).antialias(antialias);
            check(&long, cfg);
            check(&long.mapv(|v| v as f32), cfg);
        }
        for (mode, size, antialias) in [
            (Mode::Linear, [9, 13], true),
            (Mode::Cubic, [17, 11], true),
            (Mode::Linear, [70, 90], true),
            (Mode::Area, [11, 13], false),
            (Mode::Area, [74, 82], false),
        ] {
            let cfg = Upsample2d::size(size).mode(mode).antialias(antialias);
            check(&x, cfg);
            check(&x32, cfg);
            let cfg = Upsample3d::size([3, size[0] / 2, size[1] / 3])
                .mode(mode)
                .antialias(antialias);
            check(&volume, cfg);
        }
    }

    /// Integer downscales whose width taps step through the input (bilinear x0.5, x0.25 and
    /// x1/3 of even and odd lengths, area x0.5 and x0.25 of rows they divide; 1-D to 3-D, `f32`
    /// and `f64`) take the
    /// decimating row kernel over most of each row: the same bits as the reference. Bicubic
    /// x0.5 (taps wider than a step) and upscales do not take it.
    #[test]
    fn decimating_rows_equal_reference() {
        fn check<T: Element, const D: usize>(x: &Array<T, ndarray::IxDyn>, cfg: Upsample<D>) {
            let (shape, sources) = cfg.tables::<T>(x.shape()).unwrap();
            let tabs = tables::whole_tables(&sources);
            let inner = tabs.last().and_then(Option::as_ref).expect("resized");
            let dec = inner.decimating().expect("a decimating run");
            assert!(2 * (dec.hi - dec.lo) >= inner.out_len, "{dec:?}");
            let mut fast = Array::<T, _>::zeros(ndarray::IxDyn(&shape));
            execute(x, &sources, &shape, T::zero(), &mut fast).unwrap();
            let slow = reference::resize_reference(&x.view(), &tabs, T::zero());
            assert_eq!(fast, slow, "{cfg:?} {:?}", x.shape());
        }
        for (seed, dims) in [(11, vec![2, 3, 41, 64]), (12, vec![1, 2, 30, 301])] {
            let x = ramp(ndarray::IxDyn(&dims), seed);
            let x32 = x.mapv(|v| v as f32);
            for (scale, mode) in [
                (0.5, Mode::Linear),
                (0.25, Mode::Linear),
                (1.0 / 3.0, Mode::Linear),
                (0.5, Mode::Area),
                (0.25, Mode::Area),
            ] {
                if mode == Mode::Area && dims[3] % 4 != 0 {
                    // (area bins of an odd row overlap: three taps a step of two)
                    continue;
                }
                check(&x, Upsample2d::scale([scale, scale]).mode(mode));
                check(&x32, Upsample2d::scale([scale, scale]).mode(mode));
            }
        }
        let signals = ramp(ndarray::IxDyn(&[2, 3, 999]), 13);
        check(&signals, Upsample1d::scale([0.5]).mode(Mode::Linear));
        let even = ramp(ndarray::IxDyn(&[2, 3, 1000]), 15).mapv(|v| v as f32);
        check(&even, Upsample1d::scale([0.25]).mode(Mode::Area));
        let volume = ramp(ndarray::IxDyn(&[1, 2, 6, 10, 64]), 14);
        check(&volume, Upsample3d::scale([0.5; 3]).mode(Mode::Linear));
        for cfg in [
            Upsample1d::scale([0.5]).mode(Mode::Cubic),
            Upsample1d::scale([2.0]).mode(Mode::Linear),
            Upsample1d::scale([0.5]).mode(Mode::Nearest),
        ] {
            let (_, sources) = cfg.tables::<f64>(&[1, 1, 64]).unwrap();
            let tabs = tables::whole_tables(&sources);
            let inner = tabs[2].as_ref().expect("resized");
            assert!(inner.decimating().is_none(), "{cfg:?}");
        }
    }

    #[test]
    fn non_contiguous_in_and_out() {
        let x = ramp(ndarray::Ix4(3, 2, 4, 5), 2);
        let xt = x.view().permuted_axes([1, 0, 3, 2]);
        let cfg = Upsample2d::scale([2.0, 1.5]).mode(Mode::Cubic);
        let a = upsample2d(&xt, &cfg).unwrap();
        let b = upsample2d(&xt.to_owned(), &cfg).unwrap();
        assert_eq!(a, b);
        let mut o = Array4::<f64>::zeros((2, 3, 6, 10));
        let mut ov = o.view_mut().permuted_axes([0, 1, 3, 2]);
        upsample2d_into(&xt, &cfg, &mut ov).unwrap();
        assert_eq!(ov, a);
        let mut bad = Array4::<f64>::zeros((2, 3, 10, 7));
        assert!(upsample2d_into(&xt, &cfg, &mut bad).is_err());
    }
}
