//! 1x1 stride-1 layers with many output channels as GEMMs that read the weight where it lies.
//!
//! Input and output positions coincide (see [`super::pointwise::is_pointwise`]), so each
//! image and group is one product `Y[r, p] = sum_k A[r, k] X[k, p]` of `rows` output
//! channels, `depth` input channels and `P` positions, `X` and `Y` being the image's planes in
//! place (row stride `P`). `A` is the weight itself, through strides: the transposed
//! convolution's `[C_in, C_out/g]` is `A` column-major, the convolution's `[C_out, C_in/g]`
//! row-major ([`WeightLayout`]); the GEMM library packs either. The paths a 1x1 layer took
//! before copied the weight into the forward convolution's layout on every call (a
//! 1024 -> 512 layer on a 7x7 map: a 2 MiB copy for 25 MFLOP), and ran a lone image's
//! product on one thread.
//!
//! Tasks are blocks of output channels of one image and group: a block's output rows are
//! contiguous, so a task writes its part of `Y` in place. A lone image (or a few) splits into
//! blocks so that there are [`MIN_TASKS`] tasks, or [`MANY_TASKS`] on large layers (see
//! [`block_rows`]); each block packs the input again (a sixteenth of its work at 16 rows). The split is fixed by the problem, never by the
//! thread count, and each output is one dot product in the library's order for its block's
//! shape: results do not depend on threads.

use super::gemm::{matmul, packing, Mat};
use super::parallel::for_each_task;
use super::pointwise::{self, Pointwise, WeightLayout};
use crate::Element;

/// Tasks a layer should have at least (image and group blocks times channel blocks), while
/// blocks keep [`MIN_BLOCK_ROWS`] rows and [`MIN_BLOCK_WORK`] multiply-adds: one per thread
/// of this crate's 2-thread benchmark machine, or [`MANY_TASKS`] where each of those still
/// has [`MANY_TASKS_WORK`] multiply-adds. Paired in-process A/B, 2 threads, 22 1x1 layers:
/// two tasks rather than four 0.89-0.96x the time on layers of 8-34 million multiply-adds
/// (1024 -> 512 on 7x7, 256 -> 128 on 32x32), four rather than two 0.94x on one of 134
/// million (64 -> 512 on 64x64).
const MIN_TASKS: usize = 2;

/// Tasks a layer large enough for them gets (see [`MIN_TASKS`]).
const MANY_TASKS: usize = 4;

/// Multiply-adds per task from which a layer gets [`MANY_TASKS`] tasks.
const MANY_TASKS_WORK: usize = 1 << 24;

/// Fewest output channels of a block when a layer's channels are split for threads.
const MIN_BLOCK_ROWS: usize = 16;

/// Fewest multiply-adds of a block when a layer's channels are split for threads.
const MIN_BLOCK_WORK: usize = 1 << 19;

/// Output channels per task of the layer `s`: all of a group's, or a split into blocks (equal
/// but for the last) so that there are about [`MIN_TASKS`] or [`MANY_TASKS`] tasks, and never
/// so many that a block's weight, which the GEMM library packs, is over [`super::TILE_CAP`]
/// elements. Fixed by the problem alone.
pub(super) fn block_rows(s: &Pointwise) -> usize {
    let blocks = s.batch * s.groups;
    let per_row = s.depth.saturating_mul(s.plane).max(1);
    let work = per_row.saturating_mul(s.rows).saturating_mul(blocks);
    let tasks = if work / MANY_TASKS >= MANY_TASKS_WORK {
        MANY_TASKS
    } else {
        MIN_TASKS
    };
    let by_threads = if blocks >= tasks {
        s.rows
    } else {
        let narrowest = MIN_BLOCK_ROWS.max(MIN_BLOCK_WORK.div_ceil(per_row));
        s.rows
            .div_ceil(tasks.div_ceil(blocks.max(1)))
            .max(narrowest)
    };
    let by_memory = super::TILE_CAP / s.depth.max(1);
    by_threads.min(by_memory).clamp(1, s.rows.max(1))
}

/// Whether a 1x1 stride-1 layer of shape `s` ([`super::pointwise::is_pointwise`]) runs here:
/// more output channels than [`pointwise::pays`] takes (that loop nest streams the input for
/// few of them), on a plane whose rows do not alias ([`super::rows_alias`]: the paths
/// through copies of the input, padded, do better there).
pub(super) fn takes(s: &Pointwise) -> bool {
    !pointwise::pays(s.rows, s.depth, s.plane) && !super::rows_alias(s.plane)
}

/// Scratch elements one task may allocate (the GEMM library's packing of its product).
pub(super) fn workspace(s: &Pointwise) -> usize {
    packing(block_rows(s), s.depth, s.plane)
}

