//! The fast N-D engine: fused separable passes over per-axis tables.
//!
//! One engine serves every mode and rank. The tensor is split into independent blocks over
//! the leading axes that are not resized (usually `N x C` planes). Inside a block, axis `k`
//! is processed as
//!
//! ```text
//! out[o, ...] = Σ_t w[o, t] * R_{k+1}(in[idx[o, t], ...])
//! ```
//!
//! where `R_{k+1}` is the resize of the remaining (inner) axes. `R_{k+1}` of an input slice is
//! computed once into a small ring of cached rows / planes and reused by every output that
//! needs it, so each output element is written exactly once and no full-size intermediate
//! exists. The innermost axis is a gather along a contiguous row (for an integer upscale,
//! the run of the row where the table repeats period after period reads shifted runs of the
//! input instead, see [`PeriodicRow`]); the outer axes combine
//! whole contiguous rows with scalar weights, which the compiler vectorises. Nearest tables
//! copy rows (and re-copy the previous output row when the source repeats). Where the
//! innermost table has any number of taps per output (antialiased or area resizes), the
//! level above fills its ring eight input rows at a time (see [`rows_together`]).
//!
//! Planes are independent tasks for the threads; when there are fewer than four per thread
//! (an RGB image, one volume), each plane is cut into bands of the outermost resized axis's
//! outputs, every band with a ring of its own.
//!
//! The operation order is exactly the nested sum of [`super::reference`] (inner axis first,
//! taps left to right), so results are bit-identical to it and independent of threading.

use super::tables::{AxisTable, Decimate, Periodic};
use crate::element::Element;
use crate::kernels::simd::{vectorized, Kernel};

/// Per-level constants of one call.
struct LevelInfo<'a, T> {
    /// The axis table, `None` when the axis is not resized (or the table is the identity).
    table: Option<&'a AxisTable<T>>,
    /// Elements of one input slice below this axis.
    sub_in: usize,
    /// Elements of one output slice below this axis.
    sub_out: usize,
    /// No deeper axis is resized: slices below this axis are copied unchanged.
    deeper_identity: bool,
    /// Nearest upsampling by an integer factor (innermost axis only).
    repeat: Option<usize>,
    /// Every output has this many taps.
    fixed_taps: Option<usize>,
    /// The table's periodic run (innermost axis only, see [`AxisTable::periodic`]).
    periodic: Option<Periodic<T>>,
    /// The table's decimating run (innermost axis only, see [`AxisTable::decimating`]).
    decimate: Option<Decimate<T>>,
    /// Ring size for cached inner results (see [`ring_size`]).
    ring: usize,
    /// Input slices this level resizes together through the next level when one is missing
    /// from the ring: [`ROW_BATCH`] where the next level is the innermost axis with a table
    /// [`batches_rows`] takes, otherwise 1.
    row_batch: usize,
}

/// Most elements a ring rounded up to a power of two of slots may hold (see [`ring_size`]):
/// 256 KiB of `f32`.
const MAX_POW2_RING: usize = 1 << 16;

/// Slots of a ring that must hold `needed` inner results of `slot_len` elements each: a
/// power of two where that ring stays within [`MAX_POW2_RING`] elements, so that the slot of
/// input `i` is `i & (ring - 1)` instead of a division (on small planes the divisions were a
/// third of the level's time: 512 planes of 8x8, bilinear x2); `needed` itself otherwise (a
/// ring of whole planes, whose extra slots would cost memory for nothing).
fn ring_size(needed: usize, slot_len: usize) -> usize {
    let pow2 = needed.next_power_of_two();
    if pow2.saturating_mul(slot_len) <= MAX_POW2_RING {
        pow2
    } else {
        needed
    }
}

/// The slot of input `i` in a ring of `ring` slots (see [`ring_size`]).
#[inline(always)]
fn ring_slot(i: usize, ring: usize) -> usize {
    if ring.is_power_of_two() {
        i & (ring - 1)
    } else {
        i % ring
    }
}

/// Scratch of one level: a ring of inner results keyed by input index.
struct LevelScratch<T> {
    cache: Vec<T>,
    keys: Vec<usize>,
    /// `row_batch` results of the next level, before they go into the ring.
    batch: Vec<T>,
    /// The `row_batch` input rows side by side (see [`rows_together`]).
    lanes: Vec<T>,
}

struct Ctx<'a, T> {
    levels: Vec<LevelInfo<'a, T>>,
    extrapolation: T,
}

