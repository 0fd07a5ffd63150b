//! A transposed-convolution layer that owns its weight and bias and prepares them once.

use ndarray::{Array3, Array4, Array5};
use ndarray::{ArrayD, ArrayRef, ArrayRef1, ArrayRef3, ArrayRef4, ArrayRef5, Dimension, IxDyn};
use ndarray::{ArrayView1, ArrayViewD};

use crate::conv_transpose::{check_nonzero, dense_dims, ConvTranspose};
use crate::error::{Error, Result};
use crate::kernels::io::{into_output, new_output, row_major};
use crate::kernels::{conv_transpose_prepared, Prepared};
use crate::Element;

/// A transposed convolution with its weight, bias and options held together, like PyTorch's
/// `nn.ConvTranspose{D}d` module or an ONNX Runtime session's constant weight: built once,
/// then called on any number of inputs, from any number of threads.
///
/// The numbers are those of [`crate::conv_transpose2d`] and its siblings (the same
/// definition, [`crate::reference::conv_transpose`], within rounding). What the layer adds is
/// speed: the functions take the weight afresh every call, so any other layout of it a path
/// wants is rebuilt each time, while a layer makes it once, on the first call that wants it,
/// and keeps it. Where the weight dominates (an input of a few positions, such as a GAN
/// generator's first layers or a detection head on an 8x8 map at batch 1) that is the weight
/// packed into panels of 16 rows, streamed instead of walked a row apart per step (in `f32`
/// on CPUs with AVX2, through register tiles of the crate's own that pack the input once per
/// product): DCGAN's `[1,512,4,4] -> 256` layer runs in under half the time.
/// Elsewhere it is the transposed weight of GEMM + col2im or the flipped kernel of a stride-1
/// layer (a few percent). Each kept form is about one more weight's worth of memory, held by
/// the layer; a layer whose calls want none holds none.
///
/// # Examples
///
/// ```
/// use ndarray::{Array1, Array4};
/// use upconv::{ConvTranspose2d, ConvTranspose2dLayer};
///
/// // DCGAN's second layer: 512 -> 256 channels, 4x4 kernel, stride 2, padding 1.
/// let weight = Array4::<f32>::from_elem((512, 256, 4, 4), 0.01);
/// let bias = Array1::<f32>::zeros(256);
/// let cfg = ConvTranspose2d::new().stride(2).padding(1);
/// let layer = ConvTranspose2dLayer::new(&weight, Some(&bias), cfg)?;
///
/// let x = Array4::<f32>::ones((1, 512, 4, 4));
/// let mut y = Array4::<f32>::zeros((1, 256, 8, 8));
/// layer.forward_into(&x, &mut y)?; // reuse `y` call after call
/// let plain = upconv::conv_transpose2d(&x, &weight, Some(&bias), &cfg)?;
/// assert!(y.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-4));
/// # Ok::<(), upconv::Error>(())
/// ```
pub struct ConvTransposeLayer<T: Element, const D: usize> {
    cfg: ConvTranspose<D>,
    /// `[C_in, C_out/groups, K...]`, row-major.
    weight: ArrayD<T>,
    bias: Option<ndarray::Array1<T>>,
    prepared: Prepared<T>,
}

/// A 1-D transposed-convolution layer (`[N, C, L]`; see [`ConvTransposeLayer`]).
pub type ConvTranspose1dLayer<T> = ConvTransposeLayer<T, 1>;
/// A 2-D transposed-convolution layer (`[N, C, H, W]`; see [`ConvTransposeLayer`]).
pub type ConvTranspose2dLayer<T> = ConvTransposeLayer<T, 2>;
/// A 3-D transposed-convolution layer (`[N, C, D, H, W]`; see [`ConvTransposeLayer`]).
pub type ConvTranspose3dLayer<T> = ConvTransposeLayer<T, 3>;

impl<T: Element, const D: usize> std::fmt::Debug for ConvTransposeLayer<T, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvTransposeLayer")
            .field("cfg", &self.cfg)
            .field("weight_shape", &self.weight.shape())
            .field("bias", &self.bias.is_some())
            .field("prepared_elements", &self.prepared.held())
            .finish()
    }
}

impl<T: Element, const D: usize> ConvTransposeLayer<T, D> {
    /// Checks and copies the weight and bias (see the per-rank `new`).
    fn build<Dm: Dimension>(
        weight: &ArrayRef<T, Dm>,
        bias: Option<&ArrayRef1<T>>,
        cfg: ConvTranspose<D>,
    ) -> Result<Self> {
        let shape = weight.shape().to_vec();
        check_nonzero("weight", &shape)?;
        let groups = cfg.groups_count();
        if groups == 0 {
            return Err(Error::ZeroGroups);
        }
        if shape[0] % groups != 0 {
            return Err(Error::GroupsDoNotDivide {
                what: "input channels",
                channels: shape[0],
                groups,
            });
        }
        let out_channels = shape[1].checked_mul(groups).ok_or(Error::Overflow {
            what: "output channels",
        })?;
        if let Some(b) = bias {
            if b.len() != out_channels {
                return Err(Error::BiasLength {
                    expected: out_channels,
                    got: b.len(),
                });
            }
        }
        let weight = ArrayD::from_shape_vec(IxDyn(&shape), row_major(weight).into_owned())
            .map_err(|_| Error::Overflow {
                what: "weight array",
            })?;
        Ok(ConvTransposeLayer {
            cfg,
            weight,
            bias: bias.map(|b| b.to_owned()),
            prepared: Prepared::new(),
        })
    }

