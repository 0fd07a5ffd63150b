//! The crate's one error type.

/// Everything that can go wrong when calling an op of this crate.
///
/// Every variant carries the numbers involved (which axis, which value, what was expected),
/// and every public function returns one of these instead of panicking on bad input.
/// Spatial axes are numbered from 0 (the first axis after `N, C`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter that must be at least 1 was 0.
    #[error("{name} must be at least 1 on every axis, but axis {axis} has 0")]
    ZeroParameter {
        /// `"stride"`, `"dilation"` or `"kernel size"`.
        name: &'static str,
        /// Spatial axis.
        axis: usize,
    },
    /// `groups` was 0.
    #[error("groups must be at least 1")]
    ZeroGroups,
    /// `groups` does not divide a channel count.
    #[error("groups ({groups}) must divide the number of {what} ({channels})")]
    GroupsDoNotDivide {
        /// `"input channels"` or `"output channels"`.
        what: &'static str,
        /// The channel count.
        channels: usize,
        /// The groups parameter.
        groups: usize,
    },
    /// The input's channel count does not match the weight.
    #[error("input has {input} channels but the weight expects {expected}")]
    ChannelMismatch {
        /// Channels of the input tensor.
        input: usize,
        /// Channels the weight (and groups) implies.
        expected: usize,
    },
    /// The bias length is not the number of output channels.
    #[error("bias has {got} elements but there are {expected} output channels")]
    BiasLength {
        /// Output channels.
        expected: usize,
        /// Bias length.
        got: usize,
    },
    /// An input dimension that must be non-zero is zero.
    #[error("{what} has length 0 on dimension {dim}, which is not allowed")]
    EmptyDimension {
        /// `"input"` or `"weight"`.
        what: &'static str,
        /// Dimension index within that tensor.
        dim: usize,
    },
    /// PyTorch's rule `output_padding < stride || output_padding < dilation` is broken.
    #[error(
        "output padding ({output_padding}) on axis {axis} must be smaller than either stride ({stride}) or dilation ({dilation})"
    )]
    OutputPaddingTooLarge {
        /// Spatial axis.
        axis: usize,
        /// The output padding given.
        output_padding: usize,
        /// Stride on that axis.
        stride: usize,
        /// Dilation on that axis.
        dilation: usize,
    },
    /// The parameters make an output of length zero or less.
    #[error("the output would have length {length} on spatial axis {axis}; it must be at least 1")]
    EmptyOutput {
        /// Spatial axis.
        axis: usize,
        /// The (non-positive) length the formula gives.
        length: i128,
    },
    /// The dilated kernel is longer than the padded input (forward convolution).
    #[error(
        "on spatial axis {axis} the dilated kernel ({kernel_extent}) is longer than the padded input ({padded_input})"
    )]
    KernelTooLarge {
        /// Spatial axis.
        axis: usize,
        /// `dilation * (kernel - 1) + 1`.
        kernel_extent: u128,
        /// `input + pad_begin + pad_end`.
        padded_input: u128,
    },
    /// A requested output size (PyTorch `output_size=`) is outside what the parameters allow.
    #[error(
        "requested an output size of {requested} on spatial axis {axis}, but valid sizes range from {min} to {max} (inclusive)"
    )]
    OutputSizeOutOfRange {
        /// Spatial axis.
        axis: usize,
        /// The requested length.
        requested: usize,
        /// Smallest valid length.
        min: i128,
        /// Largest valid length.
        max: i128,
    },
    /// A size computation does not fit in `usize` (or in memory addressing).
    #[error("shape arithmetic overflowed while computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// The caller-provided output array has the wrong shape.
    #[error("output array has shape {got:?} but the op produces {expected:?}")]
    OutputShapeMismatch {
        /// The shape the op produces.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// A shape slice had the wrong number of entries.
    #[error("{what} must have {expected} entries, got {got}")]
    WrongRank {
        /// What the shape describes.
        what: &'static str,
        /// Entries expected.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// Options that cannot be combined.
    #[error("invalid option combination: {0}")]
    InvalidOptions(&'static str),

    // ---- upsampling / resize (src/upsample) ----
    // UPSAMPLE-ERRORS-BEGIN
    /// A scale factor is not a finite number greater than 0.
    #[error("scale factor {scale} on spatial axis {axis} must be finite and greater than 0")]
    InvalidScale {
        /// Axis the scale belongs to (spatial axis for `Upsample`, tensor axis for `Resize`).
        axis: usize,
        /// The scale given.
        scale: f64,
    },
    /// A floating-point option is not finite (NaN or infinite).
    #[error("{what} must be finite, got {value}")]
    NonFinite {
        /// The option (`"cubic coefficient"`, `"roi"`, `"extrapolation value"`).
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Pixel shuffle: the channel count is not a multiple of the upscale factor squared.
    #[error("pixel shuffle needs channels ({channels}) divisible by upscale_factor^2 ({divisor})")]
    ShuffleChannels {
        /// Input channels.
        channels: usize,
        /// `upscale_factor * upscale_factor`.
        divisor: usize,
    },
    /// Pixel unshuffle: a spatial length is not a multiple of the downscale factor.
    #[error("pixel unshuffle needs spatial axis {axis} (length {length}) divisible by the downscale factor {factor}")]
    ShuffleSpatial {
        /// Spatial axis (0 = height, 1 = width).
        axis: usize,
        /// Its length.
        length: usize,
        /// The downscale factor.
        factor: usize,
    },
    /// ONNX `Resize`: an entry of `axes` is outside `[-rank, rank)`.
    #[error("resize axis {axis} is out of range for a tensor of rank {rank}")]
    AxisOutOfRange {
        /// The axis given (possibly negative).
        axis: i64,
        /// Tensor rank.
        rank: usize,
    },
    /// ONNX `Resize`: an axis appears twice in `axes` (after normalising negative values).
    #[error("resize axis {axis} is listed more than once")]
    DuplicateAxis {
        /// The normalised axis.
        axis: usize,
    },
    // UPSAMPLE-ERRORS-END
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
