//! A transposed convolution's weight packed once into row panels, for the few-column GEMMs
//! of GEMM + col2im (see [`crate::ConvTransposeLayer`], which keeps the packed copy).
//!
//! GEMM + col2im multiplies `A = W^T` (`[C_out/g * taps, C_in/g]` per group) by the input.
//! In the weight's own layout, `[C_in, C_out/g * taps]` row-major, a column of `A` is
//! contiguous but consecutive steps along the inner dimension are a whole weight row apart
//! (16 KiB for 256 channels of a 4x4 kernel). With many columns the GEMM library packs `A`
//! and repays it; with a few (an input of 4x4 to 8x8 positions, batch 1) it walks `A` in
//! place, one cache line and one page per step, at 20-30 GFLOP/s on one thread. Packed here
//! as panels of [`PANEL_ROWS`] rows, each `[C_in/g, PANEL_ROWS]` contiguous, the same GEMM
//! reads every panel as one sequential stream: 47-70 GFLOP/s on one thread for 8-48
//! columns of a `4096 x 512` product (microbenchmark, weight in the cache). In `f32` on an
//! AVX2 CPU, blocks of many panels go through our own register tiles instead
//! ([`super::panel_tiles`]), which pack the input once per product rather than once per panel.

use super::gemm::{matmul_col_major, Mat};
use crate::problem::Problem;
use crate::Element;

/// Rows of `A` per panel: two AVX2 vectors of `f32`, the GEMM kernel's row count.
pub(crate) const PANEL_ROWS: usize = 16;

/// Fewest and most columns of a product that reads panels; below, the skinny product's
/// four weight streams are faster (one GEMM call per panel costs more than a column's
/// work); above, the GEMM library packs `A` from the weight itself at about the same rate
/// (microbenchmark: 83 GFLOP/s in place against 72 from panels at 256 columns). A/B of 65-128
/// columns, panels against the weight in place: 0.57-0.96x the time on 9 of 14 layers (a
/// HiFi-GAN-like 512 -> 256 k16/s8 on 100 samples 0.80x), level on 4.
pub(crate) const PANEL_COLS: (usize, usize) = (4, 128);

/// Fewest input channels per group (the product's depth) for which products read panels:
/// a shallower product is little work per GEMM call (16 x depth x columns) and its weight
/// small; at depth 24 (24 -> 48 8x8 on eight 4x4 images) the panels were 1.31x the time.
pub(crate) const PANEL_MIN_DEPTH: usize = 64;

/// The weight of every group as panels: group `g`'s panel `q` holds rows
/// `q*PANEL_ROWS..(q+1)*PANEL_ROWS` of that group's `A`, element `(r, c)` at
/// `c*PANEL_ROWS + r` of the panel; rows past the last are zero.
pub(crate) struct Panels<T> {
    data: Vec<T>,
    /// Rows of `A` per group: `C_out/g * taps`.
    rows: usize,
    /// Columns of `A` (the inner dimension): `C_in/g`.
    depth: usize,
}

impl<T: Element> Panels<T> {
    /// Packs `w` (`[C_in, C_out/g * taps]` row-major) for the groups of `p`.
    pub(crate) fn pack(w: &[T], p: &Problem) -> Self {
        let (depth, rows) = (p.strided_channels, p.dense_channels * p.kernel_volume());
        let per_group = rows.div_ceil(PANEL_ROWS) * PANEL_ROWS * depth;
        let mut data = vec![T::zero(); p.groups * per_group];
        for (g, group) in data.chunks_exact_mut(per_group.max(1)).enumerate() {
            let wg = &w[g * depth * rows..][..depth * rows];
            for (q, panel) in group.chunks_exact_mut(PANEL_ROWS * depth).enumerate() {
                let r0 = q * PANEL_ROWS;
                let len = PANEL_ROWS.min(rows - r0);
                // panel row c is weight row c's run r0..r0 + len
                for (c, dst) in panel.chunks_exact_mut(PANEL_ROWS).enumerate() {
                    dst[..len].copy_from_slice(&wg[c * rows + r0..][..len]);
                }
            }
        }
        Panels { data, rows, depth }
    }