/// `y[n, g*rows + r, p] = bias[g*rows + r] + sum_k w(g, r, k) x[n, g*depth + k, p]`, with
/// at most `at_once` tasks running at the same time.
pub(super) fn run<T: Element>(
    s: Pointwise,
    layout: WeightLayout,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    at_once: usize,
) {
    let Pointwise {
        batch,
        groups,
        rows,
        depth,
        plane,
    } = s;
    if rows == 0 || plane == 0 || batch * groups == 0 {
        return;
    }
    let per_block = block_rows(&s);
    // tasks: (image x group, first channel, that block's output planes), in output order
    let mut tasks: Vec<(usize, usize, &mut [T])> = Vec::new();
    for (ng, image) in y[..batch * groups * rows * plane]
        .chunks_mut(rows * plane)
        .enumerate()
    {
        for (i, out) in image.chunks_mut(per_block * plane).enumerate() {
            tasks.push((ng, i * per_block, out));
        }
    }
    let work = (per_block as u64)
        .saturating_mul(depth as u64)
        .saturating_mul(plane as u64);
    for_each_task(tasks, work, at_once, |(ng, r0, out)| {
        let g = ng % groups;
        let n_rows = out.len() / plane;
        let wg = &w[g * rows * depth..][..rows * depth];
        // weight (r, k) of the group at `r*row_stride + k*depth_stride`: rows `r0..` start
        // `r0*row_stride` in
        let lhs = Mat {
            data: &wg[r0 * layout.row_stride..],
            rows: n_rows,
            cols: depth,
            row_stride: layout.row_stride,
            col_stride: layout.depth_stride,
        };
        let rhs = Mat {
            data: &x[ng * depth * plane..][..depth * plane],
            rows: depth,
            cols: plane,
            row_stride: plane,
            col_stride: 1,
        };
        matmul(out, plane, lhs, rhs, false);
        if let Some(b) = b {
            for (row, &bv) in out.chunks_mut(plane).zip(&b[g * rows + r0..]) {
                row.iter_mut().for_each(|v| *v = *v + bv);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{mismatch, mismatch_f32, plain_axis};
    use crate::problem::Problem;
    use proptest::prelude::*;

    fn shape(batch: usize, rows: usize, depth: usize, plane: usize) -> Pointwise {
        Pointwise {
            batch,
            groups: 1,
            rows,
            depth,
            plane,
        }
    }

    /// A lone image splits in two blocks, in four when each has 2^24 multiply-adds, in none
    /// with enough images; blocks keep 16 rows and their weight within the tile cap.
    #[test]
    fn blocks_split_a_lone_image_by_its_work() {
        assert_eq!(block_rows(&shape(1, 64, 512, 256)), 32);
        assert_eq!(block_rows(&shape(1, 512, 64, 4096)), 128);
        assert_eq!(block_rows(&shape(2, 64, 512, 256)), 64);
        assert_eq!(block_rows(&shape(1, 20, 512, 256)), 16);
        assert_eq!(block_rows(&shape(4, 512, 8192, 49)), 64);
    }

    /// `w` (`groups` blocks of `[depth][rows]`, the transposed convolution's layout) as the
    /// convolution's `[rows][depth]` blocks.
    fn output_major<T: Copy>(w: &[T], rows: usize, depth: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(w.len());
        for block in w.chunks(rows * depth) {
            for r in 0..rows {
                out.extend((0..depth).map(|k| block[k * rows + r]));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any 1x1 layer (batches and groups around the block split, 1-D to 3-D planes), its
        /// weight read input-major or output-major, with and without bias, equals the
        /// definition; in `f32` exactly (see `mismatch_f32`).
        #[test]
        fn products_match_the_definition(
            (batch, groups, rows, depth) in (1usize..4, 1usize..4, 1usize..70, 1usize..80),
            (d, h, w) in (1usize..4, 1usize..9, 1usize..40),
            with_bias in any::<bool>(),
        ) {
            let p = Problem {
                batch,
                groups,
                strided_channels: depth,
                dense_channels: rows,
                axes: [d, h, w].map(|n| plain_axis(n, 1, 1, 0)),
            };
            let s = Pointwise { batch, groups, rows, depth, plane: p.dense_plane() };
            let input_major = WeightLayout::input_major(rows);
            let bad = mismatch(&p, 1, with_bias, 1e-12, |x, w, b, y| {
                run(s, input_major, x, w, b, y, 2)
            });
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            let by_rows = WeightLayout::output_major(depth);
            let bad = mismatch(&p, 2, with_bias, 1e-12, |x, w, b, y| {
                run(s, by_rows, x, &output_major(w, rows, depth), b, y, 2)
            });
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            let bad = mismatch_f32(&p, 3, 0.0, |x, w, b, y| run(s, input_major, x, w, b, y, 2));
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            let bad = mismatch_f32(&p, 4, 0.0, |x, w, b, y| {
                run(s, by_rows, x, &output_major(w, rows, depth), b, y, 2)
            });
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }
}
