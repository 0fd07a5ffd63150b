//! ONNX `Resize` (opset 19) on any rank, with ONNX Runtime's arithmetic.

use std::ops::Range;

use ndarray::{ArrayD, ArrayRefD};

use super::tables::{self, clamp_index, cubic1, cubic2, AxisSource, AxisTable};
use super::{execute, zeros};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::shape::resize::{onnx_resize_dims, AspectRatioPolicy, ResizeDims};

/// ONNX `Resize` `mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResizeMode {
    /// `"nearest"` (default), rounded by [`NearestMode`].
    #[default]
    Nearest,
    /// `"linear"`: 2 taps per axis, edge-clamped.
    Linear,
    /// `"cubic"`: 4 taps per axis, coefficient `cubic_coeff_a`, edge-clamped unless
    /// `exclude_outside`.
    Cubic,
}

/// ONNX `Resize` `coordinate_transformation_mode`: output coordinate `y` to input coordinate
/// `x` (`scale` is `out/in`, or the given scale).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CoordinateTransform {
    /// `half_pixel` (default): `x = (y + 0.5) / scale - 0.5`.
    #[default]
    HalfPixel,
    /// `half_pixel_symmetric` (opset 19): half pixel, re-centred when `scale * in` is
    /// fractional.
    HalfPixelSymmetric,
    /// `pytorch_half_pixel`: half pixel, but `x = 0` when `out == 1`.
    PytorchHalfPixel,
    /// `align_corners`: `x = y * (in - 1) / (out - 1)` (0 when `out == 1`).
    AlignCorners,
    /// `asymmetric`: `x = y / scale`.
    Asymmetric,
    /// `tf_crop_and_resize`: `x = start*(in-1) + y*(end-start)*(in-1)/(out-1)` with `roi`;
    /// outputs whose `x` falls outside `[0, in-1]` take `extrapolation_value`.
    TfCropAndResize,
}

/// ONNX `Resize` `nearest_mode`: how a nearest coordinate is rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NearestMode {
    /// `round_prefer_floor` (default): round half down.
    #[default]
    RoundPreferFloor,
    /// `round_prefer_ceil`: round half up (away from zero).
    RoundPreferCeil,
    /// `floor`.
    Floor,
    /// `ceil`.
    Ceil,
}

/// Configuration of an ONNX `Resize` (opset 19): every attribute and the `roi`, `scales`,
/// `sizes` inputs. Defaults are ONNX's.
///
/// Exactly one of [`scales`](Self::scales) and [`sizes`](Self::sizes) must be set; with
/// [`axes`](Self::axes) they have one entry per listed axis, otherwise one per tensor axis.
/// Any axis may be resized, on any rank. Arithmetic follows ONNX Runtime 1.32 on the CPU
/// (coordinates in `f32` for `f32` tensors; scales are ONNX `float` values).
///
/// | PyTorch `F.interpolate` | the same `Resize` |
/// |---|---|
/// | `nearest` | `Nearest`, `Asymmetric`, `Floor` (index may differ at exact integer products) |
/// | `nearest-exact` | `Nearest`, `HalfPixel`, `RoundPreferCeil` |
/// | `bilinear` / `bicubic` | `Linear` / `Cubic`, `HalfPixel` (or `AlignCorners`) |
/// | `antialias=True` | `antialias(true)`, `exclude_outside(true)`, cubic `cubic_coeff_a(-0.5)` |
///
/// # Examples
///
/// ```
/// use ndarray::ArrayD;
/// use upconv::{resize, Resize, ResizeMode};
/// let x = ArrayD::from_shape_vec(vec![1, 1, 2], vec![0.0f32, 1.0]).unwrap();
/// let cfg = Resize::new().mode(ResizeMode::Linear).scales(vec![1.0, 1.0, 2.0]);
/// assert_eq!(resize(&x, &cfg)?.as_slice().unwrap(), &[0.0, 0.25, 0.75, 1.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Resize {
    mode: ResizeMode,
    coordinate_transformation_mode: CoordinateTransform,
    nearest_mode: NearestMode,
    cubic_coeff_a: f64,
    exclude_outside: bool,
    antialias: bool,
    extrapolation_value: f64,
    keep_aspect_ratio_policy: AspectRatioPolicy,
    axes: Option<Vec<i64>>,
    scales: Option<Vec<f64>>,
    sizes: Option<Vec<usize>>,
    roi: Option<Vec<f64>>,
}

