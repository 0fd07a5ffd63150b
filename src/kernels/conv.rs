//! Forward-convolution fast path: im2col for a band of output rows, then one GEMM per band.
//!
//! The band's columns (`C_in/groups * taps` rows by `band` positions) stay under
//! [`super::COL_BUDGET`] elements (widened to [`super::MIN_TILE_COLS`] columns), so no full-size im2col buffer is ever built. A 1x1 kernel with
//! stride 1 and no padding skips im2col and multiplies the input directly.

use super::gemm::{matmul, Mat};
use super::parallel::for_each_task;
use super::scratch::{sized, with_scratch};
use super::{tap_ranges, tile_rows};
use crate::problem::Problem;
use crate::Element;

/// Output rows (over the two outer axes) per band, and the number of rows.
pub(super) fn band(p: &Problem) -> (usize, usize) {
    let rows = p.axes[0].strided * p.axes[1].strided;
    let per_row = p.dense_channels * p.kernel_volume() * p.axes[2].strided;
    (tile_rows(per_row, p.axes[2].strided, rows), rows)
}

/// True when the input itself is the im2col matrix (1x1 kernel, stride 1, no padding).
pub(super) fn is_pointwise(p: &Problem) -> bool {
    p.axes
        .iter()
        .all(|a| a.kernel == 1 && a.stride == 1 && a.pad_begin == 0 && a.dense == a.strided)
}

/// Scratch elements [`run`] allocates per task.
pub(crate) fn workspace(p: &Problem) -> usize {
    let (band_rows, _) = band(p);
    let cols = band_rows * p.axes[2].strided;
    let im2col = if is_pointwise(p) {
        0
    } else {
        p.dense_channels * p.kernel_volume() * cols
    };
    im2col + p.strided_channels * cols
}

/// Builds `col[(ci*kvol + tap), t]` for output rows `r0..r1` of one image and group: the input
/// sample each output position reads through each tap, or zero in the padding. The matrix is
/// appended in memory order, so every element is written exactly once (no zero pass first).
pub(super) fn im2col<T: Element>(
    p: &Problem,
    x: &[T],
    rows: (usize, usize),
    col: &mut Vec<T>,
    w_ranges: &[(usize, usize)],
) {
    let a = &p.axes;
    let (w_out, w_in, pin) = (a[2].strided, a[2].dense, p.dense_plane());
    col.clear();
    let zeros = |col: &mut Vec<T>, n: usize| col.resize(col.len() + n, T::zero());
    for ci in 0..p.dense_channels {
        let plane = &x[ci * pin..(ci + 1) * pin];
        for kd in 0..a[0].kernel {
            for kh in 0..a[1].kernel {
                for (kw, &(lo, hi)) in w_ranges.iter().enumerate() {
                    for r in rows.0..rows.1 {
                        let (od, oh) = (r / a[1].strided, r % a[1].strided);
                        let id = a[0].dense_pos(od, kd);
                        let ih = a[1].dense_pos(oh, kh);
                        if id < 0
                            || ih < 0
                            || id >= a[0].dense as i64
                            || ih >= a[1].dense as i64
                            || lo >= hi
                        {
                            zeros(col, w_out);
                            continue;
                        }
                        let src = &plane[(id as usize * a[1].dense + ih as usize) * w_in..][..w_in];
                        // output positions lo..hi read input iw0, iw0 + stride, ...
                        let iw0 = a[2].dense_pos(lo, kw) as usize;
                        zeros(col, lo);
                        if a[2].stride == 1 {
                            col.extend_from_slice(&src[iw0..iw0 + (hi - lo)]);
                        } else {
                            col.extend(src[iw0..].iter().step_by(a[2].stride).take(hi - lo));
                        }
                        zeros(col, w_out - hi);
                    }
                }
            }
        }
    }
}

/// The GEMM's right operand for output rows `rows` of one image and group: the input itself
/// when `pointwise` (see [`is_pointwise`]), otherwise the band's im2col, built in `col`.
pub(super) fn band_rhs<'a, T: Element>(
    p: &Problem,
    xg: &'a [T],
    rows: (usize, usize),
    col: &'a mut Vec<T>,
    w_ranges: &[(usize, usize)],
    pointwise: bool,
) -> Mat<'a, T> {
    let w_out = p.axes[2].strided;
    let cols = (rows.1 - rows.0) * w_out;
    if pointwise {
        return Mat {
            data: &xg[rows.0 * w_out..],
            rows: p.dense_channels,
            cols,
            row_stride: p.dense_plane(),
            col_stride: 1,
        };
    }
    im2col(p, xg, rows, col, w_ranges);
    Mat {
        data: col,
        rows: p.dense_channels * p.kernel_volume(),
        cols,
        row_stride: cols,
        col_stride: 1,
    }
}

/// Forward convolution: `x` is the dense side (input), `y` the strided side (output).
pub(crate) fn run<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (cout_g, cin_g, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    let (q, pin) = (p.strided_plane(), p.dense_plane());
    let kc = cin_g * kvol;
    let w_out = p.axes[2].strided;
    let (band_rows, rows) = band(p);
    let pointwise = is_pointwise(p);
    let w_ranges = tap_ranges(&p.axes[2]);

    // Tasks: (image, group, band of output rows). A task owns, for each output channel of its
    // group, the band's segment of that channel's plane.
    let mut tasks: Vec<(usize, usize, usize, Vec<&mut [T]>)> = Vec::new();
    let mut rest: &mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            let first = tasks.len();
            let mut r0 = 0;
            while r0 < rows {
                tasks.push((n, g, r0, Vec::with_capacity(cout_g)));
                r0 += band_rows;
            }
            for _ in 0..cout_g {
                let (mut plane, tail) = rest.split_at_mut(q);
                rest = tail;
                for task in &mut tasks[first..] {
                    let len = ((rows - task.2).min(band_rows)) * w_out;
                    let (seg, after) = plane.split_at_mut(len);
                    task.3.push(seg);
                    plane = after;
                }
            }
        }
    }
    let work = p.multiply_adds() / tasks.len().max(1) as u64;
    for_each_task(tasks, work, |(n, g, r0, mut segments)| {
        with_scratch(|col: &mut Vec<T>, out: &mut Vec<T>| {
            let r1 = (r0 + band_rows).min(rows);
            let cols = (r1 - r0) * w_out;
            let xg = &x[(n * p.groups + g) * cin_g * pin..][..cin_g * pin];
            let rhs = band_rhs(p, xg, (r0, r1), col, &w_ranges, pointwise);
            let lhs = Mat {
                data: &w[g * cout_g * kc..],
                rows: cout_g,
                cols: kc,
                row_stride: kc,
                col_stride: 1,
            };
            let out = sized(out, cout_g * cols);
            matmul(out, cols, lhs, rhs);
            for (co, seg) in segments.iter_mut().enumerate() {
                let bias = b.map_or(T::zero(), |b| b[g * cout_g + co]);
                seg.iter_mut()
                    .zip(&out[co * cols..(co + 1) * cols])
                    .for_each(|(d, &v)| *d = v + bias);
            }
        })
    });
}
