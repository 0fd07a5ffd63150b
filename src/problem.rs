//! The resolved problem every convolution kernel works on.
//!
//! Forward and transposed convolution are the same index relation read in two directions.
//! Per spatial axis, a position `i` on the *strided* side and a kernel tap `k` meet a position
//! on the *dense* side at
//!
//! ```text
//! dense = i * stride + k * dilation - pad_begin
//! ```
//!
//! * transposed convolution: the input is the strided side and every input sample is
//!   *scattered* to the dense output;
//! * forward convolution: the output is the strided side and every output sample *gathers* from
//!   the dense input.
//!
//! The weight is indexed the same way for both: `w[strided channel, dense channel in group,
//! taps...]`, which is PyTorch's `[C_in, C_out/groups, k...]` for transposed convolution and
//! `[C_out, C_in/groups, k...]` for convolution. So one `Problem` describes both ops and the
//! adjoint identity holds by construction of the index map.
//!
//! 1-D and 2-D problems are stored as 3-D problems whose leading axes have length 1, so every
//! kernel is written once, for three axes.

/// One spatial axis of a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisMap {
    /// Length on the strided side.
    pub(crate) strided: usize,
    /// Length on the dense side.
    pub(crate) dense: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) dilation: usize,
    /// May be negative (ONNX `output_shape` larger than the full result shifts it).
    pub(crate) pad_begin: i64,
}

impl AxisMap {
    /// The axis that 1-D and 2-D problems use for their missing leading axes.
    pub(crate) const UNIT: AxisMap = AxisMap {
        strided: 1,
        dense: 1,
        kernel: 1,
        stride: 1,
        dilation: 1,
        pad_begin: 0,
    };

    /// Dense position of strided position `i` and tap `k` (may be outside `0..dense`).
    #[inline]
    pub(crate) fn dense_pos(&self, i: usize, k: usize) -> i64 {
        (i * self.stride + k * self.dilation) as i64 - self.pad_begin
    }

    /// The dense positions `lo..hi` that strided positions `i0..i1` reach through any tap
    /// (clipped to `0..dense`; a superset when some taps miss).
    pub(crate) fn dense_span(&self, i0: usize, i1: usize) -> (usize, usize) {
        if i0 >= i1 {
            return (0, 0);
        }
        let lo = self.dense_pos(i0, 0).max(0) as usize;
        let last = self.dense_pos(i1 - 1, self.kernel.saturating_sub(1));
        let hi = (last + 1).clamp(0, self.dense as i64) as usize;
        (lo.min(hi), hi)
    }

    /// The strided positions `lo..hi` whose tap `k` lands inside `0..dense`.
    ///
    /// `0 <= i*s + k*d - pb < dense` gives `i >= ceil((pb - k*d)/s)` and
    /// `i <= floor((dense - 1 + pb - k*d)/s)`.
    pub(crate) fn tap_range(&self, k: usize) -> (usize, usize) {
        let s = self.stride as i64;
        let off = self.pad_begin - (k * self.dilation) as i64;
        let lo = if off <= 0 { 0 } else { (off + s - 1) / s };
        let last = self.dense as i64 - 1 + off;
        let hi = if last < 0 { 0 } else { last / s + 1 };
        let hi = hi.min(self.strided as i64).max(0) as usize;
        let lo = (lo as usize).min(hi);
        (lo, hi)
    }

    /// Number of (position, tap) pairs that land inside the dense side, counted over the
    /// shorter of the two loops (taps, or strided positions: position `i` meets the taps `k`
    /// with `0 <= i*s + k*d - pb < dense`).
    pub(crate) fn valid_pairs(&self) -> u64 {
        if self.kernel <= self.strided {
            return (0..self.kernel)
                .map(|k| {
                    let (lo, hi) = self.tap_range(k);
                    (hi - lo) as u64
                })
                .sum();
        }
        let (d, dense) = (self.dilation as i128, self.dense as i128);
        (0..self.strided)
            .map(|i| {
                let off = (i as i128) * self.stride as i128 - self.pad_begin as i128;
                // k*d >= -off and k*d <= dense - 1 - off
                let lo = ((-off).max(0) + d - 1) / d;
                let hi = (dense - 1 - off).div_euclid(d).min(self.kernel as i128 - 1);
                (hi - lo + 1).max(0) as u64
            })
            .sum()
    }

    /// Whether the axis is so far from a real layer that the fast paths' per-row buffers
    /// (about `strided*stride + (kernel - 1)*dilation` long) would dwarf the dense side: padding, or an output shape, that crops away nearly all of
    /// a huge result (strides or dilations of 2^32 with outputs of a few samples). Such
    /// problems run through the definition, whose work is the (position, tap) pairs.
    pub(crate) fn is_extreme(&self) -> bool {
        // a stride-phase row holds `stride` phases of `strided + span/stride` positions
        let span = (self.kernel as i128 - 1) * self.dilation as i128 + 1;
        let row = self.strided as i128 * self.stride as i128 + span;
        let room = 4 * (self.dense as i128 + self.strided as i128) + 4096;
        row > room || (self.pad_begin as i128).abs() > room
    }

