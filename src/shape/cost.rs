//! The cost model: work and memory traffic of one call, computed without running it.

use std::fmt;

/// What one call of an op costs: arithmetic, parameters, memory traffic and workspace.
///
/// Multiply-adds count only the products that land inside the output (taps that fall into
/// padding are not counted), so a transposed convolution and the forward convolution it is the
/// adjoint of report the same number. Bytes count each input, weight and bias element read once
/// and each output element written once: the minimum traffic of any implementation.
/// `workspace_bytes` is the memory one call of this crate's chosen algorithm allocates at most
/// on the current thread pool: weight copies plus the scratch (GEMM packing included) of every
/// task that may run at once. It never exceeds the larger of 16 MiB and the output's size:
/// long rows are cut into windows, large weights are read in place, and fewer tasks run at
/// once when their scratch would not fit (`tests/workspace.rs` measures it with a counting
/// allocator).
///
/// # Examples
///
/// ```
/// use upconv::{ConvTranspose2d, Upsample2d, Mode};
/// let deconv = ConvTranspose2d::new().stride(2).padding(1)
///     .cost(&[1, 64, 32, 32], &[64, 64, 4, 4], 4)?;
/// let nearest = Upsample2d::scale([2.0, 2.0]).mode(Mode::Nearest)
///     .cost(&[1, 64, 32, 32], 4)?;
/// assert!(deconv.multiply_adds > 1000 * nearest.multiply_adds.max(1));
/// assert_eq!(deconv.bytes_written, nearest.bytes_written);
/// # Ok::<(), upconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cost {
    /// Multiply-add operations (one FMA each).
    pub multiply_adds: u64,
    /// Learnable parameters (weights plus bias).
    pub parameters: u64,
    /// Bytes read: input, weights and bias, once each.
    pub bytes_read: u64,
    /// Bytes written: the output, once.
    pub bytes_written: u64,
    /// Bytes one call allocates at most (see the type's documentation).
    pub workspace_bytes: u64,
}

impl Cost {
    /// Floating-point operations, `2 * multiply_adds`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = upconv::shape::Cost { multiply_adds: 5, ..Default::default() };
    /// assert_eq!(c.flops(), 10);
    /// ```
    pub const fn flops(&self) -> u64 {
        self.multiply_adds.saturating_mul(2)
    }

    /// Bytes that must move: read plus written.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = upconv::shape::Cost { bytes_read: 4, bytes_written: 16, ..Default::default() };
    /// assert_eq!(c.bytes_moved(), 20);
    /// ```
    pub const fn bytes_moved(&self) -> u64 {
        self.bytes_read.saturating_add(self.bytes_written)
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} multiply-adds, {} parameters, {} B read, {} B written, {} B workspace",
            self.multiply_adds,
            self.parameters,
            self.bytes_read,
            self.bytes_written,
            self.workspace_bytes
        )
    }
}

/// Saturating product of `u64` factors (cost numbers are informational and never overflow).
pub(crate) fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f))
}