impl Default for Resize {
    fn default() -> Self {
        Self::new()
    }
}

impl Resize {
    /// ONNX defaults: nearest, half_pixel, round_prefer_floor, `cubic_coeff_a = -0.75`,
    /// no exclude_outside, no antialias, extrapolation 0, stretch, all axes, and neither
    /// scales nor sizes (set one).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new();
    /// assert!(cfg.output_dims(&[1, 2]).is_err()); // neither scales nor sizes
    /// ```
    pub const fn new() -> Self {
        Self {
            mode: ResizeMode::Nearest,
            coordinate_transformation_mode: CoordinateTransform::HalfPixel,
            nearest_mode: NearestMode::RoundPreferFloor,
            cubic_coeff_a: -0.75,
            exclude_outside: false,
            antialias: false,
            extrapolation_value: 0.0,
            keep_aspect_ratio_policy: AspectRatioPolicy::Stretch,
            axes: None,
            scales: None,
            sizes: None,
            roi: None,
        }
    }

    /// Sets the `scales` input (one per listed axis; ONNX `float` values).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().scales(vec![1.0, 1.0, 2.0, 0.5]);
    /// assert_eq!(cfg.output_dims(&[1, 3, 4, 4])?, vec![1, 3, 8, 2]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn scales(mut self, scales: impl Into<Vec<f64>>) -> Self {
        self.scales = Some(scales.into());
        self
    }

    /// Sets the `sizes` input (one per listed axis).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().sizes(vec![5, 7]).axes(vec![-2, -1]);
    /// assert_eq!(cfg.output_dims(&[2, 3, 4, 4])?, vec![2, 3, 5, 7]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn sizes(mut self, sizes: impl Into<Vec<usize>>) -> Self {
        self.sizes = Some(sizes.into());
        self
    }

    /// Sets the `axes` attribute (negative values count from the end).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().scales(vec![2.0]).axes(vec![1]);
    /// assert_eq!(cfg.output_dims(&[3, 4, 5])?, vec![3, 8, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn axes(mut self, axes: impl Into<Vec<i64>>) -> Self {
        self.axes = Some(axes.into());
        self
    }

    /// Sets the `roi` input `[starts..., ends...]` (one pair per listed axis), used by
    /// [`CoordinateTransform::TfCropAndResize`] only (default: the whole input).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{CoordinateTransform, Resize};
    /// let cfg = Resize::new()
    ///     .coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
    ///     .roi(vec![0.25, 0.75]).sizes(vec![3]).axes(vec![0]);
    /// assert_eq!(cfg.output_dims(&[5])?, vec![3]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn roi(mut self, roi: impl Into<Vec<f64>>) -> Self {
        self.roi = Some(roi.into());
        self
    }

    /// Sets `mode`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().mode(upconv::ResizeMode::Cubic);
    /// # let _ = cfg;
    /// ```
    pub const fn mode(mut self, mode: ResizeMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets `coordinate_transformation_mode`.
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{CoordinateTransform, Resize};
    /// let cfg = Resize::new().coordinate_transformation_mode(CoordinateTransform::Asymmetric);
    /// # let _ = cfg;
    /// ```
    pub const fn coordinate_transformation_mode(mut self, m: CoordinateTransform) -> Self {
        self.coordinate_transformation_mode = m;
        self
    }

    /// Sets `nearest_mode`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().nearest_mode(upconv::NearestMode::Floor);
    /// # let _ = cfg;
    /// ```
    pub const fn nearest_mode(mut self, m: NearestMode) -> Self {
        self.nearest_mode = m;
        self
    }

    /// Sets `cubic_coeff_a` (default -0.75; -0.5 matches PyTorch antialias and TF).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().cubic_coeff_a(-0.5);
    /// # let _ = cfg;
    /// ```
    pub const fn cubic_coeff_a(mut self, a: f64) -> Self {
        self.cubic_coeff_a = a;
        self
    }

    /// Sets `exclude_outside`: taps outside the input get weight 0 and the rest are
    /// renormalised (cubic, and linear/cubic with antialias).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().exclude_outside(true);
    /// # let _ = cfg;
    /// ```
    pub const fn exclude_outside(mut self, on: bool) -> Self {
        self.exclude_outside = on;
        self
    }

    /// Sets `antialias` (linear and cubic only): the filter is stretched by `1/scale` when
    /// downsampling.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().antialias(true).scales(vec![0.5]);
    /// assert!(cfg.output_dims(&[4]).is_err()); // not with nearest
    /// ```
    pub const fn antialias(mut self, on: bool) -> Self {
        self.antialias = on;
        self
    }

    /// Sets `extrapolation_value` (for [`CoordinateTransform::TfCropAndResize`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().extrapolation_value(-1.0);
    /// # let _ = cfg;
    /// ```
    pub const fn extrapolation_value(mut self, v: f64) -> Self {
        self.extrapolation_value = v;
        self
    }

    /// Sets `keep_aspect_ratio_policy` (with sizes only).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{AspectRatioPolicy, Resize};
    /// let cfg = Resize::new().sizes(vec![5, 5]).axes(vec![2, 3])
    ///     .keep_aspect_ratio_policy(AspectRatioPolicy::NotLarger);
    /// assert_eq!(cfg.output_dims(&[1, 1, 4, 6])?, vec![1, 1, 3, 5]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn keep_aspect_ratio_policy(mut self, p: AspectRatioPolicy) -> Self {
        self.keep_aspect_ratio_policy = p;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.antialias && self.mode == ResizeMode::Nearest {
            return Err(Error::InvalidOptions(
                "antialias can only be used with the linear and cubic modes",
            ));
        }
        if !self.cubic_coeff_a.is_finite() {
            return Err(Error::NonFinite {
                what: "cubic coefficient",
                value: self.cubic_coeff_a,
            });
        }
        Ok(())
    }

    fn dims(&self, input: &[usize]) -> Result<ResizeDims> {
        self.validate()?;
        onnx_resize_dims(
            input,
            self.scales.as_deref(),
            self.sizes.as_deref(),
            self.axes.as_deref(),
            self.keep_aspect_ratio_policy,
        )
    }

    /// Output shape for an input of shape `input`, via
    /// [`shape::resize::onnx_resize_dims`](crate::shape::resize::onnx_resize_dims).
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidOptions`] for antialias with nearest, both or neither of scales and
    ///   sizes, or an aspect-ratio policy with scales;
    /// * [`Error::NonFinite`] for a non-finite `cubic_coeff_a`;
    /// * [`Error::AxisOutOfRange`], [`Error::DuplicateAxis`] for bad `axes`;
    /// * [`Error::WrongRank`] when scales or sizes have the wrong length;
    /// * [`Error::EmptyDimension`], [`Error::InvalidScale`], [`Error::EmptyOutput`],
    ///   [`Error::Overflow`] for bad sizes.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Resize::new().scales(vec![1.7]);
    /// assert_eq!(cfg.output_dims(&[5])?, vec![8]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>> {
        let out = self.dims(input)?.output;
        // the shape an array of any element type (up to 8 bytes) can take
        super::check_bytes::<f64>(&out)?;
        Ok(out)
    }

    /// `roi` expanded to `[start, end]` per tensor axis (`[0, 1]` where not given).
    fn roi_per_axis(&self, rank: usize, axes: &[usize]) -> Result<Vec<(f64, f64)>> {
        let mut out = vec![(0.0, 1.0); rank];
        if self.coordinate_transformation_mode != CoordinateTransform::TfCropAndResize {
            return Ok(out);
        }
        let Some(roi) = &self.roi else {
            return Ok(out);
        };
        let n = if self.axes.is_some() {
            axes.len()
        } else {
            rank
        };
        if roi.len() != 2 * n {
            return Err(Error::WrongRank {
                what: "roi",
                expected: 2 * n,
                got: roi.len(),
            });
        }
        if let Some(&v) = roi.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "roi",
                value: v,
            });
        }
        for i in 0..n {
            let ax = if self.axes.is_some() { axes[i] } else { i };
            // ONNX roi values are float tensors
            out[ax] = (f64::from(roi[i] as f32), f64::from(roi[n + i] as f32));
        }
        Ok(out)
    }

    /// Output shape and per-axis tables (`None` for axes left unchanged).
    pub(crate) fn tables<T: Element>(&self, input: &[usize]) -> Result<tables::Plan<'_, T>> {
        let d = self.dims(input)?;
        super::check_bytes::<T>(&d.output)?;
        let rank = input.len();
        let roi = self.roi_per_axis(rank, &d.axes)?;
        let tf_crop = self.coordinate_transformation_mode == CoordinateTransform::TfCropAndResize;
        let mut tabs: Vec<Option<AxisSource<'_, T>>> = (0..rank).map(|_| None).collect();
        // ONNX Runtime returns the input unchanged when the shapes agree, whatever the
        // scales, the roi or the mode; an empty output needs no tables
        if d.output == input || d.output.contains(&0) {
            return Ok((d.output, tabs));
        }
        for &ax in &d.axes {
            let (i, o, scale) = (input[ax], d.output[ax], d.scales[ax]);
            if unit_scale(scale) {
                // ORT maps output y to input y on an axis whose (f32) scale is 1, in every
                // mode: no resampling, and the roi of tf_crop_and_resize is ignored there
                continue;
            }
            if self.antialias && i == o {
                // ORT's antialias path copies an axis whose length does not change, whatever
                // its scale; only tf_crop_and_resize's outside flags still come from the roi
                let roi = roi[ax];
                if !tf_crop || self.outside_flags::<T>(i, o, scale, roi, 0..o).is_empty() {
                    continue;
                }
                tabs[ax] = Some(AxisSource::new(i, o, 1, move |r: Range<usize>| {
                    let mut copy = AxisTable::nearest(i, r.clone().collect());
                    copy.outside = self.outside_flags::<T>(i, o, scale, roi, r);
                    copy
                }));
                continue;
            }
            let roi = roi[ax];
            let taps = self.max_taps::<T>(scale);
            tabs[ax] = Some(AxisSource::new(i, o, taps, move |r| {
                self.axis_table::<T>(i, o, scale, roi, r)
            }));
        }
        Ok((d.output, tabs))
    }

    /// ONNX Runtime's input coordinate of output `y`.
    fn coordinate<T: Element>(
        &self,
        y: usize,
        scale: f64,
        out: usize,
        inp: usize,
        roi: (f64, f64),
    ) -> T {
        let f = |v: f64| T::from_f64_lossy(v);
        let yt = T::from_usize_lossy(y);
        let st = f(scale);
        let (lo, li) = (T::from_usize_lossy(out), T::from_usize_lossy(inp));
        let half = f(0.5);
        let one = T::one();
        if unit_scale(scale) {
            return yt;
        }
        match self.coordinate_transformation_mode {
            CoordinateTransform::HalfPixel => (yt + half) / st - half,
            CoordinateTransform::PytorchHalfPixel => {
                if out > 1 {
                    (yt + half) / st - half
                } else {
                    T::zero()
                }
            }
            CoordinateTransform::Asymmetric => yt / st,
            CoordinateTransform::AlignCorners => {
                if out == 1 {
                    T::zero()
                } else {
                    yt * (li - one) / (lo - one)
                }
            }
            CoordinateTransform::HalfPixelSymmetric => {
                let output_width = st * li;
                let adjustment = lo / output_width;
                let center = li / f(2.0);
                let offset = center * (one - adjustment);
                // ORT evaluates the rest in double
                let v = offset.to_f64_lossless() + (y as f64 + 0.5) / scale - 0.5;
                f(v)
            }
            CoordinateTransform::TfCropAndResize => {
                let (s0, s1) = (f(roi.0), f(roi.1));
                if out > 1 {
                    s0 * (li - one) + (yt * (s1 - s0) * (li - one)) / (lo - one)
                } else {
                    f(0.5 * (roi.0 + roi.1) * (inp as f64 - 1.0))
                }
            }
        }
    }

    fn axis_table<T: Element>(
        &self,
        inp: usize,
        out: usize,
        scale: f64,
        roi: (f64, f64),
        outs: Range<usize>,
    ) -> AxisTable<T> {
        let tf_crop = self.coordinate_transformation_mode == CoordinateTransform::TfCropAndResize;
        let coords: Vec<T> = self.coordinates(inp, out, scale, roi, outs.clone());
        let mut table = if self.antialias {
            self.antialias_table(inp, scale, outs, &coords)
        } else {
            match self.mode {
                ResizeMode::Nearest => {
                    let idx = coords
                        .iter()
                        .map(|&x| clamp_index(self.round(x), inp))
                        .collect();
                    AxisTable::nearest(inp, idx)
                }
                ResizeMode::Linear => linear_table(inp, &coords),
                ResizeMode::Cubic => self.cubic_table(inp, &coords),
            }
        };
        if tf_crop {
            table.outside = self.outside_of(inp, &coords);
        }
        table
    }

    /// Most taps of one output of an axis with this scale.
    fn max_taps<T: Element>(&self, scale: f64) -> usize {
        match (self.antialias, self.mode) {
            (false, ResizeMode::Nearest) => 1,
            (false, ResizeMode::Linear) => 2,
            (false, ResizeMode::Cubic) => 4,
            (true, _) => {
                // the window `floor(c + s + 0.5) - floor(c - s + 0.5)` of `antialias_table`
                let (support, _) = self.antialias_support::<T>(scale);
                (support.to_f64_lossless() * 2.0).ceil() as usize + 2
            }
        }
    }

    /// The input coordinate of outputs `outs` of an axis (`inp -> out`).
    fn coordinates<T: Element>(
        &self,
        inp: usize,
        out: usize,
        scale: f64,
        roi: (f64, f64),
        outs: Range<usize>,
    ) -> Vec<T> {
        outs.map(|y| self.coordinate::<T>(y, scale, out, inp, roi))
            .collect()
    }

    /// tf_crop_and_resize: which of outputs `outs` of an axis (`inp -> out`) fall outside the
    /// input and take the extrapolation value (empty when none does).
    fn outside_flags<T: Element>(
        &self,
        inp: usize,
        out: usize,
        scale: f64,
        roi: (f64, f64),
        outs: Range<usize>,
    ) -> Vec<bool> {
        self.outside_of(inp, &self.coordinates::<T>(inp, out, scale, roi, outs))
    }

    /// [`Self::outside_flags`] for the coordinates `coords`: `x < 0 || x > in - 1`. ORT's
    /// antialias path tests the coordinate after a round trip through the pixel centre,
    /// `(0.5 + x) - 0.5`, which snaps tiny negatives to 0 (inside).
    fn outside_of<T: Element>(&self, inp: usize, coords: &[T]) -> Vec<bool> {
        let (last, half) = (T::from_usize_lossy(inp - 1), T::from_f64_lossy(0.5));
        let outside: Vec<bool> = coords
            .iter()
            .map(|&x| {
                let x = if self.antialias { (half + x) - half } else { x };
                x < T::zero() || x > last
            })
            .collect();
        if outside.iter().any(|&b| b) {
            outside
        } else {
            Vec::new()
        }
    }

    /// `nearest_mode` rounding, as ONNX Runtime 1.32 does it in `f32`: a fraction within
    /// [`TIE_TOLERANCE`] of one half counts as a tie (so `0.49999997`, a half computed with
    /// rounding error, goes up under `round_prefer_ceil`); other values round half away from
    /// zero.
    fn round<T: Element>(&self, x: T) -> i64 {
        let v = x.to_f64_lossless() as f32;
        let tie = (v - v.floor() - 0.5).abs() <= TIE_TOLERANCE;
        let r = match self.nearest_mode {
            NearestMode::RoundPreferFloor if tie => v.floor(),
            NearestMode::RoundPreferCeil if tie => v.floor() + 1.0,
            NearestMode::RoundPreferFloor | NearestMode::RoundPreferCeil => v.round(),
            NearestMode::Floor => v.floor(),
            NearestMode::Ceil => v.ceil(),
        };
        r as i64
    }

    /// ORT `GetCubicCoeffs` with `exclude_outside` renormalisation; taps edge-clamped.
    fn cubic_table<T: Element>(&self, inp: usize, coords: &[T]) -> AxisTable<T> {
        let a = T::from_f64_lossy(self.cubic_coeff_a);
        let one = T::one();
        let two = T::from_f64_lossy(2.0);
        let mut idx = Vec::with_capacity(coords.len() * 4);
        let mut w = Vec::with_capacity(coords.len() * 4);
        for &x in coords {
            let xf = x.floor();
            let s = (x - xf).abs();
            let mut c = [
                cubic2(s + one, a),
                cubic1(s, a),
                cubic1(one - s, a),
                cubic2(two - s, a),
            ];
            let base = xf.to_f64_lossless() as i64;
            if self.exclude_outside {
                let mut sum = T::zero();
                for (j, cj) in c.iter_mut().enumerate() {
                    let i = base + j as i64 - 1;
                    if i < 0 || i >= inp as i64 {
                        *cj = T::zero();
                    }
                    sum = sum + *cj;
                }
                if sum != T::zero() {
                    for cj in &mut c {
                        *cj = *cj / sum;
                    }
                }
            }
            for (j, cj) in c.into_iter().enumerate() {
                idx.push(clamp_index(base.saturating_add(j as i64 - 1), inp));
                w.push(cj);
            }
        }
        AxisTable::fixed(inp, 4, idx, w)
    }

    /// The filter's half-width in input samples and the scale of its argument for an
    /// antialiased axis of this scale (ORT: `scale = 1 / rscale`).
    fn antialias_support<T: Element>(&self, scale: f64) -> (T, T) {
        let one = T::one();
        let ss = one / T::from_f64_lossy(scale);
        let half_support = if self.mode == ResizeMode::Cubic {
            T::from_f64_lossy(2.0)
        } else {
            one
        };
        if ss >= one {
            (half_support * ss, one / ss)
        } else {
            (half_support, one)
        }
    }

    /// ORT `SetupUpsampleFilterAA`: window `trunc(c ± support + 0.5)` around the centre
    /// `c = x + 0.5`, weights `F((j - c + 0.5) / max(1/scale, 1))`; outside taps fold onto the
    /// edge pixels (or are dropped with `exclude_outside`); normalised by the total.
    fn antialias_table<T: Element>(
        &self,
        inp: usize,
        scale: f64,
        outs: Range<usize>,
        coords: &[T],
    ) -> AxisTable<T> {
        let f = |v: f64| T::from_f64_lossy(v);
        let one = T::one();
        let half = f(0.5);
        let (support, inv) = self.antialias_support::<T>(scale);
        let a = f(self.cubic_coeff_a);
        let filter = |x: T| -> T {
            let x = x.abs();
            if self.mode == ResizeMode::Cubic {
                if x < one {
                    cubic1(x, a)
                } else if x < f(2.0) {
                    // ORT's form of the outer piece
                    (((x - f(5.0)) * x + f(8.0)) * x - f(4.0)) * a
                } else {
                    T::zero()
                }
            } else if x < one {
                one - x
            } else {
                T::zero()
            }
        };
        let mut offs = vec![0];
        let mut idx = Vec::new();
        let mut w = Vec::new();
        let mut taps: Vec<(usize, T)> = Vec::new();
        let band = outs.len();
        for (y, &x) in outs.zip(coords) {
            let center = if scale == 1.0 {
                T::from_usize_lossy(y) + half
            } else {
                x + half
            };
            // ORT 1.32 floors the window bounds (a truncating version would differ left of 0)
            let xmin_real = (center - support + half).floor().to_f64_lossless() as i64;
            let xmax_real = (center + support + half).floor().to_f64_lossless() as i64;
            let (lo, hi) = if self.exclude_outside {
                (xmin_real.max(0), xmax_real.min(inp as i64))
            } else {
                (xmin_real, xmax_real)
            };
            taps.clear();
            let mut total = T::zero();
            for j in lo..hi.max(lo) {
                let jt = T::from_i64(j).unwrap_or_else(T::zero);
                let v = filter((jt - center + half) * inv);
                total = total + v;
                let ci = clamp_index(j, inp);
                match taps.last_mut() {
                    Some((li, lw)) if *li == ci => *lw = *lw + v,
                    _ => taps.push((ci, v)),
                }
            }
            if taps.is_empty() {
                taps.push((clamp_index(lo, inp), T::zero()));
            }
            for &(i, v) in &taps {
                idx.push(i);
                w.push(if total != T::zero() && total != one {
                    v / total
                } else {
                    v
                });
            }
            offs.push(w.len());
        }
        AxisTable {
            in_len: inp,
            out_len: band,
            offs,
            idx,
            w,
            outside: Vec::new(),
            band: false,
        }
    }
}

/// ORT bilinear weights: `x` clamped to `[0, in-1]`, `x1 = trunc(x)`, `x2 = min(x1+1, in-1)`,
/// weights `|x - x2|` on `x1` and `|x - x1|` on `x2` (0.5 each when `x1 == x2`).
fn linear_table<T: Element>(inp: usize, coords: &[T]) -> AxisTable<T> {
    let last = T::from_usize_lossy(inp - 1);
    let mut idx = Vec::with_capacity(coords.len() * 2);
    let mut w = Vec::with_capacity(coords.len() * 2);
    for &x in coords {
        let x = x.max(T::zero()).min(last);
        let x1 = clamp_index(x.to_f64_lossless() as i64, inp);
        let x2 = (x1 + 1).min(inp - 1);
        let (d1, d2) = if x1 == x2 {
            (T::from_f64_lossy(0.5), T::from_f64_lossy(0.5))
        } else {
            (
                (x - T::from_usize_lossy(x1)).abs(),
                (x - T::from_usize_lossy(x2)).abs(),
            )
        };
        idx.extend([x1, x2]);
        w.extend([d2, d1]);
    }
    AxisTable::fixed(inp, 2, idx, w)
}

/// ONNX `Resize` (opset 19) of a tensor of any rank, as ONNX Runtime computes it.
///
/// ```text
/// input [d_0, .., d_{r-1}]  ->  output: sizes, or floor(d_i * scales_i) on the listed axes
/// ```
///
/// Any axis can be resized. When the output shape equals the input shape the input is
/// returned unchanged (ONNX Runtime's rule, even for `tf_crop_and_resize` with a roi).
///
/// # Errors
///
/// * the errors of [`Resize::output_dims`];
/// * [`Error::WrongRank`] when `roi` does not have two entries per axis;
/// * [`Error::NonFinite`] for a non-finite `roi` value.
///
/// # Examples
///
/// ```
/// use ndarray::ArrayD;
/// use upconv::{resize, NearestMode, Resize};
/// // PyTorch "nearest-exact" as an ONNX Resize
/// let x = ArrayD::from_shape_vec(vec![1, 1, 2], vec![1.0f32, 2.0]).unwrap();
/// let cfg = Resize::new().sizes(vec![7]).axes(vec![-1])
///     .nearest_mode(NearestMode::RoundPreferCeil);
/// let y = resize(&x, &cfg)?;
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn resize<T: Element>(input: &ArrayRefD<T>, cfg: &Resize) -> Result<ArrayD<T>> {
    let (shape, tabs) = cfg.tables::<T>(input.shape())?;
    let mut out = zeros(&shape)?;
    execute(
        input,
        &tabs,
        &shape,
        T::from_f64_lossy(cfg.extrapolation_value),
        &mut out,
    )?;
    Ok(out)
}

