//! Interpolating resizes of small 2-D planes, a run of planes in one kernel.
//!
//! The general engine ([`super::kernels`]) walks each output row's taps, keeps resized input
//! rows in a ring keyed by input index and calls a kernel per row; on a plane of 8x8 or
//! 14x14 (a U-Net or FPN feature map upsampled with many channels) that bookkeeping, not the
//! arithmetic, took most of the time. Here, when every resized input row of a plane fits in
//! [`MAX_ROWS_BYTES`], each plane is done in two plain passes: every input row the
//! height taps read, resized along the width into a buffer (by the engine's row kernel),
//! then each output row combined from the buffer's rows. A run of planes goes through one
//! kernel compiled for the best instruction set; where every input row is read, a group of
//! planes (as many as the buffer holds) goes through the width pass as one run of rows, so
//! that blocks of eight rows fill across small planes' boundaries (7x7 to 14x14 maps,
//! bilinear x2: 0.82-0.84x the time of a plane at a time; x0.5 of 28x31 0.91x).
//!
//! The arithmetic is the engine's, bit for bit: along the width `r[i][ow] = w_0 x[i][j_0] +
//! w_1 x[i][j_1] + ...`, then `y[oh][ow] = v_0 r[i_0][ow] + v_1 r[i_1][ow] + ...`, each sum a
//! multiply and then one add per further tap, left to right (no fused multiply-adds).

use super::tables::AxisTable;
use crate::element::Element;
use crate::kernels::simd::{vectorized, Kernel};

/// Most bytes of a plane's resized input rows (`in_h * out_w` elements): half of a 32 KiB L1
/// data cache, so that they stay there between the two passes. Paired in-process A/B (2
/// threads, 11 rounds) against the general engine: bilinear x2 of 8x8 to 64x64 maps
/// 0.5-0.75x the time, bicubic x2 of 32x32 0.79x, bilinear x0.5 of 28x31 and 64x64
/// 0.73-0.82x, area x0.5 of 64x64 0.77x; with buffers of 32 KiB (a 64x64 map x2, four
/// images, or 128x128 x0.5) 1.04-1.13x, so those keep the engine.
pub(super) const MAX_ROWS_BYTES: usize = 16 << 10;

/// Whether a plane resized by `h` (rows) and `w` (along each row) goes through [`run`]: two
/// interpolating tables with nothing outside (no extrapolation) and a buffer of rows within
/// [`MAX_ROWS_BYTES`]. (The caller also leaves out width tables whose rows the engine
/// resizes eight at a time: antialiased ones ran 2x the time here.)
pub(super) fn applies<T: Element>(h: &AxisTable<T>, w: &AxisTable<T>) -> bool {
    let plain = |t: &AxisTable<T>| !t.is_nearest() && t.outside.is_empty() && !t.band;
    let buffer = h.in_len.saturating_mul(w.out_len);
    plain(h) && plain(w) && buffer <= MAX_ROWS_BYTES / std::mem::size_of::<T>()
}

/// Resizes the consecutive planes of `input` (`h.in_len x w.in_len` each) into `out`
/// (`h.out_len x w.out_len` each) through `h` and `w` (see [`applies`]); `along(src, dst)`
/// resizes one input row, or a block of [`BLOCK`] consecutive rows, through `w` (the
/// engine's own row kernels).
pub(super) fn run<T: Element>(
    h: &AxisTable<T>,
    w: &AxisTable<T>,
    along: impl FnMut(&[T], &mut [T]),
    input: &[T],
    out: &mut [T],
) {
    // the input rows some output row reads
    let mut needed = vec![false; h.in_len];
    for &i in &h.idx {
        needed[i] = true;
    }
    // a group of planes' rows when every row is needed (see `Planes`), one plane's otherwise
    let per_plane = h.in_len * w.out_len;
    let group = if needed.iter().all(|&n| n) {
        (MAX_ROWS_BYTES / std::mem::size_of::<T>() / per_plane.max(1)).max(1)
    } else {
        1
    };
    let mut rows = vec![T::zero(); group * per_plane];
    vectorized(Planes {
        h,
        w,
        along,
        needed: &needed,
        input,
        out,
        rows: &mut rows,
    });
}

