//! Depthwise transposed convolution (one input and one output channel per group): every
//! output plane gathers from its own input plane, with no GEMM. Memory-bound when done well,
//! so the point is long, contiguous, vectorised runs and each output written once.
//!
//! Three ways, by shape:
//!
//! * kernel 2, stride 2 with every output hit once (the U-Net upsampling layer): each input
//!   row is stored straight as two output rows;
//! * 1-D and 2-D ([`PhasePlanes`]): the output is split into its `s_h x s_w` stride phases;
//!   phase `(r_h, r_w)` is a small stride-1 correlation of the input plane with the taps that
//!   land in it. On a zero-bordered copy of the input whose rows have the phase planes' row
//!   length, every tap is one contiguous run over a whole band of the plane (thousands of
//!   elements, not one short row), and the phases are then interleaved into the output rows,
//!   cropped by the padding, bias included. (perf, 4x4/2 on 32x32 planes: a gather per output
//!   row spent most of its time on per-row overhead, runs of 32 elements and an integer
//!   division per tap.)
//! * otherwise (3-D, or rows too long for the band buffer): each output row is gathered from
//!   the strided rows that reach it ([`RowReach`]) through a [`PhaseRow`].
//!
//! Every plane runs through [`vectorized`], so the runs use the widest vectors the CPU has.

use super::conv_transpose::dense_row;
use super::gather::{interleave, PhaseRow, RowReach};
use super::parallel::for_each_chunk;
use super::scratch::{sized, with_scratch};
use super::simd::{vectorized, Kernel};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Most elements of [`PhasePlanes`] scratch per task (the bordered input band plus the phase
/// planes): 128 KiB of `f32`, within a core's L2 cache.
const PHASE_BUDGET: usize = 1 << 15;

/// Most (tap, strided row) pairs, and output rows, the row gather lists once for all planes.
const SHARED_PLAN_CAP: usize = 1 << 16;

/// For each output row `i`, `pairs[starts[i]..starts[i + 1]]`: `(starts, pairs)`.
type RowTaps = (Vec<usize>, Vec<(usize, usize)>);

/// Runs a depthwise problem (`p.strided_channels == p.dense_channels == 1`).
pub(super) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    // total work: every output plane times the taps (for_each_chunk wants the whole)
    let work = (y.len() as u64).saturating_mul(p.kernel_volume() as u64);
    let q = p.dense_plane();
    if !pairs(p) {
        if let Some(planes) = PhasePlanes::new(p) {
            let scratch = planes.scratch();
            for_each_chunk(y, q, work, |idx, out| {
                with_scratch(|buf: &mut Vec<T>, _: &mut Vec<T>| {
                    let buf = sized(buf, scratch);
                    vectorized(PhasePlane {
                        planes: &planes,
                        p,
                        x,
                        w,
                        b,
                        idx,
                        out,
                        buf,
                    })
                })
            });
            return;
        }
    }
    let plan = RowPlan::new(p, x, w, b, y.is_empty());
    for_each_chunk(y, q, work, |idx, plane| {
        vectorized(RowPlane {
            plan: &plan,
            idx,
            plane,
        })
    });
}

/// Scratch elements one task of [`run`] uses.
pub(super) fn workspace(p: &Problem) -> usize {
    match PhasePlanes::new(p) {
        Some(planes) if !pairs(p) => planes.scratch(),
        _ => 0,
    }
}

/// Kernel 2, stride 2, every output hit once (in particular along the innermost axis).
fn pairs(p: &Problem) -> bool {
    let a = &p.axes;
    a.iter().all(AxisMap::covers_exactly_once)
        && a[2].kernel == 2
        && a[2].stride == 2
        && a[2].dense == 2 * a[2].strided
}

