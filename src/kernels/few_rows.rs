//! Products with few rows and many columns, `C = A B` with `A` of 2-16 rows (up to
//! [`MAX_ROWS`] on some strides), as register tiles of our own, for `f32` on CPUs with AVX2 and
//! FMA.
//!
//! Such products are the heads of decoders: a transposed convolution to 1-8 output channels
//! multiplies `C_out * taps` (9-72) rows of its weight by the input (GEMM + col2im), and a
//! forward convolution to a few channels multiplies a few rows by im2col. The GEMM library's
//! kernels are 16 rows tall (two vectors) by 6 columns, so 9 rows use 9 of 16 lanes, or in the
//! other orientation 9 columns run as 6 + 3; and on inputs whose rows are a multiple of 4 KiB
//! apart (planes of 32x32, 64x64, 96x96, ...) its reads of them miss the cache.
//!
//! Here the columns are the vector lanes: a tile is `R` rows of `A` times `V` vectors of eight
//! consecutive columns of `B`. For each step `c` of the inner dimension the tile loads `V`
//! vectors of row `c` of `B` and adds each, times `A[r, c]` (broadcast), into the accumulators
//! of row `r`: `R * V` chains of fused multiply-adds (8-12, enough to keep both FMA pipes busy
//! through their latency), `V + R` loads per `R * V` of them, and the loaded vectors or the
//! broadcasts (the fewer) held in registers through the step, so that nothing spills. Rows go
//! in groups of at most [`GROUP_ROWS`], of sizes as equal as may be. The work is cut into
//! blocks of [`DEPTH_BLOCK`] steps (a copy of their `A`, `[c][r]` per group, so that each
//! step's broadcasts read one short run) and panels of [`PANEL`] columns; every group sweeps a
//! panel before the next one. `B` is read in place, unless its rows are a multiple of
//! [`COPY_STRIDE`] apart and several groups read each panel: then each panel is copied first
//! into contiguous rows that stay in the L1 cache (see there).
//!
//! Every output is one chain of fused multiply-adds over the inner dimension in order, from
//! zero (or from the destination's value when accumulating); a chain that spans depth blocks
//! goes through the destination in between, which stores `f32` exactly. So the result of an
//! element depends on nothing but its row of `A`, its column of `B` and the destination: not
//! on the grouping, the panels, the columns around it or the threads. For `f64`, other row
//! counts, a strided `B` or without AVX2 and FMA, [`product_into`] declines and the caller
//! uses the GEMM library.

use super::gemm::Mat;
use crate::Element;

/// Most rows of `A` this module takes in any case. With 4 or 5 rows (one group of 8 or 10
/// accumulators) the tiles ran at 0.8-1.0x the GEMM library's rate (microbenchmark, one
/// thread, 56-1024 columns), so those stay with it; with 2, 3 and 6-16 rows at 1.1-3x (9
/// rows, 192 deep, rows 4096 apart: 62-69 GFLOP/s against 39-60).
const FEW_ROWS: usize = 16;

/// Most rows of `A` this module takes when `B`'s rows are [`GEMM_ALIASED`] apart. With 17 rows
/// or more elsewhere, the GEMM library's 16-row kernels fill their lanes and its packing is
/// shared by enough rows (24-48 rows, 160 deep, rows 1280-1296 apart: 82-89 GFLOP/s here
/// against 85-95 there). In layers (paired A/B, 15-21 rounds), taking products of 72 rows on
/// 4 KiB strides here rather than stopping at 48 rows ran 0.89-0.91x the time on two layers,
/// 1.04x (within the noise) on a third.
pub(crate) const MAX_ROWS: usize = 128;

/// Row strides of `B` (elements) at which the GEMM library slows down on products of 17 rows
/// or more: 1024 `f32`s, 4 KiB (24-48 rows, 64-256 deep, rows 1024 apart: 55-76 GFLOP/s
/// there, 83-98 here; 64-96 rows, 80-93 there, 95-102 here).
const GEMM_ALIASED: usize = 1024;

/// Most rows per group: six rows of two vectors are twelve accumulators of AVX2's sixteen
/// registers, next to the two loaded vectors of `B` and one broadcast of `A`.
const GROUP_ROWS: usize = 6;

