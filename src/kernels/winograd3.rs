//! Winograd F(3x3, 2x2) for stride-1, undilated 2-D convolutions with a 2x2 kernel: the
//! stacked sub-pixel phases of 4x4/2 and 8x8/4 transposed convolutions ([`super::phase_stack`]).
//!
//! The output is cut into 3x3 tiles; tile `(ty, tx)` reads the 4x4 input patch `d` at
//! `(3*ty - pad_h, 3*tx - pad_w)`. With the points 0, 1, -1 and infinity,
//!
//! ```text
//! B^T = | 1  0 -1  0 |     G = | 1    0  |     A^T = | 1  1  1  0 |
//!       | 0  1  1  0 |         | 1/2  1/2|           | 0  1 -1  0 |
//!       | 0 -1  1  0 |         | 1/2 -1/2|           | 0  1  1  1 |
//!       | 0 -1  0  1 |         | 0    1  |
//! ```
//!
//! a tile is `Y = A^T [ sum over ci of (G g G^T) ⊙ (B^T d B) ] A`: 16 products per (output
//! channel, input channel, tile) for 9 outputs instead of 36 (2.25x fewer, against 1.78x for
//! F(2x2, 2x2) in [`super::winograd`]), i.e. 16 GEMMs `M[xi] = U[xi] V[xi]`. The transforms
//! add, subtract and halve, so results differ from the definition by rounding only.

use super::gemm::packing;
use super::scratch::sized;
use super::{tile_rows, TILE_CAP};
use crate::problem::Problem;
use crate::Element;

/// Transformed values per tile (the 4x4 patch).
pub(super) const POINTS: usize = 16;

/// Tiles across a row of the output (the convolution's "strided" side).
fn tiles_wide(p: &Problem) -> usize {
    p.axes[2].strided.div_ceil(3)
}

/// Scratch elements of one row of tiles: its `V` and `M` columns.
fn per_tile_row(p: &Problem) -> usize {
    POINTS * (p.dense_channels + p.strided_channels) * tiles_wide(p)
}

/// Whether [`band_product`] can run `p` within the scratch budget: a 2x2 kernel at stride 1,
/// no dilation, over the two inner axes of a 2-D problem.
pub(super) fn fits(p: &Problem) -> bool {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1 && a[0].pad_begin == 0;
    let two = |i: usize| a[i].kernel == 2 && a[i].stride == 1 && a[i].dilation == 1;
    planar && two(1) && two(2) && per_tile_row(p) <= TILE_CAP
}

/// Output rows per band (a multiple of 3, but for the last band): as many tile rows as
/// [`super::tile_rows`] allows.
pub(super) fn band_rows(p: &Problem) -> usize {
    let rows = p.axes[1].strided.div_ceil(3);
    3 * tile_rows(per_tile_row(p), tiles_wide(p), rows)
}

/// Tiles in a band of [`band_rows`] rows.
pub(super) fn band_tiles(p: &Problem) -> usize {
    band_rows(p).min(p.axes[1].strided).div_ceil(3) * tiles_wide(p)
}

/// Elements of the row buffers of one band: four patch rows and four transformed rows of
/// `3 * tiles + 1` columns.
fn row_buffers(p: &Problem) -> usize {
    8 * (3 * tiles_wide(p) + 1)
}

/// Scratch elements [`band_product`] takes for a band of [`band_rows`] rows, the GEMM's
/// packing included.
pub(super) fn workspace(p: &Problem) -> usize {
    let t = band_rows(p) / 3 * tiles_wide(p);
    let (cin, cout) = (p.dense_channels, p.strided_channels);
    POINTS * (cin + cout) * t + row_buffers(p) + packing(cout, cin, t)
}

/// `G g G^T` of the 2x2 kernel `g = [[g00, g01], [g10, g11]]`, row-major 4x4.
#[inline]
pub(super) fn transform_kernel<T: Element>([g00, g01, g10, g11]: [T; 4]) -> [T; 16] {
    let half = T::from_f64_lossy(0.5);
    // G applied down each kernel column, then along each row
    let col = |a: T, b: T| [a, (a + b) * half, (a - b) * half, b];
    let (c0, c1) = (col(g00, g10), col(g01, g11));
    let mut out = [T::zero(); 16];
    for i in 0..4 {
        let row = col(c0[i], c1[i]);
        out[4 * i..4 * i + 4].copy_from_slice(&row);
    }
    out
}

