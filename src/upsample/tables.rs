//! Per-axis index / weight tables: the readable definition of every interpolation mode.
//!
//! Every mode of the crate is separable: along one axis, output `o` is
//! `Σ_t w[o, t] * x[idx[o, t]]`, and an N-D resize nests these sums, the last axis innermost
//! (PyTorch's evaluation order). A table holds, for one axis, the taps of every output in
//! CSR form. The fast kernels ([`super::kernels`]) and the per-element reference
//! ([`super::reference`]) both consume these tables; the formulas live only here.
//!
//! Coordinate arithmetic is done in the element type `T` (f32 for f32 tensors), mirroring
//! PyTorch's `opmath` and ONNX Runtime's `float`, so index choices match bit for bit.

use std::ops::Range;

use crate::element::Element;

/// Output shape plus one optional table source per tensor axis (`None`: axis unchanged).
pub(crate) type Plan<'a, T> = (Vec<usize>, Vec<Option<AxisSource<'a, T>>>);

/// One resized axis whose table is built on demand for any run of its outputs: the whole
/// axis at once, or a band at a time where the whole table would be large (a long signal
/// with few rows across it, see `super::bands`). Every builder below computes output `o`'s
/// taps from `o` alone, so a band's table is the matching part of the whole one.
pub(crate) struct AxisSource<'a, T> {
    /// Input length along the axis.
    pub in_len: usize,
    /// Output length along the axis.
    pub out_len: usize,
    /// No output has more taps than this (sizes a table before it is built).
    pub max_taps: usize,
    build: Box<dyn Fn(Range<usize>) -> AxisTable<T> + Sync + 'a>,
}

impl<'a, T: Element> AxisSource<'a, T> {
    /// A source whose `build(outs)` gives the table of outputs `outs` (with `outs.len()`
    /// outputs, indices into the whole input).
    pub(crate) fn new(
        in_len: usize,
        out_len: usize,
        max_taps: usize,
        build: impl Fn(Range<usize>) -> AxisTable<T> + Sync + 'a,
    ) -> Self {
        Self {
            in_len,
            out_len,
            max_taps,
            build: Box::new(build),
        }
    }

    /// The table of outputs `outs` (indices into the whole input, see [`AxisTable::rebase`]).
    pub(crate) fn table(&self, outs: Range<usize>) -> AxisTable<T> {
        debug_assert!(outs.start <= outs.end && outs.end <= self.out_len);
        (self.build)(outs)
    }

    /// The table of every output.
    pub(crate) fn whole(&self) -> AxisTable<T> {
        self.table(0..self.out_len)
    }

    /// At most the bytes the whole table takes: per output an offset and an outside flag,
    /// per tap an index and a weight.
    pub(crate) fn table_bytes(&self) -> usize {
        let tap = std::mem::size_of::<usize>() + std::mem::size_of::<T>();
        let per_output =
            (std::mem::size_of::<usize>() + 1).saturating_add(self.max_taps.saturating_mul(tap));
        self.out_len.saturating_mul(per_output)
    }

    /// PyTorch's antialias quirk for an output width of 1 (see `tables` in `config.rs`):
    /// every output takes the taps of output 0.
    pub(crate) fn first_output_everywhere(self) -> Self {
        let Self {
            in_len,
            out_len,
            max_taps,
            build,
        } = self;
        Self::new(in_len, out_len, max_taps, move |outs: Range<usize>| {
            build(0..1).repeat_first_output(outs.len())
        })
    }
}

/// The whole table of every axis (the reference and the cost estimate take them so).
pub(crate) fn whole_tables<T: Element>(
    sources: &[Option<AxisSource<'_, T>>],
) -> Vec<Option<AxisTable<T>>> {
    sources
        .iter()
        .map(|s| s.as_ref().map(AxisSource::whole))
        .collect()
}

/// Shortest input row [`AxisTable::periodic`] looks at: on rows of 14 inputs its kernel's
/// setup cost more than it saved (a 14x14 map x4, 1.1x the time).
const MIN_PERIODIC_INPUT: usize = 24;

/// See [`AxisTable::periodic`]: outputs `period*j + p`, `j` in `lo..hi`, are
/// `sum_t w[p*taps + t] * x[j + off[p*taps + t]]`.
#[derive(Clone, Debug)]
pub(crate) struct Periodic<T> {
    pub period: usize,
    pub taps: usize,
    pub off: Vec<isize>,
    pub w: Vec<T>,
    pub lo: usize,
    pub hi: usize,
}

/// See [`AxisTable::decimating`]: outputs `o` in `lo..hi` are
/// `sum_t w[t] * x[start + step*(o - lo) + t]`.
#[derive(Clone, Debug)]
pub(crate) struct Decimate<T> {
    pub step: usize,
    pub taps: usize,
    pub start: usize,
    pub w: Vec<T>,
    pub lo: usize,
    pub hi: usize,
}

/// Taps of every output position along one axis.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AxisTable<T> {
    /// Input length along the axis.
    pub in_len: usize,
    /// Output length along the axis.
    pub out_len: usize,
    /// `offs[o]..offs[o + 1]` are the taps of output `o` (length `out_len + 1`).
    pub offs: Vec<usize>,
    /// Input index of every tap, always `< in_len`.
    pub idx: Vec<usize>,
    /// Weight of every tap; empty for nearest tables (one tap of weight 1 each).
    pub w: Vec<T>,
    /// Outputs whose coordinate falls outside the input (`tf_crop_and_resize` only): they
    /// take the extrapolation value. Empty when no output is outside.
    pub outside: Vec<bool>,
    /// A band of a longer axis's outputs (see `super::bands`): never taken for the identity,
    /// which is a property of a whole table (a band of one output can look like a copy).
    pub band: bool,
}

