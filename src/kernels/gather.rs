//! Output rows of a strided transposed convolution gathered, not scattered: col2im "as a
//! gather per output phase".
//!
//! [`RowReach`] lists the strided rows (and taps) that reach an output row, per phase, with no
//! division per tap. [`PhaseRow`] builds the row itself: along the innermost axis, strided
//! position `i` with tap `k` lands on the uncropped position `b = i*s + k*d`, which is dense
//! position `b - pad_begin`. Writing `b = idx*s + phase`, the whole strided row of tap `k` goes
//! into phase `(k*d) % s` at indices `(k*d)/s + i`: one contiguous run that the compiler
//! vectorises for any stride, with no range checks (the uncropped row has room for every tap).
//! When every contribution is in, the phases are interleaved into the output row, cropped by
//! the padding, in one pass.

use crate::problem::{AxisMap, Phase};
use crate::Element;

/// The (tap, strided position) pairs that reach each dense position of one axis: dense
/// `o = r + s*j` is in phase `r`, whose sub-tap `t` (tap `first_tap - t*tap_step`) reads
/// strided position `j + t*d' - pad` (see [`AxisMap::phase`]).
struct AxisReach {
    stride: usize,
    strided: usize,
    phases: Vec<Phase>,
}

impl AxisReach {
    fn new(a: &AxisMap) -> Self {
        AxisReach {
            stride: a.stride,
            strided: a.strided,
            phases: (0..a.stride).map(|r| a.phase(r)).collect(),
        }
    }

    /// `f(tap, strided position)` for each pair that lands on dense position `o`.
    #[inline]
    fn each(&self, o: usize, mut f: impl FnMut(usize, usize)) {
        let ph = &self.phases[o % self.stride];
        let j = (o / self.stride) as i64;
        for t in 0..ph.axis.kernel {
            let i = j + (t * ph.axis.dilation) as i64 - ph.axis.pad_begin;
            if i >= 0 && (i as usize) < self.strided {
                f(ph.tap(t), i as usize);
            }
        }
    }
}

/// The strided rows that reach each output row of a problem (rows index the two outer axes:
/// strided row `r = id*H_in + ih`, output row `od*H_out + oh`).
pub(crate) struct RowReach {
    depth: AxisReach,
    height: AxisReach,
    kh: usize,
    kw: usize,
}

impl RowReach {
    pub(crate) fn new(a: &[AxisMap; 3]) -> Self {
        RowReach {
            depth: AxisReach::new(&a[0]),
            height: AxisReach::new(&a[1]),
            kh: a[1].kernel,
            kw: a[2].kernel,
        }
    }

    /// Pushes onto `taps` `(tap offset, r - r0)` for every `(kd, kh)` through
    /// which a strided row `r` in `r0..r1` reaches output row `(od, oh)`; the tap offset
    /// `(kd*K_h + kh)*K_w` is the first of its `kw` taps. Returns the lowest such `r` over all
    /// rows, not only `r0..r1` (`usize::MAX` when no tap reaches the row).
    pub(crate) fn rows(
        &self,
        od: usize,
        oh: usize,
        (r0, r1): (usize, usize),
        taps: &mut Vec<(usize, usize)>,
    ) -> usize {
        let mut first = usize::MAX;
        self.depth.each(od, |kd, id| {
            self.height.each(oh, |kh, ih| {
                let r = id * self.height.strided + ih;
                first = first.min(r);
                if (r0..r1).contains(&r) {
                    taps.push(((kd * self.kh + kh) * self.kw, r - r0));
                }
            });
        });
        first
    }
}

/// An uncropped output row as `stride` phase rows (see the module docs), or several such rows
/// back to back (see [`PhaseRow::rows`]).
pub(crate) struct PhaseRow<T> {
    stride: usize,
    pad_begin: i64,
    /// Strided positions per row.
    width: usize,
    /// Elements per phase: `width + (K-1)*d / s`, room for the last tap's run.
    phase_len: usize,
    /// Phase `ph` of row `i` is `data[(i*stride + ph)*phase_len..][..phase_len]`.
    data: Vec<T>,
    /// Where tap `k`'s run starts in `data` (worked out once: a row of a small image is a
    /// few elements, and two divisions per tap cost more than its adds).
    starts: Vec<usize>,
    /// The dense positions `lo..hi` the uncropped row covers (the rest of an output row is
    /// reached by no tap).
    lo: usize,
    hi: usize,
}

