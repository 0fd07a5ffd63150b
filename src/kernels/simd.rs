//! Runtime instruction-set dispatch for the hand-written (non-GEMM) loops.
//!
//! The crate is compiled for the baseline target (SSE2 on x86-64), so a plain loop runs four
//! `f32` lanes at a time even on an AVX2 machine. [`vectorized`] runs a [`Kernel`] inside a
//! function compiled for the best instruction set the CPU reports (AVX2 + FMA on x86-64 when
//! present, through the `pulp` crate's safe dispatch), so the same loops autovectorise eight
//! lanes wide. The arithmetic is the same IEEE operations in the same order per element (no
//! contraction into fused multiply-adds, no reassociation), so results do not depend on the
//! instruction set. Kernels that want fused multiply-adds call `mul_add` explicitly: one
//! rounding on every CPU (a library call, slower, on one without FMA).
//!
//! For the wide code to be generated, the kernel body must be inlined into the dispatched
//! function: [`Kernel::run`] and everything it calls in the hot loop are
//! `#[inline(always)]`. (A closure does not do: its call shim is not inlined once the body is
//! large, and the loops stay SSE2.)

/// A loop nest run through [`vectorized`]. Implementations mark `run` `#[inline(always)]`.
pub(crate) trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

struct Dispatch<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatch<K> {
    type Output = K::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> K::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the best instruction set available at run time.
pub(crate) fn vectorized<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatch(kernel))
}

/// The 8 x 8 transpose of eight AVX registers (`rows[i]` lane `j` becomes lane `i` of the
/// result's register `j`): pairs, then quads, then 128-bit halves.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn transpose8(
    simd: pulp::x86::V3,
    rows: [std::arch::x86_64::__m256; 8],
) -> [std::arch::x86_64::__m256; 8] {
    let avx = simd.avx;
    let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
    let t0 = avx._mm256_unpacklo_ps(r0, r1);
    let t1 = avx._mm256_unpackhi_ps(r0, r1);
    let t2 = avx._mm256_unpacklo_ps(r2, r3);
    let t3 = avx._mm256_unpackhi_ps(r2, r3);
    let t4 = avx._mm256_unpacklo_ps(r4, r5);
    let t5 = avx._mm256_unpackhi_ps(r4, r5);
    let t6 = avx._mm256_unpacklo_ps(r6, r7);
    let t7 = avx._mm256_unpackhi_ps(r6, r7);
    let u0 = avx._mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = avx._mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = avx._mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = avx._mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = avx._mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = avx._mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = avx._mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = avx._mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        avx._mm256_permute2f128_ps::<0x20>(u0, u4),
        avx._mm256_permute2f128_ps::<0x20>(u1, u5),
        avx._mm256_permute2f128_ps::<0x20>(u2, u6),
        avx._mm256_permute2f128_ps::<0x20>(u3, u7),
        avx._mm256_permute2f128_ps::<0x31>(u0, u4),
        avx._mm256_permute2f128_ps::<0x31>(u1, u5),
        avx._mm256_permute2f128_ps::<0x31>(u2, u6),
        avx._mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}