/// Output rows `r0..r1` of one image and group: `dst[co]` (rows `r0..r1` of output channel
/// `co`, `W_out` each) gets the convolution plus `bias(co)`. `u` is the group's transformed
/// weight `[xi][co][ci]`, `xg` the group's input; `scratch` holds `V`, `M` and the row buffers.
pub(super) fn band_product<T: Element>(
    p: &Problem,
    u: &[T],
    xg: &[T],
    (r0, r1): (usize, usize),
    scratch: &mut Vec<T>,
    dst: &mut [&mut [T]],
    bias: impl Fn(usize) -> T,
) {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    let tiles = (r1 - r0).div_ceil(3) * tiles_wide(p);
    // sized for a whole band even when this one is shorter (see `winograd::band_product`)
    let full = (band_rows(p) / 3 * tiles_wide(p)).max(tiles);
    let all = sized(scratch, POINTS * (cin + cout) * full + row_buffers(p));
    let (v, rest) = all.split_at_mut(POINTS * cin * tiles);
    let (m, rows) = rest.split_at_mut(POINTS * cout * tiles);
    input_transform(p, xg, (r0, r1), v, rows);
    super::winograd::products(u, v, m, (cout, cin, tiles));
    output_transform(p, m, (r0, r1), dst, bias, rows);
}

/// `V[xi][ci][t] = (B^T d B)[xi]` for the tiles `t` of output rows `r0..r1` (tile row `ty`
/// holds rows `r0 + 3ty` to `r0 + 3ty + 2`), `d` the 4x4 input patch of the tile (zero outside
/// the input). `rows` holds 8 rows of `3*tiles + 1`.
fn input_transform<T: Element>(
    p: &Problem,
    xg: &[T],
    (r0, r1): (usize, usize),
    v: &mut [T],
    rows: &mut [T],
) {
    let (h, w) = (&p.axes[1], &p.axes[2]);
    let (h_in, w_in) = (h.dense, w.dense);
    let tw = tiles_wide(p);
    let width = 3 * tw + 1;
    let tile_rows = (r1 - r0).div_ceil(3);
    let tiles = tile_rows * tw;
    let stride = p.dense_channels * tiles;
    for (ci, plane) in xg.chunks_exact(h_in * w_in).enumerate() {
        for ty in 0..tile_rows {
            let (d, t) = rows[..8 * width].split_at_mut(4 * width);
            // the patch rows, padded: column c is input column c - pad_w
            for (k, row) in d.chunks_exact_mut(width).enumerate() {
                let iy = (r0 + 3 * ty + k) as i64 - h.pad_begin;
                row.fill(T::zero());
                if iy < 0 || iy >= h_in as i64 {
                    continue;
                }
                let src = &plane[iy as usize * w_in..][..w_in];
                // padded column c0 is input column i0
                let c0 = w.pad_begin.max(0) as usize;
                let i0 = (-w.pad_begin).max(0) as usize;
                if c0 < width && i0 < w_in {
                    let n = (width - c0).min(w_in - i0);
                    row[c0..c0 + n].copy_from_slice(&src[i0..i0 + n]);
                }
            }
            // B^T down the columns, every column at once
            let dr = |k: usize| &d[k * width..(k + 1) * width];
            let (d0, d1, d2, d3) = (dr(0), dr(1), dr(2), dr(3));
            let (t0, rest) = t.split_at_mut(width);
            let (t1, rest) = rest.split_at_mut(width);
            let (t2, t3) = rest.split_at_mut(width);
            for c in 0..width {
                t0[c] = d0[c] - d2[c];
                t1[c] = d1[c] + d2[c];
                t2[c] = d2[c] - d1[c];
                t3[c] = d3[c] - d1[c];
            }
            // B along each row: tile x reads columns 3x..3x+4
            for (i, ti) in [&*t0, &*t1, &*t2, &*t3].into_iter().enumerate() {
                let at = (4 * i * p.dense_channels + ci) * tiles + ty * tw;
                let (v0, rest) = v[at..].split_at_mut(stride);
                let (v1, rest) = rest.split_at_mut(stride);
                let (v2, rest) = rest.split_at_mut(stride);
                let v3 = &mut rest[..tw];
                for x in 0..tw {
                    let e = &ti[3 * x..3 * x + 4];
                    v0[x] = e[0] - e[2];
                    v1[x] = e[1] + e[2];
                    v2[x] = e[2] - e[1];
                    v3[x] = e[3] - e[1];
                }
            }
        }
    }
}

