//! Long axes a band of outputs at a time: bounded tables, and threads for few long rows.
//!
//! A table holds an index and a weight per tap, so it grows with its axis, not with the
//! tensor: linear upsampling of a 1-D signal of a million samples needs 64 MiB of table for
//! 8 MiB of output. Where the tables of a call would take more than half its memory bound
//! (`max(16 MiB, output)`), the axis with the largest table is resized a band of its outputs
//! at a time, each band with the table of its outputs only ([`AxisSource::table`]).
//!
//! ```text
//! view the tensors as [outer, len, inner] around the banded axis
//! band o0..o1:  in[q, :, :]  --engine, table of o0..o1-->  out[q, o0..o1, :]  for each q
//! ```
//!
//! Where no axis before the banded one is resized, `out[q, o0..o1, :]` is a contiguous piece
//! of row `q` and the engine reads `in[q]` in place: a band's table serves every row, and
//! the bands run in parallel. That also shares out the work of a few long rows (a stereo
//! signal, say), which the engine, whose tasks are rows or planes, would run on one or two
//! threads. Otherwise the band's table is narrowed to the window of inputs it reads
//! ([`AxisTable::rebase`]), the window gathered into a buffer and the band scattered out of
//! one.
//!
//! Each output is the same nested sum over the same taps as with the whole table, so results
//! are bit-identical whatever the bands.

use super::kernels;
use super::tables::{AxisSource, AxisTable};
use crate::element::Element;

/// Below this the memory bound is 16 MiB, whatever the output.
const MIN_BOUND_BYTES: usize = 16 << 20;

/// Bytes one band may take: its table plus, where the window is gathered, the window and
/// the band's output.
const BAND_BYTES: usize = 2 << 20;

/// Outputs below which few long rows are left to the engine (one task per row).
#[cfg(feature = "rayon")]
const MIN_PARALLEL_OUTPUTS: usize = 1 << 16;

/// Rows per thread from which the engine's row tasks keep the threads busy.
#[cfg(feature = "rayon")]
const ROWS_PER_THREAD: usize = 4;