impl<T: Element> PhaseRow<T> {
    /// A row for `axis` (innermost axis of a transposed-convolution problem).
    pub(crate) fn new(axis: &AxisMap) -> Self {
        Self::rows(axis, 1)
    }

    /// Elements one row for `axis` holds (`stride` phases).
    pub(crate) fn row_elements(axis: &AxisMap) -> usize {
        axis.stride * Self::phase_len(axis)
    }

    /// Elements per phase: `width + (K-1)*d / s`.
    fn phase_len(axis: &AxisMap) -> usize {
        axis.strided + axis.kernel.saturating_sub(1) * axis.dilation / axis.stride
    }

    /// `count` rows for `axis`, used through the `*_row` methods.
    pub(crate) fn rows(axis: &AxisMap, count: usize) -> Self {
        let (s, d, k, pb) = (axis.stride, axis.dilation, axis.kernel, axis.pad_begin);
        let width = axis.strided;
        let span = k.saturating_sub(1) * d;
        let phase_len = Self::phase_len(axis);
        // uncropped positions 0..full, dense positions -pb..full-pb
        let full = if width == 0 || k == 0 {
            0
        } else {
            (width - 1) * s + span + 1
        };
        let lo = (-pb).clamp(0, axis.dense as i64) as usize;
        let hi = (full as i64 - pb).clamp(lo as i64, axis.dense as i64) as usize;
        let starts = (0..k)
            .map(|tap| {
                let b = tap * d;
                (b % s) * phase_len + b / s
            })
            .collect();
        PhaseRow {
            stride: s,
            pad_begin: pb,
            width,
            phase_len,
            data: vec![T::zero(); count * s * phase_len],
            starts,
            lo,
            hi,
        }
    }

    /// Sets every position to `v` (the bias when the row will be stored, zero when added).
    #[inline(always)]
    pub(crate) fn reset(&mut self, v: T) {
        self.reset_row(0, v);
    }

    /// Adds strided row `src` times `w` through tap `k`.
    #[inline(always)]
    pub(crate) fn add_scaled(&mut self, k: usize, src: &[T], w: T) {
        let run = self.run(0, k);
        run.iter_mut().zip(src).for_each(|(r, &v)| *r = *r + v * w);
    }

    /// Writes the row into `out` (a whole output row): positions no tap reaches get `fill`.
    #[inline(always)]
    pub(crate) fn store(&self, out: &mut [T], fill: T) {
        self.store_row(0, out, fill);
    }

    /// [`Self::reset`] for row `i`.
    #[inline(always)]
    pub(crate) fn reset_row(&mut self, i: usize, v: T) {
        let len = self.stride * self.phase_len;
        self.data[i * len..(i + 1) * len].fill(v);
    }

    /// Adds strided row `src` through tap `k` into row `i`.
    #[inline(always)]
    pub(crate) fn add_row(&mut self, i: usize, k: usize, src: &[T]) {
        add_run(self.run(i, k), src);
    }

    /// [`Self::store`] for row `i`.
    #[inline(always)]
    pub(crate) fn store_row(&self, i: usize, out: &mut [T], fill: T) {
        out[..self.lo].fill(fill);
        out[self.hi..].fill(fill);
        self.put(i, out, |o, v| *o = v);
    }

    /// Adds row `i` into `out` (a whole output row).
    #[inline(always)]
    pub(crate) fn add_to_row(&self, i: usize, out: &mut [T]) {
        self.put(i, out, |o, v| *o = *o + v);
    }

    /// The run that tap `k` of a whole strided row adds to in row `i`.
    #[inline(always)]
    fn run(&mut self, i: usize, k: usize) -> &mut [T] {
        let start = i * self.stride * self.phase_len + self.starts[k];
        &mut self.data[start..start + self.width]
    }

