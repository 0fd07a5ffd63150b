//! 1-D transposed convolutions of a lone signal (or a few) whose few outputs per input
//! position (`C_out/g * K <= MAX_ROWS`) come from deep inputs: the last layer of an audio
//! decoder that turns `[1, 512, L]` into one waveform channel at 4x the rate. With kernel ==
//! stride and no padding ([`run`]) the product's rows are output phases, interleaved; with
//! any other kernel, dilation or padding ([`run_taps`]) they are taps, added where they land.
//!
//! Output `i*s + k` of channel `co` is input position `i` through tap `k` alone, so the layer
//! is a product with one row per output phase, `Y[(co, k), i] = bias[co] + sum_ci W[ci, co, k]
//! x[ci, i]`, interleaved into the output row: `y[co][i*s + k] = Y[(co, k), i]`. The weight
//! `[C_in, C_out/g, s]` is that product's left operand input-major, as it lies. The product
//! runs [`super::pointwise`]'s loop nest (sums of a chunk of positions in the L1 cache while
//! four input rows stream by), a window of positions per task, into a buffer the window's
//! phases are interleaved from. GEMM + col2im ran such a layer as one task (a lone image is
//! one task there: its output has a single row) through a product of four rows, which the
//! GEMM library runs far below its peak.
//!
//! Every output is `bias` followed by one fused multiply-add per input channel in channel
//! order, whatever the windows: results do not depend on tasks or threads.

use super::parallel::for_each_task;
use super::pointwise::{Block, WeightLayout, CHUNK_COLS};
use super::scratch::{sized, with_scratch};
use super::simd::vectorized;
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Most outputs per input position and group (`C_out/g * s`): sixteen runs of
/// [`CHUNK_COLS`] sums, 16 KiB of `f32`, stay in the L1 cache.
const MAX_ROWS: usize = 16;

/// Input positions per task at most: several tasks on a signal of a few thousand samples.
const WINDOW: usize = 2048;

/// Tasks a layer is cut into at least (windows of [`CHUNK_COLS`] positions or more), so that
/// a short lone signal runs on two threads.
const MIN_TASKS: usize = 2;

/// Input positions per window of a signal of `w_in` positions in `blocks` images and groups:
/// [`WINDOW`] at most, fewer where that leaves under [`MIN_TASKS`] tasks (but no fewer than
/// [`CHUNK_COLS`]), the windows of a signal equal but for the last. Fixed by the problem.
fn window(w_in: usize, blocks: usize) -> usize {
    let by_tasks = MIN_TASKS.div_ceil(blocks.max(1));
    let windows = w_in
        .div_ceil(WINDOW)
        .max(by_tasks.min(w_in.div_ceil(CHUNK_COLS)))
        .max(1);
    w_in.div_ceil(windows)
}

/// Images times groups below which a layer comes here: GEMM + col2im splits its tasks by
/// image and group, so it is one or a few tasks in all only below that. With more, it was
/// faster: eight 1000-sample signals to two phases 1.15x the time here, four 4096-sample
/// signals to two channels through three taps at stride 2 ([`run_taps`]) 1.29x.
const MAX_BLOCKS: usize = 4;

/// Whether `p` runs here: 1-D (the outer axes unit), kernel == stride >= 2 along the signal,
/// undilated, unpadded, uncropped, at most [`MAX_ROWS`] outputs per input position, fewer
/// than [`MAX_BLOCKS`] images and groups. Alternating runs, 5 rounds, eleven such layers
/// against GEMM + col2im: 0.22-0.82x the time on nine (one 512-channel signal of 16000
/// samples to one channel at 4x: 6.0 against 1.7 ms), level on four 2000-sample signals.
pub(super) fn applies(p: &Problem) -> bool {
    let [d, h, w] = &p.axes;
    let unit = |a: &AxisMap| a.strided == 1 && a.dense == 1 && a.kernel == 1 && a.pad_begin == 0;
    unit(d)
        && unit(h)
        && w.kernel == w.stride
        && w.stride >= 2
        && w.dilation == 1
        && w.pad_begin == 0
        && w.dense == w.strided * w.stride
        && p.dense_channels * w.stride <= MAX_ROWS
        && p.batch * p.groups < MAX_BLOCKS
}

/// Scratch elements per task: the phase rows of a chunk of positions, and the bias per row.
pub(super) fn workspace(p: &Problem) -> usize {
    let rows = p.dense_channels * p.axes[2].stride;
    rows * CHUNK_COLS + rows
}

/// A task of [`run`] or [`run_taps`]: image x group, first output of its window, and that
/// window's run of each output channel's row.
type Window<'a, T> = (usize, usize, Vec<&'a mut [T]>);

