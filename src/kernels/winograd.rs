//! Winograd F(2x2, 3x3) for 2-D convolutions with a 3x3 kernel, stride 1 and no dilation
//! (the SRGAN / U-Net body layer, and stride-1 transposed convolutions through their flipped
//! forward convolution).
//!
//! The output is cut into 2x2 tiles; tile `(ty, tx)` reads the 4x4 input patch `d` at
//! `(2*ty - pad_h, 2*tx - pad_w)`. With the transforms of Lavin & Gray (2015),
//!
//! ```text
//! B^T = | 1  0 -1  0 |     G = | 1    0    0  |     A^T = | 1  1  1  0 |
//!       | 0  1  1  0 |         | 1/2  1/2  1/2|           | 0  1 -1 -1 |
//!       | 0 -1  1  0 |         | 1/2 -1/2  1/2|
//!       | 0  1  0 -1 |         | 0    0    1  |
//! ```
//!
//! a tile is `Y = A^T [ sum over ci of (G g G^T) ⊙ (B^T d B) ] A`: 16 element-wise products
//! per (output channel, input channel, tile) instead of 36, i.e. 16 GEMMs
//! `M[xi] = U[xi] V[xi]` (`U[xi]`: `C_out x C_in`, transformed weight; `V[xi]`: `C_in x tiles`,
//! transformed input) with 2.25x fewer multiply-adds than direct convolution. The transforms
//! only add and subtract (and halve, in the weight's), so the result differs from the
//! definition by rounding alone, as any reordering of the sums does.
//!
//! Bands of tile rows keep `V` and `M` within [`super::TILE_CAP`] elements per task.

use super::gemm::{matmul, packing, Mat};
use super::parallel::for_each_task;
use super::scratch::{sized, with_scratch};
use super::{tile_rows, TILE_CAP, WEIGHT_COPY_BUDGET};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Fewest channels per group (on each side) for Winograd: with fewer, the transforms and not
/// the products take most of the time.
const MIN_CHANNELS: usize = 16;

/// Whether `p` (a forward-convolution problem) runs through Winograd F(2x2, 3x3).
pub(super) fn applies(p: &Problem) -> bool {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1 && a[0].pad_begin == 0;
    let k3 = |x: &AxisMap| x.kernel == 3 && x.stride == 1 && x.dilation == 1 && x.strided >= 2;
    planar
        && k3(&a[1])
        && k3(&a[2])
        && p.dense_channels >= MIN_CHANNELS
        && p.strided_channels >= MIN_CHANNELS
        && copies(p) <= WEIGHT_COPY_BUDGET
        && per_tile_row(p) <= TILE_CAP
}

/// Tiles across a row of the output.
fn tiles_wide(p: &Problem) -> usize {
    p.axes[2].strided.div_ceil(2)
}

/// Scratch elements of one row of tiles: its `V` and `M` columns.
fn per_tile_row(p: &Problem) -> usize {
    16 * (p.dense_channels + p.strided_channels) * tiles_wide(p)
}

/// Tile rows per band, and tile rows in all.
fn band_tiles(p: &Problem) -> (usize, usize) {
    let rows = p.axes[1].strided.div_ceil(2);
    (tile_rows(per_tile_row(p), tiles_wide(p), rows), rows)
}

/// Scratch elements per task: `V`, `M`, the row buffers and the GEMM's packing.
pub(super) fn workspace(p: &Problem) -> usize {
    let tw = tiles_wide(p);
    let t = band_tiles(p).0 * tw;
    let (cin, cout) = (p.dense_channels, p.strided_channels);
    16 * (cin + cout) * t + 8 * (2 * tw + 2) + packing(cout, cin, t)
}

/// Weight elements copied: the transformed weight, 16 per (output, input channel) pair.
pub(super) fn copies(p: &Problem) -> usize {
    16 * p.strided_channels_total() * p.dense_channels
}

/// `U[g][xi][co][ci] = (G g G^T)[xi]` for the 3x3 kernel `g = w[g*C_out/g + co][ci]`.
fn transformed_weight<T: Element>(p: &Problem, w: &[T]) -> Vec<T> {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    let half = T::from_f64_lossy(0.5);
    // rows of G applied to three values
    let g_rows = |a: T, b: T, c: T| [a, (a + b + c) * half, (a - b + c) * half, c];
    let mut u = vec![T::zero(); copies(p)];
    for g in 0..p.groups {
        for co in 0..cout {
            for ci in 0..cin {
                let k = &w[((g * cout + co) * cin + ci) * 9..][..9];
                // G g: four rows of three, one per kernel column
                let cols: [[T; 4]; 3] = std::array::from_fn(|c| g_rows(k[c], k[3 + c], k[6 + c]));
                for i in 0..4 {
                    let row = g_rows(cols[0][i], cols[1][i], cols[2][i]);
                    for (j, &v) in row.iter().enumerate() {
                        u[((g * 16 + i * 4 + j) * cout + co) * cin + ci] = v;
                    }
                }
            }
        }
    }
    u
}