impl<T: Element> AxisTable<T> {
    /// A nearest-neighbour table: output `o` copies `x[idx[o]]`.
    pub(crate) fn nearest(in_len: usize, idx: Vec<usize>) -> Self {
        debug_assert!(idx.iter().all(|&i| i < in_len));
        Self {
            in_len,
            out_len: idx.len(),
            offs: (0..=idx.len()).collect(),
            idx,
            w: Vec::new(),
            outside: Vec::new(),
            band: false,
        }
    }

    /// A weighted table with `taps` taps per output (`idx.len() == w.len() == out_len * taps`).
    pub(crate) fn fixed(in_len: usize, taps: usize, idx: Vec<usize>, w: Vec<T>) -> Self {
        debug_assert_eq!(idx.len(), w.len());
        let out_len = idx.len() / taps.max(1);
        Self {
            in_len,
            out_len,
            offs: (0..=out_len).map(|o| o * taps).collect(),
            idx,
            w,
            outside: Vec::new(),
            band: false,
        }
    }

    /// A table of `n` outputs, each with the taps of this table's output 0.
    pub(crate) fn repeat_first_output(&self, n: usize) -> Self {
        let (first, taps) = (self.offs[0], self.offs.get(1).copied().unwrap_or(0));
        let k = taps - first;
        let w: Vec<T> = self
            .w
            .get(first..taps)
            .map(<[T]>::to_vec)
            .unwrap_or_default();
        Self {
            in_len: self.in_len,
            out_len: n,
            offs: (0..=n).map(|o| o * k).collect(),
            idx: self.idx[first..taps].repeat(n),
            w: w.repeat(n),
            outside: match self.outside.first() {
                Some(&first_outside) => vec![first_outside; n],
                None => Vec::new(),
            },
            band: self.band,
        }
    }

    /// Narrows the input to the window of indices the taps use, `lo..=hi`: indices become
    /// `i - lo` and `in_len` the window's length. Returns `lo`. (A band of a long axis reads
    /// only its window of the input.)
    pub(crate) fn rebase(&mut self) -> usize {
        let (mut lo, mut hi) = (usize::MAX, 0);
        for o in 0..self.out_len {
            // every builder lists an output's taps in increasing order
            let (first, last) = (self.idx[self.offs[o]], self.idx[self.offs[o + 1] - 1]);
            debug_assert!(first <= last);
            lo = lo.min(first);
            hi = hi.max(last);
        }
        let lo = lo.min(hi);
        for i in &mut self.idx {
            *i -= lo;
        }
        self.in_len = hi - lo + 1;
        if !self.outside.iter().any(|&b| b) {
            self.outside.clear();
        }
        lo
    }

    /// Whether every output copies one input (no weights).
    pub(crate) fn is_nearest(&self) -> bool {
        self.w.is_empty()
    }

    /// `Some(k)` when every output has exactly `k` taps.
    pub(crate) fn fixed_taps(&self) -> Option<usize> {
        if self.is_nearest() {
            // one tap each, by construction
            return (self.out_len > 0).then_some(1);
        }
        let k = self.offs.get(1).copied()?;
        self.offs.windows(2).all(|p| p[1] - p[0] == k).then_some(k)
    }

    /// Whether the table is the identity (copy): same length, tap `o` of weight exactly 1 at
    /// `o` (other taps of weight exactly 0), nothing outside.
    pub(crate) fn is_identity(&self) -> bool {
        !self.band && self.in_len == self.out_len && self.copies_from(0)
    }

    /// Whether output `o` of this table (the outputs from `first` of its axis) copies input
    /// `first + o`, every output with nothing outside: the identity test, for a band of a
    /// same-length axis too.
    pub(crate) fn copies_from(&self, first: usize) -> bool {
        if !self.outside.is_empty() {
            return false;
        }
        (0..self.out_len).all(|o| {
            let r = self.offs[o]..self.offs[o + 1];
            if self.w.is_empty() {
                return self.idx[r.start] == first + o;
            }
            let mut one = false;
            for t in r {
                if self.w[t] == T::one() && self.idx[t] == first + o && !one {
                    one = true;
                } else if self.w[t] != T::zero() {
                    return false;
                }
            }
            one
        })
    }