/// The stride phases of one axis. Dense position `o` is element `j = o / s + shift` of phase
/// `o % s`; tap `k` of strided position `i` lands on `o = i*s + k*d - pad_begin`, which is
/// element `i + off(k)` of phase `r(k)`, where `k*d - pad_begin + shift*s = off(k)*s + r(k)`
/// (`shift` is the fewest whole phase rows that make that non-negative). Counting from the
/// first dense position keeps the phases aligned with the output: with stride 2 every output
/// row starts with phase 0.
struct AxisPhases {
    stride: usize,
    shift: usize,
    /// Per tap: (phase, offset in the phase).
    taps: Vec<(usize, usize)>,
    /// Largest offset.
    max_off: usize,
    /// Elements per phase that taps reach: `strided + max_off` (the rest are bias only).
    len: usize,
}

impl AxisPhases {
    fn new(a: &AxisMap) -> Self {
        let s = a.stride;
        let shift = a.pad_begin.max(0).unsigned_abs().div_ceil(s as u64) as usize;
        // k*d + c with c = shift*s - pad_begin >= 0
        let c = (shift * s) as i64 - a.pad_begin;
        let taps: Vec<(usize, usize)> = (0..a.kernel)
            .map(|k| {
                let e = (k * a.dilation) as i64 + c;
                ((e % s as i64) as usize, (e / s as i64) as usize)
            })
            .collect();
        let max_off = taps.iter().map(|t| t.1).max().unwrap_or(0);
        AxisPhases {
            stride: s,
            shift,
            taps,
            max_off,
            len: a.strided + max_off,
        }
    }

    /// Dense positions `0..covered()` lie in the phases; later ones get the bias alone.
    fn covered(&self, dense: usize) -> usize {
        (self.len.saturating_sub(self.shift) * self.stride).min(dense)
    }
}

/// The stride-phase layout of a 1-D or 2-D depthwise problem (see the module docs).
///
/// The bordered input copy has rows of `row = W_in + 2*off_w` elements (`off_w` zeros on
/// each side, `off_w` the largest tap offset along the width), and the phase planes use the
/// same row length, so phase element `n` (row `n / row`, column `n % row`) of tap `(kh, kw)`
/// reads input-copy element `n + delta(kh, kw)`: one contiguous run for a whole band. The
/// first `W_in + off_w` elements of each phase row are exact; the rest wrap into the next row
/// and are never read.
struct PhasePlanes {
    h: AxisPhases,
    w: AxisPhases,
    /// Per phase `r_h * s_w + r_w`: (delta, tap index `kh * K_w + kw`) of each tap landing in it.
    phase_taps: Vec<Vec<(usize, usize)>>,
    /// Row length of the input copy and of the phase planes.
    row: usize,
    /// Phase rows computed at a time.
    band: usize,
}

impl PhasePlanes {
    /// The layout, or `None` for 3-D problems, empty inputs and rows too long for
    /// [`PHASE_BUDGET`].
    fn new(p: &Problem) -> Option<Self> {
        let [d, ah, aw] = &p.axes;
        let flat_depth = d.strided == 1 && d.dense == 1 && d.kernel == 1 && d.pad_begin == 0;
        if !flat_depth || ah.strided == 0 || aw.strided == 0 {
            return None;
        }
        let (h, w) = (AxisPhases::new(ah), AxisPhases::new(aw));
        let row = aw.strided.checked_add(2 * w.max_off)?;
        let phases = h.stride.checked_mul(w.stride)?;
        // (band + off_h + 1) input rows and phases * band phase rows, all `row` long
        let band = (PHASE_BUDGET / row).checked_sub(h.max_off + 1)? / (1 + phases);
        if band == 0 {
            return None;
        }
        let mut phase_taps = vec![Vec::new(); phases];
        for (kh, &(rh, oh)) in h.taps.iter().enumerate() {
            for (kw, &(rw, ow)) in w.taps.iter().enumerate() {
                let delta = (h.max_off - oh) * row + (w.max_off - ow);
                phase_taps[rh * w.stride + rw].push((delta, kh * aw.kernel + kw));
            }
        }
        let rows = h.len - h.shift.min(h.len);
        Some(PhasePlanes {
            band: band.min(rows.max(1)),
            h,
            w,
            phase_taps,
            row,
        })
    }

    /// Scratch elements: the bordered input band, then the phase bands.
    fn scratch(&self) -> usize {
        let phases = self.phase_taps.len();
        (self.band + self.h.max_off + 1 + phases * self.band) * self.row
    }
}