/// Forward convolution of `p` (for which [`applies`] holds) through Winograd F(2x2, 3x3);
/// `held` weight-copy elements are already held by the caller.
pub(super) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
) {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    let (h_out, w_out) = (p.axes[1].strided, p.axes[2].strided);
    let (q, pin) = (h_out * w_out, p.axes[1].dense * p.axes[2].dense);
    let u = transformed_weight(p, w);
    let (band, tile_rows_total) = band_tiles(p);
    let tw = tiles_wide(p);

    // Tasks: (image, group, first tile row, the band's rows of each output channel's plane).
    let mut tasks: Vec<(usize, usize, usize, Vec<&mut [T]>)> = Vec::new();
    let y_len = y.len();
    let mut rest: &mut [T] = y;
    for n in 0..p.batch {
        for g in 0..p.groups {
            let first = tasks.len();
            for ty0 in (0..tile_rows_total).step_by(band) {
                tasks.push((n, g, ty0, Vec::with_capacity(cout)));
            }
            for _ in 0..cout {
                let (mut plane, tail) = rest.split_at_mut(q);
                rest = tail;
                for task in &mut tasks[first..] {
                    let rows = (h_out - 2 * task.2).min(2 * band);
                    let (seg, after) = plane.split_at_mut(rows * w_out);
                    task.3.push(seg);
                    plane = after;
                }
            }
        }
    }
    let work = (p.multiply_adds() * 4 / 9) / tasks.len().max(1) as u64;
    let at_once = super::max_concurrent(workspace(p), held + copies(p), y_len, size_of::<T>());
    for_each_task(tasks, work, at_once, |(n, g, ty0, mut segments)| {
        let ty1 = (ty0 + band).min(tile_rows_total);
        let tiles = (ty1 - ty0) * tw;
        let xg = &x[(n * p.groups + g) * cin * pin..][..cin * pin];
        let mut rows = vec![T::zero(); 8 * (2 * tw + 2)];
        with_scratch(|v: &mut Vec<T>, m: &mut Vec<T>| {
            let v = sized(v, 16 * cin * tiles);
            input_transform(p, xg, (ty0, ty1), v, &mut rows);
            let m = sized(m, 16 * cout * tiles);
            for (xi, mx) in m.chunks_exact_mut(cout * tiles).enumerate() {
                let lhs = Mat {
                    data: &u[(g * 16 + xi) * cout * cin..][..cout * cin],
                    rows: cout,
                    cols: cin,
                    row_stride: cin,
                    col_stride: 1,
                };
                let rhs = Mat {
                    data: &v[xi * cin * tiles..][..cin * tiles],
                    rows: cin,
                    cols: tiles,
                    row_stride: tiles,
                    col_stride: 1,
                };
                matmul(mx, tiles, lhs, rhs, false);
            }
            let bias = |co: usize| b.map_or(T::zero(), |b| b[g * cout + co]);
            output_transform(p, m, (ty0, ty1), &mut segments, bias, &mut rows);
        });
    });
}

/// `V[xi][ci][t] = (B^T d B)[xi]` for the tiles `t` of tile rows `ty0..ty1`, `d` the 4x4
/// input patch of the tile (zero outside the input). `rows` holds 8 rows of `2*(tiles + 1)`.
///
/// Each of a tile row's four input rows is read with its even and odd columns apart (column
/// `c` of the padded row is input column `c - pad_w`; tile `t` reads columns `2t..2t + 4`, that
/// is even `t, t+1` and odd `t, t+1`), so both transforms run on contiguous runs.
fn input_transform<T: Element>(
    p: &Problem,
    xg: &[T],
    (ty0, ty1): (usize, usize),
    v: &mut [T],
    rows: &mut [T],
) {
    let (h, w) = (&p.axes[1], &p.axes[2]);
    let (h_in, w_in) = (h.dense, w.dense);
    let tw = tiles_wide(p);
    let half = tw + 1;
    let width = 2 * half;
    let tiles = (ty1 - ty0) * tw;
    let stride = p.dense_channels * tiles;
    for (ci, plane) in xg.chunks_exact(h_in * w_in).enumerate() {
        for ty in ty0..ty1 {
            let (d, r) = rows[..8 * width].split_at_mut(4 * width);
            for (k, row) in d.chunks_exact_mut(width).enumerate() {
                let iy = (2 * ty + k) as i64 - h.pad_begin;
                let (even, odd) = row.split_at_mut(half);
                if iy < 0 || iy >= h_in as i64 {
                    even.fill(T::zero());
                    odd.fill(T::zero());
                    continue;
                }
                let src = &plane[iy as usize * w_in..][..w_in];
                every_other(src, -w.pad_begin, even);
                every_other(src, 1 - w.pad_begin, odd);
            }
            // B^T down the columns, every column at once
            let (d0, d1, d2, d3) = (
                &d[..width],
                &d[width..2 * width],
                &d[2 * width..3 * width],
                &d[3 * width..],
            );
            let (r0, rest) = r.split_at_mut(width);
            let (r1, rest) = rest.split_at_mut(width);
            let (r2, r3) = rest.split_at_mut(width);
            for c in 0..width {
                r0[c] = d0[c] - d2[c];
                r1[c] = d1[c] + d2[c];
                r2[c] = d2[c] - d1[c];
                r3[c] = d1[c] - d3[c];
            }
            // B along each row: with e, o the even and odd columns, tile t's four values are
            // e[t] - e[t+1], o[t] + e[t+1], e[t+1] - o[t], o[t] - o[t+1]
            let t0 = (ty - ty0) * tw;
            for (i, ri) in [&*r0, &*r1, &*r2, &*r3].into_iter().enumerate() {
                let (e, o) = ri.split_at(half);
                let (e0, e1, o0, o1) = (&e[..tw], &e[1..half], &o[..tw], &o[1..half]);
                let at = (i * 4 * p.dense_channels + ci) * tiles + t0;
                let (v0, rest) = v[at..].split_at_mut(stride);
                let (v1, rest) = rest.split_at_mut(stride);
                let (v2, v3) = rest.split_at_mut(stride);
                let (v0, v1, v2, v3) = (&mut v0[..tw], &mut v1[..tw], &mut v2[..tw], &mut v3[..tw]);
                for t in 0..tw {
                    v0[t] = e0[t] - e1[t];
                    v1[t] = o0[t] + e1[t];
                    v2[t] = e1[t] - o0[t];
                    v3[t] = o0[t] - o1[t];
                }
            }
        }
    }
}