    /// `Some(s)` when this is nearest upsampling by the integer factor `s`: `idx[o] = o / s`.
    pub(crate) fn integer_repeat(&self) -> Option<usize> {
        if !self.is_nearest() || !self.outside.is_empty() || self.out_len % self.in_len != 0 {
            return None;
        }
        let s = self.out_len / self.in_len;
        self.idx
            .iter()
            .enumerate()
            .all(|(o, &i)| i == o / s)
            .then_some(s)
    }

    /// The run of outputs where the table repeats with period `S = out_len / in_len` (an
    /// integer upscale of 2-8 with `K` = 2 or 4 taps per output): outputs `S*j + p` for `j` in
    /// `lo..hi` read inputs `j + off[p][t]` with weights `w[p][t]`, the very indices and
    /// weights of the table (compared exactly, so a table whose weights round differently
    /// from one period to the next is periodic only where they agree). `None` when no such
    /// run covers at least half of the input.
    pub(crate) fn periodic(&self) -> Option<Periodic<T>> {
        // (the cheap tests first: a band of a long axis fails them, and its table is long)
        if self.is_nearest()
            || self.in_len < MIN_PERIODIC_INPUT
            || self.out_len % self.in_len != 0
            || !self.outside.is_empty()
        {
            return None;
        }
        let k = self.fixed_taps()?;
        if !(k == 2 || k == 4) {
            return None;
        }
        let s = self.out_len / self.in_len;
        if !(2..=8).contains(&s) {
            return None;
        }
        // the pattern of the middle period, then as far as it holds on either side
        let mid = self.in_len / 2;
        let mut off = Vec::with_capacity(s * k);
        for t in 0..s * k {
            off.push(self.idx[s * mid * k + t] as isize - mid as isize);
        }
        let w = self.w[s * mid * k..][..s * k].to_vec();
        let holds = |j: usize| {
            let at = s * j * k;
            (0..s * k)
                .all(|t| self.idx[at + t] as isize == j as isize + off[t] && self.w[at + t] == w[t])
        };
        let (lo, hi) = run_around(mid, self.in_len, holds);
        (2 * (hi - lo) >= self.in_len).then_some(Periodic {
            period: s,
            taps: k,
            off,
            w,
            lo,
            hi,
        })
    }

    /// The run of outputs where the table steps through the input by a whole stride (an
    /// integer downscale by 2-4 with 2-4 consecutive taps per output, within one step):
    /// output `o` in `lo..hi` reads inputs `start + step*(o - lo) + t` with weights `w[t]`,
    /// the very indices and weights of the table (compared exactly), and the run's last step
    /// lies inside the input. `None` when no such run covers half of the outputs.
    pub(crate) fn decimating(&self) -> Option<Decimate<T>> {
        if self.is_nearest() || !self.outside.is_empty() || self.out_len < 2 {
            return None;
        }
        let k = self.fixed_taps()?;
        // the pattern of the middle output and the one before, then as far as it holds
        let mid = self.out_len / 2;
        let at = |o: usize| self.idx[o * k];
        let (a, b) = (at(mid - 1), at(mid));
        if b <= a || !(2..=4).contains(&(b - a)) || !(2..=b - a).contains(&k) {
            return None;
        }
        let step = b - a;
        let w = self.w[mid * k..][..k].to_vec();
        // output `o`'s first tap is where the step puts it (`at(o) + step*(mid - o) ==
        // at(mid)`, never below 0), its taps consecutive, its weights the middle one's
        let holds = |o: usize| {
            let placed = if o <= mid {
                at(o) + step * (mid - o) == b
            } else {
                at(o) == b + step * (o - mid)
            };
            placed
                && (1..k).all(|t| self.idx[o * k + t] == at(o) + t)
                && self.w[o * k..][..k] == w[..]
        };
        if !holds(mid) {
            return None;
        }
        let (lo, mut hi) = run_around(mid, self.out_len, holds);
        let start = at(lo);
        while hi > lo && start + step * (hi - lo) > self.in_len {
            hi -= 1;
        }
        (2 * (hi - lo) >= self.out_len).then_some(Decimate {
            step,
            taps: k,
            start,
            w,
            lo,
            hi,
        })
    }

    /// Widest index span `max - min + 1` used by one output (the ring size the fused kernels
    /// need to keep every tap of one output resident).
    pub(crate) fn max_span(&self) -> usize {
        // every builder lists an output's taps in increasing order
        (0..self.out_len)
            .map(|o| self.idx[self.offs[o + 1] - 1] - self.idx[self.offs[o]] + 1)
            .max()
            .unwrap_or(1)
    }

