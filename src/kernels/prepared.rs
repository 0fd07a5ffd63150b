//! What a [`crate::ConvTransposeLayer`] keeps between calls: forms of its weight that the
//! kernels would otherwise rebuild on every call, each made by the first call that wants it.
//!
//! Every form depends only on the weight and the layer's groups (never on an input's size),
//! so one copy serves every later call. A `OnceLock` per form lets threads sharing the layer
//! read a form without locking once it exists; a layer whose calls never want a form holds
//! none of it.
//!
//! A form's maker must not run rayon tasks: a worker waiting inside `get_or_init` for its
//! own tasks may steal another call of the same layer (a caller's parallel loop over inputs)
//! and enter the same `OnceLock` again, which deadlocks. Every maker here is sequential; it
//! runs once per layer.

use std::sync::OnceLock;

use super::panels::Panels;
use super::subpixel::PhaseWeights;
use crate::problem::Problem;
use crate::Element;

/// The prepared forms of one layer's weight.
pub(crate) struct Prepared<T> {
    /// 16-row panels for few-column GEMM + col2im products ([`super::panels`]).
    panels: OnceLock<Panels<T>>,
    /// GEMM + col2im's transposed weight, `[g][C_out/g * taps][C_in/g]`.
    transposed: OnceLock<Vec<T>>,
    /// The stride-1 path's flipped kernel, `[C_out][C_in/g][taps reversed]`.
    flipped: OnceLock<Vec<T>>,
    /// The direct tiles' weight, `[g][channel block][kh][kw][C_in/g][co]` ([`super::direct`]).
    direct: OnceLock<Vec<T>>,
    /// The Winograd-transformed kernel: the stride-1 path's flipped kernel
    /// ([`super::winograd`]), or for a strided layer its stacked phases
    /// ([`super::phase_stack`]); a layer's strides are fixed, so it only ever wants one.
    winograd: OnceLock<Vec<T>>,
    /// The stride-1 path's flipped kernel reordered for the row-shift lowering
    /// ([`super::conv::lowered_weight`]).
    row_shift: OnceLock<Vec<T>>,
    /// The sub-pixel path's phase weights ([`super::subpixel`]).
    subpixel: OnceLock<PhaseWeights<T>>,
}

impl<T: Element> Prepared<T> {
    /// Nothing prepared yet.
    pub(crate) fn new() -> Self {
        Prepared {
            panels: OnceLock::new(),
            transposed: OnceLock::new(),
            flipped: OnceLock::new(),
            direct: OnceLock::new(),
            winograd: OnceLock::new(),
            row_shift: OnceLock::new(),
            subpixel: OnceLock::new(),
        }
    }

    /// The panels of `w` for the groups and channels of `p` (every call of one layer has the
    /// same), packed on first use.
    pub(crate) fn panels(&self, w: &[T], p: &Problem) -> &Panels<T> {
        self.panels.get_or_init(|| Panels::pack(w, p))
    }

    /// The transposed weight, made by `make` on first use.
    pub(crate) fn transposed(&self, make: impl FnOnce() -> Vec<T>) -> &[T] {
        self.transposed.get_or_init(make)
    }

    /// The flipped kernel, made by `make` on first use.
    pub(crate) fn flipped(&self, make: impl FnOnce() -> Vec<T>) -> &[T] {
        self.flipped.get_or_init(make)
    }

    /// The direct tiles' weight, made by `make` on first use.
    pub(crate) fn direct(&self, make: impl FnOnce() -> Vec<T>) -> &[T] {
        self.direct.get_or_init(make)
    }

    /// The Winograd-transformed kernel (see the field), made by `make` on first use.
    pub(crate) fn winograd(&self, make: impl FnOnce() -> Vec<T>) -> &[T] {
        self.winograd.get_or_init(make)
    }

    /// The row-shift kernel, made by `make` on first use.
    pub(crate) fn row_shift(&self, make: impl FnOnce() -> Vec<T>) -> &[T] {
        self.row_shift.get_or_init(make)
    }

    /// The sub-pixel phase weights, made by `make` on first use.
    pub(crate) fn subpixel(&self, make: impl FnOnce() -> PhaseWeights<T>) -> &PhaseWeights<T> {
        self.subpixel.get_or_init(make)
    }

    /// Elements held in all forms made so far.
    pub(crate) fn held(&self) -> usize {
        self.panels.get().map_or(0, Panels::len)
            + self.transposed.get().map_or(0, Vec::len)
            + self.flipped.get().map_or(0, Vec::len)
            + self.direct.get().map_or(0, Vec::len)
            + self.winograd.get().map_or(0, Vec::len)
            + self.row_shift.get().map_or(0, Vec::len)
            + self
                .subpixel
                .get()
                .map_or(0, |phases| phases.iter().map(|(_, w)| w.len()).sum())
    }
}