/// Steps of the inner dimension per block: the copy of `A` (at most 64 KiB) and a panel of
/// `B` (24 KiB) per block. Deeper blocks write the destination back less often; with 256 the
/// panel no longer stays in the L1 cache (microbenchmark, one thread, 8-96 rows 256 deep:
/// blocks of 128 steps and panels of 48 columns ran 92-98 GFLOP/s against 83-86 for 64 and 96).
const DEPTH_BLOCK: usize = 128;

/// Columns of `B` per panel: every group of rows reads a panel of a depth block before the
/// next panel, so it stays in the L1 cache between them. A multiple of 16, 24 and 48 (the tile
/// widths).
const PANEL: usize = 48;

/// Row strides of `B` (elements) a multiple of which make several groups of rows read a copy
/// of each panel instead of `B` itself: 256 `f32`s is 1 KiB, so the panel's rows fall into at
/// most four of the L1 cache's 64 sets (eight ways each) and evict one another before the next
/// group reads them. Microbenchmark, one thread: 9 x 192 x 1152 with rows 4096 apart, 62-66
/// GFLOP/s copied against 41 in place. At other strides, or with one group (which reads each
/// row of a panel once anyway), the copy costs more than it saves: 6-12 x 64 x 960 with rows
/// 976 apart, 94-104 in place against 61-79 copied; 6 rows 1024 apart, 87 against 57.
const COPY_STRIDE: usize = 256;

/// Scratch elements for `A`'s depth block (all the rows) and `B`'s panel.
const A_BLOCK: usize = MAX_ROWS * DEPTH_BLOCK;
const B_PANEL: usize = DEPTH_BLOCK * PANEL;

/// Whether [`product_into`] takes an `m`-row product whose right operand is `rhs`, for `T` on
/// this CPU: 2-3 or 6-16 rows, or up to [`MAX_ROWS`] when `rhs`'s rows are a multiple of
/// [`GEMM_ALIASED`] apart; at least one step deep (an empty product is the GEMM library's).
pub(crate) fn takes<T: Element>(m: usize, rhs: &Mat<'_, T>) -> bool {
    let rows = matches!(m, 2..=3 | 6..=FEW_ROWS)
        || ((FEW_ROWS..=MAX_ROWS).contains(&m) && rhs.row_stride % GEMM_ALIASED == 0);
    rows && rhs.rows > 0 && rhs.col_stride == 1 && rhs.cols >= 8 && available::<T>()
}

/// Whether the tiles run for `T` on this CPU (`f32`, AVX2 and FMA).
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