/// `y` (`blocks` images and groups of `cout` rows of `w_out` outputs) cut into tasks of
/// `span` outputs of every channel, in output order.
fn output_windows<T>(
    y: &mut [T],
    (blocks, cout, w_out): (usize, usize, usize),
    span: usize,
) -> Vec<Window<'_, T>> {
    let windows = w_out.div_ceil(span.max(1));
    let mut tasks: Vec<Window<'_, T>> = Vec::with_capacity(blocks * windows);
    for (ng, image) in y[..blocks * cout * w_out]
        .chunks_mut(cout * w_out)
        .enumerate()
    {
        let first = tasks.len();
        for k in 0..windows {
            tasks.push((ng, k * span, Vec::with_capacity(cout)));
        }
        for channel in image.chunks_mut(w_out) {
            for (task, run) in tasks[first..].iter_mut().zip(channel.chunks_mut(span)) {
                task.2.push(run);
            }
        }
    }
    tasks
}

/// Runs `p` (see [`applies`]): `x` is the strided side, `y` the dense side.
pub(super) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (cin, cout, s) = (p.strided_channels, p.dense_channels, p.axes[2].stride);
    let (w_in, w_out) = (p.axes[2].strided, p.axes[2].dense);
    let rows = cout * s;
    let blocks = p.batch * p.groups;
    if w_in == 0 || rows == 0 || blocks == 0 {
        return;
    }
    // a window of `win` inputs per task: `win * s` outputs of each channel
    let win = window(w_in, blocks);
    let tasks = output_windows(y, (blocks, cout, w_out), win * s);
    let work = (win * cin * rows) as u64;
    for_each_task(tasks, work, usize::MAX, |(ng, o0, mut runs)| {
        let (g, p0) = (ng % p.groups, o0 / s);
        let xg = &x[ng * cin * w_in..][..cin * w_in];
        let wg = &w[g * cin * rows..][..cin * rows];
        let n = runs.first().map_or(0, |r| r.len() / s);
        with_scratch(|phases: &mut Vec<T>, bias: &mut Vec<T>| {
            // the bias of each phase row: its channel's
            let bias = sized(bias, rows);
            for (r, v) in bias.iter_mut().enumerate() {
                *v = b.map_or(T::zero(), |b| b[g * cout + r / s]);
            }
            let phases = sized(phases, rows * CHUNK_COLS);
            for j0 in (0..n).step_by(CHUNK_COLS) {
                let m = CHUNK_COLS.min(n - j0);
                let mut out: Vec<&mut [T]> =
                    phases.chunks_mut(CHUNK_COLS).map(|r| &mut r[..m]).collect();
                vectorized(Block {
                    x: xg,
                    plane: w_in,
                    p0: p0 + j0,
                    w: wg,
                    layout: WeightLayout::input_major(rows),
                    bias: Some(bias),
                    out: &mut out,
                });
                // y[co][(j0 + i)*s + k] = phase (co, k) at i
                for (co, run) in runs.iter_mut().enumerate() {
                    let dst = &mut run[j0 * s..(j0 + m) * s];
                    for (i, outs) in dst.chunks_exact_mut(s).enumerate() {
                        for (k, o) in outs.iter_mut().enumerate() {
                            *o = phases[(co * s + k) * CHUNK_COLS + i];
                        }
                    }
                }
            }
        });
    });
}

/// Whether `p` runs through [`run_taps`]: 1-D, stride 2 or more, any kernel, dilation and
/// padding that [`applies`] does not take, at most [`MAX_ROWS`] outputs per input position and
/// tap (`C_out/g * K`), fewer than [`MAX_BLOCKS`] images and groups. Alternating runs, 5
/// rounds, against GEMM + col2im: lone signals of 1000-16000 samples to 1-3 channels 0.40-0.89x
/// the time (64 -> 1 through 7 taps at stride 5 on 16000 samples: 0.59 -> 0.31 ms; 64 -> 1,
/// 16 taps at stride 8, 0.69x), 512 -> 3 on 1000 samples level.
pub(super) fn applies_taps(p: &Problem) -> bool {
    let [d, h, w] = &p.axes;
    let unit = |a: &AxisMap| a.strided == 1 && a.dense == 1 && a.kernel == 1 && a.pad_begin == 0;
    unit(d)
        && unit(h)
        && !applies(p)
        && w.stride >= 2
        && w.kernel >= 1
        && w.dense > 0
        && p.dense_channels.saturating_mul(w.kernel) <= MAX_ROWS
        && p.batch * p.groups < MAX_BLOCKS
}