/// Resizes a contiguous row-major tensor `input` of shape `in_shape` into the contiguous
/// `out`, whose shape is given by the tables (`tables[k]` is `None` for axes kept as is).
///
/// `out.len()` must be the product of the output shape. `extrapolation` fills outputs that a
/// table marks as outside.
pub(crate) fn resize_contiguous<T: Element>(
    input: &[T],
    in_shape: &[usize],
    tables: &[Option<AxisTable<T>>],
    extrapolation: T,
    out: &mut [T],
) {
    debug_assert_eq!(in_shape.len(), tables.len());
    let out_shape: Vec<usize> = in_shape
        .iter()
        .zip(tables)
        .map(|(&d, t)| t.as_ref().map_or(d, |t| t.out_len))
        .collect();
    let effective: Vec<Option<&AxisTable<T>>> = tables
        .iter()
        .map(|t| t.as_ref().filter(|t| !t.is_identity()))
        .collect();
    let Some(first) = effective.iter().position(Option::is_some) else {
        out.copy_from_slice(input);
        return;
    };
    let rank = in_shape.len();
    // (each a scan of its table: once per call)
    let fixed_taps: Vec<Option<usize>> = effective
        .iter()
        .map(|t| t.and_then(AxisTable::fixed_taps))
        .collect();
    let mut levels = Vec::with_capacity(rank - first);
    for k in first..rank {
        let table = effective[k];
        let row_batch = if k + 2 == rank && table.is_some_and(|t| !t.is_nearest()) {
            effective[k + 1]
                .filter(|t| batches_rows(t, fixed_taps[k + 1]))
                .map_or(1, |_| ROW_BATCH)
        } else {
            1
        };
        let deeper_identity = effective[k + 1..].iter().all(Option::is_none);
        // (only a weighted level over resized ones caches, see `level_scratch`)
        let cached = table.is_some_and(|t| !t.is_nearest()) && !deeper_identity;
        levels.push(LevelInfo {
            table,
            sub_in: in_shape[k + 1..].iter().product(),
            sub_out: out_shape[k + 1..].iter().product(),
            deeper_identity,
            repeat: table.and_then(AxisTable::integer_repeat),
            fixed_taps: fixed_taps[k],
            periodic: table
                .filter(|_| k + 1 == rank)
                .and_then(AxisTable::periodic),
            decimate: table
                .filter(|_| k + 1 == rank)
                .and_then(AxisTable::decimating),
            // (a batch of rows ahead of the current output's window must not evict it)
            ring: ring_size(
                table.filter(|_| cached).map_or(1, AxisTable::max_span) + row_batch - 1,
                out_shape[k + 1..].iter().product(),
            ),
            row_batch,
        });
    }
    let ctx = Ctx {
        levels,
        extrapolation,
    };
    let plane_in: usize = in_shape[first..].iter().product();
    let plane_out: usize = out_shape[first..].iter().product();
    let batch: usize = in_shape[..first].iter().product();
    if plane_out == 0 || plane_in == 0 {
        return;
    }

    #[cfg(feature = "rayon")]
    {
        const PAR_BYTES: usize = 1 << 20;
        let threads = rayon::current_num_threads();
        // (the input counts too: a downsampling reads far more than it writes)
        let bytes = std::mem::size_of_val(out).max(std::mem::size_of_val(input));
        if threads > 1 && bytes >= PAR_BYTES {
            use rayon::prelude::*;
            let first_len = ctx.levels[0].table.map_or(1, |t| t.out_len);
            let row_level = ctx.levels.len() == 1;
            if batch >= MIN_PLANE_TASKS * threads || row_level || first_len < 2 {
                let per_task = batch.div_ceil(threads * 4).max(1);
                out.par_chunks_mut(plane_out * per_task)
                    .zip(input.par_chunks(plane_in * per_task))
                    .for_each(|(o, i)| run_planes(&ctx, i, o, plane_in, plane_out));
            } else {
                // few planes (an RGB image, one volume): each plane in bands of the outer
                // axis's outputs, every band with its own ring (a band recomputes the inner
                // rows its first outputs share with the previous band's last)
                let bands = (MIN_PLANE_TASKS * threads).div_ceil(batch).min(first_len);
                let per_band = first_len.div_ceil(bands);
                let so = ctx.levels[0].sub_out;
                let tasks: Vec<(usize, usize, &mut [T])> = out
                    .chunks_exact_mut(plane_out)
                    .enumerate()
                    .flat_map(|(n, plane)| {
                        plane
                            .chunks_mut(per_band * so)
                            .enumerate()
                            .map(move |(b, band)| (n, b * per_band, band))
                    })
                    .collect();
                tasks.into_par_iter().for_each(|(n, o0, band)| {
                    let mut scratch = level_scratch(&ctx);
                    let plane = &input[n * plane_in..(n + 1) * plane_in];
                    level(&ctx, 0, plane, band, o0, &mut scratch);
                });
            }
            finish_outside(out, &out_shape, tables, extrapolation);
            return;
        }
    }
    let _ = batch;
    run_planes(&ctx, input, out, plane_in, plane_out);
    finish_outside(out, &out_shape, tables, extrapolation);
}

/// Tasks per thread below which [`resize_contiguous`] cuts planes into bands.
#[cfg(feature = "rayon")]
const MIN_PLANE_TASKS: usize = 4;

/// Marks the outputs outside on any axis (see [`mark_outside`]) when some table has any.
fn finish_outside<T: Element>(
    out: &mut [T],
    out_shape: &[usize],
    tables: &[Option<AxisTable<T>>],
    extrapolation: T,
) {
    if tables.iter().flatten().any(|t| !t.outside.is_empty()) {
        // an output outside on any axis is exactly the extrapolation value, even where an
        // outer axis interpolated between extrapolated inner rows
        mark_outside(out, out_shape, tables, extrapolation, false);
    }
}

/// Sets every element of `out` (shape `shape`) that some axis marks as outside to `ext`.
fn mark_outside<T: Element>(
    out: &mut [T],
    shape: &[usize],
    tables: &[Option<AxisTable<T>>],
    ext: T,
    inherited: bool,
) {
    if inherited {
        out.fill(ext);
        return;
    }
    let Some((&len, rest)) = shape.split_first() else {
        return;
    };
    let sub: usize = rest.iter().product();
    if sub == 0 {
        return;
    }
    for (o, block) in out.chunks_exact_mut(sub).enumerate().take(len) {
        let outside = tables[0]
            .as_ref()
            .is_some_and(|t| t.outside.get(o).copied().unwrap_or(false));
        mark_outside(block, rest, &tables[1..], ext, outside);
    }
}

