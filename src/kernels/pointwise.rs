//! 1x1 layers with few output channels per group: kernel 1, stride 1, no padding, cropping or
//! output padding on every axis (input and output positions coincide), so each image and group
//! is one product `Y[r, p] = bias[r] + sum_k W[r, k] X[k, p]` of `rows = C_out/g` output
//! channels, `depth = C_in/g` input channels and `P` positions: a segmentation head
//! (`384 -> 8`), a bottleneck projection, a channel mixer of a vocoder.
//!
//! The product does only `rows` multiply-adds per input element, so with few rows it is
//! bound by streaming the input from memory. The GEMM library, given 8 rows, ran it at 7-15
//! GFLOP/s on one thread here (it packs the input for a register tile that stays mostly
//! idle, and walks the input's rows a cache line at a time). Here:
//!
//! * a task owns a run of positions of every output channel of one image and group;
//! * the run is cut into [`CHUNK_COLS`]-wide chunks, whose sums (`rows` runs of the chunk)
//!   stay in the L1 cache while the input streams by;
//! * each pass reads four input rows of the chunk in order (four sequential streams, which
//!   the hardware prefetches) and adds their weighted sum into every output channel's run.
//!
//! Sums kept in registers over a strip of positions, input rows walked a cache line at a
//! time (the GEMM's way), ran 1.1-1.8x slower on inputs streamed from memory and won only on
//! planes that fit in the cache, by microseconds.
//!
//! Every output is `bias` followed by one fused multiply-add per input channel in channel
//! order, whatever the chunking: results do not depend on tasks or threads.

use super::parallel::for_each_task;
use super::simd::{vectorized, Kernel};
use crate::problem::Problem;
use crate::Element;

/// Positions per chunk: `rows` runs of sums (16 KiB of `f32` at 16 rows) plus four input
/// runs stay in the L1 cache.
pub(super) const CHUNK_COLS: usize = 256;

/// Positions per task, at most: several tasks per image on large planes.
const TASK_COLS: usize = 4096;

/// Positions per task, at least, when the plane is larger: the floor under [`TASK_WORK`] for
/// deep products.
const MIN_TASK_COLS: usize = 1024;

/// Multiply-adds a task should have: a deep product gets narrower tasks (a `512 -> 1` layer
/// on a 56x56 plane in four tasks rather than one).
const TASK_WORK: usize = 1 << 18;

/// Fewest positions per image this path takes: on smaller planes (a 1x1 map) a task per image
/// would read the whole weight for a position or two; one batched GEMM does better.
pub(super) const MIN_PLANE: usize = 16;

/// One image-and-group product: `rows` outputs from `depth` inputs at `plane` positions.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pointwise {
    pub(super) batch: usize,
    pub(super) groups: usize,
    /// Output channels per group.
    pub(super) rows: usize,
    /// Input channels per group.
    pub(super) depth: usize,
    pub(super) plane: usize,
}

/// Where weight `(r, k)` of group `g` is: `w[g*rows*depth + r*row_stride + k*depth_stride]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct WeightLayout {
    pub(super) row_stride: usize,
    pub(super) depth_stride: usize,
}

impl WeightLayout {
    /// PyTorch's transposed-convolution weight `[C_in, C_out/g]`: input channel major.
    pub(super) fn input_major(rows: usize) -> Self {
        WeightLayout {
            row_stride: 1,
            depth_stride: rows,
        }
    }

    /// PyTorch's convolution weight `[C_out, C_in/g]`: output channel major.
    pub(super) fn output_major(depth: usize) -> Self {
        WeightLayout {
            row_stride: depth,
            depth_stride: 1,
        }
    }
}

/// Whether every axis of `p` is a 1x1 tap at stride 1 without padding or cropping (the same
/// condition on both sides of the [`Problem`]: dense and strided positions coincide).
pub(super) fn is_pointwise(p: &Problem) -> bool {
    p.axes
        .iter()
        .all(|a| a.kernel == 1 && a.stride == 1 && a.pad_begin == 0 && a.dense == a.strided)
}

/// Most output channels per group that [`pays`] takes on any plane.
pub(super) const MAX_ROWS: usize = 8;

/// Most output channels per group that [`pays`] takes on a plane whose rows alias for the GEMM
/// ([`super::rows_alias`]), from [`ALIASED_MIN_DEPTH`] input channels on.
pub(super) const MAX_ROWS_ALIASED: usize = 16;

