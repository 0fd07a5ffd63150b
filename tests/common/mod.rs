//! Helpers shared by the integration tests: seeded data and random convolution problems.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// Deterministic values in [-1, 1) from a seed (splitmix64).
pub fn seeded(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut s = seed;
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Deterministic `f32` values in [-0.5, 0.5) (a linear congruential sequence from `seed`).
pub fn ramp_from<D: ndarray::Dimension>(seed: u32, shape: D) -> ndarray::Array<f32, D> {
    let mut i = seed;
    ndarray::Array::from_shape_simple_fn(shape, || {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (i >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    })
}

/// [`ramp_from`] seed 0.
pub fn ramp<D: ndarray::Dimension>(shape: D) -> ndarray::Array<f32, D> {
    ramp_from(0, shape)
}

/// Runs `f` inside a fresh rayon pool of `threads` threads.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Same shape and the same bits in every element.
pub fn same_bits<D: ndarray::Dimension>(
    a: &ndarray::Array<f32, D>,
    b: &ndarray::Array<f32, D>,
) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A random (possibly invalid) convolution problem of `dims` spatial axes.
#[derive(Clone, Debug)]
pub struct ConvCase {
    pub dims: usize,
    pub batch: usize,
    pub groups: usize,
    pub in_per_group: usize,
    pub out_per_group: usize,
    pub input: Vec<usize>,
    pub kernel: Vec<usize>,
    pub stride: Vec<usize>,
    pub dilation: Vec<usize>,
    pub pad_begin: Vec<usize>,
    pub pad_end: Vec<usize>,
    pub output_padding: Vec<usize>,
    pub bias: bool,
    pub seed: u64,
}

impl ConvCase {
    /// `[N, C_in, L...]` of the transposed convolution's input.
    pub fn input_shape(&self) -> Vec<usize> {
        let mut s = vec![self.batch, self.groups * self.in_per_group];
        s.extend(&self.input);
        s
    }
    /// `[C_in, C_out/groups, K...]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        let mut s = vec![self.groups * self.in_per_group, self.out_per_group];
        s.extend(&self.kernel);
        s
    }
    pub fn out_channels(&self) -> usize {
        self.groups * self.out_per_group
    }
}

fn axis_vec(dims: usize, lo: usize, hi: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(lo..=hi, dims)
}

/// Problems over every parameter; `valid_op` keeps output padding below the stride, which the
/// adjoint identity needs for the conv output to have the input's length.
pub fn conv_case(valid_op: bool) -> impl Strategy<Value = ConvCase> {
    (1usize..=3)
        .prop_flat_map(move |dims| {
            let max_len = [0, 9, 6, 4][dims];
            (
                (Just(dims), 1usize..=2, 1usize..=3, 1usize..=3, 1usize..=3),
                (
                    axis_vec(dims, 1, max_len),
                    axis_vec(dims, 1, 4),
                    axis_vec(dims, 1, 3),
                    axis_vec(dims, 1, 3),
                    axis_vec(dims, 0, 3),
                    axis_vec(dims, 0, 3),
                    axis_vec(dims, 0, 2),
                ),
                any::<bool>(),
                any::<u64>(),
            )
        })
        .prop_map(
            move |(
                (dims, batch, groups, ipg, opg),
                (input, kernel, stride, dilation, pb, pe, op),
                bias,
                seed,
            )| {
                let output_padding = op
                    .iter()
                    .zip(stride.iter().zip(&dilation))
                    .map(|(&o, (&s, &d))| {
                        let limit = if valid_op { s } else { s.max(d) };
                        o % limit
                    })
                    .collect();
                ConvCase {
                    dims,
                    batch,
                    groups,
                    in_per_group: ipg,
                    out_per_group: opg,
                    input,
                    kernel,
                    stride,
                    dilation,
                    pad_begin: pb,
                    pad_end: pe,
                    output_padding,
                    bias,
                    seed,
                }
            },
        )
}

/// Runs `f` with the spatial rank of `case` as a const generic.
#[macro_export]
macro_rules! with_dims {
    ($case:expr, $D:ident, $Ix:ident, $body:block) => {
        match $case.dims {
            1 => {
                const $D: usize = 1;
                type $Ix = ndarray::Ix3;
                $body
            }
            2 => {
                const $D: usize = 2;
                type $Ix = ndarray::Ix4;
                $body
            }
            _ => {
                const $D: usize = 3;
                type $Ix = ndarray::Ix5;
                $body
            }
        }
    };
}

/// The transposed-convolution options of `case`.
pub fn ct_cfg<const D: usize>(c: &ConvCase) -> upconv::ConvTranspose<D> {
    let a = |v: &Vec<usize>| -> [usize; D] { v.as_slice().try_into().unwrap() };
    upconv::ConvTranspose::<D>::new()
        .stride(a(&c.stride))
        .pads(a(&c.pad_begin), a(&c.pad_end))
        .output_padding(a(&c.output_padding))
        .dilation(a(&c.dilation))
        .groups(c.groups)
}

/// The forward-convolution options with the same stride, padding, dilation and groups.
pub fn conv_cfg<const D: usize>(c: &ConvCase) -> upconv::Conv<D> {
    let a = |v: &Vec<usize>| -> [usize; D] { v.as_slice().try_into().unwrap() };
    upconv::Conv::<D>::new()
        .stride(a(&c.stride))
        .pads(a(&c.pad_begin), a(&c.pad_end))
        .dilation(a(&c.dilation))
        .groups(c.groups)
}
