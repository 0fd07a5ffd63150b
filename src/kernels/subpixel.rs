//! Sub-pixel (stride-phase) decomposition of a strided transposed convolution.
//!
//! The output positions with `o % stride == r` on every axis (one *phase* per residue tuple)
//! receive contributions only from the taps with `(r + pad_begin - k*dilation) % stride == 0`,
//! and those make an ordinary stride-1 forward convolution of the input (see
//! [`crate::problem::AxisMap::phase`]). So the transposed convolution becomes `stride^dims` dense convolutions:
//! im2col of the input with the phase's sub-kernel, one GEMM per band, and each GEMM tile is
//! stored into every `stride`-th output element with the bias added. Each output element is
//! written exactly once: no zero or bias pass, no column buffer, no read-modify-write.
//!
//! The im2col matrix has `C_in/groups * taps_in_phase` rows, against `C_out/groups * taps` rows
//! for the column buffer of GEMM + col2im, so this path wins when the input has fewer channels
//! than the output or when col2im's overlapping adds dominate (see [`super::conv_transpose`]).

use super::conv::{
    band, band_product, lowered_weight, lowering, operand_workspace, window_for, window_lowering,
    Lowering,
};
use super::gemm::packing;
use super::parallel::for_each_task;
use super::prepared::Prepared;
use super::scratch::{sized, with_scratch};
use super::tap_ranges;
use super::winograd;
use crate::problem::{Phase, Problem};
use crate::Element;
use std::borrow::Cow;

/// One phase: which output residues it covers and the forward convolution that computes it.
struct PhasePlan<'a, T: Clone> {
    residue: [usize; 3],
    /// `strided` = this phase's outputs, `dense` = the transposed convolution's input.
    conv: Problem,
    lowering: Lowering,
    /// The sub-kernels, `[groups][C_out/groups][C_in/groups][sub-taps]` (the conv weight
    /// layout), lowered for `lowering`; or, for a Winograd phase, their Winograd transform
    /// (see [`super::winograd::transformed_weight`]); a layer's kept copy when it has one.
    weight: Cow<'a, [T]>,
    winograd: bool,
}

/// A layer's kept phase weights (made by its first call that takes this path): for each
/// phase, what identifies its weight (see [`PhaseKey`]) and [`PhasePlan::weight`].
pub(crate) type PhaseWeights<T> = Vec<(PhaseKey, Vec<T>)>;

/// A phase's residues, sub-kernel sizes, lowering and whether it runs Winograd: for one
/// layer (fixed kernel, stride, dilation and padding) these fix the phase's weight; the
/// lowering and Winograd also depend on the input's size, so a later call with another size
/// may want a weight the layer did not keep (it is then made for that call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PhaseKey {
    residue: [usize; 3],
    kernel: [usize; 3],
    lowering: Lowering,
    winograd: bool,
}

/// The phases of `p` that own at least one output position, with their residues.
fn phases(p: &Problem) -> Vec<([usize; 3], [Phase; 3])> {
    let a = &p.axes;
    let mut out = Vec::new();
    for rd in 0..a[0].stride {
        for rh in 0..a[1].stride {
            for rw in 0..a[2].stride {
                let ph = [a[0].phase(rd), a[1].phase(rh), a[2].phase(rw)];
                if ph.iter().all(|f| f.axis.strided > 0) {
                    out.push(([rd, rh, rw], ph));
                }
            }
        }
    }
    out
}

/// The forward-convolution problem of one phase.
fn phase_problem(p: &Problem, ph: &[Phase; 3]) -> Problem {
    Problem {
        batch: p.batch,
        groups: p.groups,
        strided_channels: p.dense_channels,
        dense_channels: p.strided_channels,
        axes: ph.map(|f| f.axis),
    }
}

