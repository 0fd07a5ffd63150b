//! The nearest and linear tables of `f32` tensors, eight outputs at a time.
//!
//! A long axis (a 1-D signal of a million samples) spends more time building its table than
//! resizing through it, so the two most common builders have vectorised loops here: the
//! same `f32` operations per output as their definitions in `tables.rs` (which the tests
//! compare them with bit for bit), run through AVX2 where the CPU has it and otherwise
//! through [`vectorized`]. The AVX2 loops exist because a plain loop's saturating
//! `f32 -> i32` casts stay scalar; here the coordinate is clamped into range in `f32` first,
//! which gives the definition's index (floor, then clamp into `0..in_len`) for every input,
//! NaN included (`max(NaN, 0)` is 0 in both).

use std::ops::Range;

use super::tables::NearestRule;
use crate::kernels::simd::{vectorized, Kernel};

/// Below 2^31 (and a multiple of 128, so exact in `f32`): the clamp before `f32 -> i32`.
#[cfg(target_arch = "x86_64")]
const BELOW_I32_MAX: f32 = 2_147_483_520.0;

/// The input index of every output `o` in `outs` under `rule`, clamped into `0..in_len`.
/// `None` where outputs or inputs reach 2^31 (the loops count in `i32`).
pub(super) fn nearest_indices(
    scale: f32,
    rule: NearestRule,
    outs: Range<usize>,
    in_len: usize,
) -> Option<Vec<usize>> {
    if outs.end > i32::MAX as usize || in_len == 0 || in_len > i32::MAX as usize {
        return None;
    }
    let mut idx = vec![0; outs.len()];
    let (first, last) = (outs.start as i32, in_len as i32 - 1);
    let rule = match rule {
        NearestRule::Floor => 0,
        NearestRule::HalfPixel { fused: false } => 1,
        NearestRule::HalfPixel { fused: true } => 2,
    };
    // (the AVX2 loop takes whole blocks of eight, the portable loop the rest)
    let done = avx2::nearest(scale, rule, first, last, &mut idx);
    let job = Nearest {
        scale,
        rule,
        first: first + done as i32,
        last,
        idx: &mut idx[done..],
    };
    vectorized(job);
    Some(idx)
}

/// See [`nearest_indices`]; `rule` 0 is [`NearestRule::Floor`], 1 and 2 the half-pixel rule
/// unfused and fused.
struct Nearest<'a> {
    scale: f32,
    rule: u8,
    first: i32,
    last: i32,
    idx: &'a mut [usize],
}

impl Kernel for Nearest<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            scale,
            rule,
            first,
            last,
            idx,
        } = self;
        for (k, d) in (0..).zip(idx.iter_mut()) {
            // `o as f32` rounds as the definition's `usize -> f32` does; `floor() as i32`
            // saturates (NaN to 0) where the definition's `i64` is clamped the same way
            let o = (first + k) as f32;
            let r = match rule {
                0 => scale * o,
                1 => {
                    let src = scale * (o + 0.5) - 0.5;
                    (if src < 0.0 { 0.0 } else { src }) + 0.5
                }
                _ => scale.mul_add(o + 0.5, -0.5).max(0.0) + 0.5,
            };
            *d = (r.floor() as i32).clamp(0, last) as usize;
        }
    }
}

/// The two taps of outputs `first..first + idx.len() / 2` of a linear table
/// (`tables::torch_linear` with `out != in`) into `idx` and `w`. `false`, having written
/// nothing, where outputs or inputs reach 2^31.
pub(super) fn linear_taps(
    scale: f32,
    align_corners: bool,
    first: usize,
    in_len: usize,
    idx: &mut [usize],
    w: &mut [f32],
) -> bool {
    let end = first + idx.len() / 2;
    if end > i32::MAX as usize || in_len == 0 || in_len > i32::MAX as usize {
        return false;
    }
    let (first, last) = (first as i32, in_len as i32 - 1);
    let done = avx2::linear(scale, align_corners, first, last, idx, w);
    vectorized(Linear {
        scale,
        align_corners,
        first: first + done as i32,
        last,
        idx: &mut idx[2 * done..],
        w: &mut w[2 * done..],
    });
    true
}

