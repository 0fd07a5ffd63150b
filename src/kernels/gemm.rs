//! The crate's one call into a GEMM library, and its only `unsafe` code.
//!
//! [`matmul`] checks every index the product can touch against the slices before calling
//! `gemm::gemm` through raw pointers, so callers stay in safe Rust.
#![allow(unsafe_code)]

use crate::Element;

/// A read-only matrix inside a slice: element `(i, j)` is `data[i*row_stride + j*col_stride]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<T> Mat<'_, T> {
    /// One past the largest index the matrix touches (0 when it is empty).
    pub(crate) fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }

    /// The same shape and strides over `data` (the same elements seen as another type).
    pub(crate) fn with_data<'b, U>(&self, data: &'b [U]) -> Mat<'b, U> {
        Mat {
            data,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }
}

/// Elements the GEMM library may allocate for one `m x k` by `k x n` product (at most): a
/// packed copy of the left operand, a packed panel of the right one, and the per-thread slab
/// it keeps (first allocated inside a call on a fresh thread; `tests/workspace.rs` caught a
/// Winograd layer over the bound without it), counted in `f32` elements whatever the type.
/// Callers add it to their scratch when they bound a call's memory.
pub(crate) fn packing(m: usize, k: usize, n: usize) -> usize {
    m * k + k * n.min(1024) + slab_elements()
}

/// The GEMM library's per-thread slab in `f32` elements: as many bytes as it detects L2
/// cache (512 KiB on Zen 3, 1 MiB on Zen 4: a fixed `512 x 128` elements had been enough
/// for the first and was 0.45 MiB short of the bound with four threads on the second).
fn slab_elements() -> usize {
    gemm_common::cache::CACHE_INFO[1]
        .cache_bytes
        .div_ceil(std::mem::size_of::<f32>())
}

/// `dst[i*dst_row_stride + j] = sum_k lhs[i, k] * rhs[k, j]`, or `+=` when `accumulate`
/// (otherwise `dst` need not be initialised to anything in particular).
///
/// Single-threaded: the crate parallelises over independent tasks, so results never depend on
/// the thread count.
///
/// # Panics
///
/// When the shapes disagree or a matrix does not fit in its slice (a bug in the caller).
pub(crate) fn matmul<T: Element>(
    dst: &mut [T],
    dst_row_stride: usize,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) {
    let n = rhs.cols;
    assert!(lhs.rows <= 1 || dst_row_stride >= n, "output rows overlap");
    if super::few_rows::product_into(dst, dst_row_stride, lhs, rhs, accumulate) {
        return;
    }
    product(dst, (dst_row_stride, 1), lhs, rhs, accumulate);
}

/// [`matmul`] into a column-major destination: `dst[i + j*dst_col_stride]`, `+=` when
/// `accumulate`.
///
/// The GEMM library works in the orientation of the destination. With few columns (a layer
/// whose input has few positions) and a large weight as the left operand, the column-major
/// orientation reads the weight in whole cache lines and packs only the small right operand;
/// the row-major one runs its kernels over the weight unpacked, one cache line and one page
/// per step of the inner dimension, or packs it from that layout.
pub(crate) fn matmul_col_major<T: Element>(
    dst: &mut [T],
    dst_col_stride: usize,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) {
    let m = lhs.rows;
    assert!(
        rhs.cols <= 1 || dst_col_stride >= m,
        "output columns overlap"
    );
    product(dst, (1, dst_col_stride), lhs, rhs, accumulate);
}

/// Whether an `m`-row, `n`-column product `depth` deep runs faster in the column-major
/// orientation ([`matmul_col_major`], then a transpose): 8 to 16 rows against at least 4x as
/// many columns, at least [`FEW_ROWS_DEPTH`] deep. Measured on this crate's benchmark
/// machine (`gemm` 0.19, AVX2, f32): 1.6-2.3x the rate of the row-major orientation (input
/// read in place) for 8 and 16 rows, 96-800 deep, 1024-4096 columns; with shallower products
/// it was slower once the transpose is counted, under 8 rows always slower. 32 rows went
/// this way too until [`packs_input`] covered them: packed row-major, they ran at 38-46
/// GFLOP/s against 23-37 column-major with the transpose (one thread, input from memory),
/// and a 256 -> 8 2x2/2 layer on a 128x128 map, which also drops its input copy then (see
/// `copies_input` in `conv_transpose.rs`), 0.69x the time (randomized A/B, 9 rounds).
///
/// Where our own few-row tiles run ([`super::few_rows`], `f32` with AVX2), they take the
/// products of 8-12 rows instead (microbenchmark, one thread: 64-76 GFLOP/s against 35-61
/// column-major with the transpose); from 13 rows the column-major orientation stays (16
/// rows, 256 deep: 84-89 against 72-75).
pub(crate) fn few_rows_pay<T: Element>(m: usize, n: usize, depth: usize) -> bool {
    if super::few_rows::available::<T>() && m <= TILED_FEW_ROWS {
        return false;
    }
    may_have_few_rows(m, n) && depth >= FEW_ROWS_DEPTH
}

