//! The products of a prepared layer's weight panels ([`super::panels`]) as register tiles of
//! our own, for `f32` on CPUs with AVX2 and FMA.
//!
//! The GEMM library runs one product per 16-row panel, and each of those packs the whole
//! input again and starts its blocking anew: on products of 4-128 columns its kernel ran at
//! about 72 of its ~90 GFLOP/s on one thread, and the column-major result then needed a
//! transpose into the column tile. Here the input is packed once per product, in groups of
//! [`TILE_COLS`] columns (`[group][depth][TILE_COLS]`), and each (panel, column group) pair
//! is one register tile: for every step `c` of the inner dimension, the panel's two vectors
//! of eight rows (`A[r0..r0 + 16, c]`, contiguous in the panel) times each of the group's
//! six input values (broadcast), added into twelve accumulators with fused multiply-adds.
//! The tile is then stored straight into the row-major column tile, only the rows the
//! block owns: a group of six columns that is not its row's last transposed in registers and
//! stored as rows of eight (the two extra columns are the next group's, which overwrites
//! them), the others element by element. Microbenchmark (one thread, the weight in the cache): 1.3-1.6x the rate of
//! the per-panel GEMMs and their transpose on 16-128 columns of 800-4096 rows, 192-512
//! deep (1024 x 512 x 128: 81 against 57 GFLOP/s); 0.8-0.95x on 96-112-row products, hence
//! [`MAX_GEMM_ROWS`].
//!
//! Every output is one chain of fused multiply-adds over the inner dimension in order,
//! starting from zero: the same arithmetic on every CPU this runs on, whatever the threads.
//! The AVX2 code comes from `pulp`'s `V3` token (checked at run time, safe to use); without
//! it, or for `f64`, [`product_into`] declines and the caller uses the GEMM library.

use super::gemm::Mat;
use super::panels::{PanelBlock, PANEL_ROWS};
use crate::Element;

/// Most rows of a block whose panels still go through the GEMM library: with eight panels
/// or fewer, its repacking of the input per panel costs little, and on products that deep
/// (192-512) it ran level to 1.15x faster than the tiles (randomized A/B, 21 rounds, three
/// layers of 108-128-row blocks on 4x4 and 7x7 inputs: 1.04-1.13x the time through tiles).
pub(crate) const MAX_GEMM_ROWS: usize = 128;

/// Columns of a register tile: six broadcast inputs against the panel's two vectors, twelve
/// accumulators of AVX2's sixteen registers.
const TILE_COLS: usize = 6;

/// The column groups of a product of `n` columns: `(first column, width)`, groups of
/// [`TILE_COLS`] and a last one of 2, 4 or 6 (the rest rounded up to an even width: a
/// 32-column product as five groups of six and one of two, not a third of a tile wasted).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn group_widths(n: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
    let full = n / TILE_COLS;
    let rest = n % TILE_COLS;
    let last = (rest > 0).then_some((full * TILE_COLS, rest.next_multiple_of(2)));
    (0..full).map(|g| (g * TILE_COLS, TILE_COLS)).chain(last)
}

