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