/// Resizes the contiguous `input` (shape `in_shape`) into the contiguous `out` through the
/// tables of `sources` (`None`: axis kept), whole or in bands of the largest table's axis.
pub(crate) fn resize<T: Element>(
    input: &[T],
    in_shape: &[usize],
    sources: &[Option<AxisSource<'_, T>>],
    extrapolation: T,
    out: &mut [T],
) {
    let bytes: Vec<usize> = sources
        .iter()
        .map(|s| s.as_ref().map_or(0, AxisSource::table_bytes))
        .collect();
    let total = bytes.iter().fold(0usize, |a, &b| a.saturating_add(b));
    let bound = MIN_BOUND_BYTES.max(std::mem::size_of_val(out));
    // (only a resized axis can run in bands: with none, the engine copies)
    let widest = (0..bytes.len())
        .filter(|&k| sources[k].is_some())
        .max_by_key(|&k| bytes[k]);
    match widest {
        Some(axis) if total > bound / 2 => {
            let band = band_len(in_shape, sources, axis);
            if copies(sources[axis].as_ref(), band) {
                // an axis kept as it is (`out == in` with a copying table) is copied, as
                // with its whole table (a band is never taken for the identity)
                let mut tables: Vec<Option<AxisTable<T>>> = super::tables::whole_tables(sources);
                tables[axis] = None;
                kernels::resize_contiguous(input, in_shape, &tables, extrapolation, out);
                return;
            }
            in_bands(input, in_shape, sources, axis, band, extrapolation, out);
        }
        Some(axis) if few_long_rows(in_shape, sources, axis, out.len()) => {
            let band = band_len(in_shape, sources, axis).min(split_for_threads(out.len()));
            in_bands(input, in_shape, sources, axis, band, extrapolation, out);
        }
        _ => {
            let tables: Vec<Option<AxisTable<T>>> = super::tables::whole_tables(sources);
            kernels::resize_contiguous(input, in_shape, &tables, extrapolation, out);
        }
    }
}

/// Whether `src`'s whole table copies its input (see [`AxisTable::is_identity`]), checked a
/// band of `band` outputs at a time.
fn copies<T: Element>(src: Option<&AxisSource<'_, T>>, band: usize) -> bool {
    let Some(src) = src.filter(|s| s.in_len == s.out_len) else {
        return false;
    };
    let band = band.max(1);
    (0..src.out_len)
        .step_by(band)
        .all(|o0| src.table(o0..(o0 + band).min(src.out_len)).copies_from(o0))
}

/// Whether only the last axis is resized (to another length: a kept one is a copy), on too
/// few rows for the engine's row tasks to keep the threads busy, with outputs enough to
/// share out.
fn few_long_rows<T: Element>(
    in_shape: &[usize],
    sources: &[Option<AxisSource<'_, T>>],
    axis: usize,
    outputs: usize,
) -> bool {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        let rows: usize = in_shape[..axis].iter().product();
        axis + 1 == in_shape.len()
            && sources[axis]
                .as_ref()
                .is_some_and(|s| s.in_len != s.out_len)
            && sources[..axis].iter().all(Option::is_none)
            && rows < ROWS_PER_THREAD * threads
            && outputs >= MIN_PARALLEL_OUTPUTS
            && threads > 1
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = (in_shape, sources, axis, outputs);
        false
    }
}

/// Band length that gives each thread four bands of `outputs` outputs in all (a band covers
/// every row).
fn split_for_threads(outputs: usize) -> usize {
    #[cfg(feature = "rayon")]
    let tasks = 4 * rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    let tasks = 1;
    outputs.div_ceil(tasks).max(1)
}

/// Whether the bands of `axis` run row by row in place (no axis before it is resized).
fn in_place<T: Element>(sources: &[Option<AxisSource<'_, T>>], axis: usize) -> bool {
    sources[..axis].iter().all(Option::is_none)
}

/// Outputs per band along `axis`: as many as fit in [`BAND_BYTES`], at least one.
fn band_len<T: Element>(
    in_shape: &[usize],
    sources: &[Option<AxisSource<'_, T>>],
    axis: usize,
) -> usize {
    let Some(src) = &sources[axis] else {
        return 1;
    };
    let mut per_output = src.table_bytes() / src.out_len.max(1);
    if !in_place(sources, axis) {
        // a band of b outputs reads about b * in / out inputs, plus the taps' reach
        let out_shape = output_shape(in_shape, sources);
        let (outer_in, inner_in) = around(in_shape, axis);
        let (outer_out, inner_out) = around(&out_shape, axis);
        let inputs_per_output = src.in_len.div_ceil(src.out_len.max(1)) + 1;
        let copied = outer_out.saturating_mul(inner_out).saturating_add(
            outer_in
                .saturating_mul(inner_in)
                .saturating_mul(inputs_per_output),
        );
        per_output = per_output.saturating_add(copied.saturating_mul(std::mem::size_of::<T>()));
    }
    (BAND_BYTES / per_output.max(1)).max(1)
}

fn output_shape<T: Element>(
    in_shape: &[usize],
    sources: &[Option<AxisSource<'_, T>>],
) -> Vec<usize> {
    in_shape
        .iter()
        .zip(sources)
        .map(|(&d, s)| s.as_ref().map_or(d, |s| s.out_len))
        .collect()
}

/// Elements before and after `axis` of a row-major `shape`.
fn around(shape: &[usize], axis: usize) -> (usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis + 1..].iter().product(),
    )
}

/// Resizes in bands of `band` outputs along `axis` (whose source must be `Some`); every
/// other resized axis takes its whole table.
pub(super) fn in_bands<T: Element>(
    input: &[T],
    in_shape: &[usize],
    sources: &[Option<AxisSource<'_, T>>],
    axis: usize,
    band: usize,
    extrapolation: T,
    out: &mut [T],
) {
    let Some(src) = &sources[axis] else {
        return;
    };
    let band = band.max(1);
    let others: Vec<Option<AxisTable<T>>> = sources
        .iter()
        .enumerate()
        .map(|(k, s)| s.as_ref().filter(|_| k != axis).map(AxisSource::whole))
        .collect();
    let out_shape = output_shape(in_shape, sources);
    let (_, inner_in) = around(in_shape, axis);
    let (outer_out, inner_out) = around(&out_shape, axis);
    let (len_in, len_out) = (in_shape[axis], out_shape[axis]);
    if out.is_empty() || input.is_empty() {
        return;
    }
    if in_place(sources, axis) {
        // row q is in[q] (shape in_shape[axis..]) -> out[q]; its band o0..o1 is the
        // contiguous piece out[q, o0..o1, :]. Task b holds band b's piece of every row.
        let (row_in, row_out) = (len_in * inner_in, len_out * inner_out);
        let row_shape = &in_shape[axis..];
        let mut tasks: Vec<Vec<&mut [T]>> = (0..len_out.div_ceil(band))
            .map(|_| Vec::with_capacity(outer_out))
            .collect();
        for row in out.chunks_exact_mut(row_out) {
            for (pieces, piece) in tasks.iter_mut().zip(row.chunks_mut(band * inner_out)) {
                pieces.push(piece);
            }
        }
        let run = |b: usize, pieces: Vec<&mut [T]>| {
            let o0 = b * band;
            let o1 = (o0 + band).min(len_out);
            let mut tables = others[axis..].to_vec();
            tables[0] = Some(AxisTable {
                band: true,
                ..src.table(o0..o1)
            });
            for (row, piece) in input.chunks_exact(row_in).zip(pieces) {
                kernels::resize_contiguous(row, row_shape, &tables, extrapolation, piece);
            }
        };
        #[cfg(feature = "rayon")]
        if tasks.len() > 1 && rayon::current_num_threads() > 1 {
            use rayon::prelude::*;
            tasks
                .into_par_iter()
                .enumerate()
                .for_each(|(b, pieces)| run(b, pieces));
            return;
        }
        for (b, pieces) in tasks.into_iter().enumerate() {
            run(b, pieces);
        }
        return;
    }
    let mut window_shape = in_shape.to_vec();
    let (mut gathered, mut banded) = (Vec::new(), Vec::new());
    for o0 in (0..len_out).step_by(band) {
        let o1 = (o0 + band).min(len_out);
        let mut table = AxisTable {
            band: true,
            ..src.table(o0..o1)
        };
        let i0 = table.rebase();
        let w = table.in_len;
        window_shape[axis] = w;
        let mut tables = others.clone();
        tables[axis] = Some(table);
        // in[q, i0..i0 + w, :] for every outer index q
        gathered.clear();
        for block in input.chunks_exact(len_in * inner_in) {
            gathered.extend_from_slice(&block[i0 * inner_in..(i0 + w) * inner_in]);
        }
        let per_block = (o1 - o0) * inner_out;
        banded.resize(outer_out * per_block, T::zero());
        kernels::resize_contiguous(
            &gathered,
            &window_shape,
            &tables,
            extrapolation,
            &mut banded,
        );
        // out[q, o0..o1, :] for every outer index q
        for (block, part) in out
            .chunks_exact_mut(len_out * inner_out)
            .zip(banded.chunks_exact(per_block))
        {
            block[o0 * inner_out..o1 * inner_out].copy_from_slice(part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upsample::tables::whole_tables;
    use crate::upsample::{
        CoordinateMode, CoordinateTransform, Mode, NearestMode, Resize, ResizeMode, Upsample,
    };

    fn ramp(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f64 / 100.0 - 10.0
            })
            .collect()
    }

    /// Every resized axis in bands of 1, 3, 7 and 64 outputs gives the bits of the whole
    /// tables, for contiguous windows (leading axes of 1) and gathered ones.
    fn check(what: &str, in_shape: &[usize], sources: &[Option<AxisSource<'_, f64>>], ext: f64) {
        let x = ramp(in_shape.iter().product(), in_shape.len() as u64 + 5);
        let out_len: usize = in_shape
            .iter()
            .zip(sources)
            .map(|(&d, s)| s.as_ref().map_or(d, |s| s.out_len))
            .product();
        // `rebase` and `max_span` read only an output's first and last taps
        for t in whole_tables(sources).iter().flatten() {
            for o in 0..t.out_len {
                let taps = &t.idx[t.offs[o]..t.offs[o + 1]];
                assert!(!taps.is_empty() && taps.is_sorted(), "{what}: output {o}");
            }
        }
        let mut whole = vec![f64::NAN; out_len];
        kernels::resize_contiguous(&x, in_shape, &whole_tables(sources), ext, &mut whole);
        for axis in (0..sources.len()).filter(|&k| sources[k].is_some()) {
            for band in [1, 3, 7, 64] {
                let mut y = vec![f64::NAN; out_len];
                in_bands(&x, in_shape, sources, axis, band, ext, &mut y);
                let same = y
                    .iter()
                    .zip(&whole)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{what}: axis {axis}, bands of {band}");
            }
        }
    }

    fn torch<const D: usize>(shape: &[usize], cfg: Upsample<D>) {
        let (_, sources) = cfg.tables::<f64>(shape).unwrap();
        check(&format!("{cfg:?} {shape:?}"), shape, &sources, 0.0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any 3-D resize, any mode, in bands of any length along any of its axes, gives the
        /// per-element definition's bits (`super::super::reference`).
        #[test]
        fn bands_equal_reference(n in 1usize..3, c in 1usize..3, d in 1usize..5, h in 1usize..6,
                                 w in 1usize..9, od in 1usize..7, oh in 1usize..9,
                                 ow in 1usize..13, m in 0usize..5, aa: bool, ac: bool,
                                 axis in 2usize..5, band in 1usize..9, seed: u64) {
            let mode = [Mode::Nearest, Mode::NearestExact, Mode::Linear, Mode::Cubic, Mode::Area][m];
            let mut cfg = Upsample::<3>::size([od, oh, ow]).mode(mode);
            if matches!(mode, Mode::Linear | Mode::Cubic) {
                cfg = cfg.antialias(aa);
                if ac {
                    cfg = cfg.coordinates(CoordinateMode::AlignCorners);
                }
            }
            let shape = [n, c, d, h, w];
            let (out_shape, sources) = cfg.tables::<f64>(&shape).unwrap();
            proptest::prop_assume!(sources[axis].is_some());
            let x = ramp(shape.iter().product(), seed);
            let mut y = vec![f64::NAN; out_shape.iter().product()];
            in_bands(&x, &shape, &sources, axis, band, 0.0, &mut y);
            let xa = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), x).unwrap();
            let want = crate::upsample::reference::resize_reference(
                &xa.view(),
                &whole_tables(&sources),
                0.0,
            );
            let same = want.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits());
            proptest::prop_assert!(same, "{:?} axis {} bands of {}", cfg, axis, band);
        }
    }

    /// A band is never taken for a copy: the last output of an align-corners linear x5/3
    /// reads input 2 twice, with weights 1 and 0, which alone looks like the identity; with
    /// an infinite input the definition gives NaN (inf * 0), and so must every band. An axis
    /// whose whole table copies is copied, in bands or not (infinities stay).
    #[test]
    fn bands_keep_the_identity_whole() {
        // (the rows' axis has a table too, a copy, so the bands of the last axis are narrowed
        // to their windows: the band of the last output reads one input)
        let cfg = Upsample::<2>::size([1, 5])
            .mode(Mode::Linear)
            .coordinates(CoordinateMode::AlignCorners);
        let shape = [1, 1, 1, 3];
        let (_, sources) = cfg.tables::<f64>(&shape).unwrap();
        let x = [1.0, 2.0, f64::INFINITY];
        let mut whole = [0.0; 5];
        kernels::resize_contiguous(&x, &shape, &whole_tables(&sources), 0.0, &mut whole);
        assert!(whole[4].is_nan());
        for band in [1, 2] {
            let mut y = [0.0; 5];
            in_bands(&x, &shape, &sources, 3, band, 0.0, &mut y);
            let same = y
                .iter()
                .zip(&whole)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "bands of {band}: {y:?} against {whole:?}");
        }
        // a same-length axis long enough to run in bands for memory: copied
        let n = 1 << 20;
        let cfg = Upsample::<1>::size([n]).mode(Mode::Linear);
        let (_, sources) = cfg.tables::<f64>(&[1, 1, n]).unwrap();
        let mut x = ramp(n, 3);
        x[7] = f64::INFINITY;
        x[n - 1] = f64::NEG_INFINITY;
        let mut y = vec![0.0; n];
        resize(&x, &[1, 1, n], &sources, 0.0, &mut y);
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn bands_equal_whole_tables() {
        let modes = [
            (Mode::Nearest, false),
            (Mode::NearestExact, false),
            (Mode::Linear, false),
            (Mode::Cubic, false),
            (Mode::Linear, true),
            (Mode::Cubic, true),
            (Mode::Area, false),
        ];
        for (mode, antialias) in modes {
            for (len, out) in [(53, 150), (150, 37), (64, 128)] {
                for shape in [[1, 1, len], [2, 3, len]] {
                    torch(
                        &shape,
                        Upsample::<1>::size([out]).mode(mode).antialias(antialias),
                    );
                }
            }
            let cfg = Upsample::<2>::size([9, 70]).mode(mode).antialias(antialias);
            torch(&[1, 1, 13, 40], cfg);
            torch(&[2, 1, 13, 40], cfg);
            // PyTorch's antialias quirk for an output width of 1 (every row takes row 0's taps)
            let quirk = Upsample::<2>::size([9, 1]).mode(mode).antialias(antialias);
            torch(&[1, 2, 13, 40], quirk);
            let cfg = Upsample::<3>::size([3, 11, 17])
                .mode(mode)
                .antialias(antialias);
            torch(&[1, 2, 5, 6, 29], cfg);
            if matches!(mode, Mode::Linear | Mode::Cubic) {
                let cfg = cfg.coordinates(CoordinateMode::AlignCorners);
                torch(&[1, 1, 5, 6, 29], cfg);
            }
        }
        // ONNX: the outside flags of tf_crop_and_resize take the extrapolation value
        for (mode, antialias) in [
            (ResizeMode::Nearest, false),
            (ResizeMode::Linear, false),
            (ResizeMode::Cubic, false),
            (ResizeMode::Linear, true),
        ] {
            let cfg = Resize::new()
                .mode(mode)
                .antialias(antialias)
                .sizes(vec![3, 23, 61])
                .nearest_mode(NearestMode::RoundPreferCeil)
                .coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
                .roi(vec![0.0, -0.2, 0.1, 1.0, 1.2, 0.9]);
            let shape = [3, 17, 45];
            let (_, sources) = cfg.tables::<f64>(&shape).unwrap();
            check(&format!("{cfg:?}"), &shape, &sources, 7.0);
        }
    }
}