    /// Elements the packed copy holds.
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// Rows `r0..r0 + rows` of group `g`'s `A`.
    pub(crate) fn block(&self, g: usize, r0: usize, rows: usize) -> PanelBlock<'_, T> {
        assert!(r0 + rows <= self.rows, "rows past the group's weight");
        let per_group = self.rows.div_ceil(PANEL_ROWS) * PANEL_ROWS * self.depth;
        PanelBlock {
            group: &self.data[g * per_group..][..per_group],
            depth: self.depth,
            r0,
            rows,
        }
    }
}

/// Rows `r0..r0 + rows` of one group's packed `A` (see [`Panels::block`]).
#[derive(Clone, Copy)]
pub(crate) struct PanelBlock<'a, T> {
    /// The group's panels, all of them.
    pub(super) group: &'a [T],
    /// Columns of `A`: each panel is `depth` runs of [`PANEL_ROWS`].
    pub(super) depth: usize,
    /// First row of the block in the group's `A`.
    pub(super) r0: usize,
    /// Rows of the block.
    pub(super) rows: usize,
}

impl<T> PanelBlock<'_, T> {
    /// Rows of the block.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }
}

/// `dst[i + j*dst_col_stride] = (block * rhs)[i, j]` (`+=` when `accumulate`): one GEMM per
/// panel the block overlaps, each reading its part of the panel in place.
///
/// # Panics
///
/// When the shapes disagree or `dst` is too short (a bug in the caller).
pub(crate) fn matmul_col_major_panels<T: Element>(
    dst: &mut [T],
    dst_col_stride: usize,
    block: PanelBlock<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) {
    assert_eq!(block.depth, rhs.rows, "inner dimensions differ");
    let (first, end) = (block.r0, block.r0 + block.rows);
    let mut i = first;
    while i < end {
        // global row i is row i % PANEL_ROWS of panel i / PANEL_ROWS
        let (q, within) = (i / PANEL_ROWS, i % PANEL_ROWS);
        let len = (PANEL_ROWS - within).min(end - i);
        let lhs = Mat {
            data: &block.group[q * PANEL_ROWS * block.depth + within..],
            rows: len,
            cols: block.depth,
            row_stride: 1,
            col_stride: PANEL_ROWS,
        };
        matmul_col_major(&mut dst[i - first..], dst_col_stride, lhs, rhs, accumulate);
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm::matmul;
    use crate::kernels::testing::{one_image, plain_axis};
    use crate::problem::AxisMap;

    /// The panels' product equals the product of the weight read in place, for blocks that
    /// start and end inside panels, a group's last partial panel and every group.
    #[test]
    fn panel_products_match_the_weight_in_place() {
        // 2 groups of 12 input channels, 5 outputs of a 3x3 kernel: 45 rows, 3 panels a group
        let axis = plain_axis(4, 3, 2, 1);
        let mut p = one_image(12, 5, [AxisMap::UNIT, axis, axis]);
        p.groups = 2;
        let (depth, rows) = (12, 45);
        let w: Vec<f64> = (0..24 * rows)
            .map(|i| ((i * 37) % 101) as f64 - 50.0)
            .collect();
        let x: Vec<f64> = (0..depth * 7)
            .map(|i| ((i * 13) % 29) as f64 - 14.0)
            .collect();
        let panels = Panels::pack(&w, &p);
        assert_eq!(panels.len(), 2 * 48 * depth);
        let rhs = Mat {
            data: &x,
            rows: depth,
            cols: 7,
            row_stride: 7,
            col_stride: 1,
        };
        for g in 0..2 {
            for (r0, n) in [(0, 45), (3, 9), (16, 16), (14, 31), (44, 1)] {
                let lhs = Mat {
                    data: &w[g * depth * rows + r0..],
                    rows: n,
                    cols: depth,
                    row_stride: 1,
                    col_stride: rows,
                };
                let mut want = vec![0.0; n * 7];
                matmul(&mut want, 7, lhs, rhs, false);
                let mut got = vec![f64::NAN; n * 7];
                matmul_col_major_panels(&mut got, n, panels.block(g, r0, n), rhs, false);
                for i in 0..n {
                    for j in 0..7 {
                        // small integers: every order of summation is exact
                        assert_eq!(got[i + j * n], want[i * 7 + j], "g {g} rows {r0}+{n}");
                    }
                }
            }
        }
    }
}