/// `dst[n] = start(dst[n]) + sum of input[delta + n] * weight` over `taps` (at most
/// [`TAPS_PER_PASS`]), in tap order: one pass over `dst` for up to four taps.
#[inline(always)]
fn accumulate<T: Element>(dst: &mut [T], input: &[T], taps: &[(usize, T)], start: impl Fn(T) -> T) {
    let n = dst.len();
    let src = |t: usize| &input[taps[t].0..taps[t].0 + n];
    match taps.len() {
        1 => {
            let w0 = taps[0].1;
            for (o, &a) in dst.iter_mut().zip(src(0)) {
                *o = start(*o) + a * w0;
            }
        }
        2 => {
            let (w0, w1) = (taps[0].1, taps[1].1);
            for ((o, &a), &b) in dst.iter_mut().zip(src(0)).zip(src(1)) {
                *o = start(*o) + a * w0 + b * w1;
            }
        }
        3 => {
            let (w0, w1, w2) = (taps[0].1, taps[1].1, taps[2].1);
            for (((o, &a), &b), &c) in dst.iter_mut().zip(src(0)).zip(src(1)).zip(src(2)) {
                *o = start(*o) + a * w0 + b * w1 + c * w2;
            }
        }
        _ => {
            let (w0, w1, w2, w3) = (taps[0].1, taps[1].1, taps[2].1, taps[3].1);
            let srcs = src(0).iter().zip(src(1)).zip(src(2)).zip(src(3));
            for (o, (((&a, &b), &c), &d)) in dst.iter_mut().zip(srcs) {
                *o = start(*o) + a * w0 + b * w1 + c * w2 + d * w3;
            }
        }
    }
}

/// Taps [`accumulate`] adds in one pass.
const TAPS_PER_PASS: usize = 4;

/// Output plane `idx` (image x channel) of [`run`] through [`PhasePlanes`].
struct PhasePlane<'a, T> {
    planes: &'a PhasePlanes,
    p: &'a Problem,
    x: &'a [T],
    w: &'a [T],
    b: Option<&'a [T]>,
    idx: usize,
    out: &'a mut [T],
    buf: &'a mut [T],
}

impl<T: Element> Kernel for PhasePlane<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let PhasePlane {
            planes: pl,
            p,
            x,
            w,
            b,
            idx,
            out,
            buf,
        } = self;
        let [_, ah, aw] = &p.axes;
        let (h_in, w_in, h_out, w_out) = (ah.strided, aw.strided, ah.dense, aw.dense);
        let (h, wp) = (&pl.h, &pl.w);
        let (sh, sw, row, band) = (h.stride, wp.stride, pl.row, pl.band);
        let c = idx % p.groups;
        let bias = b.map_or(T::zero(), |b| b[c]);
        let src = &x[idx * h_in * w_in..][..h_in * w_in];
        let taps = &w[c * ah.kernel * aw.kernel..][..ah.kernel * aw.kernel];
        let (input, phases) = buf.split_at_mut((band + h.max_off + 1) * row);
        // output rows past the phases get the bias alone, and so do columns
        let (rows_covered, cols_covered) = (h.covered(h_out), wp.covered(w_out));
        out[rows_covered * w_out..].fill(bias);
        let mut weighted: [(usize, T); TAPS_PER_PASS] = [(0, T::zero()); TAPS_PER_PASS];
        for j0 in (h.shift..h.len).step_by(band) {
            let j1 = (j0 + band).min(h.len);
            let n = (j1 - j0) * row;
            // input-copy row t is input row j0 + t - off_h, bordered by off_w zeros (one fill
            // for the band: a fill call per border costs more than the row copy)
            input.fill(T::zero());
            for (t, dst) in input.chunks_exact_mut(row).enumerate() {
                let i = (j0 + t) as i64 - h.max_off as i64;
                if (0..h_in as i64).contains(&i) {
                    let i = i as usize;
                    dst[wp.max_off..wp.max_off + w_in]
                        .copy_from_slice(&src[i * w_in..(i + 1) * w_in]);
                }
            }
            for (phase, its_taps) in phases.chunks_exact_mut(band * row).zip(&pl.phase_taps) {
                let phase = &mut phase[..n];
                if its_taps.is_empty() {
                    phase.fill(bias);
                }
                for (k, chunk) in its_taps.chunks(TAPS_PER_PASS).enumerate() {
                    for (wt, &(delta, tap)) in weighted.iter_mut().zip(chunk) {
                        *wt = (delta, taps[tap]);
                    }
                    let these = &weighted[..chunk.len()];
                    if k == 0 {
                        accumulate(phase, input, these, |_| bias);
                    } else {
                        accumulate(phase, input, these, |o| o);
                    }
                }
            }
            // output rows oh = (j - shift)*sh + r_h for phase rows j in j0..j1
            let o0 = (j0 - h.shift) * sh;
            let o1 = ((j1 - h.shift) * sh).min(rows_covered);
            for oh in o0..o1 {
                let (rh, jh) = (oh % sh, oh / sh + h.shift - j0);
                let out_row = &mut out[oh * w_out..(oh + 1) * w_out];
                if cols_covered < w_out {
                    out_row[cols_covered..].fill(bias);
                }
                let phase_row = |rw: usize| &phases[((rh * sw + rw) * band + jh) * row..][..wp.len];
                let shift = (wp.shift * sw) as i64;
                interleave(out_row, sw, shift, (0, cols_covered), phase_row, |o, v| {
                    *o = v
                });
            }
        }
    }
}

