//! # upconv
//!
//! Transposed convolution ("deconvolution") and upsampling / resizing over [`ndarray`]
//! tensors in PyTorch's layout (`[N, C, spatial...]`), with PyTorch's and ONNX's numbers.
//!
//! * [`conv_transpose1d`], [`conv_transpose2d`], [`conv_transpose3d`]: every input pixel
//!   scatters a kernel-weighted copy into a larger output (stride, asymmetric padding, output
//!   padding, dilation, groups, PyTorch `output_size=`, ONNX `auto_pad` / `output_shape`);
//! * [`ConvTranspose1dLayer`], [`ConvTranspose2dLayer`], [`ConvTranspose3dLayer`]: a transposed
//!   convolution holding its weight and bias (a PyTorch module, an ONNX Runtime session),
//!   which keeps the layouts of the weight its calls want: the fastest way to call one layer
//!   again and again;
//! * [`conv1d`], [`conv2d`], [`conv3d`]: the forward convolution, whose adjoint the transposed
//!   convolution is;
//! * [`upsample1d`], [`upsample2d`], [`upsample3d`]: every PyTorch `interpolate` mode and every
//!   ONNX `Resize` option, plus [`pixel_shuffle`] and [`pixel_unshuffle`];
//! * [`shape`]: the Shape calculator and cost model behind all of them.
//!
//! Every function returns [`Result`]; bad input is an [`Error`], never a panic.
//!
//! ```
//! use ndarray::Array4;
//! use upconv::{conv_transpose2d, ConvTranspose2d};
//!
//! // A DCGAN-style layer: 4x4 kernel, stride 2, padding 1 doubles the resolution.
//! let x = Array4::<f32>::ones((1, 8, 5, 5));
//! let w = Array4::<f32>::ones((8, 4, 4, 4));
//! let cfg = ConvTranspose2d::new().stride(2).padding(1);
//! let y = conv_transpose2d(&x, &w, None, &cfg)?;
//! assert_eq!(y.shape(), &[1, 4, 10, 10]);
//! # Ok::<(), upconv::Error>(())
//! ```
//!
//! ## Features
//!
//! * `rayon` (default): threads over batch, groups and output tiles. Results are bit-identical
//!   with any number of threads and without the feature.
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod axes;
mod conv;
mod conv_transpose;
mod element;
mod error;
mod kernels;
mod layer;
mod problem;
pub mod reference;
pub mod shape;
mod upsample;

pub use axes::IntoAxes;
pub use conv::{
    conv1d, conv1d_into, conv2d, conv2d_into, conv3d, conv3d_into, Conv, Conv1d, Conv2d, Conv3d,
};
pub use conv_transpose::{
    conv_transpose1d, conv_transpose1d_into, conv_transpose2d, conv_transpose2d_into,
    conv_transpose3d, conv_transpose3d_into, ConvTranspose, ConvTranspose1d, ConvTranspose2d,
    ConvTranspose3d,
};
pub use element::Element;
pub use error::{Error, Result};
pub use layer::{
    ConvTranspose1dLayer, ConvTranspose2dLayer, ConvTranspose3dLayer, ConvTransposeLayer,
};
pub use shape::AutoPad;
pub use upsample::*;

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