/// See [`linear_taps`].
struct Linear<'a> {
    scale: f32,
    align_corners: bool,
    first: i32,
    last: i32,
    idx: &'a mut [usize],
    w: &'a mut [f32],
}

impl Kernel for Linear<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            scale,
            align_corners,
            first,
            last,
            idx,
            w,
        } = self;
        for ((k, i), w) in (0..)
            .zip(idx.chunks_exact_mut(2))
            .zip(w.chunks_exact_mut(2))
        {
            let o = (first + k) as f32;
            // the source coordinate (half-pixel: clamped at 0), then
            // i0 = min(floor(r), in - 1), λ = clamp(r - i0, 0, 1), i1 = min(i0 + 1, in - 1)
            let r = if align_corners {
                scale * o
            } else {
                let src = scale * (o + 0.5) - 0.5;
                if src < 0.0 {
                    0.0
                } else {
                    src
                }
            };
            let i0 = (r.floor() as i32).min(last);
            // (not `clamp`: a NaN coordinate gives λ = 0, as in the definition)
            #[allow(clippy::manual_clamp)]
            let lambda = (r - i0 as f32).max(0.0).min(1.0);
            let i0 = i0.max(0);
            let i1 = if i0 < last { i0 + 1 } else { i0 };
            i[0] = i0 as usize;
            i[1] = i1 as usize;
            w[0] = 1.0 - lambda;
            w[1] = lambda;
        }
    }
}

/// The AVX2 loops: each returns how many outputs it wrote (whole blocks of eight from the
/// start; 0 without AVX2).
mod avx2 {
    #[cfg(target_arch = "x86_64")]
    use super::BELOW_I32_MAX;