    /// Taps of output `o` as `(index, weight)` pairs (weight 1 for nearest).
    #[cfg(test)]
    pub(crate) fn taps(&self, o: usize) -> impl Iterator<Item = (usize, T)> + '_ {
        let r = self.offs[o]..self.offs[o + 1];
        r.map(move |t| (self.idx[t], self.w.get(t).copied().unwrap_or_else(T::one)))
    }
}

/// The run `lo..hi` of `0..len` around `mid` (included) over which `holds` holds, grown from
/// `mid` both ways as far as it does.
fn run_around(mid: usize, len: usize, holds: impl Fn(usize) -> bool) -> (usize, usize) {
    let mut lo = mid;
    while lo > 0 && holds(lo - 1) {
        lo -= 1;
    }
    let mut hi = mid + 1;
    while hi < len && holds(hi) {
        hi += 1;
    }
    (lo, hi)
}

/// `floorf(v)` as PyTorch's CPU kernels compute it: the value is rounded to `f32` first (even
/// for f64 tensors, `floorf` takes a `float`), then floored. NaN gives 0, huge values saturate.
#[inline]
pub(crate) fn floorf<T: Element>(v: T) -> i64 {
    let v = v.to_f64_lossless() as f32;
    // the truncation, one lower for negative fractions (`f32::floor` is a library call on
    // the baseline x86-64 target, and tables of long axes floor once per output); exact
    // where `v` fits in `i64`, since the truncation of an `f32` is an `f32`
    if v.abs() < 9.0e18 {
        let t = v as i64;
        if (t as f32) > v {
            t - 1
        } else {
            t
        }
    } else {
        v.floor() as i64
    }
}

/// Clamps `i` into `[0, len - 1]`.
#[inline]
pub(crate) fn clamp_index(i: i64, len: usize) -> usize {
    i.clamp(0, len as i64 - 1) as usize
}

#[inline]
fn t_of<T: Element>(v: f64) -> T {
    T::from_f64_lossy(v)
}

#[inline]
fn t_usize<T: Element>(v: usize) -> T {
    T::from_usize_lossy(v)
}

/// PyTorch `compute_scales_value`: `1/sf` when a scale factor is used, else `in/out`, in `T`.
pub(crate) fn torch_scale<T: Element>(in_len: usize, out_len: usize, sf: Option<f64>) -> T {
    match sf {
        Some(s) if s > 0.0 => t_of(1.0 / s),
        _ => t_usize::<T>(in_len) / t_usize::<T>(out_len),
    }
}

/// PyTorch `area_pixel_compute_scale`.
pub(crate) fn torch_area_scale<T: Element>(
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    sf: Option<f64>,
) -> T {
    if align_corners {
        if out_len > 1 {
            t_usize::<T>(in_len - 1) / t_usize::<T>(out_len - 1)
        } else {
            T::zero()
        }
    } else {
        torch_scale(in_len, out_len, sf)
    }
}

/// PyTorch `area_pixel_compute_source_index`.
#[inline]
fn torch_source_index<T: Element>(scale: T, o: usize, align_corners: bool, cubic: bool) -> T {
    if align_corners {
        scale * t_usize::<T>(o)
    } else {
        let half = t_of::<T>(0.5);
        let src = scale * (t_usize::<T>(o) + half) - half;
        if !cubic && src < T::zero() {
            T::zero()
        } else {
            src
        }
    }
}

/// How a PyTorch nearest mode maps output `o` to its input (see [`torch_nearest`] and
/// [`torch_nearest_exact`]), for the vectorised index loop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NearestRule {
    /// `floor(scale * o)`.
    Floor,
    /// `floor(max(scale * (o + 0.5) - 0.5, 0) + 0.5)`, the first part one fused
    /// multiply-add when `fused`.
    HalfPixel { fused: bool },
}

/// PyTorch `mode="nearest"`: `src = min(floorf(scale * o), in - 1)` with `scale = 1/sf` or
/// `in/out`. With `shortcuts` (2-D `upsample_nearest2d`), `out == in` copies and
/// `out == 2 in` uses `o >> 1`, whatever the scale factor. (This and every builder below:
/// the table of outputs `outs`.)
pub(crate) fn torch_nearest<T: Element>(
    in_len: usize,
    out_len: usize,
    sf: Option<f64>,
    shortcuts: bool,
    outs: Range<usize>,
) -> AxisTable<T> {
    if shortcuts && out_len == in_len {
        return AxisTable::nearest(in_len, outs.collect());
    }
    if shortcuts && Some(out_len) == in_len.checked_mul(2) {
        return AxisTable::nearest(in_len, outs.map(|o| o >> 1).collect());
    }
    nearest_table(
        torch_scale(in_len, out_len, sf),
        NearestRule::Floor,
        outs,
        in_len,
    )
}