/// Fewest input channels per group for [`MAX_ROWS_ALIASED`].
pub(super) const ALIASED_MIN_DEPTH: usize = 64;

/// Whether this loop nest beats the other paths for `rows` output channels from `depth` input
/// channels on a `plane` of positions: at least [`MIN_PLANE`] positions and
/// up to [`MAX_ROWS`] outputs, or up to [`MAX_ROWS_ALIASED`] on the planes where the GEMM's
/// reads alias. Measured on this crate's benchmark machine (randomized A/B, 2 threads, 1x1
/// layers of random depth, plane and batch):
///
/// * against the tiled path's per-channel passes, which took these layers before: 0.12-0.85x
///   the time over 39 layers of 1-16 outputs (384 -> 8 on 128x128 0.46x, 512 -> 3 on 16
///   images 0.53x);
/// * against the GEMM (the forward-convolution lowering): with up to 8 outputs 0.33-0.95x in
///   21 of 24 layers (1.04-1.25x in the others); with 16 outputs 1.1-1.6x slower in 7 of 12
///   layers, with 20-32 slower in 11 of 14;
/// * with 9-16 outputs on planes of a multiple of 16384 positions (128x128, 64x256, 256x256),
///   where the GEMM runs its few-row products up to 1.5x slower (a microbenchmark: 32 rows, 64
///   deep, 30 GFLOP/s with rows 64 KiB apart, 47 with 64 bytes more): 0.44-0.89x in 18 of 18
///   layers 64-512 deep (16-32 deep: 0.82-1.30x, so those stay on the GEMM).
pub(super) fn pays(rows: usize, depth: usize, plane: usize) -> bool {
    let aliased =
        rows <= MAX_ROWS_ALIASED && depth >= ALIASED_MIN_DEPTH && super::rows_alias(plane);
    plane >= MIN_PLANE && (rows <= MAX_ROWS || aliased)
}

/// `y[n, g*rows + r, p] = bias[g*rows + r] + sum_k w(g, r, k) x[n, g*depth + k, p]`.
pub(super) fn run<T: Element>(
    s: Pointwise,
    layout: WeightLayout,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
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
    // tasks: (image x group, first position, that run of every output channel's plane), the
    // runs of one plane of equal length but for the last
    let widest = (TASK_WORK / rows.saturating_mul(depth).max(1))
        .clamp(MIN_TASK_COLS, TASK_COLS)
        .min(plane);
    let runs = plane.div_ceil(widest);
    let task_cols = plane.div_ceil(runs);
    let work = (rows as u64)
        .saturating_mul(depth as u64)
        .saturating_mul(task_cols as u64);
    let y = &mut y[..batch * groups * rows * plane];
    let block = |ng: usize, p0: usize, out: &mut [&mut [T]]| {
        let g = ng % groups;
        vectorized(Block {
            x: &x[ng * depth * plane..][..depth * plane],
            plane,
            p0,
            w: &w[g * rows * depth..][..rows * depth],
            layout,
            bias: b.map(|b| &b[g * rows..][..rows]),
            out,
        })
    };
    if runs == 1 {
        // whole planes: runs of images x groups per task, each one's planes split off inside
        // the task (a slice per plane listed up front outgrew tiny outputs)
        let tasks = super::whole_runs(batch * groups, y, rows * plane);
        for_each_task(tasks, work, usize::MAX, |(first, out)| {
            for (i, image) in out.chunks_mut(rows * plane).enumerate() {
                let mut planes: Vec<&mut [T]> = image.chunks_mut(plane).collect();
                block(first + i, 0, &mut planes);
            }
        });
        return;
    }
    let mut tasks: Vec<(usize, usize, Vec<&mut [T]>)> = Vec::new();
    let mut planes = y.chunks_exact_mut(plane);
    for ng in 0..batch * groups {
        let first = tasks.len();
        for k in 0..runs {
            tasks.push((ng, k * task_cols, Vec::with_capacity(rows)));
        }
        for _ in 0..rows {
            let mut rest = planes
                .next()
                .expect("one plane per image, group and channel");
            for task in &mut tasks[first..] {
                let (run, tail) = rest.split_at_mut(task_cols.min(rest.len()));
                task.2.push(run);
                rest = tail;
            }
        }
    }
    for_each_task(tasks, work, usize::MAX, |(ng, p0, mut out)| {
        block(ng, p0, &mut out)
    });
}