/// Resizes consecutive independent planes with one scratch allocation.
fn run_planes<T: Element>(
    ctx: &Ctx<'_, T>,
    input: &[T],
    out: &mut [T],
    plane_in: usize,
    plane_out: usize,
) {
    if let [LevelInfo { table: Some(h), .. }, ref width @ LevelInfo { table: Some(w), .. }] =
        ctx.levels[..]
    {
        // an integer nearest upscale of every plane: the planes' rows are one run of rows
        if let (Some(rh), Some(rw)) = (ctx.levels[0].repeat, width.repeat) {
            let plain = h.outside.is_empty() && w.outside.is_empty();
            if plain && nearest_plane(input, out, w.in_len, rh, rw) {
                return;
            }
        }
        let batched = batches_rows(w, width.fixed_taps);
        if super::small_planes::applies(h, w) && !batched {
            // rows eight at a time side by side in `f32` (through register transposes:
            // 0.71-0.88x the time of a row at a time on 8x8 to 32x32 maps, paired A/B, 11
            // rounds; level to 1.13x in `f64`, which keeps a row at a time)
            let mut lanes = Vec::new();
            // (but for a decimating width, whose own row kernel was 0.6-0.8x the time: 28x31
            // and 64x64 maps x0.5, paired A/B, 11 rounds)
            let together = T::as_f32(&[]).is_some() && width.decimate.is_none();
            let along = |src: &[T], dst: &mut [T]| {
                if together && src.len() == super::small_planes::BLOCK * w.in_len {
                    return rows_together(w, src, w.in_len, &mut lanes, dst);
                }
                for (s, d) in src
                    .chunks_exact(w.in_len)
                    .zip(dst.chunks_exact_mut(w.out_len))
                {
                    row(w, width, s, d, ctx.extrapolation);
                }
            };
            return super::small_planes::run(h, w, along, input, out);
        }
    }
    let mut scratch = level_scratch(ctx);
    if let [LevelInfo {
        table: Some(tab),
        fixed_taps,
        ..
    }] = ctx.levels[..]
    {
        if batches_rows(tab, fixed_taps) {
            // one resized axis: a plane is a row, and eight go together (1-D area and
            // antialiased downsampling of 1024 rows: 0.43x and 0.55x the time)
            let groups = input.len() / (plane_in * ROW_BATCH);
            let mut lanes = Vec::new();
            for (i, o) in input
                .chunks_exact(plane_in * ROW_BATCH)
                .zip(out.chunks_exact_mut(plane_out * ROW_BATCH))
            {
                rows_together(tab, i, plane_in, &mut lanes, o);
            }
            let done = groups * ROW_BATCH;
            for (i, o) in input[done * plane_in..]
                .chunks_exact(plane_in)
                .zip(out[done * plane_out..].chunks_exact_mut(plane_out))
            {
                level(ctx, 0, i, o, 0, &mut scratch);
            }
            return;
        }
    }
    for (i, o) in input
        .chunks_exact(plane_in)
        .zip(out.chunks_exact_mut(plane_out))
    {
        level(ctx, 0, i, o, 0, &mut scratch);
    }
}

/// Fresh scratch for every level of `ctx`.
fn level_scratch<T: Element>(ctx: &Ctx<'_, T>) -> Vec<LevelScratch<T>> {
    ctx.levels
        .iter()
        .map(|l| {
            let cached = l.table.is_some_and(|t| !t.is_nearest()) && !l.deeper_identity;
            if cached {
                LevelScratch {
                    cache: vec![T::zero(); l.ring * l.sub_out],
                    keys: vec![usize::MAX; l.ring],
                    batch: vec![
                        T::zero();
                        if l.row_batch > 1 {
                            l.row_batch * l.sub_out
                        } else {
                            0
                        }
                    ],
                    lanes: Vec::new(),
                }
            } else {
                LevelScratch {
                    cache: Vec::new(),
                    keys: Vec::new(),
                    batch: Vec::new(),
                    lanes: Vec::new(),
                }
            }
        })
        .collect()
}