/// The nearest table of outputs `outs` under `rule`: in `f32` eight outputs at a time (long
/// axes build large tables), else (and as the definition) [`nearest_definition`].
fn nearest_table<T: Element>(
    scale: T,
    rule: NearestRule,
    outs: Range<usize>,
    in_len: usize,
) -> AxisTable<T> {
    if let Some(&[scale]) = T::as_f32(std::slice::from_ref(&scale)) {
        if let Some(idx) = super::table_kernels::nearest_indices(scale, rule, outs.clone(), in_len)
        {
            return AxisTable::nearest(in_len, idx);
        }
    }
    nearest_definition(scale, rule, outs, in_len)
}

/// The input index of each output of `outs` under `rule`, one by one.
fn nearest_definition<T: Element>(
    scale: T,
    rule: NearestRule,
    outs: Range<usize>,
    in_len: usize,
) -> AxisTable<T> {
    let half = t_of::<T>(0.5);
    let idx = outs
        .map(|o| {
            let r = match rule {
                NearestRule::Floor => scale * t_usize::<T>(o),
                NearestRule::HalfPixel { fused: true } => {
                    scale.mul_add(t_usize::<T>(o) + half, -half).max(T::zero()) + half
                }
                NearestRule::HalfPixel { fused: false } => {
                    torch_source_index(scale, o, false, false) + half
                }
            };
            clamp_index(floorf(r), in_len)
        })
        .collect();
    AxisTable::nearest(in_len, idx)
}

/// PyTorch `mode="nearest-exact"`: `src = min(floorf(max(scale*(o + 0.5) - 0.5, 0) + 0.5), in - 1)`.
///
/// With `fused`, `scale*(o + 0.5) - 0.5` is one fused multiply-add, as in PyTorch's 1-D and
/// 3-D kernels (its compiler contracts the expression there; its 2-D kernel rounds twice). In
/// `f32` that picks another index for a few sizes: `2 -> 41` gives index 1 at output 20
/// (`0.04878049 * 20.5 - 0.5` is just above one half unrounded, exactly one half rounded).
pub(crate) fn torch_nearest_exact<T: Element>(
    in_len: usize,
    out_len: usize,
    sf: Option<f64>,
    fused: bool,
    outs: Range<usize>,
) -> AxisTable<T> {
    let scale: T = torch_scale(in_len, out_len, sf);
    nearest_table(scale, NearestRule::HalfPixel { fused }, outs, in_len)
}

/// PyTorch `linear` / `bilinear` / `trilinear` (`compute_source_index_and_lambda`): two taps
/// `(i0, 1 - λ)`, `(i1, λ)`; `out == in` copies.
pub(crate) fn torch_linear<T: Element>(
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    sf: Option<f64>,
    outs: Range<usize>,
) -> AxisTable<T> {
    let scale: T = torch_area_scale(in_len, out_len, align_corners, sf);
    if out_len != in_len {
        if let Some(&[scale]) = T::as_f32(std::slice::from_ref(&scale)) {
            // the same f32 arithmetic, eight outputs at a time (long axes build large tables)
            let (mut idx, mut w) = (vec![0; 2 * outs.len()], vec![T::zero(); 2 * outs.len()]);
            if let Some(w32) = T::as_f32_mut(&mut w) {
                let (first, align) = (outs.start, align_corners);
                if super::table_kernels::linear_taps(scale, align, first, in_len, &mut idx, w32) {
                    return AxisTable::fixed(in_len, 2, idx, w);
                }
            }
        }
    }
    linear_definition(scale, in_len, out_len, align_corners, outs)
}

/// The taps of each output of `outs` of [`torch_linear`], one by one.
fn linear_definition<T: Element>(
    scale: T,
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    outs: Range<usize>,
) -> AxisTable<T> {
    let mut idx = Vec::with_capacity(2 * outs.len());
    let mut w = Vec::with_capacity(2 * outs.len());
    for o in outs {
        if out_len == in_len {
            idx.extend([o, o]);
            w.extend([T::one(), T::zero()]);
            continue;
        }
        let r = torch_source_index(scale, o, align_corners, false);
        // guard_index_and_lambda: i0 = min(floorf(r), in - 1), λ = clamp(r - i0, 0, 1)
        let i0 = floorf(r).min(in_len as i64 - 1);
        let lambda = (r - T::from_i64(i0).unwrap_or_else(T::zero))
            .max(T::zero())
            .min(T::one());
        let i0 = clamp_index(i0, in_len);
        let i1 = if i0 < in_len - 1 { i0 + 1 } else { i0 };
        idx.extend([i0, i1]);
        w.extend([T::one() - lambda, lambda]);
    }
    AxisTable::fixed(in_len, 2, idx, w)
}