    /// The options the layer was built with.
    ///
    /// ```
    /// use upconv::{ConvTranspose1d, ConvTranspose1dLayer};
    /// let cfg = ConvTranspose1d::new().stride(4);
    /// let layer = ConvTranspose1dLayer::new(&ndarray::Array3::<f32>::ones((8, 4, 8)), None, cfg)?;
    /// assert_eq!(layer.config(), &cfg);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn config(&self) -> &ConvTranspose<D> {
        &self.cfg
    }

    /// The weight's shape, `[C_in, C_out/groups, K...]`.
    ///
    /// ```
    /// use upconv::{ConvTranspose1d, ConvTranspose1dLayer};
    /// let w = ndarray::Array3::<f32>::ones((8, 4, 16));
    /// let layer = ConvTranspose1dLayer::new(&w, None, ConvTranspose1d::new().stride(8))?;
    /// assert_eq!(layer.weight_shape(), &[8, 4, 16]);
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn weight_shape(&self) -> &[usize] {
        self.weight.shape()
    }

    /// The layer's weight, `[C_in, C_out/groups, K...]` (its own copy, row-major).
    ///
    /// ```
    /// use upconv::{ConvTranspose1d, ConvTranspose1dLayer};
    /// let w = ndarray::Array3::<f32>::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f32);
    /// let layer = ConvTranspose1dLayer::new(&w.t(), None, ConvTranspose1d::new())?;
    /// assert_eq!(layer.weight(), w.t().into_dyn());
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn weight(&self) -> ArrayViewD<'_, T> {
        self.weight.view()
    }

    /// The layer's bias, `[C_out]`, if it has one.
    ///
    /// ```
    /// use upconv::{ConvTranspose1d, ConvTranspose1dLayer};
    /// let w = ndarray::Array3::<f64>::ones((4, 3, 2));
    /// let b = ndarray::Array1::<f64>::from(vec![1.0, 2.0, 3.0]);
    /// let layer = ConvTranspose1dLayer::new(&w, Some(&b), ConvTranspose1d::new())?;
    /// assert_eq!(layer.bias(), Some(b.view()));
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn bias(&self) -> Option<ArrayView1<'_, T>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// The output shape for an input of shape `input` (see [`ConvTranspose::output_dims`]).
    ///
    /// # Errors
    ///
    /// Those of [`ConvTranspose::output_dims`] for this layer's weight shape.
    ///
    /// # Examples
    ///
    /// ```
    /// use upconv::{ConvTranspose1d, ConvTranspose1dLayer};
    /// let w = ndarray::Array3::<f32>::ones((8, 4, 16));
    /// let layer = ConvTranspose1dLayer::new(&w, None, ConvTranspose1d::new().stride(8).padding(4))?;
    /// assert_eq!(layer.output_dims(&[1, 8, 100])?, vec![1, 4, 800]);
    /// assert!(layer.output_dims(&[1, 3, 100]).is_err());
    /// # Ok::<(), upconv::Error>(())
    /// ```
    pub fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.cfg.output_dims(input, self.weight.shape())
    }

    /// Runs the layer on `input` into a new array.
    fn run<Dm: Dimension>(&self, input: &ArrayRef<T, Dm>) -> Result<ndarray::Array<T, Dm>> {
        let p = self.cfg.problem(input.shape(), self.weight.shape())?;
        let w = row_major(&self.weight);
        let dims = dense_dims::<D>(&p);
        new_output(input, self.bias.as_deref(), &dims, |x, b, y| {
            conv_transpose_prepared(&p, x, &w, Some(&self.prepared), b, y)
        })
    }

    /// Runs the layer on `input` into `out`.
    fn run_into<Dm: Dimension>(
        &self,
        input: &ArrayRef<T, Dm>,
        out: &mut ArrayRef<T, Dm>,
    ) -> Result<()> {
        let p = self.cfg.problem(input.shape(), self.weight.shape())?;
        let w = row_major(&self.weight);
        let dims = dense_dims::<D>(&p);
        into_output(input, self.bias.as_deref(), &dims, out, |x, b, y| {
            conv_transpose_prepared(&p, x, &w, Some(&self.prepared), b, y)
        })
    }
}