/// Resizes the block `inp` (axes `k..`) into `out`, which holds this axis's outputs
/// `first..` (all of them below the top level; a band of them in a task of a plane cut into
/// bands).
fn level<T: Element>(
    ctx: &Ctx<'_, T>,
    k: usize,
    inp: &[T],
    out: &mut [T],
    first: usize,
    scratch: &mut [LevelScratch<T>],
) {
    let info = &ctx.levels[k];
    let (lv, rest) = scratch
        .split_first_mut()
        .expect("one scratch level per axis");
    let (si, so) = (info.sub_in, info.sub_out);
    let Some(tab) = info.table else {
        if info.deeper_identity {
            out.copy_from_slice(inp);
        } else {
            for (i, o) in inp.chunks_exact(si).zip(out.chunks_exact_mut(so)) {
                level(ctx, k + 1, i, o, 0, rest);
            }
        }
        return;
    };
    let outputs = first..first + out.len() / so.max(1);
    if k + 1 == ctx.levels.len() {
        // (a row is never cut into bands)
        row(tab, info, inp, out, ctx.extrapolation);
        return;
    }
    // a nearest integer upscale of whole planes (outer axis here, the row innermost): one
    // kernel per plane instead of a call per row
    if k + 2 == ctx.levels.len() && tab.outside.is_empty() && outputs == (0..tab.out_len) {
        let inner = &ctx.levels[k + 1];
        let inner_plain = inner.table.is_some_and(|t| t.outside.is_empty());
        if let (Some(rh), Some(rw), true) = (info.repeat, inner.repeat, inner_plain) {
            if nearest_plane(inp, out, si, rh, rw) {
                return;
            }
        }
    }
    let outside = |o: usize| tab.outside.get(o).copied().unwrap_or(false);
    if tab.is_nearest() {
        for o in outputs {
            let at = (o - first) * so;
            if outside(o) {
                out[at..at + so].fill(ctx.extrapolation);
                continue;
            }
            let i = tab.idx[o];
            if o > first && tab.idx[o - 1] == i && !outside(o - 1) {
                out.copy_within(at - so..at, at);
                continue;
            }
            let src = &inp[i * si..(i + 1) * si];
            let dst = &mut out[at..at + so];
            if info.deeper_identity {
                dst.copy_from_slice(src);
            } else {
                level(ctx, k + 1, src, dst, 0, rest);
            }
        }
        return;
    }
    let ring = info.ring;
    // a new block: cached inner results of the previous block are stale
    lv.keys.fill(usize::MAX);
    for o in outputs {
        let dst = &mut out[(o - first) * so..(o - first + 1) * so];
        if outside(o) {
            dst.fill(ctx.extrapolation);
            continue;
        }
        let taps = tab.offs[o]..tab.offs[o + 1];
        let idx = &tab.idx[taps.clone()];
        let w = &tab.w[taps];
        if info.deeper_identity {
            combine(dst, w, |t| &inp[idx[t] * si..(idx[t] + 1) * si]);
        } else {
            for &i in idx {
                let slot = ring_slot(i, ring);
                if lv.keys[slot] != i && info.row_batch > 1 {
                    // this row and the next ones (the later outputs want them) in one pass
                    let next = ctx.levels[k + 1].table.expect("batched rows have a table");
                    let b = info.row_batch.min(tab.in_len - i);
                    let batch = &mut lv.batch[..b * so];
                    rows_together(next, &inp[i * si..(i + b) * si], si, &mut lv.lanes, batch);
                    for (j, r) in batch.chunks_exact(so).enumerate() {
                        let slot = ring_slot(i + j, ring);
                        lv.keys[slot] = i + j;
                        lv.cache[slot * so..(slot + 1) * so].copy_from_slice(r);
                    }
                } else if lv.keys[slot] != i {
                    lv.keys[slot] = i;
                    let cached = &mut lv.cache[slot * so..(slot + 1) * so];
                    level(ctx, k + 1, &inp[i * si..(i + 1) * si], cached, 0, rest);
                }
            }
            let cache = &lv.cache;
            combine(dst, w, |t| {
                let slot = ring_slot(idx[t], ring);
                &cache[slot * so..(slot + 1) * so]
            });
        }
    }
}

/// Rows whose length is a multiple of this many elements go through [`Combine`] (AVX2). On
/// rows of other lengths (393 and 518: every other 32-byte access crosses a cache line) it was
/// 1.25-1.4x the time of the plain loop, which stays for them.
const COMBINE_ROW_MULTIPLE: usize = 8;

/// `dst = Σ_t w[t] * src(t)`, taps left to right, each element written once (one to four
/// taps on rows of a multiple of [`COMBINE_ROW_MULTIPLE`] through [`Combine`]: paired A/B,
/// 15 rounds, 0.75-0.92x the time on eight resizes, the others level).
#[inline]
fn combine<'s, T: Element>(dst: &mut [T], w: &[T], src: impl Fn(usize) -> &'s [T]) {
    match w.len() {
        0 => dst.fill(T::zero()),
        1..=4 => {
            let srcs: [&[T]; 4] = std::array::from_fn(|t| src(t.min(w.len() - 1)));
            if dst.len() % COMBINE_ROW_MULTIPLE == 0 {
                vectorized(Combine { dst, w, srcs });
            } else {
                combine_few(dst, w, srcs);
            }
        }
        _ => {
            // the first four taps, then one pass per further tap
            let first: [&[T]; 4] = std::array::from_fn(&src);
            let rest = (4..w.len()).map(src);
            vectorized(CombineMany {
                dst,
                w,
                first,
                rest,
            });
        }
    }
}

/// [`combine`] of five or more taps, compiled for the best instruction set.
struct CombineMany<'a, 's, T, R> {
    dst: &'a mut [T],
    w: &'a [T],
    /// The first four taps' rows.
    first: [&'s [T]; 4],
    /// The rows of the taps after the fourth, in order.
    rest: R,
}

impl<'s, T: Element, R: Iterator<Item = &'s [T]>> Kernel for CombineMany<'_, 's, T, R> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let CombineMany {
            dst,
            w,
            first,
            rest,
        } = self;
        combine_few(dst, &w[..4], first);
        for (&wt, src) in w[4..].iter().zip(rest) {
            for (d, &a) in dst.iter_mut().zip(src) {
                *d = *d + wt * a;
            }
        }
    }
}

/// `dst = Σ_t w[t] * srcs[t]` for one to four taps (`srcs` past the taps unused).
#[inline(always)]
fn combine_few<T: Element>(dst: &mut [T], w: &[T], [a, b, c, e]: [&[T]; 4]) {
    match *w {
        [w0] => {
            for (d, &a) in dst.iter_mut().zip(a) {
                *d = w0 * a;
            }
        }
        [w0, w1] => {
            for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                *d = w0 * a + w1 * b;
            }
        }
        [w0, w1, w2] => {
            for (((d, &a), &b), &c) in dst.iter_mut().zip(a).zip(b).zip(c) {
                *d = w0 * a + w1 * b + w2 * c;
            }
        }
        [w0, w1, w2, w3] => {
            for ((((d, &a), &b), &c), &e) in dst.iter_mut().zip(a).zip(b).zip(c).zip(e) {
                *d = w0 * a + w1 * b + w2 * c + w3 * e;
            }
        }
        _ => unreachable!("one to four taps"),
    }
}

