//! Kernel == stride with no padding (every output hit by exactly one input position and tap)
//! when a group has few outputs per input position (`C_out/g * taps <= 16`) from few input
//! channels (`C_in/g <= 16`): an image-to-RGB or mask layer of a decoder,
//! `[1, 16, 256, 256] -> 3` with a 2x2 kernel.
//!
//! As a GEMM that is a product with at most 16 rows and `C_in/g` deep, which the GEMM library
//! runs far below its peak, followed by a scatter of every column row into the output. Here
//! each output row is computed directly: output row `ih*s + kh` of channel `co` is the
//! interleave of `s` phase rows, phase `kw` being `bias + sum over ci of x[ci][ih][:] *
//! w[ci][co][kh][kw]`, four input channels per pass over the phase (contiguous runs the
//! compiler vectorises), then stored once.

use super::gather::interleave;
use super::parallel::for_each_task;
use super::scratch::{sized, with_scratch};
use super::simd::{vectorized, Kernel};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Most outputs per input position and group (`C_out/g * taps`) this path takes.
const MAX_OUTPUTS: usize = 16;

/// Most input channels per group this path takes. Each output element sums its input
/// channels four per pass over a row buffer, so deep inputs make many passes; from 32
/// channels on GEMM + col2im with its vectorised exact-cover store was faster in every layer
/// measured (0.27-0.7x the time: 32 -> 3, 128 -> 4, 512 -> 1), up to 16 this path is level or
/// faster (4 -> 3: 0.43x col2im's time). (A 1x1 kernel, stride 1, goes to
/// [`super::pointwise`] first.)
const MAX_INPUT_CHANNELS: usize = 16;

/// Input rows per task (the tasks are fixed by the problem, never by the thread count).
const ROWS_PER_TASK: usize = 16;

/// Whether `p` runs here: 1-D or 2-D, kernel == stride without padding on every axis, few
/// outputs per input position, few input channels.
pub(super) fn applies(p: &Problem) -> bool {
    let [d, h, w] = &p.axes;
    let flat_depth = d.strided == 1 && d.dense == 1 && d.kernel == 1 && d.pad_begin == 0;
    let tiles = |a: &AxisMap| {
        a.kernel == a.stride
            && a.pad_begin == 0
            && a.dilation == 1
            && a.dense == a.strided * a.stride
    };
    flat_depth
        && tiles(h)
        && tiles(w)
        && p.dense_channels * p.kernel_volume() <= MAX_OUTPUTS
        && p.strided_channels <= MAX_INPUT_CHANNELS
}

/// Scratch elements per task: the `s_w` phase rows.
pub(super) fn workspace(p: &Problem) -> usize {
    p.axes[2].stride * p.axes[2].strided
}

/// Runs `p` (see [`applies`]).
pub(super) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (h_in, w_in) = (p.axes[1].strided, p.axes[2].strided);
    let (s_h, w_out) = (p.axes[1].stride, p.axes[2].dense);
    let q = p.dense_plane();
    if y.is_empty() || q == 0 {
        return;
    }
    // tasks: (image x group, band of input rows), owning that band's output rows in each of
    // the group's output planes (so the band's input is read once, for every channel); an
    // image of one band is whole planes, and runs of such images share a task that lists
    // no slice per plane (many tiny images would otherwise list more than their outputs)
    let cg = p.dense_channels;
    let bands = h_in.div_ceil(ROWS_PER_TASK);
    let planes_total = p.batch * p.groups;
    let mut tasks: Vec<(usize, usize, usize, Vec<&mut [T]>)> = Vec::new();
    if bands == 1 {
        for (first, out) in super::whole_runs(planes_total, y, cg * q) {
            tasks.push((first, 0, h_in, vec![out]));
        }
    } else {
        for ng in 0..planes_total {
            for k in 0..bands {
                let r0 = k * ROWS_PER_TASK;
                tasks.push((
                    ng,
                    r0,
                    (r0 + ROWS_PER_TASK).min(h_in),
                    Vec::with_capacity(cg),
                ));
            }
        }
        for (plane_index, plane) in y.chunks_mut(q).enumerate() {
            let mut rest = plane;
            for task in &mut tasks[(plane_index / cg) * bands..][..bands] {
                let (band, tail) = rest.split_at_mut((task.2 - task.1) * s_h * w_out);
                rest = tail;
                task.3.push(band);
            }
        }
    }
    let work = (ROWS_PER_TASK * w_in * p.strided_channels * p.kernel_volume() * cg) as u64;
    let scratch = workspace(p);
    for_each_task(tasks, work, usize::MAX, |(first, r0, r1, mut planes)| {
        with_scratch(|buf: &mut Vec<T>, _: &mut Vec<T>| {
            let phases = sized(buf, scratch);
            if bands == 1 {
                // a run of whole images x groups: each one's planes in turn
                for (i, out) in planes[0].chunks_mut(cg * q).enumerate() {
                    let mut out: Vec<&mut [T]> = out.chunks_mut(q).collect();
                    vectorized(Band {
                        p,
                        x,
                        w,
                        b,
                        image_group: first + i,
                        rows: (r0, r1),
                        out: &mut out,
                        phases: &mut *phases,
                    });
                }
            } else {
                vectorized(Band {
                    p,
                    x,
                    w,
                    b,
                    image_group: first,
                    rows: (r0, r1),
                    out: &mut planes,
                    phases,
                })
            }
        })
    });
}