/// Keys cubic convolution for `|x| <= 1`: `((A + 2) x - (A + 3)) x^2 + 1`.
#[inline]
pub(crate) fn cubic1<T: Element>(x: T, a: T) -> T {
    let two = t_of::<T>(2.0);
    let three = t_of::<T>(3.0);
    ((a + two) * x - (a + three)) * x * x + T::one()
}

/// Keys cubic convolution for `1 < |x| < 2`: `((A x - 5A) x + 8A) x - 4A`.
#[inline]
pub(crate) fn cubic2<T: Element>(x: T, a: T) -> T {
    let five = t_of::<T>(5.0);
    let eight = t_of::<T>(8.0);
    let four = t_of::<T>(4.0);
    ((a * x - five * a) * x + eight * a) * x - four * a
}

/// PyTorch `get_cubic_upsample_coefficients`: `[W2(t+1), W1(t), W1(1-t), W2(2-t)]`.
#[inline]
pub(crate) fn cubic_coefficients<T: Element>(t: T, a: T) -> [T; 4] {
    let x2 = T::one() - t;
    [
        cubic2(t + T::one(), a),
        cubic1(t, a),
        cubic1(x2, a),
        cubic2(x2 + T::one(), a),
    ]
}

/// PyTorch `bicubic`: `r` unclamped, `i = min(floorf(r), in - 1)`, `t = clamp(r - i, 0, 1)`,
/// taps `i-1 .. i+2` clamped to the edge. No `out == in` shortcut.
pub(crate) fn torch_cubic<T: Element>(
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    sf: Option<f64>,
    a: T,
    outs: Range<usize>,
) -> AxisTable<T> {
    let scale: T = torch_area_scale(in_len, out_len, align_corners, sf);
    let mut idx = Vec::with_capacity(4 * outs.len());
    let mut w = Vec::with_capacity(4 * outs.len());
    for o in outs {
        let r = torch_source_index(scale, o, align_corners, true);
        let i = floorf(r).min(in_len as i64 - 1);
        let t = (r - T::from_i64(i).unwrap_or_else(T::zero))
            .max(T::zero())
            .min(T::one());
        let c = cubic_coefficients(t, a);
        for (j, cj) in c.into_iter().enumerate() {
            idx.push(clamp_index(i.saturating_add(j as i64 - 1), in_len));
            w.push(cj);
        }
    }
    AxisTable::fixed(in_len, 4, idx, w)
}

/// The filter of an antialiased resize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AaFilter<T> {
    /// Triangle `max(0, 1 - |x|)`, support 1.
    Triangle,
    /// Keys cubic with coefficient `a`, support 2.
    Cubic(T),
}

impl<T: Element> AaFilter<T> {
    /// `interp_size / 2`: 1 for the triangle, 2 for cubic.
    pub(crate) fn half_support(&self) -> T {
        match self {
            Self::Triangle => T::one(),
            Self::Cubic(_) => t_of(2.0),
        }
    }

    /// The filter value at `x`.
    #[inline]
    pub(crate) fn eval(&self, x: T) -> T {
        let x = x.abs();
        match *self {
            Self::Triangle => {
                if x < T::one() {
                    T::one() - x
                } else {
                    T::zero()
                }
            }
            Self::Cubic(a) => {
                if x < T::one() {
                    cubic1(x, a)
                } else if x < t_of(2.0) {
                    cubic2(x, a)
                } else {
                    T::zero()
                }
            }
        }
    }
}

/// PyTorch `antialias=True` (`_compute_indices_min_size_weights_aa`): the filter stretched by
/// the scale when downsampling, taps outside the input dropped, weights normalised.
///
/// ```text
/// support = scale >= 1 ? half_support * scale : half_support
/// center  = scale * (o + 0.5);  invs = scale >= 1 ? 1/scale : 1
/// xmin    = max(trunc(center - support + 0.5), 0);  xmax = min(trunc(center + support + 0.5), in)
/// w_j     = F((j - center + 0.5) * invs) / Σ,  j in xmin..xmax
/// ```
pub(crate) fn torch_antialias<T: Element>(
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    sf: Option<f64>,
    filter: AaFilter<T>,
    outs: Range<usize>,
) -> AxisTable<T> {
    let scale: T = torch_area_scale(in_len, out_len, align_corners, sf);
    let half = t_of::<T>(0.5);
    let (support, invscale) = antialias_support(scale, filter);
    let max_taps = antialias_max_taps(support);
    let mut offs = vec![0];
    let mut idx = Vec::new();
    let mut w = Vec::new();
    let band = outs.len();
    for o in outs {
        let center = scale * (t_usize::<T>(o) + half);
        let xmin = ((center - support + half).to_f64_lossless() as i64).max(0);
        let xmax = ((center + support + half).to_f64_lossless() as i64).min(in_len as i64);
        let xsize = (xmax - xmin).clamp(0, max_taps as i64) as usize;
        let xmin = xmin as usize;
        let start = w.len();
        let mut total = T::zero();
        for j in 0..xsize {
            let v = filter.eval((t_usize::<T>(j + xmin) - center + half) * invscale);
            idx.push(j + xmin);
            w.push(v);
            total = total + v;
        }
        if total != T::zero() {
            for v in &mut w[start..] {
                *v = *v / total;
            }
        }
        if xsize == 0 {
            // cannot happen for in, out >= 1; keep the table well formed
            idx.push(clamp_index(xmin as i64, in_len));
            w.push(T::zero());
        }
        offs.push(w.len());
    }
    AxisTable {
        in_len,
        out_len: band,
        offs,
        idx,
        w,
        outside: Vec::new(),
        band: false,
    }
}