/// Input rows resized along the width together (see [`run`]).
pub(super) const BLOCK: usize = 8;

/// See [`run`].
struct Planes<'a, T, F> {
    h: &'a AxisTable<T>,
    w: &'a AxisTable<T>,
    along: F,
    needed: &'a [bool],
    input: &'a [T],
    out: &'a mut [T],
    /// Every needed input row resized along the width, `[in_h][out_w]`.
    rows: &'a mut [T],
}

impl<T: Element, F: FnMut(&[T], &mut [T])> Kernel for Planes<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Planes {
            h,
            w,
            mut along,
            needed,
            input,
            out,
            rows,
        } = self;
        let (w_in, w_out) = (w.in_len, w.out_len);
        let (plane_in, plane_out) = (h.in_len * w_in, h.out_len * w_out);
        let per_plane = h.in_len * w_out;
        let group = rows.len() / per_plane.max(1);
        if group > 1 {
            // every row needed: the rows of a group of planes are one run of rows, resized
            // BLOCK at a time across the planes' boundaries (a 7x7 plane alone never fills
            // a block), then each plane's output rows combined from its share
            for (xs, ys) in input
                .chunks(group * plane_in)
                .zip(out.chunks_mut(group * plane_out))
            {
                let planes = xs.len() / plane_in.max(1);
                let buffer = &mut rows[..planes * per_plane];
                for (src, dst) in xs
                    .chunks(BLOCK * w_in)
                    .zip(buffer.chunks_mut(BLOCK * w_out))
                {
                    along(src, dst);
                }
                for (y, plane_rows) in ys
                    .chunks_exact_mut(plane_out)
                    .zip(buffer.chunks_exact(per_plane))
                {
                    combine_plane(h, w_out, plane_rows, y);
                }
            }
            return;
        }
        for (x, y) in input
            .chunks_exact(plane_in)
            .zip(out.chunks_exact_mut(plane_out))
        {
            // blocks of BLOCK rows all needed at once, otherwise the needed rows one by one
            for ((src, dst), need) in x
                .chunks(BLOCK * w_in)
                .zip(rows.chunks_mut(BLOCK * w_out))
                .zip(needed.chunks(BLOCK))
            {
                if need.len() == BLOCK && need.iter().all(|&n| n) {
                    along(src, dst);
                    continue;
                }
                for ((src, dst), _) in src
                    .chunks_exact(w_in)
                    .zip(dst.chunks_exact_mut(w_out))
                    .zip(need)
                    .filter(|(_, &n)| n)
                {
                    along(src, dst);
                }
            }
            combine_plane(h, w_out, rows, y);
        }
    }
}

/// Every output row of a plane, `y[oh] = sum_t v_t rows[i_t]` through the height table `h`
/// (`rows` holds the plane's input rows resized to `w_out`).
#[inline(always)]
fn combine_plane<T: Element>(h: &AxisTable<T>, w_out: usize, rows: &[T], y: &mut [T]) {
    for (oh, dst) in y.chunks_exact_mut(w_out).enumerate() {
        let taps = h.offs[oh]..h.offs[oh + 1];
        let row = |i: usize| &rows[i * w_out..(i + 1) * w_out];
        combine_rows(dst, &h.w[taps.clone()], &h.idx[taps], row);
    }
}