/// Elements of all phases' GEMM operands (im2col matrices) for one image and group: none
/// for a phase that reads the input directly, the halo included for row-shifted ones.
pub(crate) fn im2col_elements(p: &Problem) -> u64 {
    phases(p)
        .iter()
        .map(|(_, ph)| phase_problem(p, ph))
        .filter(|c| c.kernel_volume() > 0)
        .map(|c| {
            let (band_rows, rows) = band(&c);
            let bands = rows.div_ceil(band_rows.max(1)) as u64;
            bands * operand_workspace(&c) as u64
        })
        .sum()
}

/// Elements the GEMMs of all phases pack for one image and group: each packs its whole right
/// operand, `C_in/groups * sub-taps` rows by the phase's positions (the full im2col size,
/// whichever lowering builds the operand).
pub(crate) fn packed_elements(p: &Problem) -> u64 {
    phases(p)
        .iter()
        .map(|(_, ph)| phase_problem(p, ph))
        .map(|c| (c.dense_channels * c.kernel_volume() * c.strided_plane()) as u64)
        .sum()
}

/// Whether phases of `p` that can run through Winograd should. They do 1.78x fewer
/// multiply-adds (2x2 sub-kernels), but transform the input once per phase and run narrow GEMMs
/// on small images: measured, they win from 64x64 inputs with 32-64 channels (guide case A
/// 0.74x, 32 channels at 128x128 0.71x) and lose below (dcgan 1.15x, guide B 1.22x, grouped
/// 1.5x, fcn_16x16_s8 with 21 channels at 32x32 1.5x).
fn winograd_pays(p: &Problem) -> bool {
    p.strided_plane() >= 4096 && p.strided_channels.min(p.dense_channels) >= 32
}

/// Whether every phase that some tap reaches runs through Winograd (2x2 or 3x3 sub-kernels,
/// e.g. kernel 4 with stride 2, and [`winograd_pays`]).
pub(crate) fn all_winograd(p: &Problem) -> bool {
    if !winograd_pays(p) {
        return false;
    }
    let convs: Vec<Problem> = phases(p)
        .iter()
        .map(|(_, ph)| phase_problem(p, ph))
        .filter(|c| c.kernel_volume() > 0)
        .collect();
    !convs.is_empty() && convs.iter().all(winograd::applies)
}

/// Weight elements the phases copy: each phase's sub-kernel, and its lowered or Winograd
/// layout (at most `(r+1)^2 / r^2 = 2.25` times the sub-kernel).
pub(crate) fn copies(p: &Problem) -> usize {
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    weight + weight * 9 / 4 + 1
}

/// Scratch elements one task allocates: the largest phase's im2col band and GEMM tile.
pub(crate) fn workspace(p: &Problem) -> usize {
    phases(p)
        .iter()
        .map(|(_, ph)| {
            let conv = phase_problem(p, ph);
            if winograd_pays(p) && winograd::applies(&conv) {
                let cols = winograd::band_rows(&conv) * conv.axes[2].strided;
                return winograd::workspace(&conv) + p.dense_channels * cols;
            }
            let w = conv.axes[2].strided;
            let win = window_for(&conv, lowering(&conv));
            let cols = if win < w { win } else { band(&conv).0 * w };
            let k = p.strided_channels * conv.kernel_volume();
            operand_workspace(&conv) + p.dense_channels * cols + packing(p.dense_channels, k, cols)
        })
        .max()
        .unwrap_or(0)
}