/// The innermost axis: one contiguous input row into one output row.
fn row<T: Element>(tab: &AxisTable<T>, info: &LevelInfo<'_, T>, inp: &[T], out: &mut [T], ext: T) {
    if tab.is_nearest() {
        match info.repeat {
            Some(1) => out.copy_from_slice(inp),
            // (in AVX2 through the dispatch: 0.5-0.9x the time of the plain loops, paired A/B)
            Some(2) => vectorized(Repeat::<T, 2> { inp, out }),
            Some(3) => vectorized(Repeat::<T, 3> { inp, out }),
            Some(4) => vectorized(Repeat::<T, 4> { inp, out }),
            Some(8) => vectorized(Repeat::<T, 8> { inp, out }),
            Some(s) => {
                for (d, &v) in out.chunks_exact_mut(s).zip(inp) {
                    d.fill(v);
                }
            }
            None => {
                for (d, &i) in out.iter_mut().zip(&tab.idx) {
                    *d = inp[i];
                }
            }
        }
    } else if let Some(per) = info
        .periodic
        .as_ref()
        .filter(|per| periodic_row(per, inp, &mut *out))
    {
        // outputs before and after the periodic run, one by one
        let (a, b) = (per.period * per.lo, per.period * per.hi);
        fixed_taps_at(tab, per.taps, (0..a).chain(b..tab.out_len), inp, out);
    } else if let Some(dec) = info
        .decimate
        .as_ref()
        .filter(|dec| decimate_row(dec, inp, &mut *out))
    {
        // outputs before and after the decimating run, one by one
        let edges = (0..dec.lo).chain(dec.hi..tab.out_len);
        fixed_taps_at(tab, dec.taps, edges, inp, out);
    } else {
        match info.fixed_taps {
            Some(2) => {
                for ((d, ix), w) in out
                    .iter_mut()
                    .zip(tab.idx.chunks_exact(2))
                    .zip(tab.w.chunks_exact(2))
                {
                    *d = w[0] * inp[ix[0]] + w[1] * inp[ix[1]];
                }
            }
            Some(4) => {
                for ((d, ix), w) in out
                    .iter_mut()
                    .zip(tab.idx.chunks_exact(4))
                    .zip(tab.w.chunks_exact(4))
                {
                    *d = w[0] * inp[ix[0]]
                        + w[1] * inp[ix[1]]
                        + w[2] * inp[ix[2]]
                        + w[3] * inp[ix[3]];
                }
            }
            _ => many_taps(tab, inp, out),
        }
    }
    if !tab.outside.is_empty() {
        for (d, &o) in out.iter_mut().zip(&tab.outside) {
            if o {
                *d = ext;
            }
        }
    }
}

/// Outputs `outputs` of a row through `tab`, whose outputs have `k` taps each: a multiply,
/// then an add per further tap, left to right.
fn fixed_taps_at<T: Element>(
    tab: &AxisTable<T>,
    k: usize,
    outputs: impl Iterator<Item = usize>,
    inp: &[T],
    out: &mut [T],
) {
    for o in outputs {
        let (ix, w) = (&tab.idx[o * k..][..k], &tab.w[o * k..][..k]);
        let mut acc = w[0] * inp[ix[0]];
        for t in 1..k {
            acc = acc + w[t] * inp[ix[t]];
        }
        out[o] = acc;
    }
}

/// Input rows [`rows_together`] resizes at once.
const ROW_BATCH: usize = 8;

/// Whether the innermost axis's `tab` goes through [`rows_together`]: an interpolating table
/// with nothing outside whose outputs do not all have 2 or 4 taps (those have loops of their
/// own in [`row`]; batched, bilinear and bicubic resizes ran 1.1-1.5x the time).
/// `fixed_taps` is `tab.fixed_taps()`, which scans the table.
fn batches_rows<T: Element>(tab: &AxisTable<T>, fixed_taps: Option<usize>) -> bool {
    !tab.is_nearest() && tab.outside.is_empty() && !matches!(fixed_taps, Some(2 | 4))
}

/// The innermost axis for `inp.len() / row_len` consecutive rows (at most [`ROW_BATCH`]) into
/// `out`, row after row: `out[r][o] = Σ_t w[o, t] * inp[r][idx[o, t]]`, taps left to right as
/// in [`row`]. The rows share the table, so each tap's index and weight are read once for all
/// of them, and their sums are independent chains of adds (one row's chain alone waits on
/// each add: antialiased downsampling, 5-9 taps per output, spent 88% of its time there).
/// The rows are first laid side by side (`lanes[i][row]`), so that a tap is one vector
/// multiply and add for all eight rows; in `f32` with AVX2 the transposes in and out go
/// through registers (see [`avx2`]). Paired A/B against the rows read in place (2 threads,
/// 9 rounds): antialiased 0.25x/0.4x/0.5x downsampling 0.71-0.76x the time in `f32`,
/// 0.84-1.05x in `f64`.
fn rows_together<T: Element>(
    tab: &AxisTable<T>,
    inp: &[T],
    row_len: usize,
    lanes: &mut Vec<T>,
    out: &mut [T],
) {
    let rows = inp.len() / row_len.max(1);
    if rows != ROW_BATCH {
        for (r, o) in inp
            .chunks_exact(row_len)
            .zip(out.chunks_exact_mut(tab.out_len))
        {
            many_taps(tab, r, o);
        }
        return;
    }
    if row_len > MAX_LANES_ROW {
        return rows_in_place(tab, inp, row_len, out);
    }
    lanes.resize(ROW_BATCH * row_len, T::zero());
    if avx2::rows_together(tab, inp, row_len, lanes, out) {
        return;
    }
    vectorized(RowsTogether {
        tab,
        inp,
        row_len,
        lanes,
        out,
    });
}