/// `dst = sum_t w_t row(i_t)`, elementwise, taps left to right (zero without taps).
#[inline(always)]
fn combine_rows<'r, T: Element + 'r>(
    dst: &mut [T],
    w: &[T],
    idx: &[usize],
    row: impl Fn(usize) -> &'r [T],
) {
    match (w, idx) {
        ([w0, w1], [i0, i1]) => {
            for ((d, &a), &b) in dst.iter_mut().zip(row(*i0)).zip(row(*i1)) {
                *d = *w0 * a + *w1 * b;
            }
        }
        ([w0, w1, w2, w3], [i0, i1, i2, i3]) => {
            let (a, b, c, e) = (row(*i0), row(*i1), row(*i2), row(*i3));
            for ((((d, &a), &b), &c), &e) in dst.iter_mut().zip(a).zip(b).zip(c).zip(e) {
                *d = *w0 * a + *w1 * b + *w2 * c + *w3 * e;
            }
        }
        _ => {
            if w.is_empty() {
                dst.fill(T::zero());
                return;
            }
            for (d, &a) in dst.iter_mut().zip(row(idx[0])) {
                *d = w[0] * a;
            }
            for (&wt, &i) in w[1..].iter().zip(&idx[1..]) {
                for (d, &a) in dst.iter_mut().zip(row(i)) {
                    *d = *d + wt * a;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upsample::{execute, reference, tables, CoordinateMode, Mode, Upsample2d};
    use ndarray::{Array, IxDyn};
    use proptest::prelude::*;

    /// `x` through `cfg` by the engine and by the definition, compared bit for bit; and
    /// whether the planes went through [`run`] (its conditions on the two tables).
    fn engine_equals_definition<T: Element>(x: &Array<T, IxDyn>, cfg: &Upsample2d) -> bool {
        let (shape, sources) = cfg.tables::<T>(x.shape()).expect("valid");
        let mut fast = Array::<T, _>::zeros(IxDyn(&shape));
        execute(x, &sources, &shape, T::zero(), &mut fast).expect("runs");
        let tabs = tables::whole_tables(&sources);
        let slow = reference::resize_reference(&x.view(), &tabs, T::zero());
        assert!(
            fast.iter()
                .zip(&slow)
                .all(|(a, b)| a.to_f64() == b.to_f64()),
            "{cfg:?} {:?}",
            x.shape()
        );
        match (&tabs[2], &tabs[3]) {
            (Some(h), Some(w)) => {
                let taps = w.fixed_taps();
                applies(h, w) && matches!(taps, Some(2 | 4))
            }
            _ => false,
        }
    }

    fn planes(n: usize, c: usize, h: usize, w: usize, seed: usize) -> Array<f64, IxDyn> {
        Array::from_shape_fn(IxDyn(&[n, c, h, w]), |i| {
            let k = ((i[0] * 31 + i[1]) * 37 + i[2]) * 41 + i[3] + seed * 7;
            ((k * 7919) % 1000) as f64 / 100.0 - 5.0
        })
    }

    /// Small planes of every interpolating mode through [`run`]: the same bits as the
    /// definition in `f32` and `f64` (bilinear x2 and x0.5, align corners, a downscale whose
    /// outputs skip input rows, bicubic, area of two taps; not area of varying taps).
    #[test]
    fn small_planes_equal_the_definition() {
        let x = planes(2, 5, 8, 12, 1);
        let x32 = x.mapv(|v| v as f32);
        let half = Upsample2d::scale([0.5, 0.5]);
        for cfg in [
            Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear),
            half.mode(Mode::Linear),
            Upsample2d::scale([2.0, 3.0])
                .mode(Mode::Linear)
                .coordinates(CoordinateMode::AlignCorners),
            Upsample2d::size([3, 4]).mode(Mode::Linear),
            Upsample2d::scale([2.0, 2.0]).mode(Mode::Cubic),
            Upsample2d::size([4, 6]).mode(Mode::Area),
        ] {
            assert!(engine_equals_definition(&x, &cfg), "{cfg:?}");
            assert!(engine_equals_definition(&x32, &cfg), "{cfg:?}");
        }
        // area 12 -> 5 has 3 or 4 taps per output: the engine's own path (rows eight at a time)
        assert!(!engine_equals_definition(
            &x,
            &Upsample2d::size([4, 5]).mode(Mode::Area)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any plane size and output size, linear or cubic, half-pixel or align corners,
        /// through the engine (small planes here, larger ones through the ring), in `f32`:
        /// the same bits as the definition.
        #[test]
        fn plane_resizes_equal_the_definition(
            (n, c) in (1usize..3, 1usize..5),
            (h, w) in (1usize..40, 1usize..40),
            (oh, ow) in (1usize..80, 1usize..80),
            cubic: bool,
            corners: bool,
            seed in 0usize..100,
        ) {
            let mode = if cubic { Mode::Cubic } else { Mode::Linear };
            let mut cfg = Upsample2d::size([oh, ow]).mode(mode);
            if corners {
                cfg = cfg.coordinates(CoordinateMode::AlignCorners);
            }
            engine_equals_definition(&planes(n, c, h, w, seed).mapv(|v| v as f32), &cfg);
        }
    }
}