/// One task: positions `p0..p0 + out[r].len()` of every output channel `r` of one image and
/// group; `x` is that image and group's input (`depth` rows of `plane`). (Also the product of
/// [`super::phase_rows`], whose rows are output phases.)
pub(super) struct Block<'a, 'b, T> {
    pub(super) x: &'a [T],
    pub(super) plane: usize,
    pub(super) p0: usize,
    pub(super) w: &'a [T],
    pub(super) layout: WeightLayout,
    pub(super) bias: Option<&'a [T]>,
    pub(super) out: &'a mut [&'b mut [T]],
}

impl<T: Element> Kernel for Block<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let len = self.out.first().map_or(0, |o| o.len());
        let depth = self.x.len() / self.plane;
        let bias = |r: usize| self.bias.map_or(T::zero(), |b| b[r]);
        let weight =
            |r: usize, k: usize| self.w[r * self.layout.row_stride + k * self.layout.depth_stride];
        for j0 in (0..len).step_by(CHUNK_COLS) {
            let j1 = (j0 + CHUNK_COLS).min(len);
            let (col, n) = (self.p0 + j0, j1 - j0);
            let row = |k: usize| &self.x[k * self.plane + col..][..n];
            for (r, o) in self.out.iter_mut().enumerate() {
                o[j0..j1].fill(bias(r));
            }
            let mut k = 0;
            while k + 4 <= depth {
                let (x0, x1, x2, x3) = (row(k), row(k + 1), row(k + 2), row(k + 3));
                for (r, o) in self.out.iter_mut().enumerate() {
                    let (w0, w1, w2, w3) = (
                        weight(r, k),
                        weight(r, k + 1),
                        weight(r, k + 2),
                        weight(r, k + 3),
                    );
                    let inputs = x0.iter().zip(x1).zip(x2.iter().zip(x3));
                    for (o, ((&a, &b), (&c, &d))) in o[j0..j1].iter_mut().zip(inputs) {
                        *o = d.mul_add(w3, c.mul_add(w2, b.mul_add(w1, a.mul_add(w0, *o))));
                    }
                }
                k += 4;
            }
            for k in k..depth {
                for (r, o) in self.out.iter_mut().enumerate() {
                    let wk = weight(r, k);
                    for (o, &a) in o[j0..j1].iter_mut().zip(row(k)) {
                        *o = a.mul_add(wk, *o);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::data;

    /// Both weight layouts, groups, with and without bias, 1-8 rows, depths with and without
    /// a remainder of the four-row passes, planes with a ragged last chunk and task. The
    /// result is exact, bit for bit, against the plain loop it promises (bias, then one fused
    /// multiply-add per input channel in order), so the chunking cannot change it.
    #[test]
    fn products_equal_the_plain_loop_bit_for_bit() {
        for (batch, groups, rows, depth, plane) in [
            (1, 1, 8, 70, 4096 + 300),
            (2, 3, 5, 3, 37),
            (1, 2, 1, 129, 2 * 4096 + 7),
            (3, 1, 7, 64, 17),
            (1, 1, 2, 1, 5),
        ] {
            let s = Pointwise {
                batch,
                groups,
                rows,
                depth,
                plane,
            };
            let x = data(batch * groups * depth * plane, 1);
            let w = data(groups * rows * depth, 2);
            let b = data(groups * rows, 3);
            for (layout, input_major) in [
                (WeightLayout::input_major(rows), true),
                (WeightLayout::output_major(depth), false),
            ] {
                for bias in [Some(&b[..]), None] {
                    let mut got = vec![f64::NAN; batch * groups * rows * plane];
                    run(s, layout, &x, &w, bias, &mut got);
                    for n in 0..batch {
                        for g in 0..groups {
                            for r in 0..rows {
                                for p in 0..plane {
                                    let mut want = bias.map_or(0.0, |b| b[g * rows + r]);
                                    for k in 0..depth {
                                        let wi = if input_major {
                                            k * rows + r
                                        } else {
                                            r * depth + k
                                        };
                                        let xv = x[((n * groups + g) * depth + k) * plane + p];
                                        want = xv.mul_add(w[g * rows * depth + wi], want);
                                    }
                                    let i = ((n * groups + g) * rows + r) * plane + p;
                                    assert!(
                                        got[i].to_bits() == want.to_bits(),
                                        "{s:?} input-major {input_major} bias {} at {i}: {} vs {want}",
                                        bias.is_some(),
                                        got[i]
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