/// What every plane of the row gather shares.
struct RowPlan<'a, T> {
    p: &'a Problem,
    x: &'a [T],
    w: &'a [T],
    b: Option<&'a [T]>,
    reach: RowReach,
    /// The row lists of every output row, when found once for all planes.
    shared: Option<RowTaps>,
    pairs: bool,
}

impl<'a, T> RowPlan<'a, T> {
    fn new(p: &'a Problem, x: &'a [T], w: &'a [T], b: Option<&'a [T]>, empty: bool) -> Self {
        let a = &p.axes;
        let rows = a[0].strided * a[1].strided;
        let reach = RowReach::new(a);
        // The (tap offset, strided row) pairs that reach each output row are the same for
        // every plane: found once when the list is small (perf: finding them per plane and
        // row was 22% of a 4x4/2 depthwise layer), per row otherwise.
        let out_rows = a[0].dense.saturating_mul(a[1].dense);
        let shared: Option<RowTaps> = (|| {
            if empty || out_rows > SHARED_PLAN_CAP {
                return None;
            }
            let (mut starts, mut all) = (vec![0], Vec::new());
            for od in 0..a[0].dense {
                for oh in 0..a[1].dense {
                    reach.rows(od, oh, (0, rows), &mut all);
                    if all.len() > SHARED_PLAN_CAP {
                        return None;
                    }
                    starts.push(all.len());
                }
            }
            Some((starts, all))
        })();
        RowPlan {
            p,
            x,
            w,
            b,
            reach,
            shared,
            pairs: pairs(p),
        }
    }
}

/// Output plane `idx` (image x channel) of [`run`] through the row gather (or the pairs store).
struct RowPlane<'a, 'b, T> {
    plan: &'b RowPlan<'a, T>,
    idx: usize,
    plane: &'b mut [T],
}

