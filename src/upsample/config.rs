//! PyTorch-style upsampling configuration (`F.interpolate` / `nn.Upsample`).

use super::tables::{self, AaFilter, AxisSource, AxisTable};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::shape::{resize::interpolate_dims, Cost};

/// Interpolation mode of [`Upsample`], named after PyTorch's `mode=` strings.
///
/// | variant | PyTorch `mode=` | per-axis rule |
/// |---|---|---|
/// | [`Nearest`](Mode::Nearest) | `"nearest"` | `src = min(floor(o * scale), in - 1)` (asymmetric, OpenCV `INTER_NEAREST`) |
/// | [`NearestExact`](Mode::NearestExact) | `"nearest-exact"` | `src = min(floor((o + 0.5) * scale), in - 1)` (PIL, scikit-image, TF2) |
/// | [`Linear`](Mode::Linear) | `"linear"`, `"bilinear"`, `"trilinear"` | 2 taps per axis, edge-clamped |
/// | [`Cubic`](Mode::Cubic) | `"bicubic"` | 4 taps per axis, Keys cubic `A = -0.75` (configurable), edge-clamped |
/// | [`Area`](Mode::Area) | `"area"` | adaptive average pooling bins |
///
/// # Examples
///
/// ```
/// use upconv::{upsample1d, Mode, Upsample1d};
/// let x = ndarray::array![[[0.0f32, 1.0]]];
/// let near = upsample1d(&x, &Upsample1d::size([4]).mode(Mode::Nearest))?;
/// let lin = upsample1d(&x, &Upsample1d::size([4]).mode(Mode::Linear))?;
/// assert_eq!(near.as_slice().unwrap(), &[0.0, 0.0, 1.0, 1.0]);
/// assert_eq!(lin.as_slice().unwrap(), &[0.0, 0.25, 0.75, 1.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// PyTorch `"nearest"` (the default, as in PyTorch): copies `x[floor(o * in/out)]`, with
    /// the scale in `f32` for `f32` tensors, exactly as PyTorch computes it.
    #[default]
    Nearest,
    /// PyTorch `"nearest-exact"`: copies the input pixel whose centre is nearest.
    NearestExact,
    /// PyTorch `"linear"` (1-D), `"bilinear"` (2-D), `"trilinear"` (3-D).
    Linear,
    /// PyTorch `"bicubic"` (any rank here; PyTorch only has 2-D). Coefficient
    /// [`Upsample::cubic_coefficient`], default -0.75 (-0.5 with antialias).
    Cubic,
    /// PyTorch `"area"`: `adaptive_avg_pool` to the output size.
    Area,
}

/// Where the sample points of input and output sit (PyTorch's `align_corners`).
///
/// # Examples
///
/// ```
/// use upconv::{upsample1d, CoordinateMode, Mode, Upsample1d};
/// let x = ndarray::array![[[0.0f64, 3.0]]];
/// let cfg = Upsample1d::size([4]).mode(Mode::Linear).coordinates(CoordinateMode::AlignCorners);
/// assert_eq!(upsample1d(&x, &cfg)?.as_slice().unwrap(), &[0.0, 1.0, 2.0, 3.0]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CoordinateMode {
    /// `align_corners=False` (PyTorch's default): pixel centres at `i + 0.5`,
    /// `x = (o + 0.5) * scale - 0.5` (ONNX `half_pixel`).
    #[default]
    HalfPixel,
    /// `align_corners=True`: the first and last samples of input and output coincide,
    /// `x = o * (in - 1) / (out - 1)` (ONNX `align_corners`). Linear and cubic only.
    AlignCorners,
}

/// Output size request: PyTorch `size=` or `scale_factor=`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target<const D: usize> {
    Size([usize; D]),
    Scale([f64; D]),
}