    /// `put(out[o], row i [o])` for the covered positions `lo..hi`.
    #[inline(always)]
    fn put(&self, i: usize, out: &mut [T], put: impl Fn(&mut T, T)) {
        let len = self.phase_len;
        let base = i * self.stride * len;
        let phase = |ph: usize| &self.data[base + ph * len..base + (ph + 1) * len];
        interleave(
            out,
            self.stride,
            self.pad_begin,
            (self.lo, self.hi),
            phase,
            put,
        );
    }
}

/// `dst[i] += src[i]`, see [`zip_blocked`].
#[inline(always)]
fn add_run<T: Element>(dst: &mut [T], src: &[T]) {
    zip_blocked(dst, src, |x, v| *x = *x + v);
}

/// `f(&mut dst[i], src[i])` for `i` below both lengths, in blocks of 8, then 4, then one at a
/// time. A strided row of a decoder's map is 4-64 elements: compiled for AVX2, a plain loop
/// is vectorised and unrolled to 32 elements a step and would leave such a row to its scalar
/// tail, while each block here is one vector operation (read before written, so no overlap
/// need be ruled out).
#[inline(always)]
fn zip_blocked<T: Element>(dst: &mut [T], src: &[T], f: impl Fn(&mut T, T)) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d8 = dst.chunks_exact_mut(8);
    let mut s8 = src.chunks_exact(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        // as arrays (always `Ok`)
        if let (Ok(d), Ok(s)) = (<&mut [T; 8]>::try_from(d), <&[T; 8]>::try_from(s)) {
            let (mut block, v) = (*d, *s);
            for i in 0..8 {
                f(&mut block[i], v[i]);
            }
            *d = block;
        }
    }
    let mut d4 = d8.into_remainder().chunks_exact_mut(4);
    let mut s4 = s8.remainder().chunks_exact(4);
    for (d, s) in (&mut d4).zip(&mut s4) {
        if let (Ok(d), Ok(s)) = (<&mut [T; 4]>::try_from(d), <&[T; 4]>::try_from(s)) {
            let (mut block, v) = (*d, *s);
            for i in 0..4 {
                f(&mut block[i], v[i]);
            }
            *d = block;
        }
    }
    for (x, &v) in d4.into_remainder().iter_mut().zip(s4.remainder()) {
        f(x, v);
    }
}