/// Most rows of a product [`few_rows_pay`] leaves to our own few-row tiles where they run.
const TILED_FEW_ROWS: usize = 12;

/// [`few_rows_pay`] for some depth.
pub(crate) fn may_have_few_rows(m: usize, n: usize) -> bool {
    (8..=16).contains(&m) && n >= 4 * m
}

/// Whether a row-major product of `m` rows has its right operand (the input tile) packed by
/// the GEMM library because [`set_packing_for`] asks it to ([`PACKED_INPUT_ROWS`]). Such a
/// product reads an aliasing input in place about as fast as a padded copy of it (measured
/// for these rows only; with 64-256 rows, which the library packs by default, a copy still
/// paid on such planes).
pub(crate) fn packs_input(m: usize) -> bool {
    PACKED_INPUT_ROWS.contains(&m)
}

/// Shallowest product [`few_rows_pay`] takes.
pub(crate) const FEW_ROWS_DEPTH: usize = 128;

/// Rows of a row-major product for which the GEMM library is asked to pack the right operand
/// (our input tile), which it otherwise reads in place when a product has at most 48 rows:
/// one row of the input, a page or more apart, per step of the inner dimension, a stream the
/// hardware prefetcher does not follow. Measured on this crate's benchmark machine (`gemm`
/// 0.19, AVX2, f32, one thread, input from memory): 32 rows 1.3-1.6x the rate, 48 rows 1.5x,
/// 24 rows 1.05-1.2x, 16 rows level and 8 rows slower. In layers (randomized A/B, 9 rounds,
/// twice): 0.62-0.91x the time on 7 of the 14 layers with such products (a 1x1 256 -> 24
/// layer on eight 96x96 maps 0.62-0.67x, 64 -> 8 2x2 stride 1 on 128x128 0.66-0.78x, DCGAN's
/// 64 -> 3 output layer at batch 64 0.79-0.86x), the rest level; with 19-21 rows (FCN's
/// 21-class heads, 42 deep) it was level to 1.2x slower, hence from 24.
const PACKED_INPUT_ROWS: std::ops::RangeInclusive<usize> = 24..=48;

/// The `gemm` crate's default for its single-threaded left-operand packing threshold (it packs
/// when the other side of the product has more than this many times its register tile's
/// width, 6 columns on AVX2).
const GEMM_DEFAULT_PACKING_THRESHOLD: usize = 8;

/// Sets the `gemm` crate's left-operand packing threshold for a product with `m` rows written
/// row-major (`row_major`): 0 (always pack) for [`PACKED_INPUT_ROWS`], its default otherwise.
///
/// The library writes row-major products as their transpose, so our right operand is its left
/// one. The threshold is a process-wide setting of that crate, read once per call; it changes
/// only which operand gets copied into a packed buffer, never the arithmetic (bit-identical
/// results, checked in a microbenchmark over 180 shapes in f32 and f64, and by the test
/// `packed_few_row_products_match_unpacked_ones`), so a call that overlaps with another on
/// a different thread can only run at the other setting's speed, with the same results. It is written only when it
/// changes, and set back only from the value set here.
fn set_packing_for(row_major: bool, m: usize) {
    let current = gemm::get_lhs_packing_threshold_single_thread();
    if row_major && packs_input(m) {
        if current != 0 {
            gemm::set_lhs_packing_threshold_single_thread(0);
        }
    } else if current == 0 {
        gemm::set_lhs_packing_threshold_single_thread(GEMM_DEFAULT_PACKING_THRESHOLD);
    }
}