/// Longest row [`rows_together`] lays side by side: the copy of eight such rows is 1 MiB of
/// `f32` (a task's scratch stays bounded for long 1-D signals, whose rows are read in place).
const MAX_LANES_ROW: usize = 1 << 15;

/// [`rows_together`] of [`ROW_BATCH`] rows read where they are: each tap's index and weight
/// once for the eight rows, whose sums are eight independent chains (the same operations per
/// output as [`many_taps`]).
fn rows_in_place<T: Element>(tab: &AxisTable<T>, inp: &[T], row_len: usize, out: &mut [T]) {
    let rows: [&[T]; ROW_BATCH] = std::array::from_fn(|j| &inp[j * row_len..][..row_len]);
    batch_sums(tab, out, |i| std::array::from_fn(|j| rows[j][i]));
}

/// The outputs of [`ROW_BATCH`] rows through `tab` into `out` (row after row), input `i` of
/// every row read by `column(i)`: per output a multiply, then an add per further tap, left
/// to right (the operations of [`many_taps`]), the rows' sums side by side.
#[inline(always)]
fn batch_sums<T: Element>(
    tab: &AxisTable<T>,
    out: &mut [T],
    column: impl Fn(usize) -> [T; ROW_BATCH],
) {
    let out_len = tab.out_len;
    for o in 0..out_len {
        let r = tab.offs[o]..tab.offs[o + 1];
        let (idx, w) = (&tab.idx[r.clone()], &tab.w[r]);
        let mut acc = [T::zero(); ROW_BATCH];
        if let (Some((&i0, idx)), Some((&w0, w))) = (idx.split_first(), w.split_first()) {
            let first = column(i0);
            acc = std::array::from_fn(|j| w0 * first[j]);
            for (&i, &wt) in idx.iter().zip(w) {
                let x = column(i);
                for j in 0..ROW_BATCH {
                    acc[j] = acc[j] + wt * x[j];
                }
            }
        }
        for (j, &v) in acc.iter().enumerate() {
            out[j * out_len + o] = v;
        }
    }
}

/// See [`rows_together`]: [`ROW_BATCH`] rows of `row_len`, side by side in `lanes` first.
struct RowsTogether<'a, T> {
    tab: &'a AxisTable<T>,
    inp: &'a [T],
    row_len: usize,
    lanes: &'a mut [T],
    out: &'a mut [T],
}

impl<T: Element> Kernel for RowsTogether<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        const B: usize = ROW_BATCH;
        let RowsTogether {
            tab,
            inp,
            row_len,
            lanes,
            out,
        } = self;
        // lanes[i * B + j] = row j's element i: one tap of an output is then one contiguous
        // run of B values, the same input position of every row
        let rows: [&[T]; B] = std::array::from_fn(|j| &inp[j * row_len..][..row_len]);
        for (i, l) in lanes.chunks_exact_mut(B).enumerate() {
            *<&mut [T; B]>::try_from(l).expect("B lanes") = std::array::from_fn(|j| rows[j][i]);
        }
        batch_sums(tab, out, |i| {
            <[T; B]>::try_from(&lanes[i * B..][..B]).expect("B lanes")
        });
    }
}

/// [`rows_together`] in `f32` with AVX2: the rows go into `lanes` side by side and the
/// results back into rows through 8 x 8 transposes in registers (the plain loops move them
/// one value at a time). The same operations per output as [`many_taps`]: a multiply, then
/// an add per further tap, left to right.
mod avx2 {
    use super::{AxisTable, ROW_BATCH};
    use crate::element::Element;