/// The stretched support and inverse scale of [`torch_antialias`]'s filter.
fn antialias_support<T: Element>(scale: T, filter: AaFilter<T>) -> (T, T) {
    let hs = filter.half_support();
    if scale >= T::one() {
        (hs * scale, T::one() / scale)
    } else {
        (hs, T::one())
    }
}

/// Most taps of one output of [`torch_antialias`] with half-width `support`.
fn antialias_max_taps<T: Element>(support: T) -> usize {
    (support.ceil().to_f64_lossless() as usize)
        .saturating_mul(2)
        .saturating_add(1)
}

/// An upper bound of [`torch_antialias`]'s taps per output.
pub(crate) fn torch_antialias_max_taps<T: Element>(
    in_len: usize,
    out_len: usize,
    align_corners: bool,
    sf: Option<f64>,
    filter: AaFilter<T>,
) -> usize {
    let scale: T = torch_area_scale(in_len, out_len, align_corners, sf);
    antialias_max_taps(antialias_support(scale, filter).0)
}

/// PyTorch `mode="area"` (adaptive average pooling): output `o` averages
/// `x[floor(o*in/out) .. ceil((o+1)*in/out))` with weights `1/count`.
pub(crate) fn area<T: Element>(in_len: usize, out_len: usize, outs: Range<usize>) -> AxisTable<T> {
    let band = outs.len();
    let mut offs = Vec::with_capacity(band + 1);
    offs.push(0);
    // (the bins tile the input, overlapping by at most one sample each)
    let taps = in_len
        .saturating_mul(band)
        .div_ceil(out_len.max(1))
        .saturating_add(2 * band);
    let (mut idx, mut w) = (Vec::with_capacity(taps), Vec::with_capacity(taps));
    // floor(o * in / out) as quotient and remainder, divided once (in u128, so o * in cannot
    // overflow) and then stepped by in / out per output: no division per output
    let num = outs.start as u128 * in_len as u128;
    let mut start = (num / out_len as u128) as usize;
    let mut rem = (num % out_len as u128) as usize;
    let (q_step, r_step) = (in_len / out_len, in_len % out_len);
    let mut inv = (0, T::zero());
    for _ in outs {
        let (mut next, mut next_rem) = (start + q_step, rem + r_step);
        if next_rem >= out_len {
            next_rem -= out_len;
            next += 1;
        }
        // ceil((o + 1) * in / out)
        let end = (next + usize::from(next_rem > 0)).min(in_len);
        let count = end - start;
        if inv.0 != count {
            inv = (count, T::one() / t_usize::<T>(count));
        }
        idx.extend(start..end);
        w.resize(w.len() + count, inv.1);
        offs.push(w.len());
        (start, rem) = (next, next_rem);
    }
    AxisTable {
        in_len,
        out_len: band,
        offs,
        idx,
        w,
        outside: Vec::new(),
        band: false,
    }
}