/// `put(out[o], v)` for the dense positions `o` in `lo..hi` of a row held as `stride` phase
/// rows: dense `o` is uncropped `b = o + pad_begin`, element `b / s` of `phase(b % s)`.
/// Every such element must exist.
#[inline(always)]
pub(crate) fn interleave<'a, T: Element>(
    out: &mut [T],
    s: usize,
    pad_begin: i64,
    (mut lo, hi): (usize, usize),
    phase: impl Fn(usize) -> &'a [T],
    put: impl Fn(&mut T, T),
) {
    if lo >= hi {
        return;
    }
    let at = |o: usize| (o as i64 + pad_begin) as usize;
    if s == 1 {
        let b = at(lo);
        zip_blocked(&mut out[lo..hi], &phase(0)[b..], put);
        return;
    }
    if s == 2 {
        // even and odd phases side by side: one interleaving pass
        let (even, odd) = (phase(0), phase(1));
        if at(lo) % 2 == 1 {
            put(&mut out[lo], odd[at(lo) / 2]);
            lo += 1;
        }
        let i0 = at(lo) / 2;
        let pairs = (hi - lo) / 2;
        // blocks of 8 pairs, as in `add_run`
        let mut o16 = out[lo..lo + 2 * pairs].chunks_exact_mut(16);
        let mut e8 = even[i0..i0 + pairs].chunks_exact(8);
        let mut d8 = odd[i0..i0 + pairs].chunks_exact(8);
        for ((o, e), d) in (&mut o16).zip(&mut e8).zip(&mut d8) {
            let arrays = (
                <&mut [T; 16]>::try_from(o),
                <&[T; 8]>::try_from(e),
                <&[T; 8]>::try_from(d),
            );
            if let (Ok(o), Ok(e), Ok(d)) = arrays {
                let (mut pairs, e, d) = (*o, *e, *d);
                for i in 0..8 {
                    put(&mut pairs[2 * i], e[i]);
                    put(&mut pairs[2 * i + 1], d[i]);
                }
                *o = pairs;
            }
        }
        o16.into_remainder()
            .chunks_exact_mut(2)
            .zip(e8.remainder())
            .zip(d8.remainder())
            .for_each(|((o, &e), &d)| {
                put(&mut o[0], e);
                put(&mut o[1], d);
            });
        if lo + 2 * pairs < hi {
            put(&mut out[hi - 1], even[i0 + pairs]);
        }
        return;
    }
    for ph in 0..s {
        // first position at or after `lo` in phase `ph`
        let o0 = lo + (ph as i64 - at(lo) as i64).rem_euclid(s as i64) as usize;
        if o0 >= hi {
            continue;
        }
        out[o0..hi]
            .iter_mut()
            .step_by(s)
            .zip(&phase(ph)[at(o0) / s..])
            .for_each(|(o, &v)| put(o, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row through the definition: every strided position scattered through every tap.
    fn scatter(axis: &AxisMap, src: &[f64], w: &[f64], fill: f64) -> Vec<f64> {
        let mut out = vec![fill; axis.dense];
        for (k, &wk) in w.iter().enumerate() {
            for (i, &v) in src.iter().enumerate() {
                let o = axis.dense_pos(i, k);
                if o >= 0 && (o as usize) < axis.dense {
                    out[o as usize] += v * wk;
                }
            }
        }
        out
    }

    #[test]
    fn phases_interleave_into_the_cropped_row() {
        // strides 1-5, dilations 1-3, cropped, extended and shifted rows; strided rows shorter
        // and longer than the blocks of 8 and 4 the runs are added in, output rows with and
        // without whole blocks of 8 pairs
        for strided in [6, 13, 19] {
            for stride in 1..6 {
                for dilation in 1..4 {
                    for kernel in 1..6 {
                        for pad_begin in -4i64..6 {
                            for dense in [1, 7, 16, 23, 41] {
                                let axis = AxisMap {
                                    strided,
                                    dense,
                                    kernel,
                                    stride,
                                    dilation,
                                    pad_begin,
                                };
                                check_row(&axis);
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_row(axis: &AxisMap) {
        let src: Vec<f64> = (0..axis.strided).map(|i| (i * 3 + 1) as f64).collect();
        let w: Vec<f64> = (0..axis.kernel).map(|k| (k + 1) as f64 * 0.5).collect();
        let want = scatter(axis, &src, &w, 0.25);
        let dense = axis.dense;
        let mut row = PhaseRow::new(axis);
        row.reset(0.25);
        for (k, &wk) in w.iter().enumerate() {
            row.add_scaled(k, &src, wk);
        }
        let mut got = vec![f64::NAN; dense];
        row.store(&mut got, 0.25);
        assert_eq!(got, want, "{axis:?}");
        // the middle one of three rows, reset to zero, added onto the fill gives the same;
        // stored with the fill, too
        let mut rows = PhaseRow::rows(axis, 3);
        for i in 0..3 {
            rows.reset_row(i, if i == 1 { 0.0 } else { 1e9 });
        }
        for (k, &wk) in w.iter().enumerate() {
            let scaled: Vec<f64> = src.iter().map(|v| v * wk).collect();
            rows.add_row(1, k, &scaled);
        }
        let mut added = vec![0.25; dense];
        rows.add_to_row(1, &mut added);
        assert_eq!(added, want, "{axis:?}");
        rows.reset_row(1, 0.25);
        for (k, &wk) in w.iter().enumerate() {
            let scaled: Vec<f64> = src.iter().map(|v| v * wk).collect();
            rows.add_row(1, k, &scaled);
        }
        let mut stored = vec![f64::NAN; dense];
        rows.store_row(1, &mut stored, 0.25);
        assert_eq!(stored, want, "{axis:?}");
    }
}