    /// Runs [`rows_together`](super::rows_together)'s batch of [`ROW_BATCH`] rows and returns
    /// `true`, or returns `false` having written nothing (not `f32`, no AVX2, not x86-64).
    pub(super) fn rows_together<T: Element>(
        tab: &AxisTable<T>,
        inp: &[T],
        row_len: usize,
        lanes: &mut [T],
        out: &mut [T],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let Some(simd) = pulp::x86::V3::try_new() else {
                return false;
            };
            let (Some(w), Some(inp), Some(lanes), Some(out)) = (
                T::as_f32(&tab.w),
                T::as_f32(inp),
                T::as_f32_mut(lanes),
                T::as_f32_mut(out),
            ) else {
                return false;
            };
            simd.vectorize(kernel::Batch {
                simd,
                offs: &tab.offs,
                idx: &tab.idx,
                w,
                inp,
                row_len,
                lanes,
                out,
            });
            true
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (tab, inp, row_len, lanes, out);
            false
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod kernel {
        use super::ROW_BATCH;
        use crate::kernels::simd::transpose8;
        use pulp::x86::V3;
        use pulp::{cast, f32x8};
        use std::arch::x86_64::__m256;

        const _: () = assert!(ROW_BATCH == 8, "one AVX register holds the batch");

        /// Eight rows of `row_len` (`inp`) through one table into eight rows of outputs.
        pub(super) struct Batch<'a> {
            pub(super) simd: V3,
            pub(super) offs: &'a [usize],
            pub(super) idx: &'a [usize],
            pub(super) w: &'a [f32],
            pub(super) inp: &'a [f32],
            pub(super) row_len: usize,
            pub(super) lanes: &'a mut [f32],
            pub(super) out: &'a mut [f32],
        }

        impl pulp::NullaryFnOnce for Batch<'_> {
            type Output = ();

            #[inline(always)]
            fn call(self) {
                let Batch {
                    simd,
                    offs,
                    idx,
                    w,
                    inp,
                    row_len,
                    lanes,
                    out,
                } = self;
                let load = |s: &[f32]| -> f32x8 { cast(<[f32; 8]>::try_from(&s[..8]).expect("8")) };
                // lanes[8i + j] = row j's element i, eight positions per transpose
                let blocks = row_len / 8;
                for b in 0..blocks {
                    let rows: [__m256; 8] =
                        std::array::from_fn(|j| cast(load(&inp[j * row_len + 8 * b..])));
                    for (i, v) in transpose8(simd, rows).iter().enumerate() {
                        let v: [f32; 8] = cast(*v);
                        lanes[8 * (8 * b + i)..][..8].copy_from_slice(&v);
                    }
                }
                for i in 8 * blocks..row_len {
                    for j in 0..8 {
                        lanes[8 * i + j] = inp[j * row_len + i];
                    }
                }
                // output o of all eight rows at once; each eight outputs transposed back
                // into the rows
                let out_len = offs.len() - 1;
                let zero = simd.splat_f32x8(0.0);
                let mut done = [zero; 8];
                for o in 0..out_len {
                    let taps = offs[o]..offs[o + 1];
                    let mut acc = zero;
                    for (t, (&i, &wt)) in idx[taps.clone()].iter().zip(&w[taps]).enumerate() {
                        let term = simd.mul_f32x8(simd.splat_f32x8(wt), load(&lanes[8 * i..]));
                        acc = if t == 0 {
                            term
                        } else {
                            simd.add_f32x8(acc, term)
                        };
                    }
                    done[o % 8] = acc;
                    if o % 8 == 7 {
                        let rows = transpose8(simd, done.map(cast));
                        for (j, v) in rows.iter().enumerate() {
                            let v: [f32; 8] = cast(*v);
                            out[j * out_len + o - 7..][..8].copy_from_slice(&v);
                        }
                    }
                }
                let tail = out_len % 8;
                for (k, v) in done[..tail].iter().enumerate() {
                    let v: [f32; 8] = cast(*v);
                    for (j, &x) in v.iter().enumerate() {
                        out[j * out_len + out_len - tail + k] = x;
                    }
                }
            }
        }
    }
}

/// One row through any table (the general case of [`row`]).
fn many_taps<T: Element>(tab: &AxisTable<T>, inp: &[T], out: &mut [T]) {
    for (o, d) in out.iter_mut().enumerate() {
        let r = tab.offs[o]..tab.offs[o + 1];
        let mut acc = T::zero();
        for (n, (&i, &w)) in tab.idx[r.clone()].iter().zip(&tab.w[r]).enumerate() {
            acc = if n == 0 { w * inp[i] } else { acc + w * inp[i] };
        }
        *d = acc;
    }
}

/// Runs the decimating run of `dec` (outputs `lo..hi` of the row) through [`DecimateRow`]
/// compiled for the best instruction set, and returns `true`; `false`, having written
/// nothing, for a step and tap count it has no kernel for.
fn decimate_row<T: Element>(dec: &Decimate<T>, inp: &[T], out: &mut [T]) -> bool {
    fn go<T: Element, const S: usize, const K: usize>(
        dec: &Decimate<T>,
        inp: &[T],
        out: &mut [T],
    ) -> bool {
        let n = dec.hi - dec.lo;
        vectorized(DecimateRow::<T, S, K> {
            src: &inp[dec.start..dec.start + S * n],
            w: std::array::from_fn(|t| dec.w[t]),
            out: &mut out[dec.lo..dec.hi],
        });
        true
    }
    match (dec.step, dec.taps) {
        (2, 2) => go::<T, 2, 2>(dec, inp, out),
        (3, 2) => go::<T, 3, 2>(dec, inp, out),
        (3, 3) => go::<T, 3, 3>(dec, inp, out),
        (4, 2) => go::<T, 4, 2>(dec, inp, out),
        (4, 3) => go::<T, 4, 3>(dec, inp, out),
        (4, 4) => go::<T, 4, 4>(dec, inp, out),
        _ => false,
    }
}

/// `out[j] = sum_t w[t] * src[S*j + t]`, taps left to right (the table's order: the same bits
/// as [`row`]'s general loop): whole steps of the row read in order instead of a gather per
/// tap.
struct DecimateRow<'a, T, const S: usize, const K: usize> {
    src: &'a [T],
    w: [T; K],
    out: &'a mut [T],
}

impl<T: Element, const S: usize, const K: usize> Kernel for DecimateRow<'_, T, S, K> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let DecimateRow { src, w, out } = self;
        for (o, step) in out.iter_mut().zip(src.chunks_exact(S)) {
            let step: &[T; S] = step.try_into().expect("S inputs");
            let mut acc = w[0] * step[0];
            for t in 1..K {
                acc = acc + w[t] * step[t];
            }
            *o = acc;
        }
    }
}

