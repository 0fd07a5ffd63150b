//! Per-thread scratch memory, reused from call to call.
//!
//! Kernels tile their im2col / column / GEMM-output buffers (at most 8 MiB of `f32` each, see
//! [`super::tile_rows`]), and each task takes two vectors from its thread's cache instead of
//! allocating and zero-filling fresh ones. A vector over [`KEEP_LIMIT`] elements is dropped
//! after use, so an idle thread holds a bounded amount.

use crate::Element;

/// Largest vector (elements) kept cached per thread and slot: 16 MiB of `f32`.
const KEEP_LIMIT: usize = 1 << 22;

/// Runs `f` with this thread's two scratch vectors (contents unspecified: callers clear,
/// resize or overwrite them). Falls back to fresh vectors when the cache is unavailable
/// (during thread teardown, or when a caller up the stack holds it).
pub(crate) fn with_scratch<T: Element, R>(f: impl FnOnce(&mut Vec<T>, &mut Vec<T>) -> R) -> R {
    let mut taken = T::scratch()
        .try_with(|cell| {
            cell.try_borrow_mut()
                .map(|mut v| std::mem::take(&mut *v))
                .ok()
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    let [a, b] = &mut taken;
    let r = f(a, b);
    for v in taken.iter_mut() {
        if v.capacity() > KEEP_LIMIT {
            *v = Vec::new();
        }
    }
    let _ = T::scratch().try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = taken;
        }
    });
    r
}

/// The first `n` elements of `v`, growing it (with zeros) when it is shorter. Old contents
/// stay: callers overwrite what they read.
pub(crate) fn sized<T: Element>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        // exactly `n`, not the doubling `resize` would do: scratch stays within its budget
        v.reserve_exact(n - v.len());
        v.resize(n, T::zero());
    }
    &mut v[..n]
}
