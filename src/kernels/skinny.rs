//! Products with a few columns: `C = A B` where `B` has at most [`SKINNY_COLS`] columns and
//! `A` is read a column at a time (a transposed convolution's weight, `[C_in, C_out * taps]`
//! row-major, is `A^T`: column `k` of `A` is weight row `k`, contiguous).
//!
//! Such a product is the whole layer when the input has few positions (the first layers of a
//! GAN generator, a U-Net bottleneck: 1x1 to 4x4 inputs, batch 1), and it is bound by reading
//! the weight once: a few multiply-adds per weight element. The GEMM library, given so few
//! columns, runs its kernels over the weight unpacked, one element row at a time and a whole
//! weight row apart (a cache miss and a page per step; 3 GB/s of weight on a 1024 -> 512
//! 4x4 layer). Here the weight is read in contiguous runs along its rows, four rows at a time
//! (four sequential streams), each element used for every column while it is in a register.

use super::gemm::Mat;
use super::simd::{vectorized, Kernel};
use crate::Element;

/// Most columns of `B` that [`skinny_product`] handles (and that the GEMM library handles
/// worse).
pub(crate) const SKINNY_COLS: usize = 8;

/// Accumulator elements: `n` runs of `ACC / n` rows of `A` each stay in the L1 cache (32 KiB
/// of `f32`), and each weight row is read in runs of that length (2048 elements for 4 columns).
const ACC: usize = 1 << 13;

/// Scratch elements [`skinny_product`] needs.
pub(crate) const fn scratch_len() -> usize {
    ACC
}

/// Whether [`skinny_product`] takes the product `lhs * rhs`.
pub(crate) fn applies<T>(lhs: &Mat<'_, T>, rhs: &Mat<'_, T>) -> bool {
    rhs.cols <= SKINNY_COLS && lhs.row_stride == 1
}

/// `dst[i*n + j] = sum_k lhs[i, k] * rhs[k, j]` (`n = rhs.cols`, summed in order of `k`),
/// for `lhs` with contiguous columns (`row_stride == 1`, see [`applies`]), through `scratch`
/// ([`scratch_len`] elements).
///
/// # Panics
///
/// When the shapes disagree or a matrix does not fit in its slice (a bug in the caller).
pub(crate) fn skinny_product<T: Element>(
    dst: &mut [T],
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    scratch: &mut [T],
) {
    assert!(
        applies(&lhs, &rhs) && lhs.cols == rhs.rows,
        "not a skinny product"
    );
    let (m, n) = (lhs.rows, rhs.cols);
    let chunk = ACC / n.max(1);
    let acc = &mut scratch[..n * chunk];
    for i0 in (0..m).step_by(chunk) {
        let len = chunk.min(m - i0);
        vectorized(Chunk {
            lhs,
            rhs,
            i0,
            len,
            chunk,
            acc: &mut *acc,
        });
        // acc[j*chunk + i] is dst[(i0 + i), j]
        for (i, row) in dst[i0 * n..(i0 + len) * n].chunks_exact_mut(n).enumerate() {
            for (j, d) in row.iter_mut().enumerate() {
                *d = acc[j * chunk + i];
            }
        }
    }
}

/// Rows `i0..i0 + len` of the product into `acc` (column `j` at `acc[j*chunk..]`).
struct Chunk<'a, 'b, T> {
    lhs: Mat<'a, T>,
    rhs: Mat<'a, T>,
    i0: usize,
    len: usize,
    chunk: usize,
    acc: &'b mut [T],
}

impl<T: Element> Kernel for Chunk<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Chunk {
            lhs,
            rhs,
            i0,
            len,
            chunk,
            acc,
        } = self;
        let (k, n) = (lhs.cols, rhs.cols);
        let column = |c: usize| &lhs.data[c * lhs.col_stride + i0..][..len];
        let b = |c: usize, j: usize| rhs.data[c * rhs.row_stride + j * rhs.col_stride];
        for run in acc.chunks_exact_mut(chunk).take(n) {
            run[..len].fill(T::zero());
        }
        // four columns of A (rows of the weight) per pass, added in order of k
        for c0 in (0..k).step_by(4) {
            let cols = (k - c0).min(4);
            for (j, run) in acc.chunks_exact_mut(chunk).take(n).enumerate() {
                let run = &mut run[..len];
                match cols {
                    4 => {
                        let (a0, a1, a2, a3) =
                            (column(c0), column(c0 + 1), column(c0 + 2), column(c0 + 3));
                        let (b0, b1, b2, b3) = (b(c0, j), b(c0 + 1, j), b(c0 + 2, j), b(c0 + 3, j));
                        let a = a0.iter().zip(a1).zip(a2).zip(a3);
                        for (r, (((&v0, &v1), &v2), &v3)) in run.iter_mut().zip(a) {
                            *r = *r + v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3;
                        }
                    }
                    _ => {
                        for c in c0..c0 + cols {
                            let bc = b(c, j);
                            for (r, &v) in run.iter_mut().zip(column(c)) {
                                *r = *r + v * bc;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_plain_product() {
        // shapes around the chunk and the four-column passes, strided right operands
        for (m, k, n) in [(1, 1, 1), (7, 5, 3), (1025, 9, 8), (8300, 6, 1), (64, 4, 4)] {
            let a: Vec<f64> = (0..m * k)
                .map(|i| ((i * 37 % 23) as f64 - 11.0) / 8.0)
                .collect();
            let b: Vec<f64> = (0..k * n * 2)
                .map(|i| ((i * 13 % 17) as f64 - 8.0) / 4.0)
                .collect();
            // A column-contiguous with columns m + 3 apart; B with columns 2 apart
            let mut a_data = vec![0.0; k * (m + 3)];
            for c in 0..k {
                a_data[c * (m + 3)..c * (m + 3) + m].copy_from_slice(&a[c * m..(c + 1) * m]);
            }
            let lhs = Mat {
                data: &a_data,
                rows: m,
                cols: k,
                row_stride: 1,
                col_stride: m + 3,
            };
            let rhs = Mat {
                data: &b,
                rows: k,
                cols: n,
                row_stride: 2 * n,
                col_stride: 2,
            };
            let mut dst = vec![f64::NAN; m * n];
            let mut scratch = vec![f64::NAN; scratch_len()];
            skinny_product(&mut dst, lhs, rhs, &mut scratch);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|c| a[c * m + i] * b[c * 2 * n + 2 * j]).sum();
                    let got = dst[i * n + j];
                    assert!(
                        (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                        "{m}x{k}x{n} ({i},{j}): {got} vs {want}"
                    );
                }
            }
        }
    }
}