/// Runs the periodic run of `per` (outputs `period*lo..period*hi` of the row) through
/// [`PeriodicRow`] compiled for the best instruction set, and returns `true`; `false`, having
/// written nothing, for a period and tap count it has no kernel for.
fn periodic_row<T: Element>(per: &Periodic<T>, inp: &[T], out: &mut [T]) -> bool {
    fn go<T: Element, const S: usize, const K: usize>(
        per: &Periodic<T>,
        inp: &[T],
        out: &mut [T],
    ) -> bool {
        let n = per.hi - per.lo;
        // src[p][t][j - lo] = inp[j + off]: every index was one of the table's, so each
        // shifted run lies inside the row
        let src: [[&[T]; K]; S] = std::array::from_fn(|p| {
            std::array::from_fn(|t| {
                let first = (per.lo as isize + per.off[p * K + t]) as usize;
                &inp[first..first + n]
            })
        });
        let w: [[T; K]; S] = std::array::from_fn(|p| std::array::from_fn(|t| per.w[p * K + t]));
        vectorized(PeriodicRow {
            src,
            w,
            out: &mut out[S * per.lo..S * per.hi],
        });
        true
    }
    match (per.period, per.taps) {
        (2, 2) => go::<T, 2, 2>(per, inp, out),
        (3, 2) => go::<T, 3, 2>(per, inp, out),
        (4, 2) => go::<T, 4, 2>(per, inp, out),
        (8, 2) => go::<T, 8, 2>(per, inp, out),
        (2, 4) => go::<T, 2, 4>(per, inp, out),
        (3, 4) => go::<T, 3, 4>(per, inp, out),
        (4, 4) => go::<T, 4, 4>(per, inp, out),
        _ => false,
    }
}

/// `out[S*j + p] = sum_t w[p][t] * src[p][t][j]`, taps left to right (the table's order, so
/// the same bits as [`row`]'s general loop): contiguous reads of shifted runs of the input
/// row instead of a gather per output.
struct PeriodicRow<'a, T, const S: usize, const K: usize> {
    src: [[&'a [T]; K]; S],
    w: [[T; K]; S],
    out: &'a mut [T],
}

impl<T: Element, const S: usize, const K: usize> Kernel for PeriodicRow<'_, T, S, K> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let PeriodicRow { src, w, out } = self;
        let n = out.len() / S;
        assert!(
            src.iter().flatten().all(|s| s.len() == n),
            "runs of the row"
        );
        for (j, o) in out.chunks_exact_mut(S).enumerate() {
            for p in 0..S {
                let mut acc = w[p][0] * src[p][0][j];
                for t in 1..K {
                    acc = acc + w[p][t] * src[p][t][j];
                }
                o[p] = acc;
            }
        }
    }
}

/// Nearest upscale by `S` along a row: every input `S` times.
struct Repeat<'a, T, const S: usize> {
    inp: &'a [T],
    out: &'a mut [T],
}

impl<T: Element, const S: usize> Kernel for Repeat<'_, T, S> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        repeat_row::<T, S>(self.inp, self.out);
    }
}

/// Every input of `inp` `S` times into `out`.
#[inline(always)]
fn repeat_row<T: Element, const S: usize>(inp: &[T], out: &mut [T]) {
    for (d, &v) in out.chunks_exact_mut(S).zip(inp) {
        *<&mut [T; S]>::try_from(d).expect("S outputs") = [v; S];
    }
}

/// A plane upscaled by integer factors `rh` (rows) and `rw` (along each row, 2, 3, 4 or 8)
/// by nearest: each input row repeated `rw` times along the row into the first of its `rh`
/// output rows, then that row copied into the others, all in one [`NearestPlane`] kernel.
/// A run of planes goes as one (their rows are one run of rows): on 7x7 to 16x16 maps
/// 0.78-0.9x the time of a kernel per plane (paired A/B, 15 rounds), level on large ones.
/// Returns `false`, having written nothing, for a factor it has no kernel for.
fn nearest_plane<T: Element>(inp: &[T], out: &mut [T], w_in: usize, rh: usize, rw: usize) -> bool {
    fn go<T: Element, const S: usize>(inp: &[T], out: &mut [T], w_in: usize, rh: usize) -> bool {
        vectorized(NearestPlane::<T, S> { inp, out, w_in, rh });
        true
    }
    match rw {
        2 => go::<T, 2>(inp, out, w_in, rh),
        3 => go::<T, 3>(inp, out, w_in, rh),
        4 => go::<T, 4>(inp, out, w_in, rh),
        8 => go::<T, 8>(inp, out, w_in, rh),
        _ => false,
    }
}

/// See [`nearest_plane`].
struct NearestPlane<'a, T, const S: usize> {
    inp: &'a [T],
    out: &'a mut [T],
    w_in: usize,
    rh: usize,
}

impl<T: Element, const S: usize> Kernel for NearestPlane<'_, T, S> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let NearestPlane { inp, out, w_in, rh } = self;
        let w_out = S * w_in;
        for (src, rows) in inp.chunks_exact(w_in).zip(out.chunks_exact_mut(w_out * rh)) {
            let (first, rest) = rows.split_at_mut(w_out);
            repeat_row::<T, S>(src, first);
            for row in rest.chunks_exact_mut(w_out) {
                for (d, &v) in row.iter_mut().zip(&*first) {
                    *d = v;
                }
            }
        }
    }
}

/// [`combine`] of one to four taps, compiled for the best instruction set (the same
/// operations in the same order on every one).
struct Combine<'a, 's, T> {
    dst: &'a mut [T],
    w: &'a [T],
    /// The taps' rows (past the taps unused: they repeat the last).
    srcs: [&'s [T]; 4],
}

impl<T: Element> Kernel for Combine<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        combine_few(self.dst, self.w, self.srcs);
    }
}