/// `dst[i*row_stride + j*col_stride] = (dst +) lhs * rhs`; the caller has checked that the
/// destination positions are distinct.
fn product<T: Element>(
    dst: &mut [T],
    (dst_rs, dst_cs): (usize, usize),
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    accumulate: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    if m == 0 || n == 0 {
        return;
    }
    let dst_extent = (m - 1) * dst_rs + (n - 1) * dst_cs + 1;
    assert!(dst_extent <= dst.len(), "output does not fit");
    assert!(lhs.extent() <= lhs.data.len(), "lhs does not fit");
    assert!(rhs.extent() <= rhs.data.len(), "rhs does not fit");
    if k == 0 {
        if accumulate {
            return;
        }
        for i in 0..m {
            for j in 0..n {
                dst[i * dst_rs + j * dst_cs] = T::zero();
            }
        }
        return;
    }
    set_packing_for(dst_cs < dst_rs, m);
    // SAFETY: `gemm` reads lhs[(i, k)] at `lhs + i*rs + k*cs` for i < m, k < k, which the
    // extent assertion above keeps inside `lhs.data` (likewise rhs); it writes dst[(i, j)] at
    // `dst + i*dst_rs + j*dst_cs` for i < m, j < n, inside `dst` by the dst assertion, and the
    // callers' assertions (`dst_rs >= n` with `dst_cs == 1`, or `dst_cs >= m` with
    // `dst_rs == 1`) make those positions distinct; with `read_dst` it reads exactly those
    // same positions first (and never when `accumulate` is false). All strides fit in isize
    // because each extent is at most a slice length. The three slices cannot alias: dst is
    // `&mut`, the others `&`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_with_strides() {
        // lhs = [[1, 2], [3, 4]] stored column-major; rhs = [[1, 0, 2], [0, 1, 3]]
        let lhs = [1.0, 3.0, 2.0, 4.0];
        let rhs = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
        let mut dst = [f64::NAN; 8];
        matmul(
            &mut dst,
            4,
            Mat {
                data: &lhs,
                rows: 2,
                cols: 2,
                row_stride: 1,
                col_stride: 2,
            },
            Mat {
                data: &rhs,
                rows: 2,
                cols: 3,
                row_stride: 3,
                col_stride: 1,
            },
            false,
        );
        assert_eq!(&dst[..3], &[1.0, 2.0, 8.0]);
        assert_eq!(&dst[4..7], &[3.0, 4.0, 18.0]);
        assert!(dst[3].is_nan() && dst[7].is_nan());
    }

    #[test]
    fn accumulate_adds_to_the_destination() {
        // [[1, 2]] * [[3], [4]] = [[11]], added to 100; a zero-depth product leaves it alone
        let (lhs, rhs) = ([1.0, 2.0], [3.0, 4.0]);
        let mut dst = [100.0];
        let l = Mat {
            data: &lhs[..],
            rows: 1,
            cols: 2,
            row_stride: 2,
            col_stride: 1,
        };
        let r = Mat {
            data: &rhs[..],
            rows: 2,
            cols: 1,
            row_stride: 1,
            col_stride: 1,
        };
        matmul(&mut dst, 1, l, r, true);
        assert_eq!(dst, [111.0]);
        let empty = Mat {
            data: &lhs[..0],
            rows: 1,
            cols: 0,
            row_stride: 0,
            col_stride: 1,
        };
        let empty_r = Mat {
            data: &rhs[..0],
            rows: 0,
            cols: 1,
            row_stride: 1,
            col_stride: 1,
        };
        matmul(&mut dst, 1, empty, empty_r, true);
        assert_eq!(dst, [111.0]);
        matmul(&mut dst, 1, empty, empty_r, false);
        assert_eq!(dst, [0.0]);
    }

    /// A product of [`PACKED_INPUT_ROWS`] rows (its right operand packed by the library) gives
    /// the same bits as the same rows computed 16 at a time (read in place), and the sums.
    #[test]
    fn packed_few_row_products_match_unpacked_ones() {
        fn check<T: Element + std::fmt::Debug>(rows: usize, depth: usize, cols: usize) {
            let f = |v: T| v.to_f64().unwrap_or(f64::NAN);
            let lhs: Vec<T> = (0..rows * depth)
                .map(|i| T::from((i * 7919 % 1000) as f64 * 1e-3 - 0.5).unwrap())
                .collect();
            let rhs: Vec<T> = (0..depth * cols)
                .map(|i| T::from((i * 104_729 % 997) as f64 * 3e-3 - 1.1).unwrap())
                .collect();
            let mat = |data, rows, cols| Mat {
                data,
                rows,
                cols,
                row_stride: cols,
                col_stride: 1,
            };
            // through the library itself (`matmul` would take some of these products through
            // our own few-row tiles, which add in another order)
            let mut whole = vec![T::nan(); rows * cols];
            product(
                &mut whole,
                (cols, 1),
                mat(&lhs, rows, depth),
                mat(&rhs, depth, cols),
                false,
            );
            let mut by_16 = vec![T::nan(); rows * cols];
            for r0 in (0..rows).step_by(16) {
                let r1 = (r0 + 16).min(rows);
                product(
                    &mut by_16[r0 * cols..],
                    (cols, 1),
                    mat(&lhs[r0 * depth..], r1 - r0, depth),
                    mat(&rhs, depth, cols),
                    false,
                );
            }
            for (i, (a, b)) in whole.iter().zip(&by_16).enumerate() {
                assert!(
                    f(*a) == f(*b),
                    "{rows}x{depth}x{cols} at {i}: {a:?} vs {b:?}"
                );
            }
            for i in [0, rows / 2, rows - 1] {
                for j in [0, cols / 3, cols - 1] {
                    let want: f64 = (0..depth)
                        .map(|k| f(lhs[i * depth + k]) * f(rhs[k * cols + j]))
                        .sum::<f64>();
                    let got = f(whole[i * cols + j]);
                    assert!((got - want).abs() < 1e-4 * depth as f64, "{got} vs {want}");
                }
            }
        }
        for (rows, depth, cols) in [(24, 70, 300), (32, 256, 1030), (48, 600, 77)] {
            assert!(PACKED_INPUT_ROWS.contains(&rows));
            check::<f32>(rows, depth, cols);
            check::<f64>(rows, depth, cols);
        }
    }
}