impl<T: Element> Kernel for RowPlane<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let RowPlane { plan, idx, plane } = self;
        let (p, w) = (plan.p, plan.w);
        let a = &p.axes;
        let (pin, kvol) = (p.strided_plane(), p.kernel_volume());
        let rows = a[0].strided * a[1].strided;
        let (w_in, w_out) = (a[2].strided, a[2].dense);
        let c = idx % p.groups;
        let bias = plan.b.map_or(T::zero(), |b| b[c]);
        let src = &plan.x[idx * pin..(idx + 1) * pin];
        let taps_of = |tap0: usize| &w[c * kvol + tap0..][..a[2].kernel];
        if plan.pairs {
            // out[2i], out[2i+1] = x[i]*w0, x[i]*w1 on the one output row each (kd, kh) of
            // each input row reaches, written front to back (the compiler vectorises it)
            for r in 0..rows {
                let in_row = &src[r * w_in..(r + 1) * w_in];
                for kd in 0..a[0].kernel {
                    for kh in 0..a[1].kernel {
                        let Some(orow) = dense_row(a, r, kd, kh) else {
                            continue;
                        };
                        let out_row = &mut plane[orow * w_out..(orow + 1) * w_out];
                        let taps = taps_of((kd * a[1].kernel + kh) * 2);
                        let (w0, w1) = (taps[0], taps[1]);
                        for (o, &v) in out_row.chunks_exact_mut(2).zip(in_row) {
                            o[0] = v * w0 + bias;
                            o[1] = v * w1 + bias;
                        }
                    }
                }
            }
            return;
        }
        let mut row = PhaseRow::new(&a[2]);
        let mut own = Vec::new();
        for od in 0..a[0].dense {
            for oh in 0..a[1].dense {
                let orow = od * a[1].dense + oh;
                let out_row = &mut plane[orow * w_out..][..w_out];
                let taps: &[(usize, usize)] = match &plan.shared {
                    Some((starts, all)) => &all[starts[orow]..starts[orow + 1]],
                    None => {
                        own.clear();
                        plan.reach.rows(od, oh, (0, rows), &mut own);
                        &own
                    }
                };
                if taps.is_empty() {
                    out_row.fill(bias);
                    continue;
                }
                row.reset(bias);
                for &(tap0, r) in taps {
                    let in_row = &src[r * w_in..(r + 1) * w_in];
                    for (kw, &wk) in taps_of(tap0).iter().enumerate() {
                        row.add_scaled(kw, in_row, wk);
                    }
                }
                row.store(out_row, bias);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{axis_in, mismatch};
    use proptest::prelude::*;

    /// `run` against the definition.
    fn check(p: &Problem) -> Result<(), TestCaseError> {
        let bad = mismatch(p, 1, true, 1e-12, |x, w, b, y| run(p, x, w, b, y));
        prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        Ok(())
    }

    fn axis() -> impl Strategy<Value = AxisMap> {
        axis_in((1..7, 1..6, 1..5, 1..4, -3..6, 1..30))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(384))]
        /// Every depthwise way (phase planes for 1-D/2-D, the row gather for 3-D, the pairs
        /// store) equals the definition on any index map: cropped or extended outputs,
        /// negative padding, dilation, phases no tap reaches.
        #[test]
        fn depthwise_matches_the_definition(
            (batch, groups, d, h, w, rank) in (1usize..3, 1usize..4, axis(), axis(), axis(), 0usize..3)
        ) {
            let axes = match rank {
                0 => [AxisMap::UNIT, AxisMap::UNIT, w],
                1 => [AxisMap::UNIT, h, w],
                _ => [d, h, w],
            };
            check(&Problem { batch, groups, strided_channels: 1, dense_channels: 1, axes })?;
        }
    }

    #[test]
    fn wide_planes_go_through_several_bands() {
        // rows of 1500: bands of 3 phase rows (phase planes), and of 4000 with a 9-phase
        // stride, too long for a band (row gather)
        for (w_in, k, s, d, pad) in [(1500, 4, 2, 1, 1), (1499, 5, 2, 2, 3), (4000, 5, 3, 2, 2)] {
            let axis = |strided: usize| AxisMap {
                strided,
                dense: (strided - 1) * s + d * (k - 1) + 1 - 2 * pad + 1,
                kernel: k,
                stride: s,
                dilation: d,
                pad_begin: pad as i64,
            };
            let p = Problem {
                batch: 1,
                groups: 2,
                strided_channels: 1,
                dense_channels: 1,
                axes: [AxisMap::UNIT, axis(8), axis(w_in)],
            };
            let planes = PhasePlanes::new(&p);
            if w_in == 4000 {
                assert!(planes.is_none());
            } else {
                let planes = planes.expect("fits");
                assert!(
                    planes.band < planes.h.len - planes.h.shift,
                    "{}",
                    planes.band
                );
            }
            check(&p).unwrap();
        }
    }
}