/// `dst[co]` rows `r0..r1` from `M[xi][co][t]`: `A^T M A` per tile, plus `bias(co)`, cut
/// at the band's last row and the row's last column. `rows` holds 6 rows of `4 * tiles`.
fn output_transform<T: Element>(
    p: &Problem,
    m: &[T],
    (r0, r1): (usize, usize),
    dst: &mut [&mut [T]],
    bias: impl Fn(usize) -> T,
    rows: &mut [T],
) {
    let w_out = p.axes[2].strided;
    let tw = tiles_wide(p);
    let tile_rows = (r1 - r0).div_ceil(3);
    let tiles = tile_rows * tw;
    let cout = p.strided_channels;
    let (s, _) = rows.split_at_mut(12 * tw);
    for (co, seg) in dst.iter_mut().enumerate() {
        let bias = bias(co);
        for ty in 0..tile_rows {
            let run = |xi: usize| &m[(xi * cout + co) * tiles + ty * tw..][..tw];
            // A^T down the columns: for patch column j, s_k[j] over the tiles
            let (s0, rest) = s.split_at_mut(4 * tw);
            let (s1, s2) = rest.split_at_mut(4 * tw);
            for j in 0..4 {
                let (a, b, c, d) = (run(j), run(4 + j), run(8 + j), run(12 + j));
                let (u0, u1, u2) = (
                    &mut s0[j * tw..][..tw],
                    &mut s1[j * tw..][..tw],
                    &mut s2[j * tw..][..tw],
                );
                for t in 0..tw {
                    u0[t] = a[t] + b[t] + c[t];
                    u1[t] = b[t] - c[t];
                    u2[t] = b[t] + c[t] + d[t];
                }
            }
            // A along the rows, per output row
            for (dy, sk) in [&*s0, &*s1, &*s2].into_iter().enumerate() {
                let oy = 3 * ty + dy;
                if r0 + oy >= r1 {
                    break;
                }
                let out = &mut seg[oy * w_out..][..w_out];
                let (a, b, c, d) = (
                    &sk[..tw],
                    &sk[tw..2 * tw],
                    &sk[2 * tw..3 * tw],
                    &sk[3 * tw..],
                );
                let full = w_out / 3;
                for (t, o) in out.chunks_exact_mut(3).enumerate() {
                    o[0] = a[t] + b[t] + c[t] + bias;
                    o[1] = b[t] - c[t] + bias;
                    o[2] = b[t] + c[t] + d[t] + bias;
                }
                // a last tile cut by the row's end (one or two columns)
                if full < tw {
                    let t = full;
                    let tail = [a[t] + b[t] + c[t] + bias, b[t] - c[t] + bias];
                    for (o, &v) in out[3 * full..].iter_mut().zip(&tail) {
                        *o = v;
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
    use crate::problem::AxisMap;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// F(3x3, 2x2) on planes of any size (the stacked phases take it only for wide bands):
        /// sizes of every residue mod 3, padding past the kernel (cropping), output planes
        /// longer than the input (zeros past it), bands of rows, bias; f64 to 1e-12.
        #[test]
        fn planes_of_any_size_match_the_definition(
            (cin, cout) in (1usize..5, 1usize..5),
            (h, w, pad, extra) in (1usize..14, 1usize..14, -1i64..3, 0usize..3),
            band in 1usize..5,
        ) {
            let axis = |dense: usize| AxisMap {
                strided: ((dense as i64 + 2 * pad - 1).max(0) as usize) + extra,
                dense,
                kernel: 2,
                stride: 1,
                dilation: 1,
                pad_begin: pad,
            };
            let p = Problem {
                batch: 1,
                groups: 1,
                strided_channels: cout,
                dense_channels: cin,
                axes: [AxisMap::UNIT, axis(h), axis(w)],
            };
            prop_assume!(p.strided_plane() > 0 && fits(&p));
            let x = data(cin * p.dense_plane(), 1);
            let wt = data(cout * cin * 4, 2);
            let b = data(cout, 3);
            let mut want = vec![0.0; cout * p.strided_plane()];
            crate::reference::gather(&p, &x, &wt, Some(&b), &mut want);
            // U[xi][co][ci]
            let mut u = vec![0.0; POINTS * cout * cin];
            for co in 0..cout {
                for ci in 0..cin {
                    let g = &wt[(co * cin + ci) * 4..][..4];
                    let t = transform_kernel([g[0], g[1], g[2], g[3]]);
                    for (xi, &v) in t.iter().enumerate() {
                        u[(xi * cout + co) * cin + ci] = v;
                    }
                }
            }
            let (rows, w_out) = (p.axes[1].strided, p.axes[2].strided);
            let mut got = vec![f64::NAN; want.len()];
            let mut scratch = Vec::new();
            // bands of 3*band rows, each into its rows of every channel
            for r0 in (0..rows).step_by(3 * band) {
                let r1 = (r0 + 3 * band).min(rows);
                let mut planes: Vec<&mut [f64]> = got
                    .chunks_mut(rows * w_out)
                    .map(|plane| &mut plane[r0 * w_out..r1 * w_out])
                    .collect();
                band_product(&p, &u, &x, (r0, r1), &mut scratch, &mut planes, |co| b[co]);
            }
            let max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (g, v)) in got.iter().zip(&want).enumerate() {
                prop_assert!((g - v).abs() <= 1e-12 * max, "{:?} at {}: {} vs {}", p, i, g, v);
            }
        }
    }
}