    /// The sub-pixel view of phase `r` (`0 <= r < stride`) of a transposed convolution: the
    /// dense positions `o = r + stride*j` for `j = 0..len` form a stride-1 *forward*
    /// convolution of the strided side.
    ///
    /// `o = i*s + k*d - pb` with `o = r + s*j` needs `i = j + delta_k`, where
    /// `delta_k = (r + pb - k*d) / s` must be an integer. The taps `k` that qualify step by
    /// `s/g` (`g = gcd(s, d)`), and their `delta` then steps by `d/g`. Ordered by increasing
    /// `delta` (decreasing `k`), sub-tap `t` is tap `first_tap - t*tap_step` and reads input
    /// `j + delta_min + t*(d/g)`: a convolution with dilation `d/g` and padding `-delta_min`.
    /// `axis.kernel == 0` when no tap reaches the phase (its outputs are bias only).
    pub(crate) fn phase(&self, r: usize) -> Phase {
        let (s, d, pb) = (self.stride, self.dilation, self.pad_begin);
        let g = gcd(s, d);
        let len = if r < self.dense {
            (self.dense - r).div_ceil(s)
        } else {
            0
        };
        let lands = |k: usize| (r as i64 + pb - (k * d) as i64).rem_euclid(s as i64) == 0;
        let first = (0..self.kernel).rev().find(|&k| lands(k));
        let tap_step = s / g;
        let (first_tap, taps, pad_begin) = match first {
            Some(k) => {
                let delta_min = (r as i64 + pb - (k * d) as i64).div_euclid(s as i64);
                (k, k / tap_step + 1, -delta_min)
            }
            None => (0, 0, 0),
        };
        Phase {
            axis: AxisMap {
                strided: len,
                dense: self.strided,
                kernel: taps,
                stride: 1,
                dilation: d / g,
                pad_begin,
            },
            first_tap,
            tap_step,
        }
    }

    /// True when every dense position is hit by exactly one (position, tap) pair, so a
    /// transposed convolution can assign instead of accumulate (e.g. kernel == stride, no
    /// padding).
    pub(crate) fn covers_exactly_once(&self) -> bool {
        // (an axis past EXACT_CHECK_LEN is treated as overlapping: only a faster store is lost)
        if self.dense > self.strided.saturating_mul(self.kernel) || self.dense > EXACT_CHECK_LEN {
            return false;
        }
        let mut hits = vec![0u8; self.dense];
        for k in 0..self.kernel {
            let (lo, hi) = self.tap_range(k);
            for i in lo..hi {
                let o = self.dense_pos(i, k) as usize;
                if hits[o] == 1 {
                    return false;
                }
                hits[o] = 1;
            }
        }
        hits.iter().all(|&h| h == 1)
    }
}

/// Longest axis [`AxisMap::covers_exactly_once`] checks (it marks every dense position).
const EXACT_CHECK_LEN: usize = 1 << 26;

/// One stride phase of a transposed-convolution axis (see [`AxisMap::phase`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Phase {
    /// The phase as a stride-1 forward-convolution axis: `strided` = phase outputs, `dense` =
    /// the transposed convolution's input, `kernel` = taps that reach the phase.
    pub(crate) axis: AxisMap,
    /// Original tap of sub-tap 0.
    pub(crate) first_tap: usize,
    /// Sub-tap `t` is original tap `first_tap - t*tap_step`.
    pub(crate) tap_step: usize,
}

impl Phase {
    /// The original tap of sub-tap `t`.
    pub(crate) fn tap(&self, t: usize) -> usize {
        self.first_tap - t * self.tap_step
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A fully validated convolution problem (both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) batch: usize,
    pub(crate) groups: usize,
    /// Channels per group on the strided side.
    pub(crate) strided_channels: usize,
    /// Channels per group on the dense side.
    pub(crate) dense_channels: usize,
    /// Spatial axes, outermost first (`[D, H, W]`).
    pub(crate) axes: [AxisMap; 3],
}

/// Longest kernel axis `cost` estimates (see [`Problem::check_cost_taps`]).
const MAX_COST_TAPS: usize = 1 << 24;

/// Largest length or offset along an axis the kernels index (`i64` positions with room for
/// sums of two).
const MAX_INDEX: i128 = 1 << 62;

impl Problem {
    /// Checks that the kernels' index arithmetic fits: every axis's uncropped result, dense
    /// length and padding within 2^62 (`i64` positions), and each side's and the weight's
    /// element count (over the non-zero lengths, as ndarray requires) within `isize`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Overflow`] naming what does not fit.
    pub(crate) fn check_extent(&self) -> crate::Result<()> {
        let ov = |what| Err(crate::Error::Overflow { what });
        for a in &self.axes {
            let span = (a.kernel as i128 - 1) * a.dilation as i128 + 1;
            let uncropped = (a.strided as i128 - 1).max(0) * a.stride as i128 + span;
            if uncropped > MAX_INDEX || a.dense as i128 > MAX_INDEX {
                return ov("a spatial extent above 2^62");
            }
            if (a.pad_begin as i128).abs() > MAX_INDEX {
                return ov("a padding above 2^62");
            }
        }
        let count = |dims: &[usize]| -> Option<usize> {
            let n = dims
                .iter()
                .filter(|&&d| d != 0)
                .try_fold(1usize, |n, &d| n.checked_mul(d))?;
            (n <= isize::MAX as usize).then_some(n)
        };
        let side = |channels: usize, len: fn(&AxisMap) -> usize| {
            let mut dims = vec![self.batch, self.groups, channels];
            dims.extend(self.axes.iter().map(len));
            count(&dims)
        };
        let mut weight = vec![self.groups, self.strided_channels, self.dense_channels];
        weight.extend(self.axes.iter().map(|a| a.kernel));
        if side(self.strided_channels, |a| a.strided).is_none()
            || side(self.dense_channels, |a| a.dense).is_none()
            || count(&weight).is_none()
        {
            return ov("an element count above isize::MAX");
        }
        Ok(())
    }

