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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upsample::{
        resize, upsample3d, CoordinateMode, CoordinateTransform, Mode, NearestMode, Resize,
        ResizeMode, Upsample3d,
    };
    use ndarray::Array;
    use proptest::prelude::*;

    const MODES: [Mode; 5] = [
        Mode::Nearest,
        Mode::NearestExact,
        Mode::Linear,
        Mode::Cubic,
        Mode::Area,
    ];

    fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
        let mut s = seed | 1;
        Array::from_shape_simple_fn(IxDyn(shape), || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2001) as f64 / 100.0 - 10.0
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The fast engine equals the per-element definition bit for bit (3-D, every mode).
        #[test]
        fn fast_equals_reference_3d(n in 1usize..3, c in 1usize..3, d in 1usize..4, h in 1usize..5, w in 1usize..6,
                                    od in 1usize..6, oh in 1usize..7, ow in 1usize..9, m in 0usize..5,
                                    ac: bool, aa: bool, seed: u64) {
            let x = data(&[n, c, d, h, w], seed);
            let x5 = x.clone().into_dimensionality::<ndarray::Ix5>().unwrap();
            let mut cfg = Upsample3d::size([od, oh, ow]).mode(MODES[m]);
            if matches!(MODES[m], Mode::Linear | Mode::Cubic) {
                cfg = cfg.antialias(aa);
                if ac { cfg = cfg.coordinates(CoordinateMode::AlignCorners); }
            }
            let tabs = super::super::tables::whole_tables(&cfg.tables::<f64>(x.shape()).unwrap().1);
            let fast = upsample3d(&x5, &cfg).unwrap().into_dyn();
            prop_assert_eq!(fast, resize_reference(&x.view(), &tabs, 0.0));
        }

        /// Same for ONNX Resize on any axes, including tf_crop_and_resize extrapolation.
        #[test]
        fn fast_equals_reference_onnx(a in 1usize..4, b in 1usize..5, c in 1usize..6,
                                      oa in 1usize..5, ob in 1usize..7, oc in 1usize..8,
                                      m in 0usize..3, crop: bool, seed: u64) {
            let x = data(&[a, b, c], seed);
            let mode = [ResizeMode::Nearest, ResizeMode::Linear, ResizeMode::Cubic][m];
            let mut cfg = Resize::new().mode(mode).sizes(vec![oa, ob, oc])
                .nearest_mode(NearestMode::RoundPreferCeil).extrapolation_value(7.0);
            if crop {
                cfg = cfg.coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
                    .roi(vec![-0.2, 0.1, 0.3, 0.9, 1.2, 1.1]);
            }
            let tabs = super::super::tables::whole_tables(&cfg.tables::<f64>(x.shape()).unwrap().1);
            let fast = resize(&x, &cfg).unwrap();
            prop_assert_eq!(fast, resize_reference(&x.view(), &tabs, 7.0));
        }
    }
}