/// Gathers the sub-kernel of phase `ph` from the transposed-convolution weight
/// `w[g*C_in/g + ci, co, kd, kh, kw]` into conv layout `[g][co][ci][td, th, tw]`: a transpose
/// of `(ci, co)`, done in square blocks so reads and writes both stay in cache.
fn phase_weight<T: Element>(p: &Problem, w: &[T], ph: &[Phase; 3]) -> Vec<T> {
    const B: usize = 16;
    let (cin_g, cout_g) = (p.strided_channels, p.dense_channels);
    let k = p.axes.map(|a| a.kernel);
    let kvol = p.kernel_volume();
    let n = ph.map(|f| f.axis.kernel);
    // Flat tap index of every sub-tap, in sub-tap order.
    let mut taps = Vec::with_capacity(n[0] * n[1] * n[2]);
    for td in 0..n[0] {
        for th in 0..n[1] {
            for tw in 0..n[2] {
                taps.push((ph[0].tap(td) * k[1] + ph[1].tap(th)) * k[2] + ph[2].tap(tw));
            }
        }
    }
    let sub = taps.len();
    let mut out = vec![T::zero(); p.groups * cout_g * cin_g * sub];
    for g in 0..p.groups {
        for ci0 in (0..cin_g).step_by(B) {
            for co0 in (0..cout_g).step_by(B) {
                for ci in ci0..(ci0 + B).min(cin_g) {
                    for co in co0..(co0 + B).min(cout_g) {
                        let src = &w[((g * cin_g + ci) * cout_g + co) * kvol..][..kvol];
                        let dst = &mut out[((g * cout_g + co) * cin_g + ci) * sub..][..sub];
                        dst.iter_mut().zip(&taps).for_each(|(d, &t)| *d = src[t]);
                    }
                }
            }
        }
    }
    out
}

/// Outer output rows per task: the outermost non-unit axis among the two outer ones (`D` for
/// 3-D, `H` otherwise) is split into bands; `unit` is the plane elements per index of that
/// axis. Whole planes when there are enough (image, group) tasks already.
fn row_bands(p: &Problem) -> (usize, usize, usize) {
    let a = &p.axes;
    let (axis, unit) = if a[0].dense > 1 {
        (0, a[1].dense * a[2].dense)
    } else {
        (1, a[2].dense)
    };
    let len = a[axis].dense;
    let bands = if p.batch * p.groups >= 4 { 1 } else { 8 };
    (axis, unit, len.div_ceil(bands).max(1))
}

/// First phase index `j` with `residue + stride*j >= pos`.
fn first_at_or_after(pos: usize, residue: usize, stride: usize) -> usize {
    pos.saturating_sub(residue).div_ceil(stride)
}