    /// Whether some axis is extreme (see [`AxisMap::is_extreme`]): the problem runs
    /// through the definition.
    pub(crate) fn is_extreme(&self) -> bool {
        self.axes.iter().any(AxisMap::is_extreme)
    }

    /// For shape-only cost estimates: every kernel axis at most [`MAX_COST_TAPS`] taps long
    /// (counting the (position, tap) pairs and sizing the workspace walk the taps).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Overflow`] for a longer kernel axis.
    pub(crate) fn check_cost_taps(&self) -> crate::Result<()> {
        if self.axes.iter().any(|a| a.kernel > MAX_COST_TAPS) {
            return Err(crate::Error::Overflow {
                what: "the cost estimate of a kernel axis over 2^24 taps long",
            });
        }
        Ok(())
    }

    /// Whether either side has no elements (nothing to compute or allocate).
    pub(crate) fn is_empty(&self) -> bool {
        let empty = |len: fn(&AxisMap) -> usize| self.axes.iter().any(|a| len(a) == 0);
        self.batch == 0
            || self.strided_channels == 0
            || self.dense_channels == 0
            || empty(|a| a.strided)
            || empty(|a| a.dense)
    }

    /// Number of positions of one channel on the strided side.
    pub(crate) fn strided_plane(&self) -> usize {
        self.axes.iter().map(|a| a.strided).product()
    }
    /// Number of positions of one channel on the dense side.
    pub(crate) fn dense_plane(&self) -> usize {
        self.axes.iter().map(|a| a.dense).product()
    }
    /// Taps of one kernel.
    pub(crate) fn kernel_volume(&self) -> usize {
        self.axes.iter().map(|a| a.kernel).product()
    }
    /// Total strided-side channels.
    pub(crate) fn strided_channels_total(&self) -> usize {
        self.strided_channels * self.groups
    }
    /// Total dense-side channels.
    pub(crate) fn dense_channels_total(&self) -> usize {
        self.dense_channels * self.groups
    }
    /// The same problem restricted to strided positions `c0..c1` of the innermost axis: the
    /// window's position `i` is position `c0 + i`, whose dense position
    /// `(c0 + i)*s + k*d - pb` is `i*s + k*d - (pb - c0*s)`.
    pub(crate) fn window(&self, c0: usize, c1: usize) -> Problem {
        let mut w = *self;
        let a = &mut w.axes[2];
        a.pad_begin -= (c0 * a.stride) as i64;
        a.strided = c1 - c0;
        w
    }

    /// Multiply-adds that land inside the dense side.
    pub(crate) fn multiply_adds(&self) -> u64 {
        let pairs: u64 = self
            .axes
            .iter()
            .map(AxisMap::valid_pairs)
            .fold(1, u64::saturating_mul);
        crate::shape::cost::product(&[
            pairs,
            self.batch as u64,
            self.groups as u64,
            self.strided_channels as u64,
            self.dense_channels as u64,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Both ways of counting the valid (position, tap) pairs agree with a direct count,
        /// whichever loop is shorter.
        #[test]
        fn valid_pairs_counts_every_landing_pair(
            strided in 1usize..12, dense in 1usize..40, kernel in 1usize..12,
            stride in 1usize..5, dilation in 1usize..4, pad_begin in -6i64..10,
        ) {
            let a = AxisMap { strided, dense, kernel, stride, dilation, pad_begin };
            let direct = (0..strided)
                .flat_map(|i| (0..kernel).map(move |k| (i, k)))
                .filter(|&(i, k)| (0..dense as i64).contains(&a.dense_pos(i, k)))
                .count() as u64;
            prop_assert_eq!(a.valid_pairs(), direct);
        }
    }
}