macro_rules! layer_fns {
    ($d:literal, $aref:ident, $arr:ident, $w:literal, $x:literal, $y:literal) => {
        impl<T: Element> ConvTransposeLayer<T, $d> {
            #[doc = concat!("A ", $d, "-D layer of `weight` (`[C_in, C_out/groups, K...]`), an optional `bias` (`[C_out]`) and the options `cfg`; both arrays are copied (any layout).")]
            ///
            /// # Errors
            ///
            /// * [`Error::EmptyDimension`] when the weight has a zero-length dimension;
            /// * [`Error::ZeroGroups`], and [`Error::GroupsDoNotDivide`] when the groups do not
            ///   divide the weight's input channels;
            /// * [`Error::BiasLength`] when the bias is not `[C_out]`;
            /// * [`Error::Overflow`] when `C_out` overflows.
            ///
            /// Errors that depend on the input (channels, sizes) come from
            /// [`forward`](Self::forward).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ndarray::{", stringify!($arr), ", Array1};")]
            #[doc = concat!("use upconv::{ConvTranspose", $d, "d, ConvTranspose", $d, "dLayer};")]
            #[doc = concat!("let w = ", stringify!($arr), "::<f32>::ones(", $w, ");")]
            #[doc = concat!("let cfg = ConvTranspose", $d, "d::new().stride(2).padding(1);")]
            #[doc = concat!("assert!(ConvTranspose", $d, "dLayer::new(&w, Some(&Array1::zeros(4)), cfg).is_ok());")]
            #[doc = concat!("assert!(ConvTranspose", $d, "dLayer::new(&w, Some(&Array1::zeros(3)), cfg).is_err());")]
            #[doc = concat!("assert!(ConvTranspose", $d, "dLayer::new(&w, None, cfg.groups(3)).is_err());")]
            /// # Ok::<(), upconv::Error>(())
            /// ```
            pub fn new(
                weight: &$aref<T>,
                bias: Option<&ArrayRef1<T>>,
                cfg: ConvTranspose<$d>,
            ) -> Result<Self> {
                Self::build(weight, bias, cfg)
            }

            #[doc = concat!("The layer on `input` (`[N, C_in, ...]`), into a new array: [`crate::conv_transpose", $d, "d`] with this layer's weight, bias and options.")]
            ///
            /// # Errors
            ///
            #[doc = concat!("Those of [`crate::conv_transpose", $d, "d`] for this input: [`Error::ChannelMismatch`], [`Error::EmptyDimension`], [`Error::OutputPaddingTooLarge`], [`Error::EmptyOutput`], [`Error::OutputSizeOutOfRange`], [`Error::Overflow`].")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ndarray::", stringify!($arr), ";")]
            #[doc = concat!("use upconv::{ConvTranspose", $d, "d, ConvTranspose", $d, "dLayer};")]
            #[doc = concat!("let w = ", stringify!($arr), "::<f64>::ones(", $w, ");")]
            #[doc = concat!("let layer = ConvTranspose", $d, "dLayer::new(&w, None, ConvTranspose", $d, "d::new().stride(2).padding(1))?;")]
            #[doc = concat!("let y = layer.forward(&", stringify!($arr), "::<f64>::ones(", $x, "))?;")]
            #[doc = concat!("assert_eq!(y.shape(), &", $y, ");")]
            /// # Ok::<(), upconv::Error>(())
            /// ```
            pub fn forward(&self, input: &$aref<T>) -> Result<$arr<T>> {
                self.run(input)
            }

            /// [`forward`](Self::forward) into a caller-provided output (its shape is
            /// checked); when `out` is contiguous nothing is allocated for the output.
            ///
            /// # Errors
            ///
            /// Those of [`forward`](Self::forward), and [`Error::OutputShapeMismatch`] when
            /// `out` has the wrong shape.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ndarray::", stringify!($arr), ";")]
            #[doc = concat!("use upconv::{ConvTranspose", $d, "d, ConvTranspose", $d, "dLayer};")]
            #[doc = concat!("let w = ", stringify!($arr), "::<f32>::ones(", $w, ");")]
            #[doc = concat!("let layer = ConvTranspose", $d, "dLayer::new(&w, None, ConvTranspose", $d, "d::new().stride(2).padding(1))?;")]
            #[doc = concat!("let x = ", stringify!($arr), "::<f32>::ones(", $x, ");")]
            #[doc = concat!("let mut y = ", stringify!($arr), "::<f32>::zeros(", $y, ");")]
            /// layer.forward_into(&x, &mut y)?;
            /// assert!(y.iter().all(|&v| v > 0.0));
            /// # Ok::<(), upconv::Error>(())
            /// ```
            pub fn forward_into(&self, input: &$aref<T>, out: &mut $aref<T>) -> Result<()> {
                self.run_into(input, out)
            }
        }
    };
}

layer_fns!(1, ArrayRef3, Array3, "(2, 4, 4)", "(1, 2, 5)", "[1, 4, 10]");
layer_fns!(
    2,
    ArrayRef4,
    Array4,
    "(2, 4, 4, 4)",
    "(1, 2, 5, 5)",
    "[1, 4, 10, 10]"
);
layer_fns!(
    3,
    ArrayRef5,
    Array5,
    "(2, 4, 4, 4, 4)",
    "(1, 2, 3, 5, 5)",
    "[1, 4, 6, 10, 10]"
);
