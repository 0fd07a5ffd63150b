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
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }
}

/// Elements the GEMM library may allocate for one `m x k` by `k x n` product (at most): a
/// packed copy of the left operand, a packed panel of the right one, and the per-thread slab
/// it keeps for blocks of `kc <= 512` by `mc <= 128` (first allocated inside a call on a fresh
/// thread; `tests/workspace.rs` caught a Winograd layer over the bound without it). Callers
/// add it to their scratch when they bound a call's memory.
pub(crate) fn packing(m: usize, k: usize, n: usize) -> usize {
    m * k + k * n.min(1024) + k.min(512) * 128
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
/// orientation ([`matmul_col_major`], then a transpose): 8 to 16 or 32 rows against at least
/// 4x as many columns, at least [`FEW_ROWS_DEPTH`] deep. Measured on this crate's benchmark
/// machine (`gemm` 0.19, AVX2, f32): 1.6-2.3x the rate of the row-major orientation for
/// 8, 16 and 32 rows, 96-800 deep, 1024-4096 columns; with 24, 25 or 48 rows or shallower
/// products it was slower once the transpose is counted, under 8 rows always slower.
pub(crate) fn few_rows_pay(m: usize, n: usize, depth: usize) -> bool {
    may_have_few_rows(m, n) && depth >= FEW_ROWS_DEPTH
}

/// [`few_rows_pay`] for some depth.
pub(crate) fn may_have_few_rows(m: usize, n: usize) -> bool {
    ((8..=16).contains(&m) || m == 32) && n >= 4 * m
}

/// Shallowest product [`few_rows_pay`] takes.
pub(crate) const FEW_ROWS_DEPTH: usize = 128;

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
}
