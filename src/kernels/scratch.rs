//! Per-thread scratch memory, reused from call to call.
//!
//! Kernels tile their im2col / column / GEMM-output buffers (at most 8 MiB of `f32` each, see
//! [`super::tile_rows`]), and each task takes two vectors from its thread's cache instead of
//! allocating and zero-filling fresh ones; a call's weight copy takes a third. A vector over [`KEEP_LIMIT`] elements is dropped
//! after use, so an idle thread holds a bounded amount.

use crate::Element;

/// Largest vector (elements) kept cached per thread and slot: 16 MiB of `f32`.
const KEEP_LIMIT: usize = 1 << 22;

/// Runs `f` with this thread's two scratch vectors (contents unspecified: callers clear,
/// resize or overwrite them). Falls back to fresh vectors when the cache is unavailable
/// (during thread teardown, or when a caller up the stack holds it).
pub(crate) fn with_scratch<T: Element, R>(f: impl FnOnce(&mut Vec<T>, &mut Vec<T>) -> R) -> R {
    let [mut a, mut b] = [0, 1].map(take::<T>);
    let r = f(&mut a, &mut b);
    put_back(0, a);
    put_back(1, b);
    r
}

/// Runs `f` with this thread's vector for a call's weight copy (contents unspecified, as in
/// [`with_scratch`]): a copy made per call in a fresh buffer of a few MiB page-faulted on
/// every call (a tenth to a fifth of a small layer's time through the function).
pub(crate) fn with_weight_scratch<T: Element, R>(f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    let mut v = take::<T>(2);
    let r = f(&mut v);
    put_back(2, v);
    r
}

/// Slot `i` of this thread's cache, left empty (an empty vector when unavailable).
fn take<T: Element>(i: usize) -> Vec<T> {
    T::scratch()
        .try_with(|cell| {
            cell.try_borrow_mut()
                .map(|mut v| std::mem::take(&mut v[i]))
                .ok()
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Returns `v` to slot `i` of this thread's cache (dropped when over [`KEEP_LIMIT`]).
fn put_back<T: Element>(i: usize, v: Vec<T>) {
    if v.capacity() > KEEP_LIMIT {
        return;
    }
    let _ = T::scratch().try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            slot[i] = v;
        }
    });
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