/// Scratch elements per task of [`run_taps`]: the tap rows of a chunk of positions.
pub(super) fn taps_workspace(p: &Problem) -> usize {
    p.dense_channels * p.axes[2].kernel * CHUNK_COLS
}

/// Runs `p` (see [`applies_taps`]): the product has a row per (channel, tap), and output `o`
/// of channel `co` is `bias + sum` of the rows' values at the input positions `i` with
/// `i*s + k*d - pad_begin == o`. A task owns a window of outputs, starts it from the bias, and
/// computes the product for every input position reaching it (the halo of `(K-1)*d/s`
/// positions at each end is computed by both neighbours), adding only what lands in its
/// window, tap by tap in input order, a chunk of positions at a time.
pub(super) fn run_taps<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let a = &p.axes[2];
    let (cin, cout, taps) = (p.strided_channels, p.dense_channels, a.kernel);
    let (w_in, w_out) = (a.strided, a.dense);
    let rows = cout * taps;
    let blocks = p.batch * p.groups;
    if w_in == 0 || w_out == 0 || rows == 0 || blocks == 0 {
        return;
    }
    // windows of the outputs that `window` inputs cover
    let span = window(w_in, blocks) * a.stride;
    let tasks = output_windows(y, (blocks, cout, w_out), span);
    let work = (span / a.stride * cin * rows) as u64;
    for_each_task(tasks, work, usize::MAX, |(ng, o0, mut runs)| {
        let g = ng % p.groups;
        let xg = &x[ng * cin * w_in..][..cin * w_in];
        let wg = &w[g * cin * rows..][..cin * rows];
        let o1 = o0 + runs.first().map_or(0, |r| r.len());
        for (co, run) in runs.iter_mut().enumerate() {
            run.fill(b.map_or(T::zero(), |b| b[g * cout + co]));
        }
        let (i0, i1) = super::conv_transpose::rows_reaching(a, (o0, o1));
        with_scratch(|rows_buf: &mut Vec<T>, _: &mut Vec<T>| {
            let tap_rows = sized(rows_buf, rows * CHUNK_COLS);
            for j0 in (i0..i1).step_by(CHUNK_COLS) {
                let m = CHUNK_COLS.min(i1 - j0);
                let mut out: Vec<&mut [T]> = tap_rows
                    .chunks_mut(CHUNK_COLS)
                    .map(|r| &mut r[..m])
                    .collect();
                vectorized(Block {
                    x: xg,
                    plane: w_in,
                    p0: j0,
                    w: wg,
                    layout: WeightLayout::input_major(rows),
                    bias: None,
                    out: &mut out,
                });
                // input j0 + j through tap k lands on a.dense_pos(j0 + j, k)
                for (co, run) in runs.iter_mut().enumerate() {
                    for k in 0..taps {
                        let row = &tap_rows[(co * taps + k) * CHUNK_COLS..][..m];
                        for (j, &v) in row.iter().enumerate() {
                            let o = a.dense_pos(j0 + j, k);
                            if o >= o0 as i64 && o < o1 as i64 {
                                let at = (o - o0 as i64) as usize;
                                run[at] = run[at] + v;
                            }
                        }
                    }
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{mismatch, mismatch_f32, plain_axis};
    use proptest::prelude::*;

    /// A 1-D layer of `batch` signals of `len` samples, `groups`, `cin` and `cout` channels per
    /// group, kernel == stride == `s`.
    fn signal(
        batch: usize,
        groups: usize,
        cin: usize,
        cout: usize,
        s: usize,
        len: usize,
    ) -> Problem {
        Problem {
            batch,
            groups,
            strided_channels: cin,
            dense_channels: cout,
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(len, s, s, 0)],
        }
    }

    /// `p` through [`run`] against the definition: `f64` with and without bias, `f32`
    /// exactly (see `mismatch_f32`).
    fn assert_runs_the_definition(p: &Problem, seed: usize) {
        for with_bias in [true, false] {
            let bad = mismatch(p, seed, with_bias, 1e-12, |x, w, b, y| run(p, x, w, b, y));
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
        let bad = mismatch_f32(p, seed + 1, 0.0, |x, w, b, y| run(p, x, w, b, y));
        assert!(bad.is_none(), "{}", bad.unwrap_or_default());
    }

    /// Lone signals in windows (a ragged last window and chunk), two windows of a short
    /// signal, batches, groups, sixteen phase rows; and what the path leaves to the others
    /// (a batch of eight short signals, padding, a kernel longer than the stride, 2-D, more
    /// than sixteen rows).
    #[test]
    fn signals_equal_the_definition() {
        assert_eq!(window(500, 1), 250);
        assert_eq!(window(5000, 1), 1667);
        assert_eq!(window(100, 1), 100);
        assert_eq!(window(1000, 8), 1000);
        for p in [
            signal(1, 1, 70, 1, 4, 5000),
            signal(1, 1, 33, 3, 5, 500),
            signal(1, 3, 9, 2, 2, 300),
            signal(1, 2, 20, 2, 8, 2100),
            signal(3, 1, 5, 1, 3, 7),
        ] {
            assert!(applies(&p), "{p:?}");
            assert_runs_the_definition(&p, 3);
        }
        let padded = Problem {
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(50, 4, 4, 1)],
            ..signal(1, 1, 40, 1, 4, 50)
        };
        let longer_kernel = Problem {
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(50, 6, 4, 1)],
            ..signal(1, 1, 40, 1, 4, 50)
        };
        let planar = Problem {
            axes: [
                AxisMap::UNIT,
                plain_axis(3, 2, 2, 0),
                plain_axis(50, 2, 2, 0),
            ],
            ..signal(1, 1, 40, 1, 2, 50)
        };
        for p in [
            signal(8, 1, 256, 1, 2, 1000),
            padded,
            longer_kernel,
            planar,
            signal(1, 1, 64, 3, 6, 1000),
        ] {
            assert!(!applies(&p), "{p:?}");
        }
    }

    /// A 1-D layer of `batch` signals of `len` samples, `groups`, `cin` and `cout` channels per
    /// group, kernel `k`, stride `s`, dilation `d`, `pad` at the start and `extra` outputs at
    /// the end (output padding, or cropping when negative); `None` when no output is left.
    #[allow(clippy::too_many_arguments)]
    fn general(
        (batch, groups, cin, cout): (usize, usize, usize, usize),
        (k, s, d): (usize, usize, usize),
        (pad, extra): (usize, i64),
        len: usize,
    ) -> Option<Problem> {
        let dense = ((len - 1) * s + (k - 1) * d + 1) as i64 - 2 * pad as i64 + extra;
        (dense > 0).then(|| Problem {
            axes: [
                AxisMap::UNIT,
                AxisMap::UNIT,
                AxisMap {
                    strided: len,
                    dense: dense as usize,
                    kernel: k,
                    stride: s,
                    dilation: d,
                    pad_begin: pad as i64,
                },
            ],
            ..signal(batch, groups, cin, cout, s, len)
        })
    }

    /// Tap rows (kernel longer or shorter than the stride, dilation, padding, output padding,
    /// a lone long signal in windows with halos) against the definition through [`run_taps`],
    /// and the dispatch's choice.
    #[test]
    fn tap_rows_equal_the_definition() {
        for p in [
            general((1, 1, 64, 1), (7, 5, 1), (1, 0), 3000),
            general((1, 1, 40, 1), (16, 8, 1), (4, 0), 700),
            general((1, 2, 20, 2), (3, 2, 2), (0, 1), 2500),
            general((2, 1, 9, 3), (2, 3, 1), (1, -2), 100),
        ] {
            let p = p.expect("outputs");
            assert!(applies_taps(&p), "{p:?}");
            for with_bias in [true, false] {
                let bad = mismatch(&p, 4, with_bias, 1e-12, |x, w, b, y| {
                    run_taps(&p, x, w, b, y)
                });
                assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
            let bad = mismatch_f32(&p, 6, 0.0, |x, w, b, y| run_taps(&p, x, w, b, y));
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any tap-rows layer: kernels, strides, dilations, paddings and lengths around the
        /// chunks and windows, against the definition.
        #[test]
        fn tap_layers_equal_the_definition(
            (batch, groups, cin, cout) in (1usize..4, 1usize..3, 1usize..70, 1usize..4),
            (k, s, d) in (1usize..9, 2usize..6, 1usize..4),
            (pad, extra) in (0usize..6, -3i64..3),
            len in 1usize..5000,
            seed in 0usize..50,
        ) {
            let p = general((batch, groups, cin, cout), (k, s, d), (pad, extra), len);
            prop_assume!(p.as_ref().is_some_and(applies_taps));
            let p = p.expect("assumed");
            let bad = mismatch(&p, seed, true, 1e-12, |x, w, b, y| run_taps(&p, x, w, b, y));
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }

        /// Any such layer: batches and groups, channels, strides and lengths around the
        /// chunks and windows, against the definition.
        #[test]
        fn layers_equal_the_definition(
            (batch, groups) in (1usize..4, 1usize..3),
            (cin, cout, s) in (1usize..70, 1usize..5, 2usize..5),
            len in 1usize..5000,
            seed in 0usize..50,
        ) {
            let p = signal(batch, groups, cin, cout, s, len);
            prop_assume!(applies(&p));
            assert_runs_the_definition(&p, seed);
        }
    }
}