/// [`resize`] into a caller-provided array.
///
/// # Errors
///
/// * the errors of [`resize`];
/// * [`Error::OutputShapeMismatch`] when `out` does not have the output shape.
///
/// # Examples
///
/// ```
/// use ndarray::ArrayD;
/// use upconv::{resize_into, Resize};
/// let x = ArrayD::<f64>::ones(vec![2, 3]);
/// let mut y = ArrayD::<f64>::zeros(vec![4, 3]);
/// resize_into(&x, &Resize::new().scales(vec![2.0]).axes(vec![0]), &mut y)?;
/// assert!(y.iter().all(|&v| v == 1.0));
/// # Ok::<(), upconv::Error>(())
/// ```
pub fn resize_into<T: Element>(
    input: &ArrayRefD<T>,
    cfg: &Resize,
    out: &mut ArrayRefD<T>,
) -> Result<()> {
    let (shape, tabs) = cfg.tables::<T>(input.shape())?;
    execute(
        input,
        &tabs,
        &shape,
        T::from_f64_lossy(cfg.extrapolation_value),
        out,
    )
}

/// Distance from one half within which ONNX Runtime's `round_prefer_*` nearest modes treat a
/// coordinate's fraction as a tie (measured on ORT 1.32: 9.8e-7 is a tie, 1.01e-6 is not).
const TIE_TOLERANCE: f32 = 1e-6;

/// Whether ONNX Runtime sees a scale of exactly 1 (it holds scales as `f32`).
fn unit_scale(scale: f64) -> bool {
    scale as f32 == 1.0
}