/// An upper bound of [`area`]'s taps per output.
pub(crate) fn area_max_taps(in_len: usize, out_len: usize) -> usize {
    in_len.div_ceil(out_len.max(1)).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_uses_f32_scale() {
        // 41 * f32(2/82) = 0.99999994 -> 0 (PyTorch), exact maths gives 1
        let t = torch_nearest::<f32>(2, 82, None, false, 0..82);
        assert_eq!(t.idx[41], 0);
        let t = torch_nearest::<f64>(2, 98, None, false, 0..98);
        // f64 tensors still floor through floorf (f32): 49 * (2/98) rounds to 1.0f
        assert_eq!(t.idx[49], 1);
    }

    #[test]
    fn floorf_equals_the_library_floor() {
        let mut values = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999_999_8,
            -2.999_999_8,
            8_388_607.5,
            -8_388_607.5,
            16_777_217.0,
            1e18,
            -1e18,
            9.5e18,
            -9.5e18,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
        ];
        let mut s = 1u32;
        for _ in 0..10_000 {
            s = s.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
            values.push(f32::from_bits(s));
        }
        for v in values {
            assert_eq!(floorf(v), v.floor() as i64, "{v:e}");
            assert_eq!(floorf(f64::from(v)), v.floor() as i64, "{v:e} (f64)");
        }
    }

    /// The vectorised f32 loops of `torch_nearest`, `torch_nearest_exact` and `torch_linear`
    /// give the definition's indices and weights bit for bit (in f32 arithmetic, as the
    /// tables of f32 tensors have them), past 2^24 (where outputs round to f32) too.
    #[test]
    fn vectorised_tables_equal_definition() {
        let cases = [
            (2, 82, None, 0..82),
            (7, 3, None, 0..3),
            (5, 13, Some(2.7), 0..13),
            (100, 9_999, Some(99.99), 17..9_999),
            (200_000, 300_000, Some(1.5), 0..300_000),
            (1 << 20, 1 << 25, None, (1 << 24) - 40..(1 << 24) + 4_000),
            (
                3 << 22,
                (1 << 25) + 7,
                Some(2.5),
                (1 << 25) - 900..(1 << 25) + 7,
            ),
            (10, 1_000, Some(1e-3), 0..1_000),
            (2, 41, None, 0..41),
            (480_000, 240_000, Some(0.5), 0..240_000),
            (1_000, 10, Some(0.01), 0..10),
            (1, 5, None, 0..5),
        ];
        // the first tap whose index or weight bits differ, if any
        let differ = |a: AxisTable<f32>, b: AxisTable<f32>| {
            assert_eq!((a.idx.len(), a.w.len()), (b.idx.len(), b.w.len()));
            let bits = |t: &AxisTable<f32>, k: usize| t.w.get(k).map(|v| v.to_bits());
            (0..a.idx.len()).find(|&k| a.idx[k] != b.idx[k] || bits(&a, k) != bits(&b, k))
        };
        for (in_len, out_len, sf, outs) in cases {
            let what = format!("{in_len} -> {out_len} {sf:?} {outs:?}");
            let scale: f32 = torch_scale(in_len, out_len, sf);
            let rules = [
                NearestRule::Floor,
                NearestRule::HalfPixel { fused: false },
                NearestRule::HalfPixel { fused: true },
            ];
            for rule in rules {
                let fast = nearest_table(scale, rule, outs.clone(), in_len);
                let slow = nearest_definition(scale, rule, outs.clone(), in_len);
                assert_eq!(differ(fast, slow), None, "{what} {rule:?}");
            }
            for align in [false, true] {
                let fast = torch_linear::<f32>(in_len, out_len, align, sf, outs.clone());
                let scale = torch_area_scale(in_len, out_len, align, sf);
                let slow = linear_definition(scale, in_len, out_len, align, outs.clone());
                assert_eq!(differ(fast, slow), None, "{what} align {align}");
            }
        }
    }

    #[test]
    fn nearest_2d_shortcuts() {
        let t = torch_nearest::<f32>(4, 8, Some(2.2), true, 0..8);
        assert_eq!(t.idx, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        let t = torch_nearest::<f32>(4, 8, Some(2.2), false, 0..8);
        assert_eq!(t.idx, vec![0, 0, 0, 1, 1, 2, 2, 3]);
        assert_eq!(
            torch_nearest::<f32>(4, 8, None, false, 0..8).integer_repeat(),
            Some(2)
        );
    }

    #[test]
    fn linear_copy_and_edges() {
        let t = torch_linear::<f64>(4, 4, false, Some(1.2), 0..4);
        assert!(t.is_identity());
        let t = torch_linear::<f64>(2, 4, false, None, 0..4);
        assert_eq!(t.idx, vec![0, 1, 0, 1, 0, 1, 1, 1]);
        assert_eq!(t.w, vec![1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.75, 0.25]);
    }

    #[test]
    fn cubic_weights_sum_to_one() {
        let t = torch_cubic::<f64>(5, 9, false, None, -0.75, 0..9);
        for o in 0..9 {
            let s: f64 = t.taps(o).map(|(_, w)| w).sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn area_bins() {
        let t = area::<f64>(5, 3, 0..3);
        assert_eq!(t.offs, vec![0, 2, 5, 7]);
        assert_eq!(t.idx, vec![0, 1, 1, 2, 3, 3, 4]);
        // o * in past u64: output 2^30 - 1 of 2^40 -> 2^30 averages inputs 1024 o .. 1024 (o + 1)
        let o = (1usize << 30) - 1;
        let t = area::<f64>(1 << 40, 1 << 30, o..o + 1);
        assert_eq!(t.idx, ((o << 10)..((o + 1) << 10)).collect::<Vec<_>>());
        // a band of 3 -> 7: output 2 spans floor(6/7)..ceil(9/7), output 3 floor(9/7)..ceil(12/7)
        let t = area::<f64>(3, 7, 2..4);
        assert_eq!((t.offs, t.idx), (vec![0, 2, 3], vec![0, 1, 1]));
    }
}