/// Runs the transposed convolution `p` phase by phase. `x` is the input (strided side), `y`
/// the output (dense side).
///
/// `prepared` is a layer's kept forms: the phase weights are made once and kept there.
pub(crate) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    let (cin_g, cg, q, pin) = (
        p.strided_channels,
        p.dense_channels,
        p.dense_plane(),
        p.strided_plane(),
    );
    let specs: Vec<(PhaseKey, [Phase; 3], Problem)> = phases(p)
        .into_iter()
        .map(|(residue, ph)| {
            let conv = phase_problem(p, &ph);
            let key = PhaseKey {
                residue,
                kernel: conv.axes.map(|a| a.kernel),
                lowering: lowering(&conv),
                winograd: winograd_pays(p) && winograd::applies(&conv),
            };
            (key, ph, conv)
        })
        .collect();
    let make = |(key, ph, conv): &(PhaseKey, [Phase; 3], Problem)| -> Vec<T> {
        let weight = phase_weight(p, w, ph);
        if key.winograd {
            winograd::transformed_weight(conv, &weight, false)
        } else {
            lowered_weight(conv, key.lowering, &weight).into_owned()
        }
    };
    let kept: &[(PhaseKey, Vec<T>)] = match prepared {
        Some(prepared) => prepared.subpixel(|| specs.iter().map(|s| (s.0, make(s))).collect()),
        None => &[],
    };
    let plans: Vec<PhasePlan<'_, T>> = specs
        .iter()
        .map(|spec| {
            let weight = match kept.iter().find(|(key, _)| *key == spec.0) {
                Some((_, weight)) => Cow::Borrowed(&weight[..]),
                None => Cow::Owned(make(spec)),
            };
            PhasePlan {
                residue: spec.0.residue,
                conv: spec.2,
                lowering: spec.0.lowering,
                weight,
                winograd: spec.0.winograd,
            }
        })
        .collect();
    let (band_axis, unit, band_len) = row_bands(p);
    let len = p.axes[band_axis].dense;
    // Tasks: (image, group, band of outer rows), owning that band of every channel's plane.
    let mut tasks: Vec<BandTask<'_, T>> = Vec::new();
    let y_len = y.len();
    let mut rest: &mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            let first = tasks.len();
            let mut b0 = 0;
            while b0 < len {
                let b1 = (b0 + band_len).min(len);
                tasks.push(BandTask {
                    image: n,
                    group: g,
                    band: (b0, b1),
                    segments: Vec::with_capacity(cg),
                });
                b0 = b1;
            }
            for _ in 0..cg {
                let (mut plane, tail) = rest.split_at_mut(q);
                rest = tail;
                for task in &mut tasks[first..] {
                    let (seg, after) = plane.split_at_mut((task.band.1 - task.band.0) * unit);
                    task.segments.push(seg);
                    plane = after;
                }
            }
        }
    }
    let work = p.multiply_adds() / tasks.len().max(1) as u64;
    let at_once = super::max_concurrent(workspace(p), copies(p), y_len, std::mem::size_of::<T>());
    for_each_task(tasks, work, at_once, |task| {
        let BandTask {
            image: n,
            group: g,
            band: (b0, b1),
            mut segments,
        } = task;
        let bias: Vec<T> = (0..cg)
            .map(|j| b.map_or(T::zero(), |b| b[g * cg + j]))
            .collect();
        let mut out = Out {
            segments: &mut segments,
            base: b0 * unit,
            bias: &bias,
        };
        let xg = &x[(n * p.groups + g) * cin_g * pin..][..cin_g * pin];
        with_scratch(|col: &mut Vec<T>, tile: &mut Vec<T>| {
            for plan in &plans {
                let c = &plan.conv;
                // Phase rows (over the two outer axes) whose outputs fall in this band.
                let (r_lo, r_hi) = {
                    let (r, s, n) = (
                        plan.residue[band_axis],
                        p.axes[band_axis].stride,
                        c.axes[band_axis].strided,
                    );
                    let (j0, j1) = (
                        first_at_or_after(b0, r, s).min(n),
                        first_at_or_after(b1, r, s).min(n),
                    );
                    let per = if band_axis == 0 { c.axes[1].strided } else { 1 };
                    (j0 * per, j1 * per)
                };
                if r_lo >= r_hi {
                    continue;
                }
                if c.kernel_volume() == 0 {
                    out.store_bias(p, plan.residue, c, (r_lo, r_hi));
                    continue;
                }
                if plan.winograd {
                    let per_group = plan.weight.len() / p.groups;
                    let ug = &plan.weight[g * per_group..][..per_group];
                    let band_rows = winograd::band_rows(c);
                    let w = c.axes[2].strided;
                    let mut r0 = r_lo;
                    while r0 < r_hi {
                        let r1 = (r0 + band_rows).min(r_hi);
                        let cols = (r1 - r0) * w;
                        let tile = sized(tile, cg * cols);
                        let mut dst: Vec<&mut [T]> = tile.chunks_mut(cols).collect();
                        winograd::band_product(c, ug, xg, (r0, r1), col, &mut dst, |_| T::zero());
                        out.store_tile(p, plan.residue, c, (r0, r1), (0, w), tile);
                        r0 = r1;
                    }
                    continue;
                }
                let kc = cin_g * c.kernel_volume();
                let (band_rows, _) = band(c);
                let w_ranges = tap_ranges(&c.axes[2]);
                let wg = &plan.weight[g * cg * kc..][..cg * kc];
                let (w, win) = (c.axes[2].strided, window_for(c, plan.lowering));
                if win < w {
                    // rows one at a time, in windows of `win` phase positions
                    let lw = window_lowering(plan.lowering);
                    for r in r_lo..r_hi {
                        for c0 in (0..w).step_by(win) {
                            let c1 = (c0 + win).min(w);
                            let pw = c.window(c0, c1);
                            let ranges = tap_ranges(&pw.axes[2]);
                            let tile = sized(tile, cg * (c1 - c0));
                            band_product(&pw, lw, wg, xg, (r, r + 1), &ranges, col, tile, None);
                            out.store_tile(p, plan.residue, c, (r, r + 1), (c0, c1), tile);
                        }
                    }
                    continue;
                }
                let mut r0 = r_lo;
                while r0 < r_hi {
                    let r1 = (r0 + band_rows).min(r_hi);
                    let cols = (r1 - r0) * c.axes[2].strided;
                    let tile = sized(tile, cg * cols);
                    band_product(
                        c,
                        plan.lowering,
                        wg,
                        xg,
                        (r0, r1),
                        &w_ranges,
                        col,
                        tile,
                        None,
                    );
                    out.store_tile(p, plan.residue, c, (r0, r1), (0, w), tile);
                    r0 = r1;
                }
            }
        })
    });
}

