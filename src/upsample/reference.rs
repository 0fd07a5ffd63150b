//! The readable definition the fast kernels are tested against: every output element
//! evaluated on its own, straight from the per-axis tables.
//!
//! ```text
//! y[o_0, .., o_{r-1}] = Σ_{t_0} w_0[o_0,t_0] * ( Σ_{t_1} w_1[o_1,t_1] * ( ... x[i_0, .., i_{r-1}] ) )
//! ```
//! with the last axis innermost, taps summed left to right, and an output that any axis marks
//! as outside set to the extrapolation value. Axes without a table are copied.

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

use super::tables::AxisTable;
use crate::element::Element;

/// Evaluates the resize defined by `tables` one output element at a time.
pub(crate) fn resize_reference<T: Element>(
    input: &ArrayViewD<'_, T>,
    tables: &[Option<AxisTable<T>>],
    extrapolation: T,
) -> ArrayD<T> {
    let out_shape: Vec<usize> = input
        .shape()
        .iter()
        .zip(tables)
        .map(|(&d, t)| t.as_ref().map_or(d, |t| t.out_len))
        .collect();
    let mut out = ArrayD::<T>::zeros(IxDyn(&out_shape));
    let mut src = vec![0usize; out_shape.len()];
    for (o, y) in out.indexed_iter_mut() {
        let o = o.as_array_view().to_vec();
        let o = o.as_slice();
        let outside = tables.iter().enumerate().any(|(k, t)| {
            t.as_ref()
                .is_some_and(|t| t.outside.get(o[k]).copied().unwrap_or(false))
        });
        *y = if outside {
            extrapolation
        } else {
            nested(input, tables, o, 0, &mut src)
        };
    }
    out
}

/// `Σ_t w_k[o_k, t] * nested(k + 1)` with the first tap not added to a zero (PyTorch's
/// `output = t0 * w0; output += t1 * w1; ...`).
fn nested<T: Element>(
    input: &ArrayViewD<'_, T>,
    tables: &[Option<AxisTable<T>>],
    o: &[usize],
    k: usize,
    src: &mut [usize],
) -> T {
    if k == o.len() {
        return input[IxDyn(src)];
    }
    match &tables[k] {
        None => {
            src[k] = o[k];
            nested(input, tables, o, k + 1, src)
        }
        Some(t) if t.is_nearest() => {
            src[k] = t.idx[o[k]];
            nested(input, tables, o, k + 1, src)
        }
        Some(t) => {
            let mut acc = T::zero();
            for (n, (i, w)) in t.taps(o[k]).enumerate() {
                src[k] = i;
                let v = w * nested(input, tables, o, k + 1, src);
                acc = if n == 0 { v } else { acc + v };
            }
            acc
        }
    }
}