/// Configuration of a PyTorch-style upsampling over `D` spatial axes
/// (`F.interpolate` / `nn.Upsample`).
///
/// Built with [`size`](Upsample::size) or [`scale`](Upsample::scale), then by-value setters.
/// Options are validated when the op runs (or by [`output_dims`](Upsample::output_dims)).
///
/// # Examples
///
/// ```
/// use upconv::{CoordinateMode, Mode, Upsample2d};
/// // F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
/// let cfg = Upsample2d::scale([2.0, 2.0])
///     .mode(Mode::Linear)
///     .coordinates(CoordinateMode::AlignCorners);
/// assert_eq!(cfg.output_dims(&[1, 3, 5, 7])?, vec![1, 3, 10, 14]);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Upsample<const D: usize> {
    target: Target<D>,
    mode: Mode,
    coordinates: CoordinateMode,
    antialias: bool,
    recompute_scale_factor: bool,
    cubic_coefficient: Option<f64>,
}

/// Upsampling of `[N, C, L]` tensors (PyTorch `mode="linear"` etc.).
pub type Upsample1d = Upsample<1>;
/// Upsampling of `[N, C, H, W]` tensors.
pub type Upsample2d = Upsample<2>;
/// Upsampling of `[N, C, D, H, W]` tensors.
pub type Upsample3d = Upsample<3>;