/// `dst[i*dst_row_stride + j] = sum_c lhs[i, c] * rhs[c, j]`, or `+=` when `accumulate`,
/// through the register tiles. Returns `false`, having written nothing, when they do not
/// apply (see [`takes`]): the caller then multiplies through the GEMM library.
///
/// # Panics
///
/// When the shapes disagree or a matrix does not fit in its slice (a bug in the caller).
pub(crate) fn product_into<T: Element>(
    dst: &mut [T],
    dst_row_stride: usize,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) -> bool {
    if !takes(lhs.rows, &rhs) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return false;
        };
        let (Some(dst), Some(a), Some(b)) =
            (T::as_f32_mut(dst), T::as_f32(lhs.data), T::as_f32(rhs.data))
        else {
            return false;
        };
        let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
        assert_eq!(rhs.rows, k, "inner dimensions differ");
        assert!(dst_row_stride >= n, "output rows overlap");
        assert!(
            (m - 1) * dst_row_stride + n <= dst.len(),
            "output does not fit"
        );
        assert!(lhs.extent() <= a.len(), "lhs does not fit");
        assert!(rhs.extent() <= b.len(), "rhs does not fit");
        let (a, b) = (lhs.with_data(a), rhs.with_data(b));
        SCRATCH.with(|cell| {
            let mut fresh = Vec::new();
            // this thread's copy, unless it is in use further up the stack (it never is)
            let mut cached = cell.try_borrow_mut();
            let scratch = match cached.as_mut() {
                Ok(v) => &mut **v,
                Err(_) => &mut fresh,
            };
            if scratch.len() < A_BLOCK + B_PANEL {
                scratch.resize(A_BLOCK + B_PANEL, 0.0);
            }
            simd.vectorize(avx2::Product {
                simd,
                a,
                b,
                dst,
                dst_row_stride,
                accumulate,
                scratch,
            });
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dst, dst_row_stride, accumulate);
        false
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Each thread's copy of `A`'s depth block and `B`'s panel ([`A_BLOCK`] + [`B_PANEL`]
    /// elements, 88 KiB), allocated on its first product and reused.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Mat, A_BLOCK, COPY_STRIDE, DEPTH_BLOCK, GROUP_ROWS, PANEL};
    use pulp::x86::V3;
    use pulp::{cast, f32x8};

    /// The whole product `a * b` into `dst`.
    pub(super) struct Product<'a> {
        pub(super) simd: V3,
        pub(super) a: Mat<'a, f32>,
        pub(super) b: Mat<'a, f32>,
        pub(super) dst: &'a mut [f32],
        pub(super) dst_row_stride: usize,
        pub(super) accumulate: bool,
        /// [`A_BLOCK`] + `B_PANEL` elements.
        pub(super) scratch: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Product<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            self.run();
        }
    }

    impl Product<'_> {
        #[inline(always)]
        fn run(self) {
            let Product {
                simd,
                a,
                b,
                dst,
                dst_row_stride: ld,
                accumulate,
                scratch,
            } = self;
            let (m, k, n) = (a.rows, a.cols, b.cols);
            let groups = m.div_ceil(GROUP_ROWS);
            // groups of as equal a size as may be (16 rows as 6 + 5 + 5, not 6 + 6 + 4: a
            // group of four holds only eight accumulators), each (first row, rows)
            let group = |g: usize| {
                let (base, extra) = (m / groups, m % groups);
                (g * base + g.min(extra), base + usize::from(g < extra))
            };
            // a_block[r0*depth + c*R + r] = A[r0 + r, c0 + c] for the group of rows r0..r0+R;
            // b_panel[c*PANEL + jj] = B[c0 + c, j0 + jj], zero past column n
            let (a_block, b_panel) = scratch.split_at_mut(A_BLOCK);
            // B is read in place by a single group, or by several where its rows do not
            // alias (see COPY_STRIDE), except a last panel narrower than PANEL
            let in_place = groups == 1 || b.row_stride % COPY_STRIDE != 0;
            for c0 in (0..k).step_by(DEPTH_BLOCK) {
                let depth = DEPTH_BLOCK.min(k - c0);
                for (r0, rows) in (0..groups).map(group) {
                    let group = &mut a_block[r0 * depth..][..rows * depth];
                    for (c, run) in group.chunks_exact_mut(rows).enumerate() {
                        for (r, v) in run.iter_mut().enumerate() {
                            *v = a.data[(r0 + r) * a.row_stride + (c0 + c) * a.col_stride];
                        }
                    }
                }
                let from_dst = accumulate || c0 > 0;
                for j0 in (0..n).step_by(PANEL) {
                    let cols = PANEL.min(n - j0);
                    let (panel, stride): (&[f32], usize) = if in_place && cols == PANEL {
                        (&b.data[c0 * b.row_stride + j0..], b.row_stride)
                    } else {
                        let panel = &mut b_panel[..depth * PANEL];
                        for (c, run) in panel.chunks_exact_mut(PANEL).enumerate() {
                            let src = &b.data[(c0 + c) * b.row_stride + j0..][..cols];
                            if cols == PANEL {
                                // whole vectors, not a call to `memcpy` per row
                                for (d, s) in run.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
                                    let v: [f32; 8] = cast(load(s));
                                    d.copy_from_slice(&v);
                                }
                            } else {
                                run[..cols].copy_from_slice(src);
                                run[cols..].fill(0.0);
                            }
                        }
                        (panel, PANEL)
                    };
                    for (r0, rows) in (0..groups).map(group) {
                        let tile = Tile {
                            simd,
                            a: &a_block[r0 * depth..][..rows * depth],
                            panel,
                            stride,
                            from_dst,
                            cols,
                            dst: &mut dst[r0 * ld + j0..],
                            ld,
                        };
                        // vectors per tile: R * V at 8-12 accumulators, V dividing the
                        // panel's six; every group has two rows or more (m >= 2, groups of
                        // equal size to within one)
                        match rows {
                            2 => tile.run::<2, 6>(),
                            3 => tile.run::<3, 3>(),
                            4 => tile.run::<4, 2>(),
                            5 => tile.run::<5, 2>(),
                            _ => tile.run::<6, 2>(),
                        }
                    }
                }
            }
        }
    }

    /// One group of `R` rows (their `A` for the depth block, `[c][r]`) times one panel of
    /// `B` (row `c` at `panel[c*stride..]`, [`PANEL`] columns), into the first `cols`
    /// columns of `dst`'s `R` rows.
    struct Tile<'a> {
        simd: V3,
        a: &'a [f32],
        panel: &'a [f32],
        stride: usize,
        from_dst: bool,
        cols: usize,
        dst: &'a mut [f32],
        ld: usize,
    }

    impl Tile<'_> {
        #[inline(always)]
        fn run<const R: usize, const V: usize>(self) {
            let Tile {
                simd,
                a,
                panel,
                stride,
                from_dst,
                cols,
                dst,
                ld,
            } = self;
            for j in (0..PANEL).step_by(8 * V) {
                if j >= cols {
                    break;
                }
                // columns of this tile that exist: all 8V, or the last ones of the product
                let width = (cols - j).min(8 * V);
                let mut acc = [[simd.splat_f32x8(0.0); V]; R];
                if from_dst {
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let row = &dst[r * ld + j..][..width];
                        let mut v = [0.0f32; PANEL];
                        let row = if width == 8 * V {
                            row
                        } else {
                            v[..width].copy_from_slice(row);
                            &v[..]
                        };
                        for (q, acc) in acc.iter_mut().enumerate() {
                            *acc = load(&row[8 * q..]);
                        }
                    }
                }
                for (c, a) in a.chunks_exact(R).enumerate() {
                    let row = &panel[c * stride + j..][..8 * V];
                    // R * V accumulators plus whichever of the V loaded vectors or the R
                    // broadcasts stay live through the step: the fewer
                    if R < V {
                        let a: [f32x8; R] = std::array::from_fn(|r| simd.splat_f32x8(a[r]));
                        for q in 0..V {
                            let x = load(&row[8 * q..]);
                            for (acc, &a) in acc.iter_mut().zip(&a) {
                                acc[q] = simd.mul_add_f32x8(a, x, acc[q]);
                            }
                        }
                    } else {
                        let x: [f32x8; V] = std::array::from_fn(|q| load(&row[8 * q..]));
                        for (acc, &a) in acc.iter_mut().zip(a) {
                            let a = simd.splat_f32x8(a);
                            for (acc, &x) in acc.iter_mut().zip(&x) {
                                *acc = simd.mul_add_f32x8(a, x, *acc);
                            }
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    let row = &mut dst[r * ld + j..][..width];
                    if width == 8 * V {
                        for (d, acc) in row.chunks_exact_mut(8).zip(acc) {
                            let out: [f32; 8] = cast(*acc);
                            d.copy_from_slice(&out);
                        }
                    } else {
                        let mut v = [0.0f32; PANEL];
                        for (q, acc) in acc.iter().enumerate() {
                            let out: [f32; 8] = cast(*acc);
                            v[8 * q..][..8].copy_from_slice(&out);
                        }
                        row.copy_from_slice(&v[..width]);
                    }
                }
            }
        }
    }

    /// Eight `f32`s from the front of `s`.
    #[inline(always)]
    fn load(s: &[f32]) -> f32x8 {
        cast(<[f32; 8]>::try_from(&s[..8]).expect("eight lanes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random values in [-1, 1), fixed by `seed`.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Every output is the chain of fused multiply-adds over the inner dimension in order, from
    /// zero or from the destination (the definition in the module's docs), bit for bit, on
    /// every path: one group or several, `B` in place or copied (rows a multiple of 256 apart),
    /// depth blocks and their seams, narrow last panels and tiles, both layouts of `A`,
    /// accumulating or not; and the gaps between destination rows stay untouched.
    #[test]
    fn products_are_the_chains_of_fused_multiply_adds() {
        if !available::<f32>() {
            return;
        }
        let mut checked = 0;
        let mut seed = 1;
        for &m in &[2, 3, 6, 7, 9, 12, 13, 16, 17, 27, 48, 98, 128] {
            for &k in &[1, 5, 128, 129, 300] {
                for &n in &[8, 13, 48, 57, 100] {
                    for &stride in &[n, n + 5, 1024, 2048 + 256] {
                        if m > FEW_ROWS && stride % GEMM_ALIASED != 0 {
                            continue;
                        }
                        let lhs_col_major = seed % 2 == 0;
                        let accumulate = seed % 3 == 0;
                        seed += 1;
                        let (lhs_rs, lhs_cs) = if lhs_col_major {
                            (1, m + 1)
                        } else {
                            (k + 2, 1)
                        };
                        let a = values(m * lhs_rs.max(1) + k * lhs_cs + 3, seed);
                        let b = values((k - 1) * stride + n, seed + 1000);
                        let ld = n + 3;
                        let before = values(m * ld, seed + 2000);
                        let lhs = mat(&a, m, k, lhs_rs, lhs_cs);
                        let rhs = mat(&b, k, n, stride, 1);
                        let mut dst = before.clone();
                        assert!(product_into(&mut dst, ld, lhs, rhs, accumulate));
                        for i in 0..m {
                            for j in 0..ld {
                                let got = dst[i * ld + j];
                                if j >= n {
                                    assert_eq!(got.to_bits(), before[i * ld + j].to_bits());
                                    continue;
                                }
                                let mut acc = if accumulate { before[i * ld + j] } else { 0.0 };
                                for c in 0..k {
                                    acc =
                                        a[i * lhs_rs + c * lhs_cs].mul_add(b[c * stride + j], acc);
                                }
                                assert_eq!(
                                    got.to_bits(),
                                    acc.to_bits(),
                                    "m={m} k={k} n={n} stride={stride} accumulate={accumulate} \
                                     lhs_col_major={lhs_col_major} ({i}, {j}): {got} vs {acc}"
                                );
                            }
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }

    /// `Mat { data, rows, cols, row_stride, col_stride }`.
    fn mat<T>(
        data: &[T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Mat<'_, T> {
        Mat {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The products left to the GEMM library: 1, 4, 5 or over 16 rows (over 128, or on rows
    /// not 4 KiB apart), fewer than 8 columns, strided columns, `f64`; nothing is written.
    #[test]
    fn declines_what_it_does_not_take() {
        let a = values(160 * 8, 1);
        let b = values(8 * 2048, 2);
        for (m, n, stride, col_stride) in [
            (1, 64, 64, 1),
            (4, 64, 64, 1),
            (5, 64, 64, 1),
            (17, 64, 64, 1),
            (24, 64, 1040, 1),
            (129, 64, 1024, 1),
            (9, 7, 64, 1),
            (9, 32, 64, 2),
        ] {
            let mut dst = vec![7.0f32; m * n];
            let lhs = mat(&a[..], m, 8, 8, 1);
            let rhs = mat(&b[..], 8, n, stride, col_stride);
            assert!(!product_into(&mut dst, n, lhs, rhs, false), "{m} {n}");
            assert!(dst.iter().all(|&v| v == 7.0));
        }
        let a64 = vec![1.0f64; 9 * 8];
        let b64 = vec![1.0f64; 8 * 64];
        let mut dst = vec![7.0f64; 9 * 64];
        let lhs = mat(&a64[..], 9, 8, 8, 1);
        let rhs = mat(&b64[..], 8, 64, 64, 1);
        assert!(!product_into(&mut dst, 64, lhs, rhs, false));
        assert!(dst.iter().all(|&v| v == 7.0));
        // and what it takes, where it runs
        if available::<f32>() {
            let mut dst = vec![0.0f32; 9 * 64];
            let lhs = mat(&a[..], 9, 8, 8, 1);
            let rhs = mat(&b[..], 8, 64, 64, 1);
            assert!(product_into(&mut dst, 64, lhs, rhs, false));
        }
    }
}