    /// Nearest indices (`rule` as in [`super::Nearest`]).
    pub(super) fn nearest(scale: f32, rule: u8, first: i32, last: i32, idx: &mut [usize]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            let blocks = idx.len() / 8;
            simd.vectorize(Nearest {
                simd,
                scale,
                rule,
                first,
                last,
                idx: &mut idx[..8 * blocks],
            });
            return 8 * blocks;
        }
        let _ = (scale, rule, first, last, idx);
        0
    }

    /// Linear taps (see [`super::Linear`]).
    pub(super) fn linear(
        scale: f32,
        align_corners: bool,
        first: i32,
        last: i32,
        idx: &mut [usize],
        w: &mut [f32],
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            let blocks = idx.len() / 16;
            simd.vectorize(Linear {
                simd,
                scale,
                align_corners,
                first,
                last,
                idx: &mut idx[..16 * blocks],
                w: &mut w[..16 * blocks],
            });
            return 8 * blocks;
        }
        let _ = (scale, align_corners, first, last, idx, w);
        0
    }

    /// Outputs `first .. first + 8` as `f32` (rounded as `o as f32` rounds).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn outputs(simd: pulp::x86::V3, first: i32) -> std::arch::x86_64::__m256 {
        let (avx, avx2) = (simd.avx, simd.avx2);
        let step = avx._mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        avx._mm256_cvtepi32_ps(avx2._mm256_add_epi32(avx._mm256_set1_epi32(first), step))
    }

    /// `clamp(floor(r), 0, last)` per lane, NaN to 0: the coordinate is clamped in `f32`
    /// before the conversion, which then cannot overflow.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn floor_index(
        simd: pulp::x86::V3,
        r: std::arch::x86_64::__m256,
        last: std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i {
        use std::arch::x86_64::{_MM_FROUND_NO_EXC, _MM_FROUND_TO_NEG_INF};
        const FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
        let (avx, avx2) = (simd.avx, simd.avx2);
        let fl = avx._mm256_round_ps::<FLOOR>(r);
        // (`max` returns its second operand for a NaN)
        let fl = avx._mm256_max_ps(fl, avx._mm256_setzero_ps());
        let fl = avx._mm256_min_ps(fl, avx._mm256_set1_ps(BELOW_I32_MAX));
        avx2._mm256_min_epi32(avx._mm256_cvttps_epi32(fl), last)
    }

    #[cfg(target_arch = "x86_64")]
    struct Nearest<'a> {
        simd: pulp::x86::V3,
        scale: f32,
        rule: u8,
        first: i32,
        last: i32,
        idx: &'a mut [usize],
    }

    #[cfg(target_arch = "x86_64")]
    impl pulp::NullaryFnOnce for Nearest<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Nearest {
                simd,
                scale,
                rule,
                first,
                last,
                idx,
            } = self;
            let (avx, fma) = (simd.avx, simd.fma);
            let f = |v: f32| avx._mm256_set1_ps(v);
            let (scale_v, half, zero) = (f(scale), f(0.5), f(0.0));
            let last_v = avx._mm256_set1_epi32(last);
            for (b, block) in idx.chunks_exact_mut(8).enumerate() {
                let o = outputs(simd, first + 8 * b as i32);
                let r = match rule {
                    0 => avx._mm256_mul_ps(scale_v, o),
                    1 => {
                        let src = avx._mm256_mul_ps(scale_v, avx._mm256_add_ps(o, half));
                        let src = avx._mm256_sub_ps(src, half);
                        // max(src, 0): `src < 0 ? 0 : src`, NaN to 0 (floored to 0 anyway)
                        avx._mm256_add_ps(avx._mm256_max_ps(src, zero), half)
                    }
                    _ => {
                        let neg_half = f(-0.5);
                        let src =
                            fma._mm256_fmadd_ps(scale_v, avx._mm256_add_ps(o, half), neg_half);
                        avx._mm256_add_ps(avx._mm256_max_ps(src, zero), half)
                    }
                };
                let i: [i32; 8] = pulp::cast(floor_index(simd, r, last_v));
                for (d, &v) in block.iter_mut().zip(&i) {
                    *d = v as usize;
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    struct Linear<'a> {
        simd: pulp::x86::V3,
        scale: f32,
        align_corners: bool,
        first: i32,
        last: i32,
        idx: &'a mut [usize],
        w: &'a mut [f32],
    }

    #[cfg(target_arch = "x86_64")]
    impl pulp::NullaryFnOnce for Linear<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Linear {
                simd,
                scale,
                align_corners,
                first,
                last,
                idx,
                w,
            } = self;
            let (avx, avx2) = (simd.avx, simd.avx2);
            let f = |v: f32| avx._mm256_set1_ps(v);
            let (scale_v, half, zero, one) = (f(scale), f(0.5), f(0.0), f(1.0));
            let last_v = avx._mm256_set1_epi32(last);
            let one_i = avx._mm256_set1_epi32(1);
            for (b, (ix, wt)) in idx
                .chunks_exact_mut(16)
                .zip(w.chunks_exact_mut(16))
                .enumerate()
            {
                let o = outputs(simd, first + 8 * b as i32);
                let r = if align_corners {
                    avx._mm256_mul_ps(scale_v, o)
                } else {
                    let src = avx._mm256_mul_ps(scale_v, avx._mm256_add_ps(o, half));
                    // `src < 0 ? 0 : src`; a NaN (kept by the definition) gives index 0 and
                    // λ = 0 there, as 0 does here
                    avx._mm256_max_ps(avx._mm256_sub_ps(src, half), zero)
                };
                let i0 = floor_index(simd, r, last_v);
                let lambda = avx._mm256_sub_ps(r, avx._mm256_cvtepi32_ps(i0));
                let lambda = avx._mm256_min_ps(avx._mm256_max_ps(lambda, zero), one);
                let i1 = avx2._mm256_min_epi32(avx2._mm256_add_epi32(i0, one_i), last_v);
                let w0 = avx._mm256_sub_ps(one, lambda);
                let (i0, i1): ([i32; 8], [i32; 8]) = (pulp::cast(i0), pulp::cast(i1));
                let (w0, w1): ([f32; 8], [f32; 8]) = (pulp::cast(w0), pulp::cast(lambda));
                for k in 0..8 {
                    ix[2 * k] = i0[k] as usize;
                    ix[2 * k + 1] = i1[k] as usize;
                    wt[2 * k] = w0[k];
                    wt[2 * k + 1] = w1[k];
                }
            }
        }
    }
}