/// Whether [`product_into`] runs for `T` on this CPU (`f32`, AVX2 and FMA).
pub(crate) fn available<T: Element>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        T::as_f32(&[]).is_some() && pulp::x86::V3::try_new().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Scratch elements [`product_into`] needs for a `depth`-deep product of `cols` columns (the
/// input, packed in groups of [`TILE_COLS`] columns, the last padded with zeros).
pub(crate) fn scratch_len(depth: usize, cols: usize) -> usize {
    depth * cols.div_ceil(TILE_COLS) * TILE_COLS
}

/// `dst[i*n + j] = (block * rhs)[i, j]` for the block's rows `i` and the `n = rhs.cols`
/// columns, through register tiles, with `packed` (at least [`scratch_len`] elements) as
/// scratch. Returns `false`, having written nothing, when the tiles do not apply (`f64`, or
/// a CPU without AVX2 and FMA): the caller then multiplies through the GEMM library.
///
/// # Panics
///
/// When the shapes disagree or a slice is too short (a bug in the caller).
pub(crate) fn product_into<T: Element>(
    dst: &mut [T],
    block: PanelBlock<'_, T>,
    rhs: Mat<'_, T>,
    packed: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return false;
        };
        let (Some(dst), Some(panels), Some(data)) = (
            T::as_f32_mut(dst),
            T::as_f32(block.group),
            T::as_f32(rhs.data),
        ) else {
            return false;
        };
        let Some(packed) = T::as_f32_mut(packed) else {
            return false;
        };
        assert_eq!(block.depth, rhs.rows, "inner dimensions differ");
        let (depth, n) = (block.depth, rhs.cols);
        assert!(dst.len() >= block.rows * n, "column tile too short");
        let packed = &mut packed[..depth * group_widths(n).map(|(_, w)| w).sum::<usize>()];
        // group (j0, w) at depth * j0: packed[depth*j0 + c*w + jj] = rhs[c, j0 + jj], zero
        // past the last column; filled a group at a time, each input row's run of the group
        // copied whole when the columns are contiguous
        let mut rest = &mut packed[..];
        for (j0, w) in group_widths(n) {
            let (group, tail) = rest.split_at_mut(depth * w);
            rest = tail;
            let cols = w.min(n - j0);
            for (c, run) in group.chunks_exact_mut(w).enumerate() {
                let row = &data[c * rhs.row_stride + j0 * rhs.col_stride..];
                if rhs.col_stride == 1 {
                    run[..cols].copy_from_slice(&row[..cols]);
                } else {
                    for (v, x) in run.iter_mut().zip(row.iter().step_by(rhs.col_stride)) {
                        *v = *x;
                    }
                }
                run[cols..].fill(0.0);
            }
        }
        simd.vectorize(avx2::Tiles {
            simd,
            panels,
            packed,
            depth,
            rows: (block.r0, block.r0 + block.rows),
            n,
            dst,
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dst, block, rhs, packed);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{group_widths, PANEL_ROWS};
    use crate::kernels::simd::transpose8;
    use pulp::x86::V3;
    use pulp::{cast, f32x8};
    use std::arch::x86_64::__m256;

    /// The register tiles of one block: rows `rows` of a group's `A` (its `panels`), times
    /// the `packed` input, into the row-major `dst` (`n` columns, row 0 = `rows.0`).
    pub(super) struct Tiles<'a> {
        pub(super) simd: V3,
        pub(super) panels: &'a [f32],
        pub(super) packed: &'a [f32],
        pub(super) depth: usize,
        pub(super) rows: (usize, usize),
        pub(super) n: usize,
        pub(super) dst: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Tiles<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Tiles {
                simd,
                panels,
                packed,
                depth,
                rows: (r0, r1),
                n,
                dst,
            } = self;
            if depth == 0 || n == 0 {
                dst[..(r1 - r0) * n].fill(0.0);
                return;
            }
            for q in r0 / PANEL_ROWS..r1.div_ceil(PANEL_ROWS) {
                let panel = &panels[q * PANEL_ROWS * depth..][..PANEL_ROWS * depth];
                let mut rest = packed;
                for (j0, w) in group_widths(n) {
                    let (inputs, tail) = rest.split_at(depth * w);
                    rest = tail;
                    let place = Place {
                        // a full group that is not the row's last may store eight columns
                        // per row: the two past it belong to the next group, stored later
                        wide: w == 6 && j0 + 8 <= n,
                        // the panel's rows that the block owns
                        rows: (
                            (q * PANEL_ROWS).max(r0),
                            (q * PANEL_ROWS + PANEL_ROWS).min(r1),
                        ),
                        panel_row0: q * PANEL_ROWS,
                        dst_row0: r0,
                        n,
                        j0,
                        cols: w.min(n - j0),
                    };
                    match w {
                        6 => tile::<6>(simd, panel, inputs, place, dst),
                        4 => tile::<4>(simd, panel, inputs, place, dst),
                        _ => tile::<2>(simd, panel, inputs, place, dst),
                    }
                }
            }
        }
    }

    /// Where a tile goes: rows `rows` of the group's `A` (those of the panel starting at row
    /// `panel_row0` that the block owns), as rows `row - dst_row0` of the `n`-column `dst`,
    /// columns `j0..j0 + cols`.
    #[derive(Clone, Copy)]
    struct Place {
        wide: bool,
        rows: (usize, usize),
        panel_row0: usize,
        dst_row0: usize,
        n: usize,
        j0: usize,
        cols: usize,
    }

    /// Stores a six-column tile (`acc[j]` = column `j`, rows 0-7 and 8-15) as rows of eight
    /// (the last two of each row garbage, overwritten by the next group): each half of the
    /// tile transposed in registers (8 x 8, two zero columns), one vector store per row.
    #[inline(always)]
    fn store_wide<const W: usize>(simd: V3, acc: &[[f32x8; 2]; W], place: Place, dst: &mut [f32]) {
        let Place {
            rows: (first, last),
            panel_row0,
            dst_row0,
            n,
            j0,
            ..
        } = place;
        let zero: __m256 = cast(simd.splat_f32x8(0.0));
        for half in [0, 1] {
            let col = |j: usize| -> __m256 {
                if j < W {
                    cast(acc[j][half])
                } else {
                    zero
                }
            };
            let rows = transpose8(simd, std::array::from_fn(col));
            for (i, row) in rows.iter().enumerate() {
                let r = panel_row0 + half * 8 + i;
                if (first..last).contains(&r) {
                    let v: [f32; 8] = cast(*row);
                    dst[(r - dst_row0) * n + j0..][..8].copy_from_slice(&v);
                }
            }
        }
    }

    /// One register tile: the panel's 16 rows times `W` packed input columns (`inputs`,
    /// `[depth][W]`), stored at `place` in `dst`.
    #[inline(always)]
    fn tile<const W: usize>(
        simd: V3,
        panel: &[f32],
        inputs: &[f32],
        place: Place,
        dst: &mut [f32],
    ) {
        let zero = simd.splat_f32x8(0.0);
        let mut acc = [[zero; 2]; W];
        for (a, b) in panel.chunks_exact(PANEL_ROWS).zip(inputs.chunks_exact(W)) {
            let lo: f32x8 = cast(<[f32; 8]>::try_from(&a[..8]).expect("8 rows"));
            let hi: f32x8 = cast(<[f32; 8]>::try_from(&a[8..]).expect("8 rows"));
            for (acc, &bj) in acc.iter_mut().zip(b) {
                let bj = simd.splat_f32x8(bj);
                acc[0] = simd.mul_add_f32x8(lo, bj, acc[0]);
                acc[1] = simd.mul_add_f32x8(hi, bj, acc[1]);
            }
        }
        if W == 6 && place.wide {
            return store_wide(simd, &acc, place, dst);
        }
        // acc[j] holds column j of the tile: rows 0-7, then 8-15
        let mut tile = [[0.0f32; PANEL_ROWS]; W];
        for (column, acc) in tile.iter_mut().zip(&acc) {
            let lo: [f32; 8] = cast(acc[0]);
            let hi: [f32; 8] = cast(acc[1]);
            column[..8].copy_from_slice(&lo);
            column[8..].copy_from_slice(&hi);
        }
        let Place {
            wide: _,
            rows: (first, last),
            panel_row0,
            dst_row0,
            n,
            j0,
            cols,
        } = place;
        for r in first..last {
            let out = &mut dst[(r - dst_row0) * n + j0..][..cols];
            for (o, column) in out.iter_mut().zip(&tile) {
                *o = column[r - panel_row0];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::panels::Panels;
    use crate::kernels::testing::{one_image, plain_axis};
    use crate::problem::AxisMap;

    /// Each output equals one chain of fused multiply-adds over the inner dimension in order
    /// from zero, bit for bit: blocks starting and ending inside panels, every column count
    /// from 1 to 14 (groups of six, a last group of two, four or six), a strided input.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn tiles_are_one_fused_chain_per_output() {
        if pulp::x86::V3::try_new().is_none() {
            return;
        }
        // 5 outputs of a 3x3 kernel over 70 input channels: 45 rows, three panels
        let axis = plain_axis(4, 3, 2, 1);
        let p = one_image(70, 5, [AxisMap::UNIT, axis, axis]);
        let (depth, rows) = (70, 45);
        let w: Vec<f32> = (0..depth * rows)
            .map(|i| ((i * 37) % 101) as f32 / 64.0 - 0.75)
            .collect();
        let panels = Panels::pack(&w, &p);
        for n in 1..=14 {
            let col_stride = if n % 3 == 0 { 2 } else { 1 };
            let row_stride = n * col_stride + 1;
            let x: Vec<f32> = (0..depth * row_stride)
                .map(|i| ((i * 13) % 29) as f32 / 16.0 - 0.9)
                .collect();
            let rhs = Mat {
                data: &x,
                rows: depth,
                cols: n,
                row_stride,
                col_stride,
            };
            for (r0, m) in [(0, 45), (3, 9), (16, 16), (14, 31), (44, 1)] {
                let mut dst = vec![f32::NAN; m * n];
                let mut packed = vec![f32::NAN; scratch_len(depth, n)];
                assert!(product_into(
                    &mut dst,
                    panels.block(0, r0, m),
                    rhs,
                    &mut packed
                ));
                for i in 0..m {
                    for j in 0..n {
                        // A[r, c] = w[c * rows + r]
                        let want = (0..depth).fold(0.0f32, |acc, c| {
                            w[c * rows + r0 + i].mul_add(x[c * row_stride + j * col_stride], acc)
                        });
                        let got = dst[i * n + j];
                        assert_eq!(got.to_bits(), want.to_bits(), "n {n} r0 {r0} ({i}, {j})");
                    }
                }
            }
        }
    }

    /// `f64` declines (the caller multiplies through the GEMM library) and writes nothing.
    #[test]
    fn f64_declines() {
        let axis = plain_axis(2, 2, 2, 0);
        let p = one_image(64, 8, [AxisMap::UNIT, axis, axis]);
        let w = vec![1.0f64; 64 * 32];
        let panels = Panels::pack(&w, &p);
        let x = vec![1.0f64; 64 * 4];
        let rhs = Mat {
            data: &x,
            rows: 64,
            cols: 4,
            row_stride: 4,
            col_stride: 1,
        };
        let mut dst = vec![f64::NAN; 32 * 4];
        let mut packed = vec![0.0f64; scratch_len(64, 4)];
        assert!(!product_into(
            &mut dst,
            panels.block(0, 0, 32),
            rhs,
            &mut packed
        ));
        assert!(dst.iter().all(|v| v.is_nan()));
    }
}