impl<const D: usize> Upsample<D> {
    /// Resize to an explicit output size (PyTorch `size=`); the coordinate map uses `in/out`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Upsample2d::size([5, 9]);
    /// assert_eq!(cfg.output_dims(&[2, 3, 4, 4])?, vec![2, 3, 5, 9]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn size(size: [usize; D]) -> Self {
        Self::with_target(Target::Size(size))
    }

    /// Resize by scale factors (PyTorch `scale_factor=`): `out = floor(in * scale)` in `f64`,
    /// and the coordinate map uses `1 / scale` (not `in / out`) unless
    /// [`recompute_scale_factor`](Self::recompute_scale_factor) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Upsample1d::scale([1.7]);
    /// assert_eq!(cfg.output_dims(&[1, 1, 5])?, vec![1, 1, 8]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn scale(scale: [f64; D]) -> Self {
        Self::with_target(Target::Scale(scale))
    }

    const fn with_target(target: Target<D>) -> Self {
        Self {
            target,
            mode: Mode::Nearest,
            coordinates: CoordinateMode::HalfPixel,
            antialias: false,
            recompute_scale_factor: false,
            cubic_coefficient: None,
        }
    }

    /// Sets the interpolation mode (default [`Mode::Nearest`], as in PyTorch).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{Mode, Upsample2d};
    /// assert_eq!(Upsample2d::size([4, 4]).mode(Mode::Cubic).get_mode(), Mode::Cubic);
    /// ```
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The interpolation mode.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(upconv::Upsample1d::size([2]).get_mode(), upconv::Mode::Nearest);
    /// ```
    pub const fn get_mode(&self) -> Mode {
        self.mode
    }

    /// Sets the coordinate mode (PyTorch `align_corners`; default
    /// [`CoordinateMode::HalfPixel`], i.e. `align_corners=False`).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{CoordinateMode, Mode, Upsample1d};
    /// let cfg = Upsample1d::size([3]).mode(Mode::Nearest).coordinates(CoordinateMode::AlignCorners);
    /// assert!(cfg.output_dims(&[1, 1, 2]).is_err()); // PyTorch rejects it for nearest
    /// ```
    pub const fn coordinates(mut self, coordinates: CoordinateMode) -> Self {
        self.coordinates = coordinates;
        self
    }

    /// Sets PyTorch's `antialias=` (linear and cubic only): when downsampling, the filter is
    /// widened by the scale so every input pixel contributes; out-of-range taps are dropped
    /// and the weights renormalised. Cubic then uses `A = -0.5` unless
    /// [`cubic_coefficient`](Self::cubic_coefficient) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{upsample1d, Mode, Upsample1d};
    /// let x = ndarray::array![[[1.0f32, 2.0, 3.0, 4.0]]];
    /// let y = upsample1d(&x, &Upsample1d::size([2]).mode(Mode::Linear).antialias(true))?;
    /// // taps 1, 2, 3 with triangle weights 0.75, 0.75, 0.25 (support stretched by 2), normalised
    /// assert!((y[[0, 0, 0]] - 3.0 / 1.75).abs() < 1e-6);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn antialias(mut self, antialias: bool) -> Self {
        self.antialias = antialias;
        self
    }

    /// Sets PyTorch's `recompute_scale_factor=True`: with a scale factor, the output size is
    /// computed from it and then the coordinate map uses `in / out` as if `size=` was given.
    /// [`Mode::Area`] always behaves this way.
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{upsample1d, Mode, Upsample1d};
    /// let x = ndarray::array![[[0.0f64, 1.0, 2.0, 3.0, 4.0]]];
    /// let cfg = Upsample1d::scale([1.7]).mode(Mode::Linear);
    /// let a = upsample1d(&x, &cfg)?;
    /// let b = upsample1d(&x, &cfg.recompute_scale_factor(true))?;
    /// assert_ne!(a, b); // 1/1.7 versus 5/8
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub const fn recompute_scale_factor(mut self, recompute: bool) -> Self {
        self.recompute_scale_factor = recompute;
        self
    }

    /// Sets the cubic coefficient `A` of [`Mode::Cubic`] (PyTorch: -0.75, or -0.5 with
    /// antialias; those are the defaults).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{Mode, Upsample2d};
    /// let cfg = Upsample2d::scale([2.0, 2.0]).mode(Mode::Cubic).cubic_coefficient(-0.5);
    /// assert!(cfg.output_dims(&[1, 1, 3, 3]).is_ok());
    /// ```
    pub const fn cubic_coefficient(mut self, a: f64) -> Self {
        self.cubic_coefficient = Some(a);
        self
    }

    /// Checks the option combination (PyTorch's rules).
    fn validate(&self) -> Result<()> {
        let interpolating = matches!(self.mode, Mode::Linear | Mode::Cubic);
        if self.coordinates == CoordinateMode::AlignCorners && !interpolating {
            return Err(Error::InvalidOptions(
                "align corners can only be used with the linear and cubic modes",
            ));
        }
        if self.antialias && !interpolating {
            return Err(Error::InvalidOptions(
                "antialias can only be used with the linear and cubic modes",
            ));
        }
        if self.recompute_scale_factor && matches!(self.target, Target::Size(_)) {
            return Err(Error::InvalidOptions(
                "recompute_scale_factor can only be used with a scale factor, not a size",
            ));
        }
        if let Some(a) = self.cubic_coefficient {
            if !a.is_finite() {
                return Err(Error::NonFinite {
                    what: "cubic coefficient",
                    value: a,
                });
            }
        }
        Ok(())
    }

    /// Output shape for an input of shape `[N, C, spatial...]` (`D + 2` entries), via
    /// [`shape::resize::interpolate_output_dims`](crate::shape::resize::interpolate_output_dims).
    ///
    /// # Errors
    ///
    /// * [`Error::WrongRank`] when `input` does not have `D + 2` entries;
    /// * [`Error::InvalidOptions`] for align corners or antialias with nearest / nearest-exact /
    ///   area, or `recompute_scale_factor` with a size;
    /// * [`Error::NonFinite`] for a non-finite cubic coefficient;
    /// * [`Error::EmptyDimension`] for a zero-length channel or spatial input dimension (a
    ///   batch of 0 gives an empty output);
    /// * [`Error::InvalidScale`] for a non-finite or non-positive scale;
    /// * [`Error::EmptyOutput`] for a zero-length output axis, except in [`Mode::Area`],
    ///   which returns an empty array there, as PyTorch does;
    /// * [`Error::Overflow`] when sizes overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// let cfg = upconv::Upsample3d::scale([2.0, 0.5, 1.5]);
    /// assert_eq!(cfg.output_dims(&[1, 2, 3, 4, 5])?, vec![1, 2, 6, 2, 7]);
    /// assert!(cfg.output_dims(&[1, 2, 3, 4]).is_err());
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.validate()?;
        if input.len() != D + 2 {
            return Err(Error::WrongRank {
                what: "upsample input shape [N, C, spatial...]",
                expected: D + 2,
                got: input.len(),
            });
        }
        let area = self.mode == Mode::Area;
        let out = match &self.target {
            Target::Size(s) => interpolate_dims(input, Some(s), None, area),
            Target::Scale(s) => interpolate_dims(input, None, Some(s), area),
        }?;
        // the shape an array of any element type (up to 8 bytes) can take
        super::check_bytes::<f64>(&out)?;
        Ok(out)
    }

    /// The scale factor the coordinate map of spatial axis `axis` uses (`None`: `in/out`).
    fn coordinate_scale(&self, axis: usize) -> Option<f64> {
        match &self.target {
            Target::Scale(s) if !self.recompute_scale_factor && self.mode != Mode::Area => {
                Some(s[axis])
            }
            _ => None,
        }
    }

    /// Per-axis tables for the full tensor rank (`None` for `N` and `C`) and the output shape.
    pub(crate) fn tables<T: Element>(&self, input: &[usize]) -> Result<tables::Plan<'static, T>> {
        let out = self.output_dims(input)?;
        super::check_bytes::<T>(&out)?;
        let align = self.coordinates == CoordinateMode::AlignCorners;
        let mut tabs = vec![None, None];
        if out.contains(&0) {
            // an empty output (a batch of 0, or area's zero-length axes): nothing to compute
            return Ok((out, (0..D + 2).map(|_| None).collect()));
        }
        for axis in 0..D {
            let (i, o) = (input[axis + 2], out[axis + 2]);
            let sf = self.coordinate_scale(axis);
            let a = |default: f64| T::from_f64_lossy(self.cubic_coefficient.unwrap_or(default));
            if self.antialias && i == o {
                // PyTorch's separable antialias kernel skips axes whose size does not change
                tabs.push(None);
                continue;
            }
            let cubic_a = a(-0.75);
            let aa_a = a(-0.5);
            let source = match (self.mode, self.antialias) {
                // PyTorch's 2-D nearest kernels compute the indices in f32 for every dtype
                // (checked on a grid of 2 x 5400 sizes: 0 differences, against 238 for f64
                // arithmetic on f64 tensors)
                (Mode::Nearest, _) if D == 2 => AxisSource::new(i, o, 1, move |r| {
                    AxisTable::nearest(i, tables::torch_nearest::<f32>(i, o, sf, true, r).idx)
                }),
                (Mode::NearestExact, _) if D == 2 => AxisSource::new(i, o, 1, move |r| {
                    let t = tables::torch_nearest_exact::<f32>(i, o, sf, false, r);
                    AxisTable::nearest(i, t.idx)
                }),
                (Mode::Nearest, _) => {
                    AxisSource::new(i, o, 1, move |r| tables::torch_nearest(i, o, sf, false, r))
                }
                (Mode::NearestExact, _) => AxisSource::new(i, o, 1, move |r| {
                    tables::torch_nearest_exact(i, o, sf, true, r)
                }),
                (Mode::Linear, false) => {
                    AxisSource::new(i, o, 2, move |r| tables::torch_linear(i, o, align, sf, r))
                }
                (Mode::Cubic, false) => AxisSource::new(i, o, 4, move |r| {
                    tables::torch_cubic(i, o, align, sf, cubic_a, r)
                }),
                (Mode::Linear | Mode::Cubic, true) => {
                    let filter = if self.mode == Mode::Linear {
                        AaFilter::Triangle
                    } else {
                        AaFilter::Cubic(aa_a)
                    };
                    let taps = tables::torch_antialias_max_taps(i, o, align, sf, filter);
                    AxisSource::new(i, o, taps, move |r| {
                        tables::torch_antialias(i, o, align, sf, filter, r)
                    })
                }
                (Mode::Area, _) => AxisSource::new(i, o, tables::area_max_taps(i, o), move |r| {
                    tables::area(i, o, r)
                }),
            };
            tabs.push(Some(source));
        }
        if self.antialias && D == 2 && out[3] == 1 {
            // PyTorch's separable antialias kernel, with an output width of 1, gives every
            // output row the value of output row 0 (checked on torch 2.15 over 2304 shapes:
            // bilinear and bicubic, align corners or not, any input width and heights that
            // change). Its numbers win: the height table gets row 0's taps everywhere.
            if let Some(h) = tabs.get_mut(2) {
                *h = h.take().map(AxisSource::first_output_everywhere);
            }
        }
        Ok((out, tabs))
    }

    /// Work and traffic of one call on an input of shape `input` with `elem_bytes`-byte
    /// elements.
    ///
    /// `multiply_adds` counts the products of the per-element definition
    /// (`N*C * Π_axes Σ_o taps(o)`; 0 for the copying nearest modes), bytes count the input
    /// read once and the output written once, `workspace_bytes` the per-thread ring of cached
    /// rows, `parameters` is 0.
    ///
    /// # Errors
    ///
    /// The errors of [`output_dims`](Self::output_dims); [`Error::Overflow`] for a spatial
    /// axis over 2^28 long on either side (the estimate walks each axis's taps).
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{Mode, Upsample2d};
    /// let c = Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear).cost(&[1, 1, 4, 4], 4)?;
    /// assert_eq!(c.bytes_written, 8 * 8 * 4);
    /// assert_eq!(c.multiply_adds, 16 * 16); // 2 taps x 8 outputs on each axis
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn cost(&self, input: &[usize], elem_bytes: usize) -> Result<Cost> {
        let dims = self.output_dims(input)?;
        let long = |d: &[usize]| d.iter().skip(2).any(|&l| l > MAX_COST_LEN);
        if long(input) || long(&dims) {
            return Err(Error::Overflow {
                what: "the cost estimate of an axis over 2^28 long",
            });
        }
        let (out, sources) = self.tables::<f64>(input)?;
        let e = elem_bytes as u64;
        let count = |d: &[usize]| sat_product(d.iter().map(|&v| v as u64));
        let nearest = matches!(self.mode, Mode::Nearest | Mode::NearestExact);
        let mut macs = 0;
        let mut workspace = 0u64;
        if !nearest {
            // taps and widest span of each axis, its table built a band at a time
            let per_axis: Vec<Option<(u64, usize)>> = sources
                .iter()
                .map(|s| {
                    s.as_ref().map(|s| {
                        (0..s.out_len)
                            .step_by(COST_BAND)
                            .fold((0, 0), |(taps, span), o0| {
                                let t = s.table(o0..(o0 + COST_BAND).min(s.out_len));
                                (taps + t.idx.len() as u64, span.max(t.max_span()))
                            })
                    })
                })
                .collect();
            let mut f = vec![input[0] as u64, input[1] as u64];
            f.extend(per_axis.iter().flatten().map(|&(taps, _)| taps));
            macs = sat_product(f.into_iter());
            for k in 2..per_axis.len().saturating_sub(1) {
                if let Some((_, span)) = per_axis[k] {
                    let below: u64 = count(&out[k + 1..]);
                    workspace = workspace.saturating_add((span as u64).saturating_mul(below));
                }
            }
        }
        Ok(Cost {
            multiply_adds: macs,
            parameters: 0,
            bytes_read: count(input).saturating_mul(e),
            bytes_written: count(&out).saturating_mul(e),
            workspace_bytes: workspace.saturating_mul(e),
        })
    }
}

/// Saturating product (cost numbers are informational and never overflow).
pub(crate) fn sat_product(it: impl Iterator<Item = u64>) -> u64 {
    it.fold(1u64, |acc, f| acc.saturating_mul(f))
}

/// Longest spatial axis [`Upsample::cost`] estimates: it builds the per-axis tap tables, whose
/// size grows with the axis.
const MAX_COST_LEN: usize = 1 << 28;

/// Outputs of one axis whose taps [`Upsample::cost`] counts at a time.
const COST_BAND: usize = 1 << 16;