/// Input rows `rows` of image x group `image_group`, into the band's rows of each output
/// plane of the group (`out[co]`).
struct Band<'a, 'b, T> {
    p: &'a Problem,
    x: &'a [T],
    w: &'a [T],
    b: Option<&'a [T]>,
    image_group: usize,
    rows: (usize, usize),
    out: &'a mut [&'b mut [T]],
    phases: &'a mut [T],
}

impl<T: Element> Kernel for Band<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Band {
            p,
            x,
            w,
            b,
            image_group: ng,
            rows: (r0, r1),
            out,
            phases,
        } = self;
        let (cin_g, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
        let (h_in, w_in, pin) = (p.axes[1].strided, p.axes[2].strided, p.strided_plane());
        let (s_h, s_w, w_out) = (p.axes[1].stride, p.axes[2].stride, p.axes[2].dense);
        let (n, g) = (ng / p.groups, ng % p.groups);
        // input channel ci of this image and group
        let input = |ci: usize| &x[((n * p.groups + g) * cin_g + ci) * pin..][..h_in * w_in];
        for ih in r0..r1 {
            for (co, kh) in (0..cg).flat_map(|co| (0..s_h).map(move |kh| (co, kh))) {
                let bias = b.map_or(T::zero(), |b| b[g * cg + co]);
                // weight tap t of (ci, co)
                let weight = |ci: usize, t: usize| w[((g * cin_g + ci) * cg + co) * kvol + t];
                for (kw, phase) in phases.chunks_exact_mut(w_in).enumerate() {
                    let t = kh * s_w + kw;
                    let row = |ci: usize| &input(ci)[ih * w_in..(ih + 1) * w_in];
                    let mut ci = 0;
                    while ci < cin_g {
                        let take = (cin_g - ci).min(4);
                        let first = ci == 0;
                        let start = |v: T| if first { bias } else { v };
                        match take {
                            4 => {
                                let (w0, w1, w2, w3) = (
                                    weight(ci, t),
                                    weight(ci + 1, t),
                                    weight(ci + 2, t),
                                    weight(ci + 3, t),
                                );
                                let rows = row(ci).iter().zip(row(ci + 1)).zip(row(ci + 2));
                                for (o, (((&a, &b), &c), &d)) in
                                    phase.iter_mut().zip(rows.zip(row(ci + 3)))
                                {
                                    *o = d.mul_add(
                                        w3,
                                        c.mul_add(w2, b.mul_add(w1, a.mul_add(w0, start(*o)))),
                                    );
                                }
                            }
                            _ => {
                                for k in 0..take {
                                    let wk = weight(ci + k, t);
                                    let fresh = first && k == 0;
                                    for (o, &a) in phase.iter_mut().zip(row(ci + k)) {
                                        *o = if fresh { bias } else { *o } + a * wk;
                                    }
                                }
                            }
                        }
                        ci += take;
                    }
                }
                let orow = (ih - r0) * s_h + kh;
                let out_row = &mut out[co][orow * w_out..(orow + 1) * w_out];
                let phase = |kw: usize| &phases[kw * w_in..(kw + 1) * w_in];
                interleave(out_row, s_w, 0, (0, w_out), phase, |o, v| *o = v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::mismatch;

    #[test]
    fn tiles_match_the_definition() {
        // (batch, groups, C_in/g, C_out/g, strides h x w, input h x w): 2x2 RGB heads, 4x4
        // masks, 1-D, odd strides, channel counts around the four-per-pass split, bands of
        // rows
        for (batch, groups, cin, cout, (sh, sw), (hi, wi)) in [
            (1, 1, 16, 3, (2, 2), (40, 9)),
            (2, 2, 5, 1, (4, 4), (3, 7)),
            (1, 1, 7, 4, (1, 3), (1, 11)),
            (3, 1, 2, 2, (3, 2), (17, 5)),
        ] {
            let axis = |strided: usize, s: usize| AxisMap {
                strided,
                dense: strided * s,
                kernel: s,
                stride: s,
                dilation: 1,
                pad_begin: 0,
            };
            let p = Problem {
                batch,
                groups,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, axis(hi, sh), axis(wi, sw)],
            };
            assert!(applies(&p), "{p:?}");
            let bad = mismatch(&p, 1, true, 1e-12, |x, w, b, y| run(&p, x, w, b, y));
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }
}