/// `dst[k] = src[start + 2k]`, zero where that is outside `src`.
fn every_other<T: Element>(src: &[T], start: i64, dst: &mut [T]) {
    let len = src.len() as i64;
    // k with 0 <= start + 2k < len
    let lo = if start >= 0 { 0 } else { (-start + 1) / 2 };
    let hi = if start >= len {
        0
    } else {
        (len - start + 1) / 2
    };
    let (lo, hi) = (
        lo.min(dst.len() as i64) as usize,
        hi.min(dst.len() as i64) as usize,
    );
    if lo >= hi {
        dst.fill(T::zero());
        return;
    }
    dst[..lo].fill(T::zero());
    dst[hi..].fill(T::zero());
    let first = (start + 2 * lo as i64) as usize;
    dst[lo..hi]
        .iter_mut()
        .zip(src[first..].iter().step_by(2))
        .for_each(|(d, &s)| *d = s);
}

/// Output rows of tile rows `ty0..ty1` from `M[xi][co][t]`: `Y = A^T M A` plus the bias, into
/// `segments[co]` (the band's rows of output channel `co`). `rows` holds 8 runs of `tw`.
fn output_transform<T: Element>(
    p: &Problem,
    m: &[T],
    (ty0, ty1): (usize, usize),
    segments: &mut [&mut [T]],
    bias: impl Fn(usize) -> T,
    rows: &mut [T],
) {
    let (h_out, w_out) = (p.axes[1].strided, p.axes[2].strided);
    let tw = tiles_wide(p);
    let tiles = (ty1 - ty0) * tw;
    let cout = p.strided_channels;
    let (s0, s1) = rows[..8 * tw].split_at_mut(4 * tw);
    for (co, seg) in segments.iter_mut().enumerate() {
        let bias = bias(co);
        for ty in ty0..ty1 {
            let t0 = (ty - ty0) * tw;
            let run = |xi: usize| &m[(xi * cout + co) * tiles + t0..][..tw];
            // A^T down the columns: s0[j] = m0j + m1j + m2j, s1[j] = m1j - m2j - m3j
            for j in 0..4 {
                let (a, b, c, d) = (run(j), run(4 + j), run(8 + j), run(12 + j));
                let (u, v) = (&mut s0[j * tw..][..tw], &mut s1[j * tw..][..tw]);
                for t in 0..tw {
                    u[t] = a[t] + b[t] + c[t];
                    v[t] = b[t] - c[t] - d[t];
                }
            }
            // A along the rows: y[2t] = s0 + s1 + s2, y[2t+1] = s1 - s2 - s3 (per row)
            for (dy, s) in [&*s0, &*s1].into_iter().enumerate() {
                let oy = 2 * ty + dy;
                if oy >= h_out {
                    break;
                }
                let out = &mut seg[(oy - 2 * ty0) * w_out..][..w_out];
                let (a, b, c, d) = (&s[..tw], &s[tw..2 * tw], &s[2 * tw..3 * tw], &s[3 * tw..]);
                for (t, o) in out.chunks_exact_mut(2).enumerate() {
                    o[0] = a[t] + b[t] + c[t] + bias;
                    o[1] = b[t] - c[t] - d[t] + bias;
                }
                if w_out % 2 == 1 {
                    let t = tw - 1;
                    out[w_out - 1] = a[t] + b[t] + c[t] + bias;
                }
            }
        }
    }
}