/// One task: an image, a group and a band of outer output rows, with that band of every
/// output channel's plane.
struct BandTask<'a, T> {
    image: usize,
    group: usize,
    band: (usize, usize),
    segments: Vec<&'a mut [T]>,
}

/// One task's share of the output: the same band of every channel's plane.
struct Out<'a, 'b, T> {
    segments: &'a mut [&'b mut [T]],
    /// Plane offset of the band's first element.
    base: usize,
    bias: &'a [T],
}

impl<T: Element> Out<'_, '_, T> {
    /// Stores GEMM tile rows (phase rows `rows`, phase positions `c0..c1` of each, every
    /// output channel) into every `stride`-th element of the band, adding the bias.
    #[allow(clippy::too_many_arguments)]
    fn store_tile(
        &mut self,
        p: &Problem,
        residue: [usize; 3],
        c: &Problem,
        rows: (usize, usize),
        (c0, c1): (usize, usize),
        tile: &[T],
    ) {
        let (len_w, s) = (c1 - c0, p.axes[2].stride);
        let cols = (rows.1 - rows.0) * len_w;
        for (j, seg) in self.segments.iter_mut().enumerate() {
            let bj = self.bias[j];
            for pr in rows.0..rows.1 {
                let start = phase_row_start(p, residue, c, pr) + c0 * s - self.base;
                let src = &tile[j * cols + (pr - rows.0) * len_w..][..len_w];
                if s == 1 {
                    seg[start..start + len_w]
                        .iter_mut()
                        .zip(src)
                        .for_each(|(d, &v)| *d = v + bj);
                } else {
                    seg[start..]
                        .iter_mut()
                        .step_by(s)
                        .zip(src)
                        .for_each(|(d, &v)| *d = v + bj);
                }
            }
        }
    }

    /// A phase no tap reaches: its outputs are the bias.
    fn store_bias(&mut self, p: &Problem, residue: [usize; 3], c: &Problem, rows: (usize, usize)) {
        let (len_w, s) = (c.axes[2].strided, p.axes[2].stride);
        for (j, seg) in self.segments.iter_mut().enumerate() {
            for pr in rows.0..rows.1 {
                let start = phase_row_start(p, residue, c, pr) - self.base;
                seg[start..]
                    .iter_mut()
                    .step_by(s)
                    .take(len_w)
                    .for_each(|d| *d = self.bias[j]);
            }
        }
    }
}

#[inline]
fn phase_row_start(p: &Problem, residue: [usize; 3], c: &Problem, pr: usize) -> usize {
    let a = &p.axes;
    let (jd, jh) = (pr / c.axes[1].strided, pr % c.axes[1].strided);
    let od = residue[0] + a[0].stride * jd;
    let oh = residue[1] + a[1].stride * jh;
    (od * a[1].dense + oh) * a[2].dense + residue[2]
}
