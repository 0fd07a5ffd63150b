//! Transposed-convolution fast paths.
//!
//! * [`depthwise`]: one input and one output channel per group, a direct per-plane gather
//!   (memory-bound, no GEMM);
//! * strided layers with shallow inputs, in `f32` on AVX2: register tiles that compute each
//!   output directly (see [`super::direct`] and [`path`]);
//! * stride 1 on every axis: a forward convolution with the kernel flipped and the channel
//!   roles swapped (see [`as_forward_conv`]), so no output receives overlapping adds, unless
//!   its product has too few rows for the GEMM library (see
//!   [`prefers_col2im_at_stride_one`]);
//! * 2-D kernels (up to) 2 or 3 times the stride (4x4/2, 6x6/3, 8x8/4, 5x5/2) on planes from
//!   about 32x32: the stride phases stacked into one Winograd convolution (see
//!   [`super::phase_stack`]);
//! * otherwise [`gemm_col2im`]: `col = W^T X` by GEMM for a band of input rows, then each
//!   output row gathers the column rows that land on it (`i*stride + k*dilation - pad_begin`)
//!   and is stored once, bias fused (see [`col2im`] and [`super::gather`]). When every output
//!   position is hit exactly once (kernel == stride, no padding: the U-Net case) the column
//!   rows are stored straight into place. The output is not initialised first (except under
//!   rows cut into windows, which add into it).

use super::gather::{PhaseRow, RowReach};
use super::gemm::{
    few_rows_pay, matmul, matmul_col_major, may_have_few_rows, packing, packs_input, Mat,
};
use super::panel_tiles;
use super::panels::{matmul_col_major_panels, PanelBlock, PANEL_COLS, PANEL_MIN_DEPTH, PANEL_ROWS};
use super::parallel::for_each_task;
use super::pointwise::{self, Pointwise, WeightLayout};
use super::prepared::Prepared;
use super::scratch::{sized, with_scratch, with_weight_scratch};
use super::simd::{vectorized, Kernel};
use super::skinny::{self, skinny_product};
use super::{
    tap_ranges, tile_rows, transpose, transpose_rows, window_cols, ALIAS_PAD, MIN_TILE_COLS,
    TRANSPOSE_BLOCK, WEIGHT_COPY_BUDGET,
};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// The algorithm [`run`] uses for a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Depthwise,
    /// 1x1 kernel at stride 1 with few output channels (see [`super::pointwise`]; it also takes
    /// the 1x1 layers [`super::tiled`] would, 0.3-0.5x the time there).
    Pointwise,
    /// One input position whose taps tile the output exactly (see [`projects`]).
    Projection,
    /// Kernel == stride, few outputs per input position (see [`super::tiled`]).
    Tiled,
    /// Strided, few input channels, `f32` on AVX2 (see [`super::direct`]); other types take
    /// [`gemm_path`]'s path.
    Direct,
    /// Stride 1: the forward convolution with the flipped kernel.
    Flipped,
    /// Kernel 2 or 3 times the stride: the phases stacked into one Winograd convolution
    /// (see [`super::phase_stack`]).
    PhaseStack,
    Subpixel,
    /// 1-D kernel == stride with few outputs per input position from deep inputs (see
    /// [`super::phase_rows`]).
    PhaseRows,
    /// 1-D, stride 2+, few outputs per input position and tap from deep inputs, kernel and
    /// stride otherwise free (see [`super::phase_rows::run_taps`]).
    TapRows,
    /// 1x1 kernel at stride 1 with more output channels: GEMMs reading the weight in place
    /// (see [`super::pointwise_gemm`]).
    PointwiseGemm,
    Col2im,
}

/// Picks the path for `p`. The flipped-kernel and sub-pixel paths copy the weight into another
/// layout, so a weight over [`WEIGHT_COPY_BUDGET`] elements goes through GEMM + col2im, which
/// reads it where it is (memory stays bounded for any layer).
fn path(p: &Problem) -> Path {
    // (the direct tiles read the weight through a copy of their own, bounded in
    // `direct::applies`; the kernel == stride heads and projections keep their paths)
    if super::direct::applies(p) && !super::tiled::applies(p) && !projects(p) {
        Path::Direct
    } else {
        gemm_path(p)
    }
}

/// [`path`] without [`Path::Direct`].
fn gemm_path(p: &Problem) -> Path {
    if p.strided_channels == 1 && p.dense_channels == 1 {
        Path::Depthwise
    } else if projects(p) {
        Path::Projection
    } else if pointwise::is_pointwise(p)
        && (pointwise::pays(p.dense_channels, p.strided_channels, p.dense_plane())
            || super::tiled::applies(p))
    {
        Path::Pointwise
    } else if pointwise::is_pointwise(p) && super::pointwise_gemm::takes(&pointwise_shape(p)) {
        Path::PointwiseGemm
    } else if super::tiled::applies(p) {
        Path::Tiled
    } else if super::phase_rows::applies(p) {
        Path::PhaseRows
    } else if super::phase_rows::applies_taps(p) {
        Path::TapRows
    } else if stacks_phases(p) {
        Path::PhaseStack
    } else {
        unstacked_path(p)
    }
}

/// [`gemm_path`] after the paths that take a layer whole, without [`Path::PhaseStack`].
fn unstacked_path(p: &Problem) -> Path {
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    let stride_one = p.axes.iter().all(|a| a.stride == 1);
    if weight > WEIGHT_COPY_BUDGET && !(stride_one && winograd_flips(&flipped_problem(p))) {
        Path::Col2im
    } else if stride_one {
        if prefers_col2im_at_stride_one(p) {
            Path::Col2im
        } else {
            Path::Flipped
        }
    } else if prefers_subpixel(p) {
        Path::Subpixel
    } else {
        Path::Col2im
    }
}

/// Whether the forward convolution `flipped` of a stride-1 layer runs through Winograd
/// (whole or in blocks of output channels): its kernel is then transformed straight from the
/// transposed weight, with no flipped copy, and within Winograd's own copy budget, so such
/// a layer flips whatever its weight's size (256 -> 256 3x3, a weight just over
/// [`WEIGHT_COPY_BUDGET`], went through GEMM + col2im: through a layer now 0.43x the time
/// on 32x32 and 64x64 maps, alternating builds, 2 runs).
fn winograd_flips(flipped: &Problem) -> bool {
    super::winograd::applies(flipped) || super::winograd::applies_in_blocks(flipped)
}

/// Whether a strided layer goes through [`super::phase_stack`]: where it applies (kernel up
/// to 2 or 3 times the stride, 16+ channels, planes from about 32x32, bands of 64+ tiles), with
/// at most 16 phases. Paired
/// in-process A/B (7-9 rounds, 2 threads) against the path taken before (GEMM + col2im, or
/// sub-pixel Winograd phases from 64x64): 4x4/2 layers on 32x32 to 128x128 inputs 0.72-0.90x
/// the time through layers (0.73-0.90x through the functions, which transform the weight per
/// call), 6x6/2 and 6x6/3 0.55-0.81x, 8x8/4 on 32x32 0.78-0.86x, grouped 4x4/2 0.78x, none
/// slower; FCN-style layers (21 channels, 8x8/4 to 16x16/8: 16 to 64 phases of 21 channels)
/// were level, so those keep col2im.
fn stacks_phases(p: &Problem) -> bool {
    super::phase_stack::applies(p) && p.axes.iter().map(|a| a.stride).product::<usize>() <= 16
}

/// Picks the path for `p` and runs it. `x` is the strided side, `y` the dense side.
///
/// `prepared` is what a [`crate::ConvTransposeLayer`] keeps between calls (forms of its
/// weight, each made by the first call that wants it; see [`super::prepared`]); plain calls
/// pass `None`.
pub(crate) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    run_path(path(p), p, x, w, prepared, b, y);
}

/// [`run`] on `path`.
fn run_path<T: Element>(
    path: Path,
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    match path {
        Path::Direct => {
            if !super::direct::run(p, x, w, prepared, b, y) {
                run_path(gemm_path(p), p, x, w, prepared, b, y);
            }
        }
        Path::Depthwise => super::depthwise::run(p, x, w, b, y),
        Path::Pointwise => pointwise::run(
            pointwise_shape(p),
            WeightLayout::input_major(p.dense_channels),
            x,
            w,
            b,
            y,
        ),
        Path::Projection => projection(p, x, w, b, y),
        Path::PointwiseGemm => pointwise_gemm(p, x, w, prepared, b, y),
        Path::Tiled => super::tiled::run(p, x, w, b, y),
        Path::PhaseRows => super::phase_rows::run(p, x, w, b, y),
        Path::TapRows => super::phase_rows::run_taps(p, x, w, b, y),
        Path::Flipped => as_forward_conv(p, x, w, prepared, b, y),
        Path::Subpixel => super::subpixel::run(p, x, w, prepared, b, y),
        // `f32` only: the transformed weight of `f64` would take the whole call's budget
        Path::PhaseStack if T::as_f32(&[]).is_some() => {
            super::phase_stack::run(p, x, w, prepared, b, y)
        }
        Path::PhaseStack => run_path(unstacked_path(p), p, x, w, prepared, b, y),
        Path::Col2im => gemm_col2im(p, x, w, prepared, b, y),
    }
}

/// [`Path::PointwiseGemm`]: the weight read in place, or a prepared layer's flipped kernel
/// (for a 1x1 kernel, the weight transposed to `[C_out][C_in/g]`: the GEMM library runs the
/// output-major form up to 1.3x faster, and a layer pays for it once).
fn pointwise_gemm<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    let at_once = max_tasks_at_once::<T>(p, y.len());
    let (w, layout) = match prepared {
        Some(prepared) => (
            prepared.flipped(|| flipped_weight(p, w)),
            WeightLayout::output_major(p.strided_channels),
        ),
        _ => (w, WeightLayout::input_major(p.dense_channels)),
    };
    super::pointwise_gemm::run(pointwise_shape(p), layout, x, w, b, y, at_once);
}

/// A 1x1 stride-1 layer as [`pointwise`] products: the input channels (strided side) are the
/// depth, the output channels (dense side) the rows.
fn pointwise_shape(p: &Problem) -> Pointwise {
    Pointwise {
        batch: p.batch,
        groups: p.groups,
        rows: p.dense_channels,
        depth: p.strided_channels,
        plane: p.dense_plane(),
    }
}

/// Whether the input is one position whose taps land, unpadded and undilated, exactly on the
/// output (`dense == kernel` on every axis): the first layer of a GAN generator, which
/// projects a latent vector `[N, C, 1, 1]` to a `K x K` map. The weight is then laid out as the
/// output is, and the layer is one GEMM per group: `y[n] = x[n] W + b`.
fn projects(p: &Problem) -> bool {
    p.axes
        .iter()
        .all(|a| a.strided == 1 && a.dense == a.kernel && a.pad_begin == 0 && a.dilation == 1)
}

/// Images per task of [`projection`]: a quarter of the batch (fixed by the problem).
fn images_per_projection(p: &Problem) -> usize {
    p.batch.div_ceil(4).max(1)
}

/// [`Path::Projection`]: for each run of images and group, `y[n, g] = x[n, g] W_g` (`W_g` is
/// `[C_in/g, C_out/g * taps]`, row-major, exactly the output's layout), then the bias.
fn projection<T: Element>(p: &Problem, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (cin_g, cg, kvol, groups) = (
        p.strided_channels,
        p.dense_channels,
        p.kernel_volume(),
        p.groups,
    );
    let (row_x, row_y) = (groups * cin_g, groups * cg * kvol);
    let imgs = images_per_projection(p);
    let work = (imgs * cin_g * cg * kvol * groups) as u64;
    let tasks: Vec<(usize, &mut [T])> = y.chunks_mut((imgs * row_y).max(1)).enumerate().collect();
    let at_once = max_tasks_at_once::<T>(p, p.batch * row_y);
    for_each_task(tasks, work, at_once, |(t, out)| {
        let rows = out.len() / row_y.max(1);
        let n0 = t * imgs;
        for g in 0..groups {
            let lhs = Mat {
                data: &x[n0 * row_x + g * cin_g..],
                rows,
                cols: cin_g,
                row_stride: row_x,
                col_stride: 1,
            };
            let rhs = Mat {
                data: &w[g * cin_g * cg * kvol..],
                rows: cin_g,
                cols: cg * kvol,
                row_stride: cg * kvol,
                col_stride: 1,
            };
            matmul(&mut out[g * cg * kvol..], row_y, lhs, rhs, false);
        }
        if let Some(b) = b {
            for image in out.chunks_mut(row_y) {
                for (plane, &bv) in image.chunks_mut(kvol).zip(b) {
                    plane.iter_mut().for_each(|v| *v = *v + bv);
                }
            }
        }
    });
}

/// Share of the GEMM library's peak rate on products whose output has `d` rows (or columns),
/// measured on this crate's benchmark machine for `f32` (`gemm` 0.19, AVX2): below 8 rows a
/// quarter of the peak, 16-32 rows half, 64 rows four fifths.
fn gemm_rate_by_size(d: usize) -> f64 {
    match d {
        0..=7 => 0.27,
        8..=15 => 0.33,
        16..=63 => 0.5,
        64..=127 => 0.8,
        _ => 1.0,
    }
}

/// Share of the GEMM library's peak rate on products of inner dimension `k` (measured as
/// [`gemm_rate_by_size`]).
fn gemm_rate_by_depth(k: usize) -> f64 {
    match k {
        0..=15 => 0.45,
        16..=31 => 0.6,
        32..=63 => 0.75,
        _ => 1.0,
    }
}

/// Multiply-add-equivalents one element moved through a scratch buffer costs, against a
/// multiply-add at the GEMM's peak.
const MOVE_COST: f64 = 16.0;

/// Chooses between the two stride-1 paths, per image and group, by the GEMM work each does at
/// the rate its product shape allows plus the elements it moves (in multiply-adds, see
/// [`MOVE_COST`]):
///
/// * flipped kernel (a forward convolution over the output): `C_out/g` rows, `C_in/g * taps`
///   deep, one output plane wide; it multiplies the padding around the input too (`Q` output
///   positions, each over every tap), 2.25x fewer with Winograd F(2x2, 3x3) on 3x3 kernels and
///   1.56-1.78x fewer on 2x2 and 4x4 to 8x8 (planes of 32x32 and more, see
///   [`super::winograd`]); im2col writes `C_in/g * kW` elements per output position (the
///   row-shift lowering, `taps` times that otherwise);
/// * GEMM + col2im: `C_out/g * taps` rows, `C_in/g` deep, as wide as a run of images
///   ([`images_per_gemm`]); only taps that land somewhere, but its column buffer
///   (`C_out/g * taps * P_in`) is written and read.
///
/// So a layer with few output channels (an image-to-RGB layer: a 3-row product) or many
/// taps around small inputs goes through col2im, one with few input channels (a 16-deep
/// col2im product) flips. Under 16 input channels per group it always flips (a col2im
/// product that shallow ran 1.2-2x slower in every layer measured), and a 1x1 kernel always
/// flips (one GEMM; [`pointwise`] and [`super::pointwise_gemm`] take it first, but on
/// planes that alias). (Over 45 random stride-1 layers: 1.04x the time of the
/// better path on average, against 1.47x for always flipping.)
fn prefers_col2im_at_stride_one(p: &Problem) -> bool {
    let (kvol, cin, cout) = (p.kernel_volume(), p.strided_channels, p.dense_channels);
    if kvol == 1 || cin < 16 {
        return false;
    }
    let (pin, q) = (p.strided_plane(), p.dense_plane());
    let macs = |rows: usize, depth: usize, cols: usize| (rows * depth) as f64 * cols as f64;
    let flipped = flipped_problem(p);
    let winograd = if winograd_flips(&flipped) {
        super::winograd::savings(&flipped)
    } else {
        1.0
    };
    let kw = p.axes[2].kernel;
    let lowering = super::conv::lowering(&flipped);
    let lowered = match lowering {
        super::conv::Lowering::RowShift => cin * kw,
        super::conv::Lowering::WidthShift => cin,
        _ => cin * kvol,
    };
    let flip = macs(cout, cin * kvol, q)
        / winograd
        / (gemm_rate_by_size(cout) * gemm_rate_by_depth(cin * kvol) * gemm_rate_by_size(q))
        + MOVE_COST * ((lowered + cout) * q) as f64;
    let width = pin * images_per_gemm(p);
    let col2im = macs(cout * kvol, cin, pin)
        / (gemm_rate_by_size(cout * kvol) * gemm_rate_by_depth(cin) * gemm_rate_by_size(width))
        + MOVE_COST * (2 * cout * kvol * pin + cout * q) as f64;
    // a flipped layer of one band in all (one small image) is one task, which one thread
    // runs while the others wait (or two halves, see `conv::splits_lone_band`, still slower
    // than col2im's channel blocks on the layers the model moves then); col2im splits such a
    // layer into channel blocks. A windowed row (a long 1-D signal) is one task per window.
    let (band_rows, rows) = super::conv::band(&flipped);
    let windowed = super::conv::window_for(&flipped, lowering) < flipped.axes[2].strided;
    let one_task = p.batch * p.groups * rows.div_ceil(band_rows.max(1)) == 1 && !windowed;
    let flip = if one_task { 2.0 * flip } else { flip };
    col2im < flip
}

/// Whether a prepared layer runs a lone image whose outputs are each hit once
/// ([`bands_split_freely`]) as bands of output rows with all of a group's channels in one
/// block, also where the functions keep channel blocks of 256 rows or more
/// ([`SPLIT_ROWS_FOR_BANDS`]): those blocks each pack the whole input again, and the bands'
/// single block, which would make a function transpose the whole weight per call, is a
/// layer's kept transposed weight (at most [`WEIGHT_COPY_BUDGET`] elements). Paired A/B
/// through a layer, 21 rounds: unet_2x2_s2 0.92-0.94x the time (0.96x on the previous
/// machine, a Zen 3); through the function 1.09x.
fn layer_bands(p: &Problem) -> bool {
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    bands_split_freely(p) && !splits_into_bands(p) && weight <= WEIGHT_COPY_BUDGET
}

/// Whether `p` is a 1-D layer (both outer axes a single position). Such layers never take
/// sub-pixel phases: each phase is one row, whose operand is built and multiplied a window at
/// a time, and one image is one task (the phases split planes into bands of rows, and there
/// is one row). Randomized A/B of the two paths, 2 threads, on vocoder-like layers (HiFi-GAN
/// and MelGAN upsampling, 32 -> 16 to 512 -> 256 channels, k4/s2 to k25/s4, 256 to 16384
/// samples, 1-4 signals): GEMM + col2im 0.31-0.88x the time in all 30.
fn one_d(p: &Problem) -> bool {
    p.axes[..2].iter().all(|a| a.strided == 1 && a.dense == 1)
}

/// Fewest input channels per group for which a lone small image (batch 1) goes through
/// GEMM + col2im whatever the traffic model says (see [`prefers_subpixel`]).
const SMALL_IMAGE_DEPTH: usize = 16;

/// Chooses between the two strided paths by the memory traffic each adds to the same GEMM
/// work, per image and group, in elements:
///
/// * GEMM + col2im: the column buffer (`C_out/g * taps * P_in`) is written and read, each
///   output is stored once after its contributions (`pairs / Q` of them on average) are summed
///   in a row buffer, that summing counted like a read and a write per contribution (dropping
///   that term moved fcn_16x16_s8, guide B and C to col2im and made them 1.1-1.4x slower), and
///   the GEMM packs the input once per channel block;
/// * sub-pixel: the phases' operands (see [`super::subpixel::im2col_elements`]) are written
///   and read, each output is stored once, with a stride (counted twice), and each phase's
///   GEMM packs its whole operand, `C_in/g * sub-taps * phase positions`.
///
/// When every output is hit exactly once, col2im stores (no init, no adds) and the GEMM has
/// `taps` times more rows, so it stays. Small images stay too: col2im puts several side by
/// side in one GEMM (see [`images_per_gemm`]), sub-pixel would run one narrow GEMM per image
/// and phase. That holds for a lone small image as well (batch 1, under [`MIN_TILE_COLS`]
/// input positions, from [`SMALL_IMAGE_DEPTH`] input channels per group: one GEMM of `taps`
/// times the rows against four to sixteen narrow ones; randomized A/B over the 12 random
/// layers this moves, 6x6 to 15x15 inputs: 0.2-0.84x the time in all 12). With two images the
/// phases had enough work (0.76x to 1.27x the time, mixed), and with fewer input channels the
/// col2im product is too shallow (8 -> 256 on 9x9 to 11x11: 1.2-1.4x slower), so the model
/// decides those.
/// Ties go to col2im: its GEMM reads the input directly.
fn prefers_subpixel(p: &Problem) -> bool {
    if p.axes.iter().all(AxisMap::covers_exactly_once) || images_per_gemm(p) > 1 || one_d(p) {
        return false;
    }
    if p.batch == 1 && p.strided_plane() < MIN_TILE_COLS && p.strided_channels >= SMALL_IMAGE_DEPTH
    {
        return false;
    }
    if super::subpixel::all_winograd(p) {
        return true;
    }
    let (q, pin) = (p.dense_plane() as f64, p.strided_plane() as f64);
    let (cin, cout) = (p.strided_channels as f64, p.dense_channels as f64);
    let pairs: f64 = p.axes.iter().map(|a| a.valid_pairs() as f64).product();
    let blocks = p
        .dense_channels
        .div_ceil(block_channels_for(p, p.batch * p.groups)) as f64;
    let col2im = 2.0 * cout * p.kernel_volume() as f64 * pin
        + cout * (q + 2.0 * pairs)
        + 2.0 * cin * pin * blocks;
    let subpixel = 2.0 * super::subpixel::im2col_elements(p) as f64
        + 2.0 * cout * q
        + 2.0 * super::subpixel::packed_elements(p) as f64;
    subpixel < 0.9 * col2im
}

/// Scratch elements [`run`] allocates for `p` per task (tasks may run concurrently, one per
/// thread, up to [`max_tasks_at_once`]).
pub(crate) fn workspace(p: &Problem) -> usize {
    path_workspace(path(p), p)
}

/// [`workspace`] on `path`.
fn path_workspace(path: Path, p: &Problem) -> usize {
    match path {
        // `f64` takes the other path
        Path::Direct => super::direct::workspace(p).max(path_workspace(gemm_path(p), p)),
        Path::Depthwise => super::depthwise::workspace(p),
        Path::Pointwise => 0,
        Path::PointwiseGemm => super::pointwise_gemm::workspace(&pointwise_shape(p)),
        Path::Tiled => super::tiled::workspace(p),
        Path::PhaseRows => super::phase_rows::workspace(p),
        Path::TapRows => super::phase_rows::taps_workspace(p),
        Path::Projection => packing(
            images_per_projection(p),
            p.strided_channels,
            p.dense_channels * p.kernel_volume(),
        ),
        Path::Flipped => super::conv::workspace(&flipped_problem(p)),
        Path::Subpixel => super::subpixel::workspace(p),
        Path::PhaseStack => {
            super::phase_stack::workspace(p).max(path_workspace(unstacked_path(p), p))
        }
        Path::Col2im => {
            let imgs = images_per_gemm(p);
            let block = block_channels_for(p, p.batch.div_ceil(imgs) * p.groups);
            // a prepared layer's tasks may be cut differently (see `gemm_col2im`)
            let layer = if per_image_shape(p) {
                col2im_scratch(p, 1, per_image_block(p))
            } else if layer_bands(p) {
                col2im_scratch(p, 1, p.dense_channels)
            } else {
                0
            };
            col2im_scratch(p, imgs, block).max(layer)
        }
    }
}

/// [`workspace`] of a GEMM + col2im task with runs of `imgs` images and blocks of `block`
/// output channels.
fn col2im_scratch(p: &Problem, imgs: usize, block: usize) -> usize {
    let m = block * p.kernel_volume();
    let (cols, _) = cols_of(p, imgs, block);
    let batched_input = if imgs > 1 {
        p.strided_channels * cols
    } else if copies_input(p, block) {
        p.strided_channels * (cols + ALIAS_PAD)
    } else {
        0
    };
    let product = if skinny_layer(p) {
        skinny::scratch_len()
    } else {
        packing(m, p.strided_channels, cols) + product_scratch(m, cols, p.strided_channels, false)
    };
    // a prepared layer's products through the panels (see `reads_panels`)
    let panels = if panel_cols(cols) {
        packing(PANEL_ROWS, p.strided_channels, cols)
            + product_scratch(m, cols, p.strided_channels, true)
    } else {
        0
    };
    m * cols + batched_input + product.max(panels)
}

/// Weight elements [`run`] copies into other layouts for `p` (once per call, shared by the
/// tasks), counting a transient second copy where one layout is built from another.
pub(crate) fn copies(p: &Problem) -> usize {
    path_copies(path(p), p)
}

/// [`copies`] on `path`.
fn path_copies(path: Path, p: &Problem) -> usize {
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    match path {
        Path::Direct => super::direct::copies(p).max(path_copies(gemm_path(p), p)),
        Path::Depthwise
        | Path::Pointwise
        | Path::PointwiseGemm
        | Path::Projection
        | Path::Tiled
        | Path::PhaseRows
        | Path::TapRows => 0,
        Path::Flipped => {
            // (Winograd's kernel is made from the weight as it is, without a flipped copy)
            let flipped = flipped_problem(p);
            let flipped_copy = if winograd_flips(&flipped) { 0 } else { weight };
            flipped_copy + super::conv::copies(&flipped)
        }
        Path::Subpixel => super::subpixel::copies(p),
        Path::PhaseStack => super::phase_stack::copies(p).max(path_copies(unstacked_path(p), p)),
        Path::Col2im => {
            if col_weight_transposed(p) {
                weight
            } else {
                0
            }
        }
    }
}

/// Tasks of `p` that may run at once (see [`super::max_concurrent`]).
fn max_tasks_at_once<T>(p: &Problem, output: usize) -> usize {
    super::max_concurrent(workspace(p), copies(p), output, std::mem::size_of::<T>())
}

/// Output channels per GEMM block when there are `tasks` independent (image run, group)
/// tasks: whole groups when there are enough of them, otherwise a split into about four
/// blocks (of at least 64 GEMM rows) so threads have work, also with fewer than 8 channels (a
/// lone 512 -> 3 8x8 head on 16x16: 0.85x the time as three one-channel blocks). Fixed by
/// the problem alone, so the arithmetic never depends on the thread count. A lone image whose
/// outputs are each hit once splits into bands of output rows instead ([`bands_split_freely`]).
///
/// A block's weight (`C_in/g x block x taps`) is also what the GEMM packs for one product, so
/// blocks stay within [`super::TILE_CAP`] elements of it: large layers get narrower blocks
/// and the GEMM's own buffers stay bounded.
fn block_channels_for(p: &Problem, tasks: usize) -> usize {
    let cg = p.dense_channels;
    let by_threads = if tasks >= 4 || splits_into_bands(p) {
        cg
    } else {
        split_block(p)
    };
    // (a skinny product packs nothing: only its column tile is bounded)
    let by_memory = if skinny_layer(p) {
        super::TILE_CAP / (p.kernel_volume() * p.strided_plane() * images_per_gemm(p)).max(1)
    } else {
        super::TILE_CAP / (p.strided_channels * p.kernel_volume()).max(1)
    };
    by_threads.min(by_memory).max(1)
}

/// Channels per block when a lone image's output channels are split for the threads:
/// [`split_share`], or the largest divisor of the channels not below half of it, so that the
/// blocks are equal. A 3-channel 7x7 head had blocks of 2 + 1 channels, and one thread twice
/// the other's work: as three blocks of one, 256 -> 3 7x7 on 32x32 ran 0.77-0.84x the time in
/// paired in-process A/Bs (11-21 rounds), but level in ten alternating runs of the two builds
/// (medians 0.73 and 0.72 ms, the new build's runs bimodal: 0.55-0.57 or 0.72-0.86); the only
/// other such layer of the benchmark sets (21 -> 21 4x4/2 on 64x64: blocks of 3, not
/// 6 + 6 + 6 + 3) was level.
fn split_block(p: &Problem) -> usize {
    let (cg, share) = (p.dense_channels, split_share(p));
    (share.div_ceil(2)..=share)
        .rev()
        .find(|b| cg % b == 0)
        .unwrap_or(share)
}

/// About a quarter of a lone image's output channels, at least 64 GEMM rows (at least one).
fn split_share(p: &Problem) -> usize {
    p.dense_channels
        .div_ceil(4)
        .max(64usize.div_ceil(p.kernel_volume()))
        .min(p.dense_channels)
        .max(1)
}

/// Channel blocks of fewer GEMM rows than this give way to bands of output rows where
/// [`bands_split_freely`]. With blocks of 256 rows (unet_2x2_s2: 512 -> 256 2x2/2 on 32x32)
/// the input's repacking costs little, and the bands' single block would make the functions
/// transpose the whole weight per call (randomized A/B, 15 rounds: 1.06x the time through the
/// function, 0.96x through a layer), so those keep their blocks.
const SPLIT_ROWS_FOR_BANDS: usize = 256;

/// Whether a lone image's output goes in bands of rows instead of channel blocks (see
/// [`bands_split_freely`] and [`SPLIT_ROWS_FOR_BANDS`]).
fn splits_into_bands(p: &Problem) -> bool {
    split_share(p) * p.kernel_volume() < SPLIT_ROWS_FOR_BANDS && bands_split_freely(p)
}

/// Whether a lone image (fewer than four images and groups) splits into bands of output rows
/// ([`out_bands`]) rather than channel blocks: every output is hit once (kernel == stride, no
/// padding), so a band's GEMM multiplies only its own input rows (no halo), and a whole input
/// row fits one column tile. Each channel block's GEMM packs the whole input again, and the
/// blocks have few rows (64 for 128 -> 64 2x2/2: the packing was 17% of the CPU time on a
/// 64x64 map, 8% as bands). Randomized A/B of the eight such layers of a set of ten (2x2/2,
/// 3x3/3, 4x4/4; 32-192 input channels, 32x32 to 160x96 maps, one or two images), medians of
/// the per-round ratios: through layers 0.83-0.99x the time (15 rounds, all below 1) and
/// 0.91-1.04x against the previous build (11 rounds; the two unchanged layers 0.99x and
/// 1.03x); through the functions 0.91-1.05x (unchanged ones 0.93x and 1.00x).
fn bands_split_freely(p: &Problem) -> bool {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1;
    planar
        && p.batch * p.groups < 4
        && images_per_gemm(p) == 1
        && a.iter().all(AxisMap::covers_exactly_once)
        && a[1].dense / MIN_BAND_ROWS >= 4
        && a[1].strided >= 4
        && window_cols(p.dense_channels * p.kernel_volume(), a[2].strided) >= a[2].strided
}

/// Whether every GEMM of the layer has at most [`skinny::SKINNY_COLS`] columns (a whole image,
/// or a run of images, of so few positions), so [`skinny_product`] runs them.
fn skinny_layer(p: &Problem) -> bool {
    p.strided_plane() * images_per_gemm(p) <= skinny::SKINNY_COLS
}

/// Rows of the strided side per GEMM tile, and the total number of such rows.
fn col_tile(p: &Problem, block: usize) -> (usize, usize) {
    let rows = p.axes[0].strided * p.axes[1].strided;
    let per_row = block * p.kernel_volume() * p.axes[2].strided;
    (tile_rows(per_row, p.axes[2].strided, rows), rows)
}

/// Positions of a row per GEMM tile: the whole row, unless one row's column buffer alone is
/// over [`super::TILE_CAP`] (long 1-D signals), then windows of it.
fn col_window(p: &Problem, block: usize) -> usize {
    window_cols(block * p.kernel_volume(), p.axes[2].strided)
}

/// Whether GEMM + col2im transposes the weight once per call (see [`gemm_col2im`]).
fn col_weight_transposed(p: &Problem) -> bool {
    let imgs = images_per_gemm(p);
    let block = block_channels_for(p, p.batch.div_ceil(imgs) * p.groups);
    let (tile_rows, rows) = if imgs > 1 {
        (1, 1)
    } else if col_window(p, block) < p.axes[2].strided {
        (1, 2)
    } else {
        col_tile(p, block)
    };
    if skinny_layer(p) {
        // the skinny product reads the weight where it lies
        return false;
    }
    let gemms_per_block = p.batch.div_ceil(imgs) * rows.div_ceil(tile_rows);
    let weight = p.strided_channels_total() * p.dense_channels * p.kernel_volume();
    gemms_per_block > 1 && weight <= WEIGHT_COPY_BUDGET
}

/// Where strided row `r` (an index over the two outer axes) lands with taps `(kd, kh)`:
/// the dense row index, or `None` when it falls outside.
#[inline]
pub(super) fn dense_row(axes: &[AxisMap; 3], r: usize, kd: usize, kh: usize) -> Option<usize> {
    let (id, ih) = (r / axes[1].strided, r % axes[1].strided);
    let od = axes[0].dense_pos(id, kd);
    let oh = axes[1].dense_pos(ih, kh);
    if od < 0 || oh < 0 || od >= axes[0].dense as i64 || oh >= axes[1].dense as i64 {
        return None;
    }
    Some(od as usize * axes[1].dense + oh as usize)
}

/// How [`col2im`] puts a tile's column rows into the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    /// Every output is hit by exactly one (position, tap) pair (kernel == stride, no
    /// padding): stored straight from the columns, bias fused.
    Exact,
    /// The output is uninitialised: an output row is stored whole (bias included) by the first
    /// tile that reaches it, later tiles add to it, and rows no tap reaches get the bias.
    /// Tiles of one image must come in order.
    Fresh,
    /// The output already holds the bias and everything is added (windows along a row, which
    /// share output positions at their edges).
    Add,
}

/// Output rows [`col2im`] plans at a time (their taps found once for all planes of a block).
const PLAN_ROWS: usize = 32;

/// Strided rows shorter than this (4x4 to 7x7 inputs) are gathered one output row at a
/// time, as before the memory-order walk (a column row of a few positions is one cache line
/// either way): randomized A/B, 15 rounds, twice, 5x5/2 and 8x8/3 layers on 4x4 inputs
/// 0.88-0.95x the time of the memory-order walk, the others level.
const TINY_ROW: usize = 8;

/// Most elements [`col2im`]'s batch of output rows holds (128 KiB of `f32`, so it stays in
/// the L2 cache; long rows get smaller batches, one row at least).
const PLAN_ELEMENTS: usize = 1 << 15;

/// Puts column rows `col[m, ...]` for strided rows `r0..r1` of one image into the output
/// planes of one block. Row `m = j*kvol + tap` of the column matrix holds that image's
/// positions at `offset..`, rows `stride` apart.
///
/// A gather per output row: the (kd, kh, strided row) triples that reach output row (od, oh)
/// come from [`RowReach`]; their `kw` taps go into a [`PhaseRow`] (contiguous runs, no range
/// checks), which then goes out once, cropped by the padding. The rows of a batch of up to
/// [`PLAN_ROWS`] output rows (fewer when rows are long, so the batch stays within
/// [`PLAN_ELEMENTS`]) are built together, so that each column row is read in
/// memory order (by tap, then strided row) rather than a column row per tap. An output row is
/// stored (bias included) by the first tile that reaches it and added to by later ones, so the
/// output needs no initialisation pass. Which rows a run of output rows needs is worked out
/// once for all the block's planes.
#[allow(clippy::too_many_arguments)]
fn col2im<T: Element>(
    p: &Problem,
    col: Cols<'_, T>,
    (r0, r1): (usize, usize),
    out: &mut OutRows<'_, '_, T>,
    first_tile: bool,
    bias: &[T],
    put: Put,
    w_ranges: &[(usize, usize)],
) {
    if put == Put::Exact {
        return col2im_exact(p, col, (r0, r1), out, bias, w_ranges);
    }
    let a = &p.axes;
    let kvol = p.kernel_volume();
    let (h_in, w_in, w_out) = (a[1].strided, a[2].strided, a[2].dense);
    let (row0, row1) = out.rows;
    if r0 >= r1 || w_in == 0 {
        return;
    }
    let Cols {
        data: col,
        stride: cols,
        offset,
    } = col;
    let reach = RowReach::new(a);
    // The output rows to visit: all of them in a fresh output's first tile (rows no tap
    // reaches get the bias there), otherwise those this tile's rows can reach; only those of
    // `out` in any case.
    let fill_unreached = put == Put::Fresh && first_tile;
    let ((od0, od1), (oh0, oh1)) = if fill_unreached {
        ((0, a[0].dense), (0, a[1].dense))
    } else if r0 / h_in == (r1 - 1) / h_in {
        (
            a[0].dense_span(r0 / h_in, r0 / h_in + 1),
            a[1].dense_span(r0 % h_in, (r1 - 1) % h_in + 1),
        )
    } else {
        (
            a[0].dense_span(r0 / h_in, (r1 - 1) / h_in + 1),
            (0, a[1].dense),
        )
    };
    let n_oh = oh1 - oh0;
    let total = (od1 - od0) * n_oh;
    let batch = (PLAN_ELEMENTS / PhaseRow::<T>::row_elements(&a[2]).max(1)).clamp(1, PLAN_ROWS);
    let mut rows = PhaseRow::rows(&a[2], total.min(batch));
    // plan entries: (output row, store rather than add, has taps); `reads` holds
    // (tap offset, strided row within the tile, plan entry) for every tap row that reaches a
    // planned row, sorted so that each column row is read in memory order
    let mut plan: Vec<(usize, bool, bool)> = Vec::with_capacity(batch);
    let mut taps: Vec<(usize, usize)> = Vec::new();
    let mut reads: Vec<(usize, usize, usize)> = Vec::new();
    for k0 in (0..total).step_by(batch) {
        plan.clear();
        reads.clear();
        for k in k0..(k0 + batch).min(total) {
            let (od, oh) = (od0 + k / n_oh, oh0 + k % n_oh);
            let orow = od * a[1].dense + oh;
            if !(row0..row1).contains(&orow) {
                continue;
            }
            taps.clear();
            let first = reach.rows(od, oh, (r0, r1), &mut taps);
            if first == usize::MAX {
                if fill_unreached {
                    plan.push((orow, true, false));
                }
            } else if !taps.is_empty() {
                let store = put == Put::Fresh && first >= r0;
                reads.extend(taps.iter().map(|&(tap0, dr)| (tap0, dr, plan.len())));
                plan.push((orow, store, true));
            }
        }
        // (short rows keep `reads` in plan order, row by row: see `GatherRows`)
        if w_in >= TINY_ROW {
            reads.sort_unstable();
        }
        vectorized(GatherRows {
            planes: &mut *out.planes,
            row0,
            w_out,
            plan: &plan,
            reads: &reads,
            rows: &mut rows,
            col: Cols {
                data: col,
                stride: cols,
                offset,
            },
            kvol,
            kernel_w: a[2].kernel,
            w_in,
            bias,
        });
    }
}

/// [`col2im`]'s gather of a batch of planned output rows into every plane of the block,
/// compiled for AVX2 through [`vectorized`].
struct GatherRows<'a, 'b, 'c, T> {
    planes: &'a mut [&'b mut [T]],
    /// First output row held in `planes`.
    row0: usize,
    w_out: usize,
    /// (output row, store rather than add, reached by a tap).
    plan: &'a [(usize, bool, bool)],
    /// (tap offset, strided row within the tile, plan entry), sorted.
    reads: &'a [(usize, usize, usize)],
    rows: &'a mut PhaseRow<T>,
    col: Cols<'c, T>,
    kvol: usize,
    kernel_w: usize,
    w_in: usize,
    bias: &'a [T],
}

impl<T: Element> Kernel for GatherRows<'_, '_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let GatherRows {
            planes,
            row0,
            w_out,
            plan,
            reads,
            rows,
            col,
            kvol,
            kernel_w,
            w_in,
            bias,
        } = self;
        for (j, plane) in planes.iter_mut().enumerate() {
            let bj = bias[j];
            for (q, &(_, store, reached)) in plan.iter().enumerate() {
                if reached {
                    rows.reset_row(q, if store { bj } else { T::zero() });
                }
            }
            // column row of tap (kd, kh, kw) is m0 + kw; a strided row is at
            // `offset + dr*w_in` in it
            if w_in < TINY_ROW {
                // one planned row at a time, its taps in turn (`reads` in plan order)
                for &(tap0, dr, q) in reads {
                    let m0 = j * kvol + tap0;
                    for kw in 0..kernel_w {
                        let at = (m0 + kw) * col.stride + col.offset + dr * w_in;
                        rows.add_row(q, kw, &col.data[at..][..w_in]);
                    }
                }
            } else {
                // one tap row (kd, kh) at a time: its `kw` column rows each read over the
                // planned rows' strided rows in order
                for group in reads.chunk_by(|x, y| x.0 == y.0) {
                    let m0 = j * kvol + group[0].0;
                    for kw in 0..kernel_w {
                        let col_row = &col.data[(m0 + kw) * col.stride + col.offset..];
                        for &(_, dr, q) in group {
                            rows.add_row(q, kw, &col_row[dr * w_in..][..w_in]);
                        }
                    }
                }
            }
            for (q, &(orow, store, reached)) in plan.iter().enumerate() {
                let out_row = &mut plane[(orow - row0) * w_out..][..w_out];
                if !reached {
                    out_row.fill(bj);
                } else if store {
                    rows.store_row(q, out_row, bj);
                } else {
                    rows.add_to_row(q, out_row);
                }
            }
        }
    }
}

/// [`col2im`] when every output is hit exactly once: each column row is stored straight into
/// its output positions with the bias (see [`ExactRows`]).
fn col2im_exact<T: Element>(
    p: &Problem,
    col: Cols<'_, T>,
    rows: (usize, usize),
    out: &mut OutRows<'_, '_, T>,
    bias: &[T],
    w_ranges: &[(usize, usize)],
) {
    let a = &p.axes;
    let w = &a[2];
    if w.kernel == w.stride
        && w.stride <= 4
        && w.dilation == 1
        && w.pad_begin == 0
        && w.dense == w.strided * w.stride
    {
        return vectorized(ExactRows {
            axes: &p.axes,
            col,
            rows,
            out,
            bias,
        });
    }
    let kw_n = a[2].kernel;
    let kvol = p.kernel_volume();
    let (w_in, w_out) = (a[2].strided, a[2].dense);
    let row0 = out.rows.0;
    let Cols {
        data: col,
        stride: cols,
        offset,
    } = col;
    for (j, plane) in out.planes.iter_mut().enumerate() {
        let bj = bias[j];
        each_exact_row(a, rows, out.rows, |tap_row, r, orow| {
            let out_row = &mut plane[(orow - row0) * w_out..][..w_out];
            // column row of tap (kd, kh, kw) is m0 + kw; this input row starts at `base(kw)`
            let m0 = j * kvol + tap_row * kw_n;
            let base = |kw: usize| (m0 + kw) * cols + offset + (r - rows.0) * w_in;
            let src = |kw: usize| &col[base(kw)..base(kw) + w_in];
            row_taps(
                out_row,
                &a[2],
                w_ranges,
                src,
                |_| T::one(),
                |d, v| *d = v + bj,
            );
        });
    }
}

/// `f(kd*K_h + kh, r, output row)` for every (kd, kh) tap row and strided row `r` in `rows`
/// whose output row lies in `out_rows` (under an exact cover each output row comes from one
/// such pair).
#[inline(always)]
fn each_exact_row(
    a: &[AxisMap; 3],
    rows: (usize, usize),
    (row0, row1): (usize, usize),
    mut f: impl FnMut(usize, usize, usize),
) {
    for kd in 0..a[0].kernel {
        for kh in 0..a[1].kernel {
            for r in rows.0..rows.1 {
                match dense_row(a, r, kd, kh) {
                    Some(orow) if (row0..row1).contains(&orow) => f(kd * a[1].kernel + kh, r, orow),
                    _ => {}
                }
            }
        }
    }
}

/// [`col2im_exact`]'s loops when the width has kernel == stride <= 4, undilated and
/// unpadded (the U-Net and patch layers), compiled for the widest vectors available (see
/// [`super::simd`]): input position `i` of a row and tap `kw` land on output `i*s + kw`, so
/// the `s` column rows of a (kd, kh) tap go out as one interleaved run of the whole output
/// row, `s` taps per step. (Written as `s` strided passes instead, the stores ran slower
/// compiled this way than as scalars.)
struct ExactRows<'a, 'b, 'c, 'd, T> {
    axes: &'a [AxisMap; 3],
    col: Cols<'a, T>,
    rows: (usize, usize),
    out: &'b mut OutRows<'c, 'd, T>,
    bias: &'a [T],
}

impl<T: Element> Kernel for ExactRows<'_, '_, '_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let ExactRows {
            axes: a,
            col,
            rows,
            out,
            bias,
        } = self;
        let s = a[2].stride;
        let kvol = a[0].kernel * a[1].kernel * s;
        let (w_in, w_out) = (a[2].strided, a[2].dense);
        let row0 = out.rows.0;
        for (j, plane) in out.planes.iter_mut().enumerate() {
            let bj = bias[j];
            each_exact_row(a, rows, out.rows, |tap_row, r, orow| {
                let out_row = &mut plane[(orow - row0) * w_out..][..w_out];
                // column row of tap (kd, kh, kw) is m0 + kw; this input row starts at
                // `offset + (r - rows.0)*w_in` in it
                let m0 = j * kvol + tap_row * s;
                let at = |kw: usize| {
                    &col.data[(m0 + kw) * col.stride + col.offset + (r - rows.0) * w_in..][..w_in]
                };
                if s == 1 {
                    out_row
                        .iter_mut()
                        .zip(at(0))
                        .for_each(|(o, &v)| *o = v + bj);
                } else if s == 2 {
                    let (even, odd) = (at(0), at(1));
                    for ((o, &u), &v) in out_row.chunks_exact_mut(2).zip(even).zip(odd) {
                        o[0] = u + bj;
                        o[1] = v + bj;
                    }
                } else if s == 3 {
                    let taps = at(0).iter().zip(at(1)).zip(at(2));
                    for (o, ((&u, &v), &t)) in out_row.chunks_exact_mut(3).zip(taps) {
                        o[0] = u + bj;
                        o[1] = v + bj;
                        o[2] = t + bj;
                    }
                } else {
                    let taps = at(0).iter().zip(at(1)).zip(at(2)).zip(at(3));
                    for (o, (((&u, &v), &t), &z)) in out_row.chunks_exact_mut(4).zip(taps) {
                        o[0] = u + bj;
                        o[1] = v + bj;
                        o[2] = t + bj;
                        o[3] = z + bj;
                    }
                }
            });
        }
    }
}

/// Puts `src(kw)[i] * scale(kw)` into `out_row[i*stride + kw*dilation - pad_begin]` with
/// `put(element, value)` (an add, or a store with the bias when each output is hit once) for
/// every tap `kw` of `axis` and every position `i` in its range (`ranges[kw]`; `src(kw)` is
/// the whole strided row).
///
/// With stride 2 and dilation 1, taps `kw` and `kw+1` of input `i` land on two neighbouring
/// outputs, so over the positions both cover, the two rows go out as one interleaved
/// contiguous run (which the compiler vectorises) instead of two stride-2 passes.
#[inline]
fn row_taps<'s, T: Element + 's>(
    out_row: &mut [T],
    axis: &AxisMap,
    ranges: &[(usize, usize)],
    src: impl Fn(usize) -> &'s [T],
    scale: impl Fn(usize) -> T,
    put: impl Fn(&mut T, T),
) {
    let s = axis.stride;
    let single = |out_row: &mut [T], kw: usize, lo: usize, hi: usize| {
        if lo >= hi {
            return;
        }
        let (row, wv) = (&src(kw)[lo..hi], scale(kw));
        let dst = &mut out_row[axis.dense_pos(lo, kw) as usize..];
        if s == 1 {
            dst.iter_mut().zip(row).for_each(|(d, &v)| put(d, v * wv));
        } else {
            dst.iter_mut()
                .step_by(s)
                .zip(row)
                .for_each(|(d, &v)| put(d, v * wv));
        }
    };
    let pairs = s == 2 && axis.dilation == 1;
    let mut kw = 0;
    while kw < ranges.len() {
        let (lo0, hi0) = ranges[kw];
        if pairs && kw + 1 < ranges.len() {
            let (lo1, hi1) = ranges[kw + 1];
            let (lo, hi) = (lo0.max(lo1), hi0.min(hi1));
            if lo < hi {
                let ow0 = axis.dense_pos(lo, kw) as usize;
                let (w0, w1) = (scale(kw), scale(kw + 1));
                out_row[ow0..ow0 + 2 * (hi - lo)]
                    .chunks_exact_mut(2)
                    .zip(&src(kw)[lo..hi])
                    .zip(&src(kw + 1)[lo..hi])
                    .for_each(|((d, &u), &v)| {
                        put(&mut d[0], u * w0);
                        put(&mut d[1], v * w1);
                    });
                // the common range lies inside both taps' ranges; put what is left of each
                single(out_row, kw, lo0, lo);
                single(out_row, kw, hi, hi0);
                single(out_row, kw + 1, lo1, lo);
                single(out_row, kw + 1, hi, hi1);
                kw += 2;
                continue;
            }
        }
        single(out_row, kw, lo0, hi0);
        kw += 1;
    }
}

/// The output rows a [`col2im`] call may write: rows `rows.0..rows.1` (over the two outer
/// axes) of each plane of a block of channels, `planes[j]` starting at row `rows.0`.
struct OutRows<'a, 'b, T> {
    planes: &'a mut [&'b mut [T]],
    rows: (usize, usize),
}

/// Bands of output rows [`gemm_col2im`] splits each (image run, group, channel block) task
/// into: with fewer than four such tasks (one image with few output channels, such as a
/// decoder's RGB or mask layer), a 1-D or 2-D layer of one image per GEMM runs as up to four
/// bands of output rows, each computing the input rows that reach it (so a band may repeat a
/// few halo rows of GEMM work). Fixed by the problem alone, never by the thread count.
fn out_bands(p: &Problem, tasks: usize) -> usize {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1;
    if tasks >= 4 || !planar || images_per_gemm(p) > 1 {
        return 1;
    }
    // at least MIN_BAND_ROWS output rows and one input row per band
    let by_rows = (a[1].dense / MIN_BAND_ROWS).min(a[1].strided);
    4usize.div_ceil(tasks).min(by_rows).max(1)
}

/// Fewest output rows per band of [`out_bands`].
const MIN_BAND_ROWS: usize = 16;

/// Output rows per band when `p`'s rows go in `bands` bands: a multiple of the stride, so
/// that with kernel == stride every input row lands in one band.
fn band_rows(p: &Problem, bands: usize) -> usize {
    let (h, s) = (p.axes[1].dense, p.axes[1].stride);
    h.div_ceil(bands.max(1)).next_multiple_of(s).max(1)
}

/// The strided rows that reach output rows `o0..o1` of a 1-D or 2-D layer (empty when none
/// do): `ih*s + kh*d - pad_begin` in `o0..o1` for some tap `kh`.
pub(super) fn rows_reaching(a: &AxisMap, (o0, o1): (usize, usize)) -> (usize, usize) {
    let (s, pb) = (a.stride as i64, a.pad_begin);
    let span = (a.kernel.saturating_sub(1) * a.dilation) as i64;
    let lo = (o0 as i64 + pb - span).max(0);
    let lo = (lo + s - 1) / s;
    let hi_pos = o1 as i64 - 1 + pb;
    if hi_pos < 0 || a.kernel == 0 {
        return (0, 0);
    }
    let hi = (hi_pos / s + 1).min(a.strided as i64);
    if lo >= hi {
        (0, 0)
    } else {
        (lo as usize, hi as usize)
    }
}

/// A column tile: row `m` starts at `m*stride`, and this image's columns at `offset` in it.
#[derive(Clone, Copy)]
struct Cols<'a, T> {
    data: &'a [T],
    stride: usize,
    offset: usize,
}

/// Images per GEMM: an image with fewer than [`MIN_TILE_COLS`] input positions is batched
/// with the next ones (their inputs copied side by side) so the GEMM stays wide, within
/// [`super::TILE_CAP`] column elements.
fn images_per_gemm(p: &Problem) -> usize {
    let pin = p.strided_plane().max(1);
    if pin >= MIN_TILE_COLS || p.batch <= 1 {
        return 1;
    }
    let per_image = p.dense_channels * p.kernel_volume() * pin;
    MIN_TILE_COLS
        .div_ceil(pin)
        .min(super::TILE_CAP / per_image.max(1))
        .clamp(1, p.batch)
}

/// One GEMM + col2im task: a group, a block of its output channels, a run of images and a
/// band of output rows, owning those rows of the block's planes in each of those images
/// (`planes[image][channel]`).
struct ColTask<'a, T> {
    group: usize,
    first_channel: usize,
    first_image: usize,
    out_rows: (usize, usize),
    planes: Vec<Vec<&'a mut [T]>>,
}

/// GEMM into a bounded column tile, then column-to-image adds; the products read
/// `prepared`'s packed weight where [`reads_panels`].
fn gemm_col2im<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    if y.is_empty() {
        return;
    }
    let (cin_g, cg, kvol, q) = (
        p.strided_channels,
        p.dense_channels,
        p.kernel_volume(),
        p.dense_plane(),
    );
    let pin = p.strided_plane();
    // a prepared layer may take one image per task instead (see `per_image_tiles`)
    let per_image = prepared.is_some() && per_image_tiles::<T>(p);
    // and a lone image whose outputs are each hit once goes in bands with all its channels
    // (see `layer_bands`)
    let whole_bands = prepared.is_some() && !per_image && layer_bands(p);
    let (imgs, block) = if per_image {
        (1, per_image_block(p))
    } else if whole_bands {
        (1, p.dense_channels)
    } else {
        let imgs = images_per_gemm(p);
        (
            imgs,
            block_channels_for(p, p.batch.div_ceil(imgs) * p.groups),
        )
    };
    let (tile_rows, rows) = if imgs > 1 {
        let rows = p.axes[0].strided * p.axes[1].strided;
        (rows, rows)
    } else {
        col_tile(p, block)
    };
    let w_ranges: Vec<(usize, usize)> = tap_ranges(&p.axes[2]);
    let w_in = p.axes[2].strided;
    let win = if imgs > 1 { w_in } else { col_window(p, block) };
    // windows along a row share output positions at their edges, so they add into an
    // output that holds the bias already
    let put = if p.axes.iter().all(AxisMap::covers_exactly_once) {
        Put::Exact
    } else if win < w_in {
        Put::Add
    } else {
        Put::Fresh
    };

    // Tasks: (run of images, group, block of output channels, band of output rows); band k
    // of the planes of image n, group g, block c goes to task
    // (((n / imgs) * groups + g) * blocks + c) * bands + k.
    let blocks = cg.div_ceil(block);
    let bands = if win < w_in || per_image {
        1
    } else {
        out_bands(p, p.batch.div_ceil(imgs) * p.groups * blocks)
    };
    let rows_out = p.axes[0].dense * p.axes[1].dense;
    let per_band = if bands > 1 {
        band_rows(p, bands)
    } else {
        rows_out
    };
    let w_out = p.axes[2].dense;
    let mut tasks: Vec<ColTask<'_, T>> = Vec::new();
    for n0 in (0..p.batch).step_by(imgs) {
        for g in 0..p.groups {
            for c in 0..blocks {
                for k in 0..bands {
                    let o0 = (k * per_band).min(rows_out);
                    tasks.push(ColTask {
                        group: g,
                        first_channel: c * block,
                        first_image: n0,
                        out_rows: (o0, (o0 + per_band).min(rows_out)),
                        planes: Vec::with_capacity(imgs),
                    });
                }
            }
        }
    }
    let y_len = y.len();
    let (whole, per_plane): (&mut [T], &mut [T]) = if bands == 1 {
        (y, &mut [])
    } else {
        (&mut [], y)
    };
    // whole planes: one run of each image's block of planes (split into planes inside the
    // task), so that many tiny planes list no slice per plane for the whole call
    for (ng, planes) in whole.chunks_mut(cg * q).enumerate() {
        let (n, g) = (ng / p.groups, ng % p.groups);
        let mut rest: &mut [T] = planes;
        for c in 0..blocks {
            let (head, tail) = rest.split_at_mut(block.min(cg - c * block) * q);
            rest = tail;
            tasks[((n / imgs) * p.groups + g) * blocks + c]
                .planes
                .push(vec![head]);
        }
    }
    for (plane_index, plane) in per_plane.chunks_mut(q.max(1)).enumerate() {
        // plane_index = (n * groups + g) * C_out/g + channel
        let (ng, ch) = (plane_index / cg, plane_index % cg);
        let (n, g) = (ng / p.groups, ng % p.groups);
        let (c, j) = (ch / block, ch % block);
        let mut rest: &mut [T] = plane;
        for k in 0..bands {
            let task = &mut tasks[(((n / imgs) * p.groups + g) * blocks + c) * bands + k];
            let (o0, o1) = task.out_rows;
            let (head, tail) = rest.split_at_mut((o1 - o0) * w_out);
            rest = tail;
            if j == 0 {
                task.planes.push(Vec::with_capacity(block));
            }
            task.planes.last_mut().expect("pushed above").push(head);
        }
    }
    // The GEMM's left operand is the weight of each group, [C_in/g, C_out/g * taps], read as
    // its transpose. The GEMM packs a row-major left operand much faster than this
    // column-major one (perf, dcgan_4x4_s2: packing 9% of the time as is, 1% row-major), so
    // when each weight block goes through more than one GEMM (several images or tiles) it is
    // transposed once per call first (2.4% of the CPU time there, in parallel bands through a
    // cache-sized buffer; it was 3.7% on one thread as a plain blocked loop). With one GEMM per
    // block (unet_2x2_s2) the
    // copy costs more than it saves. A prepared layer keeps it (and its panels) across calls.
    let rows_t = cg * kvol;
    let panels = prepared
        .filter(|_| per_image || reads_panels(p))
        .map(|prepared| prepared.panels(w, p));
    let transposes = (whole_bands || col_weight_transposed(p)) && panels.is_none();
    // Bands of TRANSPOSE_BLOCK transposed rows of each group, in parallel for a call's own
    // copy. A layer's copy is made on one thread: it is made inside a `OnceLock`, and a rayon
    // worker waiting there for its bands could steal another call of the same layer (a caller's
    // parallel loop over inputs) and enter the same `OnceLock` again, which deadlocks.
    let make_wt = |parallel: bool| {
        let mut wt = vec![T::zero(); p.groups * rows_t * cin_g];
        let mut bands = Vec::new();
        for (g, dst) in wt.chunks_exact_mut(cin_g * rows_t).enumerate() {
            for (k, d) in dst.chunks_mut(TRANSPOSE_BLOCK * cin_g).enumerate() {
                bands.push((g, k * TRANSPOSE_BLOCK, d));
            }
        }
        let transpose_band = |(g, j0, d): (usize, usize, &mut [T])| {
            let src = &w[g * cin_g * rows_t..][..cin_g * rows_t];
            transpose_rows(src, d, cin_g, rows_t, j0);
        };
        if parallel {
            let work = (TRANSPOSE_BLOCK * cin_g) as u64 * 32;
            for_each_task(bands, work, usize::MAX, transpose_band);
        } else {
            bands.into_iter().for_each(transpose_band);
        }
        wt
    };
    let wt_of_call: Vec<T>;
    let wt: Option<&[T]> = match prepared {
        _ if !transposes => None,
        Some(prepared) => Some(prepared.transposed(|| make_wt(false))),
        // a band's GEMM reads the weight in place: four bands' packing of it cost less than
        // a per-call transpose (randomized A/B, 11 rounds, eight lone-image layers through
        // the functions: 0.81-1.01x the time)
        None if splits_into_bands(p) => None,
        None => {
            wt_of_call = make_wt(true);
            Some(&wt_of_call)
        }
    };
    let work = p.multiply_adds() / tasks.len().max(1) as u64;
    let at_once = max_tasks_at_once::<T>(p, y_len);
    for_each_task(tasks, work, at_once, |task| {
        let ColTask {
            group: g,
            first_channel: co0,
            first_image: n0,
            out_rows,
            planes,
        } = task;
        // (whole planes came as one run per image)
        let mut planes: Vec<Vec<&mut [T]>> = if bands == 1 {
            planes
                .into_iter()
                .map(|runs| runs.into_iter().flat_map(|r| r.chunks_mut(q)).collect())
                .collect()
        } else {
            planes
        };
        let cbk = planes[0].len();
        let gco = g * cg + co0;
        let bias: Vec<T> = (0..cbk)
            .map(|j| b.map_or(T::zero(), |b| b[gco + j]))
            .collect();
        if put == Put::Add {
            for image in planes.iter_mut() {
                for (plane, &bv) in image.iter_mut().zip(&bias) {
                    plane.fill(bv);
                }
            }
        }
        let m = cbk * kvol;
        let copy_input = imgs == 1 && copies_input(p, block);
        let lhs = block_lhs(w, wt, (g, co0, cbk), p);
        let panel_block = panels.map(|panels| panels.block(g, co0 * kvol, m));
        let image_input = |n: usize| &x[(n * p.groups + g) * cin_g * pin..][..cin_g * pin];
        with_scratch(|col: &mut Vec<T>, packed: &mut Vec<T>| {
            if planes.len() > 1 {
                // Several small images: their inputs side by side, [C_in/g, images * P_in],
                // one GEMM, then col2im per image from its share of the columns.
                let wide = planes.len() * pin;
                let spare_len = product_scratch(m, wide, cin_g, panel_block.is_some());
                let (packed, spare) =
                    sized(packed, cin_g * wide + spare_len).split_at_mut(cin_g * wide);
                for k in 0..planes.len() {
                    let src = image_input(n0 + k);
                    for ci in 0..cin_g {
                        packed[ci * wide + k * pin..][..pin]
                            .copy_from_slice(&src[ci * pin..][..pin]);
                    }
                }
                let col = sized(col, cbk * kvol * wide);
                let rhs = Mat {
                    data: packed,
                    rows: cin_g,
                    cols: wide,
                    row_stride: wide,
                    col_stride: 1,
                };
                product_into_col(col, spare, (wide, wide), (lhs, panel_block), rhs);
                for (k, image) in planes.iter_mut().enumerate() {
                    let cols = Cols {
                        data: col,
                        stride: wide,
                        offset: k * pin,
                    };
                    let mut out = OutRows {
                        planes: image,
                        rows: out_rows,
                    };
                    col2im(p, cols, (0, rows), &mut out, true, &bias, put, &w_ranges);
                }
                return;
            }
            let xi = image_input(n0);
            let mut out = OutRows {
                planes: &mut planes[0],
                rows: out_rows,
            };
            if win < w_in {
                // One row's column buffer is over the cap: windows of `win` positions, each
                // a problem of its own along the row (see `Problem::window`).
                let col = sized(col, cbk * kvol * win);
                let copy_len = if copy_input {
                    cin_g * (win + ALIAS_PAD)
                } else {
                    0
                };
                let copy = sized(packed, copy_len);
                for r in 0..rows {
                    for c0 in (0..w_in).step_by(win) {
                        let c1 = (c0 + win).min(w_in);
                        let pw = p.window(c0, c1);
                        let at = (r * w_in + c0, c1 - c0);
                        let rhs = input_operand(xi, (pin, cin_g), at, copy_input, &mut *copy);
                        matmul(col, c1 - c0, lhs, rhs, false);
                        let tile = Cols {
                            data: col,
                            stride: c1 - c0,
                            offset: 0,
                        };
                        let ranges = tap_ranges(&pw.axes[2]);
                        col2im(&pw, tile, (r, r + 1), &mut out, r == 0, &bias, put, &ranges);
                    }
                }
                return;
            }
            let col = sized(col, cbk * kvol * tile_rows * w_in);
            let spare_len = product_scratch(m, tile_rows * w_in, cin_g, panel_block.is_some());
            let copy_len = if copy_input {
                cin_g * (tile_rows * w_in + ALIAS_PAD)
            } else {
                0
            };
            let (spare, copy) = sized(packed, spare_len + copy_len).split_at_mut(spare_len);
            // the strided rows that reach this task's output rows
            let (first, last) = if bands > 1 {
                rows_reaching(&p.axes[1], out_rows)
            } else {
                (0, rows)
            };
            if first >= last {
                // no tap reaches these rows: the bias alone
                for (plane, &bv) in out.planes.iter_mut().zip(&bias) {
                    plane.fill(bv);
                }
                return;
            }
            let mut r0 = first;
            while r0 < last {
                let r1 = (r0 + tile_rows).min(last);
                let cols = (r1 - r0) * w_in;
                let rhs = input_operand(xi, (pin, cin_g), (r0 * w_in, cols), copy_input, copy);
                let lhs = (lhs, panel_block);
                product_into_col(col, spare, (cols, tile_rows * w_in), lhs, rhs);
                let tile = Cols {
                    data: col,
                    stride: cols,
                    offset: 0,
                };
                col2im(
                    p,
                    tile,
                    (r0, r1),
                    &mut out,
                    r0 == first,
                    &bias,
                    put,
                    &w_ranges,
                );
                r0 = r1;
            }
        })
    });
}

/// Most weight elements per group for which [`per_image_tiles`] gives each image its own
/// task: each task then reads the whole group's packed weight, from the cache when it is
/// this small (a StyleGAN-like 512 -> 512 4x4/2 layer on four 4x4 inputs, 4M elements, ran
/// 1.25x the time per image).
const PER_IMAGE_WEIGHT: usize = 1 << 20;

/// Whether a prepared layer runs GEMM + col2im one image per task, each the whole group's
/// channels, instead of the function's run of small images side by side split into channel
/// blocks: in `f32` where the register tiles run ([`panel_tiles::available`]), for inputs of
/// [`PANEL_COLS`] positions at least [`PANEL_MIN_DEPTH`] deep (each product reads the
/// packed weight), more than [`panel_tiles::MAX_GEMM_ROWS`] rows per group (the tiles,
/// not a GEMM per panel), a group's weight of at most [`PER_IMAGE_WEIGHT`] elements, and
/// a column tile and packed input of at most [`super::COL_BUDGET`] elements each.
/// The function's channel blocks of such a run have few rows (98 for 384 -> 8 7x7/2 on two
/// 8x8 maps), each a GEMM per panel that packs the whole run's input again. The task
/// count is the batch times the groups, fixed by the problem.
fn per_image_tiles<T: Element>(p: &Problem) -> bool {
    panel_tiles::available::<T>() && per_image_shape(p)
}

/// [`per_image_tiles`] but for the element type and the CPU.
fn per_image_shape(p: &Problem) -> bool {
    let (cin, cg, kvol, pin) = (
        p.strided_channels,
        p.dense_channels,
        p.kernel_volume(),
        p.strided_plane(),
    );
    images_per_gemm(p) > 1
        && panel_cols(pin)
        && cin >= PANEL_MIN_DEPTH
        && cg * kvol > panel_tiles::MAX_GEMM_ROWS
        && cin * cg * kvol <= PER_IMAGE_WEIGHT
        // a task's column tile and packed input stay within the scratch of a tile
        && cg * kvol * pin <= super::COL_BUDGET
        && cin * pin <= super::COL_BUDGET
}

/// Output channels per block when [`per_image_tiles`]: a whole group, unless there are
/// fewer than four (image, group) tasks; then each is split into blocks (two for two or
/// three images: four or six tasks, so two threads share them evenly) of more than
/// [`panel_tiles::MAX_GEMM_ROWS`] rows each where the group has that many. Fixed by the
/// problem, like [`block_channels_for`].
fn per_image_block(p: &Problem) -> usize {
    let (cg, kvol) = (p.dense_channels, p.kernel_volume());
    let wanted = 4usize.div_ceil((p.batch * p.groups).max(1));
    let most = (cg * kvol / (panel_tiles::MAX_GEMM_ROWS + 1)).max(1);
    cg.div_ceil(wanted.min(most)).max(1)
}

/// The GEMM's left operand for output channels `co0..co0 + cbk` of group `g`: `A[m, c] =
/// w[g*C_in/g + c][co0*taps + m]`, the block's rows of the transposed weight, from the call's
/// transposed copy `wt` when there is one, otherwise read in place.
fn block_lhs<'a, T: Element>(
    w: &'a [T],
    wt: Option<&'a [T]>,
    (g, co0, cbk): (usize, usize, usize),
    p: &Problem,
) -> Mat<'a, T> {
    let (cin_g, kvol) = (p.strided_channels, p.kernel_volume());
    let rows_t = p.dense_channels * kvol;
    let m = cbk * kvol;
    match wt {
        Some(wt) => Mat {
            data: &wt[(g * rows_t + co0 * kvol) * cin_g..],
            rows: m,
            cols: cin_g,
            row_stride: cin_g,
            col_stride: 1,
        },
        None => Mat {
            data: &w[g * cin_g * rows_t + co0 * kvol..],
            rows: m,
            cols: cin_g,
            row_stride: 1,
            col_stride: rows_t,
        },
    }
}

/// Whether the column tile of an `m`-row, `n`-column product is computed column-major and
/// then transposed (see [`super::gemm::matmul_col_major`]): few columns against many rows, a
/// large layer on a small input (A/B, a 512 -> 512 4x4/2 layer on 4 images of 4x4, 64
/// columns: 0.87x the time; from 160 columns on it loses, dcgan_4x4_s2 1.09x), `depth` at
/// least [`COL_MAJOR_MIN_DEPTH`].
fn col_major_pays(m: usize, n: usize, depth: usize) -> bool {
    n <= COL_MAJOR_COLS && m >= 8 * n && depth >= COL_MAJOR_MIN_DEPTH
}

/// Shallowest product [`col_major_pays`] takes. A shallower one (a small weight: the GEMM's
/// walk over it in place costs little) spends more on the transpose than the orientation
/// saves: A/B, 11 rounds, FCN-32s' 21 -> 21 64x64/32 head on 16x16 0.66x the time row-major
/// (the transpose was 20% of its CPU time), 48 -> 64 8x8/4 on two 4x4 images 0.80x, 48 -> 256
/// 7x7 on 4x4 0.82x; 65 layers of 3-48 input channels per group level otherwise.
const COL_MAJOR_MIN_DEPTH: usize = 64;

/// Most columns [`col_major_pays`] takes.
const COL_MAJOR_COLS: usize = 64;

/// Whether a product of `cols` columns reads a prepared layer's packed weight
/// ([`super::panels`]).
fn panel_cols(cols: usize) -> bool {
    (PANEL_COLS.0..=PANEL_COLS.1).contains(&cols)
}

/// Whether the products of a GEMM + col2im call of `p` read a prepared layer's packed
/// weight: products of [`PANEL_COLS`] columns at least [`PANEL_MIN_DEPTH`] deep, not windows
/// of a long row (those are wide). In the weight's own layout such a product walks it a row
/// apart per step (see [`super::panels`]); from the panels it streams.
fn reads_panels(p: &Problem) -> bool {
    let (cols, windows) = gemm_cols(p);
    panel_cols(cols) && p.strided_channels >= PANEL_MIN_DEPTH && !windows
}

/// Columns of each GEMM + col2im product of `p` (a last run of images or tile may have
/// fewer), and whether they are windows of a long row: the images of a run side by side, a
/// window, or a tile of whole rows.
fn gemm_cols(p: &Problem) -> (usize, bool) {
    let imgs = images_per_gemm(p);
    cols_of(
        p,
        imgs,
        block_channels_for(p, p.batch.div_ceil(imgs) * p.groups),
    )
}

/// [`gemm_cols`] with runs of `imgs` images and blocks of `block` output channels.
fn cols_of(p: &Problem, imgs: usize, block: usize) -> (usize, bool) {
    if imgs > 1 {
        return (imgs * p.strided_plane(), false);
    }
    let w_in = p.axes[2].strided;
    let win = col_window(p, block);
    if win < w_in {
        (win, true)
    } else {
        (col_tile(p, block).0 * w_in, false)
    }
}

/// GEMM rows (`C_out/g * taps` of a channel block) for which [`copies_input`] copies an
/// aliased input: from 16 (below, the copy cost more than it saved: 4 rows 1.6x slower) to 256
/// (above, the GEMM loses about 5% to the aliasing, no more than the copy costs), except the
/// 24-48 rows whose input the GEMM library is asked to pack ([`packs_input`]).
const COPY_ROWS: (usize, usize) = (16, 256);

/// Input planes (positions) of a multiple of which [`copies_input`] copies: 65536, a 256x256
/// map (rows 256 KiB apart). On 128x128 maps (rows 64 KiB apart) the copy was level or slower
/// for GEMM + col2im with shallow products (8-16 rows 1.3-2.3x slower, 18-64 rows 0.7-1.1x;
/// 16-64 input channels 0.89-1.26x), unlike the 1x1 layers; see [`DEEP_COPY_PLANE`].
const COPY_PLANE: usize = 1 << 16;

/// Input planes of a multiple of which [`copies_input`] also copies for products at least
/// [`DEEP_COPY_DEPTH`] deep: 16384, a 128x128 map. Randomized A/B, 9 rounds, 15 layers of
/// 128-256 input channels and 1-8 outputs on 128x128 (4x4/2, 3x3/2, 5x5/2, 2x2/2, one or two
/// images): 0.45-0.97x the time in 13 (a pix2pix-like 128 -> 3 4x4/2 head 0.59-0.83x over
/// three runs), 0.99-1.03x in 2.
const DEEP_COPY_PLANE: usize = 1 << 14;

/// Fewest input channels per group for which [`copies_input`] copies on [`DEEP_COPY_PLANE`]
/// planes: the copy costs one pass over the tile's input, which a product this deep repays.
const DEEP_COPY_DEPTH: usize = 128;

/// Whether GEMM + col2im with channel blocks of `block` reads a padded copy of each tile's
/// input instead of the input in place: planes a multiple of [`COPY_PLANE`] apart (or of
/// [`DEEP_COPY_PLANE`] for deep products), a product of [`COPY_ROWS`] rows, not a skinny
/// product. Randomized A/B on 256x256 inputs: 16-32 rows 0.38-0.67x the time (96 -> 2 4x4/2
/// 0.38-0.50x), 64 rows 0.85x, 128 rows 0.95x. Not for a product of 24-48 rows, whose input
/// the GEMM library is asked to pack ([`packs_input`]), reading each input row once per
/// panel: on 19 layers with 128x128 or 256x256 planes, dropping the copy for those (with
/// 32-row products row-major, see [`few_rows_pay`]) took 256 -> 8 2x2/2 0.69x the time,
/// 64 -> 8 2x2 stride 1 0.84x, the rest 0.89-1.06x (randomized A/B, 9 rounds).
fn copies_input(p: &Problem, block: usize) -> bool {
    let rows = block * p.kernel_volume();
    let plane = p.strided_plane();
    let aliased = plane % COPY_PLANE == 0
        || (plane % DEEP_COPY_PLANE == 0 && p.strided_channels >= DEEP_COPY_DEPTH);
    aliased && (COPY_ROWS.0..=COPY_ROWS.1).contains(&rows) && !packs_input(rows) && !skinny_layer(p)
}

/// The input operand of one GEMM: rows `cin` of `xi` (one image and group, planes `pin`
/// apart), positions `start..start + cols` of each; read in place, or copied into `copy` with
/// [`ALIAS_PAD`] elements after each row when `copy_input`.
fn input_operand<'a, T: Element>(
    xi: &'a [T],
    (pin, cin): (usize, usize),
    (start, cols): (usize, usize),
    copy_input: bool,
    copy: &'a mut [T],
) -> Mat<'a, T> {
    if !copy_input {
        return Mat {
            data: &xi[start..],
            rows: cin,
            cols,
            row_stride: pin,
            col_stride: 1,
        };
    }
    let stride = cols + ALIAS_PAD;
    for (ci, dst) in copy.chunks_mut(stride).take(cin).enumerate() {
        dst[..cols].copy_from_slice(&xi[ci * pin + start..][..cols]);
    }
    Mat {
        data: copy,
        rows: cin,
        cols,
        row_stride: stride,
        col_stride: 1,
    }
}

/// `col[i*n + j] = (lhs * rhs)[i, j]` for the `m x n` product: from the packed weight `panels`
/// (the same rows as `lhs`) when there is one (through [`panel_tiles`] for blocks of more than
/// [`panel_tiles::MAX_GEMM_ROWS`] rows in `f32`, otherwise a GEMM per panel and a transpose),
/// through [`skinny_product`] for a few columns,
/// through `spare` in column-major order when [`col_major_pays`] or [`few_rows_pay`],
/// otherwise straight. The way is chosen by the task's full tile width `nominal` (at least
/// `n`; a last tile may be narrower), which `spare` is sized for (see [`product_scratch`]).
fn product_into_col<T: Element>(
    col: &mut [T],
    spare: &mut [T],
    (n, nominal): (usize, usize),
    (lhs, panels): (Mat<'_, T>, Option<PanelBlock<'_, T>>),
    rhs: Mat<'_, T>,
) {
    let m = lhs.rows;
    if let Some(block) = panels {
        debug_assert_eq!(block.rows(), m);
        if m > panel_tiles::MAX_GEMM_ROWS && panel_tiles::product_into(col, block, rhs, spare) {
            return;
        }
        matmul_col_major_panels(spare, m, block, rhs, false);
        transpose(&spare[..m * n], &mut col[..m * n], n, m);
        return;
    }
    if nominal <= skinny::SKINNY_COLS && skinny::applies(&lhs, &rhs) {
        skinny_product(col, lhs, rhs, spare);
        return;
    }
    if !col_major_pays(m, nominal, lhs.cols) && !few_rows_pay::<T>(m, nominal, lhs.cols) {
        matmul(col, n, lhs, rhs, false);
        return;
    }
    matmul_col_major(spare, m, lhs, rhs, false);
    // spare is the n x m row-major transpose of the tile
    transpose(&spare[..m * n], &mut col[..m * n], n, m);
}

/// Scratch elements [`product_into_col`] needs besides the column tile for `depth`-deep
/// products (with `panels`, the packed input of the register tiles, or the column-major
/// product where those do not apply).
fn product_scratch(m: usize, n: usize, depth: usize, panels: bool) -> usize {
    if panels {
        return (m * n).max(panel_tiles::scratch_len(depth, n));
    }
    let skinny = if n <= skinny::SKINNY_COLS {
        skinny::scratch_len()
    } else {
        0
    };
    let col_major = if col_major_pays(m, n, depth) || may_have_few_rows(m, n) {
        m * n
    } else {
        0
    };
    skinny.max(col_major)
}

/// The forward convolution that equals a stride-1 transposed convolution: output `o` gathers
/// input `i = o + pad_begin - k*d`; with the flipped tap `k' = K-1-k` that is
/// `i = o + k'*d - (d*(K-1) - pad_begin)`, a convolution with padding `d*(K-1) - pad_begin`
/// (negative means cropping) and the channel roles swapped.
fn flipped_problem(p: &Problem) -> Problem {
    Problem {
        batch: p.batch,
        groups: p.groups,
        strided_channels: p.dense_channels,
        dense_channels: p.strided_channels,
        axes: p.axes.map(|a| AxisMap {
            strided: a.dense,
            dense: a.strided,
            kernel: a.kernel,
            stride: 1,
            dilation: a.dilation,
            pad_begin: (a.dilation * (a.kernel - 1)) as i64 - a.pad_begin,
        }),
    }
}

/// The forward convolution's kernel of the stride-1 layer `p`: `w'[g*cg + co, ci, k'] =
/// w[g*cin_g + ci, co, kvol-1-k']` (reversing the flat tap index flips every spatial axis
/// at once).
fn flipped_weight<T: Element>(p: &Problem, w: &[T]) -> Vec<T> {
    let (cin_g, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    // appended in order, not zero-filled first (perf, a 8 -> 512 5x5 layer on an 8x8 map:
    // the zero fill was 3% of its time)
    let mut flipped = Vec::with_capacity(p.groups * cg * cin_g * kvol);
    for g in 0..p.groups {
        for co in 0..cg {
            for ci in 0..cin_g {
                let src = &w[((g * cin_g + ci) * cg + co) * kvol..][..kvol];
                flipped.extend(src.iter().rev());
            }
        }
    }
    flipped
}

/// Stride 1: flip the kernel, swap the channel roles, run the forward convolution.
/// (A prepared layer keeps the flipped kernel across calls.)
fn as_forward_conv<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    prepared: Option<&Prepared<T>>,
    b: Option<&[T]>,
    y: &mut [T],
) {
    let conv = flipped_problem(p);
    let flip = || flipped_weight(p, w);
    if super::winograd::applies_in_blocks(&conv) {
        // a transformed kernel over the copy budget: a block of it at a time, every call
        let per_block = super::winograd::block_channels(&conv);
        return super::winograd::run_blocked(&conv, x, (w, true), b, y, 0, per_block);
    }
    if super::winograd::applies(&conv) {
        // the transformed kernel straight from `w`, no flipped copy: a call's own, or the
        // one a layer keeps (made per call, it was a fifth of the time of a 128 -> 128 3x3
        // layer on 32x32, on one thread before the others start)
        return match prepared {
            None => with_weight_scratch(|u: &mut Vec<T>| {
                super::winograd::transformed_from_transposed(&conv, w, u, true);
                super::winograd::run_transformed(&conv, x, u, b, y, u.len());
            }),
            Some(prepared) => {
                let u = prepared.winograd(|| {
                    let mut u = Vec::new();
                    super::winograd::transformed_from_transposed(&conv, w, &mut u, false);
                    u
                });
                super::winograd::run_transformed(&conv, x, u, b, y, u.len())
            }
        };
    }
    if prepared.is_none() && super::conv::lowering(&conv) == super::conv::Lowering::RowShift {
        // a call of its own: the row-shift kernel straight from `w`, no flipped copy (the
        // flipped copy and its reordered copy, two fresh buffers, page-faulted on every call:
        // a fifth of a 16 -> 128 8x8 layer's time on a 16x16 map)
        return with_weight_scratch(|lowered: &mut Vec<T>| {
            row_shift_from_transposed(p, w, lowered);
            // (`run_with_row_shift` counts the row-shift copy among the call's own)
            super::conv::run_with_row_shift(&conv, x, lowered, Some(lowered), b, y, 0);
        });
    }
    // a layer's copy counts against the call's budget too: its first call makes it
    let flipped_of_call: Vec<T>;
    let flipped = match prepared {
        Some(prepared) => prepared.flipped(flip),
        None => {
            flipped_of_call = flip();
            &flipped_of_call
        }
    };
    // and the row-shift lowering's reordered kernel (reordered on every call before: 0.70-0.93x
    // the time on seven of 51 stride-1 layers)
    let row_shift = prepared
        .filter(|_| super::conv::lowering(&conv) == super::conv::Lowering::RowShift)
        .map(|prepared| {
            prepared.row_shift(|| {
                let lowering = super::conv::Lowering::RowShift;
                super::conv::lowered_weight(&conv, lowering, flipped).into_owned()
            })
        });
    let held = flipped.len() + row_shift.map_or(0, <[T]>::len);
    super::conv::run_with_row_shift(&conv, x, flipped, row_shift, b, y, held);
}

/// The row-shift lowered kernel ([`super::conv::lowered_weight`]: `[g][kh][co][ci][kw]`) of
/// the forward convolution [`as_forward_conv`] runs, read straight from the transposed
/// convolution's weight `[g][ci][co][K_h][K_w]`: flipped tap `(kh, kw)` is tap
/// `(K_h - 1 - kh, K_w - 1 - kw)`, so row `kh` is row `K_h - 1 - kh` reversed. Into `out`
/// (cleared first).
fn row_shift_from_transposed<T: Element>(p: &Problem, w: &[T], out: &mut Vec<T>) {
    let (cin_g, cg, kvol) = (p.strided_channels, p.dense_channels, p.kernel_volume());
    let (kh_n, kw_n) = (p.axes[1].kernel, p.axes[2].kernel);
    out.clear();
    out.reserve_exact(w.len());
    for g in 0..p.groups {
        for kh in 0..kh_n {
            for co in 0..cg {
                for ci in 0..cin_g {
                    let taps = &w[((g * cin_g + ci) * cg + co) * kvol..][..kvol];
                    out.extend(taps[(kh_n - 1 - kh) * kw_n..][..kw_n].iter().rev());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::{axis_in, data, mismatch, mismatch_f32, one_image, plain_axis};
    use proptest::prelude::*;

    /// The definition on a `Problem`: every input sample scattered through every tap.
    fn scatter(p: &Problem, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
        let (cin_g, cg, kvol, q, pin) = (
            p.strided_channels,
            p.dense_channels,
            p.kernel_volume(),
            p.dense_plane(),
            p.strided_plane(),
        );
        let a = &p.axes;
        let mut y = vec![0.0; p.batch * p.groups * cg * q];
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / q) % (p.groups * cg)];
        }
        for n in 0..p.batch {
            for g in 0..p.groups {
                for ci in 0..cin_g {
                    for co in 0..cg {
                        for pos in 0..pin {
                            let i = [
                                pos / (a[1].strided * a[2].strided),
                                (pos / a[2].strided) % a[1].strided,
                                pos % a[2].strided,
                            ];
                            for tap in 0..kvol {
                                let k = [
                                    tap / (a[1].kernel * a[2].kernel),
                                    (tap / a[2].kernel) % a[1].kernel,
                                    tap % a[2].kernel,
                                ];
                                let o: Vec<i64> =
                                    (0..3).map(|d| a[d].dense_pos(i[d], k[d])).collect();
                                if (0..3).any(|d| o[d] < 0 || o[d] >= a[d].dense as i64) {
                                    continue;
                                }
                                let opos = (o[0] as usize * a[1].dense + o[1] as usize)
                                    * a[2].dense
                                    + o[2] as usize;
                                let xv = x[((n * p.groups + g) * cin_g + ci) * pin + pos];
                                let wv = w[((g * cin_g + ci) * cg + co) * kvol + tap];
                                y[((n * p.groups + g) * cg + co) * q + opos] += xv * wv;
                            }
                        }
                    }
                }
            }
        }
        y
    }

    fn axis() -> impl Strategy<Value = AxisMap> {
        axis_in((1..6, 1..5, 1..4, 1..4, -2..5, 1..24))
    }

    /// A 1-D, 2-D or 3-D problem with axes drawn from `axis()` and up to `channels - 1`
    /// channels per group on each side.
    fn problem_of<S>(axis: impl Fn() -> S, channels: usize) -> impl Strategy<Value = Problem>
    where
        S: Strategy<Value = AxisMap>,
    {
        (
            1usize..3,
            1usize..3,
            1usize..channels,
            1usize..channels,
            axis(),
            axis(),
            axis(),
            0usize..3,
        )
            .prop_map(
                |(batch, groups, strided_channels, dense_channels, d, h, w, rank)| Problem {
                    batch,
                    groups,
                    strided_channels,
                    dense_channels,
                    // rank 0, 1, 2: 1-D, 2-D or 3-D
                    axes: match rank {
                        0 => [AxisMap::UNIT, AxisMap::UNIT, w],
                        1 => [AxisMap::UNIT, h, w],
                        _ => [d, h, w],
                    },
                },
            )
    }

    fn problem() -> impl Strategy<Value = Problem> {
        problem_of(axis, 4)
    }

    /// An axis every output of which one (position, tap) pair hits: kernel == stride, no
    /// padding (the U-Net family).
    fn exact_axis() -> impl Strategy<Value = AxisMap> {
        (1usize..9, 1usize..4).prop_map(|(strided, stride)| AxisMap {
            strided,
            dense: strided * stride,
            kernel: stride,
            stride,
            dilation: 1,
            pad_begin: 0,
        })
    }

    fn exact_problem() -> impl Strategy<Value = Problem> {
        problem_of(exact_axis, 5)
    }

    /// [`run`] on seeded data with a bias equals the definition to 1e-12.
    fn assert_runs_the_definition(p: &Problem, seed: usize) {
        let bad = mismatch(p, seed, true, 1e-12, |x, w, b, y| run(p, x, w, None, b, y));
        assert!(bad.is_none(), "{}", bad.unwrap_or_default());
    }

    /// A lone image's channel blocks are equal where a divisor of the channels allows (not
    /// below half the share): a 3-channel 7x7 head in three blocks of one, 21 channels of a
    /// 4x4 kernel in blocks of 3; 97 channels (prime) keep their share of 64. The head runs the
    /// definition.
    #[test]
    fn channel_blocks_are_equal_where_a_divisor_allows() {
        let same = |side: usize, k: usize| AxisMap {
            strided: side,
            dense: side + k - 1 - 2 * (k / 2),
            kernel: k,
            stride: 1,
            dilation: 1,
            pad_begin: (k / 2) as i64,
        };
        let lone = |cin: usize, cout: usize, side: usize, k: usize| Problem {
            batch: 1,
            groups: 1,
            strided_channels: cin,
            dense_channels: cout,
            axes: [AxisMap::UNIT, same(side, k), same(side, k)],
        };
        let head = lone(40, 3, 12, 7);
        assert_eq!((split_share(&head), split_block(&head)), (2, 1));
        let fcn = lone(21, 21, 16, 4);
        assert_eq!((split_share(&fcn), split_block(&fcn)), (6, 3));
        let prime = lone(8, 97, 8, 1);
        assert_eq!((split_share(&prime), split_block(&prime)), (64, 64));
        assert_runs_the_definition(&head, 5);
    }

    /// [`gemm_col2im`] of `p` through one prepared layer, called twice on seeded data: the
    /// first difference from the definition on either call (exact in `f32`, see
    /// `mismatch_f32`; to 1e-12 in `f64`), the second call's bits checked against the first's
    /// (a panic when they differ), and the elements the layer holds after both.
    fn layer_twice(p: &Problem, seed: usize, in_f32: bool) -> (Option<String>, usize) {
        let (narrow, wide) = (Prepared::<f32>::new(), Prepared::<f64>::new());
        let mut first: Option<Vec<u64>> = None;
        let mut same_bits = |bits: Vec<u64>| match &first {
            None => first = Some(bits),
            Some(first) => assert!(*first == bits, "a second call changed bits: {p:?}"),
        };
        for _ in 0..2 {
            let bad = if in_f32 {
                mismatch_f32(p, seed, 0.0, |x, w, b, y| {
                    gemm_col2im(p, x, w, Some(&narrow), b, y);
                    same_bits(y.iter().map(|v| u64::from(v.to_bits())).collect());
                })
            } else {
                mismatch(p, seed, true, 1e-12, |x, w, b, y| {
                    gemm_col2im(p, x, w, Some(&wide), b, y);
                    same_bits(y.iter().map(|v| v.to_bits()).collect());
                })
            };
            if bad.is_some() {
                return (bad, narrow.held() + wide.held());
            }
        }
        (None, narrow.held() + wide.held())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// GEMM + col2im reading a prepared layer's panels equals the definition on any index
        /// map, 64-72 input channels per group (deep enough to read them), and a second call
        /// (reading what the first packed) gives the same bits.
        #[test]
        fn panel_products_match_the_definition(p in problem(), depth in 64usize..73) {
            let p = Problem { strided_channels: depth, ..p };
            prop_assume!(reads_panels(&p));
            let (bad, held) = layer_twice(&p, 11, false);
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            prop_assert!(held > 0);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// In `f32`, with blocks of more than [`panel_tiles::MAX_GEMM_ROWS`] rows, a prepared
        /// layer's products go through the register tiles: equal to the definition (exactly:
        /// see `mismatch_f32`) on any index map, runs of images and groups, and the same bits
        /// on a second call.
        #[test]
        fn panel_tiles_match_the_definition_in_f32(
            (batch, groups, cout, h, w) in (1usize..3, 4usize..6, 12usize..25, axis(), axis()),
            depth in 64usize..73,
        ) {
            // four groups or more: each task's block is all of a group's channels
            let p = Problem {
                batch,
                groups,
                strided_channels: depth,
                dense_channels: cout,
                axes: [AxisMap::UNIT, h, w],
            };
            prop_assume!(reads_panels(&p));
            let block = block_channels_for(&p, p.batch.div_ceil(images_per_gemm(&p)) * p.groups);
            prop_assume!(block * p.kernel_volume() > panel_tiles::MAX_GEMM_ROWS);
            let (bad, _) = layer_twice(&p, 11, true);
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// A prepared layer in `f32` that takes one image per task ([`per_image_tiles`]:
        /// 2-5 small images, 64-72 input channels, more than 128 rows per group) equals the
        /// definition exactly (see `mismatch_f32`) and gives the same bits on a second call.
        #[test]
        fn per_image_tiles_match_the_definition_in_f32(
            (batch, groups, cout, h, w) in (2usize..6, 1usize..3, 16usize..40, axis(), axis()),
            depth in 64usize..73,
        ) {
            let p = Problem {
                batch,
                groups,
                strided_channels: depth,
                dense_channels: cout,
                axes: [AxisMap::UNIT, h, w],
            };
            prop_assume!(per_image_tiles::<f32>(&p));
            let (bad, _) = layer_twice(&p, 13, true);
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }

    /// Small batched images of a layer with a small weight go one image per task in `f32`
    /// (where the tiles run), never in `f64` or with a large weight; two or three images are
    /// split into two blocks each, four or more keep whole groups.
    #[test]
    fn small_batched_layers_take_one_image_per_task() {
        let a = |strided: usize| AxisMap {
            strided,
            dense: 2 * strided,
            kernel: 4,
            stride: 2,
            dilation: 1,
            pad_begin: 1,
        };
        let p = |batch, cin, cout, hw| Problem {
            batch,
            groups: 1,
            strided_channels: cin,
            dense_channels: cout,
            axes: [AxisMap::UNIT, a(hw), a(hw)],
        };
        let tiles = panel_tiles::available::<f32>();
        assert_eq!(per_image_tiles::<f32>(&p(2, 384, 24, 4)), tiles);
        assert_eq!(per_image_tiles::<f32>(&p(8, 256, 128, 8)), tiles);
        assert!(!per_image_tiles::<f64>(&p(2, 384, 24, 4)));
        // 512 -> 512: a 4M-element weight
        assert!(!per_image_tiles::<f32>(&p(4, 512, 512, 4)));
        // one image, or 16x16 images (one per GEMM already)
        assert!(!per_image_tiles::<f32>(&p(1, 384, 24, 4)));
        assert!(!per_image_tiles::<f32>(&p(4, 128, 64, 16)));
        assert_eq!(per_image_block(&p(2, 384, 24, 4)), 12);
        assert_eq!(per_image_block(&p(3, 384, 24, 4)), 12);
        assert_eq!(per_image_block(&p(4, 384, 24, 4)), 24);
        // 8 channels of 16 taps: two blocks of 64 rows would each be a GEMM per panel
        assert_eq!(per_image_block(&p(2, 384, 8, 4)), 8);
    }

    /// A layer runs a lone U-Net-like image (kernel == stride, blocks of 256 rows or more in
    /// the functions) as bands with all channels, from its kept transposed weight: equal to
    /// the definition, the same bits on a second call, and a transposed weight held.
    #[test]
    fn layers_run_lone_exact_covers_in_whole_bands() {
        let exact = |strided: usize, k: usize| AxisMap {
            strided,
            dense: strided * k,
            kernel: k,
            stride: k,
            dilation: 1,
            pad_begin: 0,
        };
        for (batch, cin, cout, k, h, w) in [(1, 16, 256, 2, 32, 6), (2, 8, 120, 3, 22, 12)] {
            let p = Problem {
                batch,
                groups: 1,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, exact(h, k), exact(w, k)],
            };
            assert!(layer_bands(&p), "{p:?}");
            assert!(!splits_into_bands(&p));
            let (bad, held) = layer_twice(&p, 7, false);
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            assert_eq!(held, cin * cout * k * k);
        }
        // a weight over the copy budget keeps the functions' blocks
        let big = Problem {
            batch: 1,
            groups: 1,
            strided_channels: 1024,
            dense_channels: 512,
            axes: [AxisMap::UNIT, exact(16, 2), exact(16, 2)],
        };
        assert!(!layer_bands(&big));
    }

    /// A lone image whose outputs are each hit once runs as bands of output rows with all its
    /// channels in one block (where a split would give blocks of 16 and 8 channels), and
    /// equals the definition (2x2/2, 3x3/3 with a row not a multiple of the band, two groups).
    #[test]
    fn exact_cover_lone_images_split_into_row_bands() {
        let exact = |strided: usize, k: usize| AxisMap {
            strided,
            dense: strided * k,
            kernel: k,
            stride: k,
            dilation: 1,
            pad_begin: 0,
        };
        for (groups, cin, cout, h, w) in [
            (1, 12, 24, exact(40, 2), exact(7, 2)),
            (2, 9, 20, exact(23, 3), exact(5, 3)),
        ] {
            let p = Problem {
                batch: 1,
                groups,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, h, w],
            };
            assert!(split_block(&p) < cout, "{p:?}");
            assert!(splits_into_bands(&p), "{p:?}");
            assert_eq!(block_channels_for(&p, groups), cout, "{p:?}");
            assert_eq!(out_bands(&p, groups), 4usize.div_ceil(groups), "{p:?}");
            // (in `f32` on AVX2 the second takes the direct tiles)
            assert_eq!(gemm_path(&p), Path::Col2im, "{p:?}");
            assert_runs_the_definition(&p, 5);
        }
    }

    /// Layers whose GEMMs have few columns (inputs of few positions): the skinny product and
    /// the column-major GEMM, single images and runs of images, with and without cropping.
    #[test]
    fn few_column_products_match_the_definition() {
        let axis = |strided: usize, pad: i64| AxisMap {
            strided,
            dense: (strided - 1) * 2 + 4 - 2 * pad as usize,
            kernel: 4,
            stride: 2,
            dilation: 1,
            pad_begin: pad,
        };
        // (batch, C_in, C_out, input side, padding): skinny (1x1, 2x2, runs of two 2x2
        // images), column-major (four 2x2 or one 5x5 image against 32-64 channel blocks,
        // 64 deep)
        for (batch, cin, cout, side, pad) in [
            (1, 8, 8, 1, 0),
            (1, 16, 24, 2, 1),
            (2, 16, 8, 2, 1),
            (4, 64, 32, 2, 1),
            (1, 64, 64, 5, 1),
        ] {
            let p = Problem {
                batch,
                groups: 1,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, axis(side, pad), axis(side, pad)],
            };
            let cols = p.strided_plane() * images_per_gemm(&p);
            let m = block_channels_for(&p, p.batch.div_ceil(images_per_gemm(&p))) * 16;
            assert!(
                cols <= skinny::SKINNY_COLS || col_major_pays(m, cols, p.strided_channels),
                "{p:?}"
            );
            let bad = mismatch(&p, 7, true, 1e-12, |x, w, b, y| {
                gemm_col2im(&p, x, w, None, b, y)
            });
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }

    /// One-channel heads whose column tiles have 9-16 rows and 128+ input channels: the tiles
    /// are computed column-major and transposed (see [`few_rows_pay`]).
    #[test]
    fn few_row_products_match_the_definition() {
        let axis = |strided: usize, kernel: usize, pad: i64| AxisMap {
            strided,
            dense: (strided - 1) * 2 + kernel - 2 * pad as usize,
            kernel,
            stride: 2,
            dilation: 1,
            pad_begin: pad,
        };
        for (batch, cin, cout, kernel, pad, side) in [
            (1, 192, 1, 3, 0, 13),
            (2, 130, 1, 4, 1, 9),
            (1, 140, 1, 3, 1, 12),
        ] {
            let p = Problem {
                batch,
                groups: 1,
                strided_channels: cin,
                dense_channels: cout,
                axes: [
                    AxisMap::UNIT,
                    axis(side, kernel, pad),
                    axis(side + 2, kernel, pad),
                ],
            };
            assert_eq!(path(&p), Path::Col2im, "{p:?}");
            let m = cout * kernel * kernel;
            assert!(few_rows_pay::<f64>(m, p.strided_plane(), cin), "{p:?}");
            assert_runs_the_definition(&p, 3);
        }
    }

    /// Stride 1 goes through GEMM + col2im when the flipped product would have few rows (an
    /// image-to-RGB layer, a 16-channel layer on 8x8 inputs) and flips otherwise (few input
    /// channels; Winograd on a large plane); a 1x1 kernel goes through [`pointwise`] with at
    /// most 8 output channels, or 16 from 64 inputs on a 128x128 plane, through
    /// [`super::pointwise_gemm`] with more, and flips on a plane that aliases; all equal
    /// the definition.
    #[test]
    fn stride_one_layers_pick_a_path_by_product_shape() {
        let square = |strided: usize, kernel: usize, pad: usize| {
            let a = AxisMap {
                strided,
                dense: strided + kernel - 1 - 2 * pad,
                kernel,
                stride: 1,
                dilation: 1,
                pad_begin: pad as i64,
            };
            [AxisMap::UNIT, a, a]
        };
        for (batch, cin, cout, axes, want) in [
            (2, 192, 3, square(12, 4, 0), Path::Col2im),
            (2, 128, 16, square(8, 5, 0), Path::Col2im),
            (1, 8, 64, square(12, 3, 1), Path::Flipped),
            (1, 64, 32, square(9, 1, 0), Path::PointwiseGemm),
            (2, 64, 8, square(9, 1, 0), Path::Pointwise),
            (2, 64, 16, square(9, 1, 0), Path::PointwiseGemm),
            (1, 1024, 512, square(7, 1, 0), Path::PointwiseGemm),
            (1, 64, 16, square(128, 1, 0), Path::Pointwise),
            (1, 32, 16, square(128, 1, 0), Path::Flipped),
            (1, 300, 2, square(20, 1, 0), Path::Pointwise),
            (1, 16, 12, square(7, 1, 0), Path::Pointwise),
            (1, 32, 32, square(36, 3, 1), Path::Flipped),
        ] {
            let p = Problem {
                batch,
                groups: 1,
                strided_channels: cin,
                dense_channels: cout,
                axes,
            };
            assert_eq!(path(&p), want, "{p:?}");
            assert_runs_the_definition(&p, 5);
        }
    }

    /// A 1x1 stride-1 axis of `n` positions.
    fn unit_axis(n: usize) -> AxisMap {
        plain_axis(n, 1, 1, 0)
    }

    /// A problem of `batch` images, `groups`, `cin` and `cout` channels per group over `axes`.
    fn one_by_one(
        batch: usize,
        groups: usize,
        cin: usize,
        cout: usize,
        axes: [AxisMap; 3],
    ) -> Problem {
        Problem {
            batch,
            groups,
            strided_channels: cin,
            dense_channels: cout,
            axes,
        }
    }

    /// The pointwise path takes plain 1x1 stride-1 layers only (groups, 1-D/2-D/3-D, with and
    /// without bias, all equal to the definition), not dilated ones with output padding,
    /// shifted ones (ONNX `output_shape`), or one-position maps (a batched projection).
    #[test]
    fn pointwise_takes_plain_one_by_one_layers() {
        let (unit, problem) = (unit_axis, one_by_one);
        for p in [
            problem(2, 3, 5, 3, [AxisMap::UNIT, unit(6), unit(7)]),
            problem(1, 1, 40, 8, [unit(3), unit(4), unit(5)]),
            problem(3, 2, 9, 1, [AxisMap::UNIT, AxisMap::UNIT, unit(70)]),
        ] {
            assert_eq!(path(&p), Path::Pointwise, "{p:?}");
            for with_bias in [true, false] {
                let bad = mismatch(&p, 7, with_bias, 1e-12, |x, w, b, y| {
                    run(&p, x, w, None, b, y)
                });
                assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
        }
        let dilated_with_output_padding = AxisMap {
            dense: 7,
            dilation: 2,
            ..unit(6)
        };
        let shifted = AxisMap {
            pad_begin: -1,
            ..unit(6)
        };
        for (p, want) in [
            (
                problem(
                    1,
                    1,
                    40,
                    8,
                    [AxisMap::UNIT, unit(6), dilated_with_output_padding],
                ),
                None,
            ),
            (
                problem(1, 1, 40, 8, [AxisMap::UNIT, unit(6), shifted]),
                None,
            ),
            (
                problem(256, 1, 512, 8, [AxisMap::UNIT, unit(1), unit(1)]),
                Some(Path::Projection),
            ),
        ] {
            assert_ne!(path(&p), Path::Pointwise, "{p:?}");
            if let Some(want) = want {
                assert_eq!(path(&p), want, "{p:?}");
            }
            assert_runs_the_definition(&p, 9);
        }
    }

    /// 1x1 stride-1 layers with more than 8 output channels per group go through
    /// [`super::pointwise_gemm`] (lone images split into channel blocks, groups, 1-D to 3-D,
    /// a long signal), through the functions (weight read in place) and through a prepared
    /// layer (its flipped kernel), with bias in `f64` and `f32` (exact data, so a tolerance of
    /// 0) and without in `f64`; all equal the definition. A plane that aliases keeps the
    /// flipped path.
    #[test]
    fn pointwise_gemm_takes_one_by_one_layers_with_more_outputs() {
        let (unit, problem) = (unit_axis, one_by_one);
        for p in [
            problem(1, 1, 70, 40, [AxisMap::UNIT, unit(9), unit(11)]),
            problem(1, 1, 512, 64, [AxisMap::UNIT, unit(4), unit(5)]),
            problem(2, 3, 20, 13, [AxisMap::UNIT, unit(6), unit(7)]),
            problem(1, 2, 24, 33, [unit(3), unit(4), unit(5)]),
            problem(1, 1, 9, 20, [AxisMap::UNIT, AxisMap::UNIT, unit(3000)]),
        ] {
            assert_eq!(path(&p), Path::PointwiseGemm, "{p:?}");
            for with_bias in [true, false] {
                for layer in [false, true] {
                    // a layer's second call reads the kept form the first one made
                    let calls = if layer { 2 } else { 1 };
                    let bad = mismatch(&p, 3, with_bias, 1e-12, |x, w, b, y| {
                        let prepared = Prepared::new();
                        for _ in 0..calls {
                            run(&p, x, w, layer.then_some(&prepared), b, y);
                        }
                    });
                    assert!(bad.is_none(), "{}", bad.unwrap_or_default());
                    let bad = mismatch_f32(&p, 5, 0.0, |x, w, b, y| {
                        let prepared = Prepared::new();
                        for _ in 0..calls {
                            run(&p, x, w, layer.then_some(&prepared), b, y);
                        }
                    });
                    assert!(bad.is_none(), "{}", bad.unwrap_or_default());
                }
            }
        }
        let aliased = problem(1, 1, 32, 16, [AxisMap::UNIT, unit(128), unit(128)]);
        assert_eq!(path(&aliased), Path::Flipped);
    }

    /// A lone 1-D signal with kernel == stride and few outputs per input position from a deep
    /// input goes through [`super::phase_rows`] (the tiled path keeps shallow ones), through
    /// the functions and a layer, and equals the definition; with a kernel longer than the
    /// stride, through its tap rows.
    #[test]
    fn deep_signals_to_few_phases_take_phase_rows() {
        let signal = |cin: usize| Problem {
            batch: 1,
            groups: 1,
            strided_channels: cin,
            dense_channels: 1,
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(3000, 4, 4, 0)],
        };
        assert_eq!(path(&signal(512)), Path::PhaseRows);
        assert_eq!(path(&signal(8)), Path::Tiled);
        let overlapping = Problem {
            axes: [AxisMap::UNIT, AxisMap::UNIT, plain_axis(3000, 7, 5, 1)],
            ..signal(64)
        };
        assert_eq!(path(&overlapping), Path::TapRows);
        let bad = mismatch(&overlapping, 6, true, 1e-12, |x, w, b, y| {
            run(&overlapping, x, w, None, b, y)
        });
        assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        let p = signal(40);
        assert_eq!(path(&p), Path::PhaseRows);
        let prepared = Prepared::new();
        for layer in [None, Some(&prepared)] {
            let bad = mismatch(&p, 5, true, 1e-12, |x, w, b, y| run(&p, x, w, layer, b, y));
            assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }
    }

    /// GEMM + col2im with few rows on an input whose planes alias (256x256; a 1-D signal of
    /// 2 x 65536 samples, cut into windows; 128x128 with 128 input channels) reads a padded
    /// copy of each tile's input; all equal the definition. 128x128 with 64 input channels
    /// reads in place, and so does a product of 27 rows, whose input the GEMM library packs.
    #[test]
    fn aliased_inputs_are_copied_and_match_the_definition() {
        let a128 = plain_axis(128, 3, 2, 1);
        let shallow = one_image(64, 2, [AxisMap::UNIT, a128, a128]);
        assert!(!copies_input(&shallow, block_channels_for(&shallow, 1)));
        let packed = one_image(128, 3, [AxisMap::UNIT, a128, a128]);
        assert!(!copies_input(&packed, block_channels_for(&packed, 1)));
        assert_runs_the_definition(&packed, 11);
        for (cin, cout, axes, windowed) in [
            (128, 2, [AxisMap::UNIT, a128, a128], false),
            (
                20,
                2,
                [
                    AxisMap::UNIT,
                    plain_axis(256, 3, 2, 1),
                    plain_axis(256, 3, 2, 1),
                ],
                false,
            ),
            // (five outputs: with four, the 16 tap rows of `phase_rows` take it)
            (
                8,
                5,
                [AxisMap::UNIT, AxisMap::UNIT, plain_axis(2 << 16, 4, 2, 1)],
                true,
            ),
        ] {
            let p = one_image(cin, cout, axes);
            // (the 1-D one takes the direct tiles in `f32` on AVX2)
            assert_eq!(gemm_path(&p), Path::Col2im, "{p:?}");
            let block = block_channels_for(&p, 1);
            assert!(copies_input(&p, block), "{p:?}");
            assert_eq!(col_window(&p, block) < p.axes[2].strided, windowed, "{p:?}");
            assert_runs_the_definition(&p, 11);
        }
    }

    /// A lone small image (under 256 input positions, 16+ input channels) goes through
    /// GEMM + col2im, not sub-pixel phases (where the direct tiles do not take it: the
    /// shallow one they do, in `f32` on AVX2); both equal the definition.
    #[test]
    fn small_images_take_col2im() {
        for (cin, cout, k, s, pad, side) in [(64, 96, 5, 2, 2, 14), (16, 64, 3, 2, 1, 7)] {
            let a = plain_axis(side, k, s, pad);
            let p = one_image(cin, cout, [AxisMap::UNIT, a, a]);
            assert_eq!(gemm_path(&p), Path::Col2im, "{p:?}");
            assert_runs_the_definition(&p, 13);
        }
    }

    /// 1-D layers (a vocoder's upsampling: 128 -> 64 k4/s2 on 8192 samples, 32 -> 16 k7/s3
    /// with cropping) go through GEMM + col2im, never sub-pixel phases (when the direct tiles
    /// do not take them: the second in `f32` on AVX2); the same layer on a 2-D map of as many
    /// positions takes the phases (stacked into one Winograd convolution, see
    /// [`super::super::phase_stack`]). Both equal the definition.
    #[test]
    fn one_d_layers_take_col2im() {
        for (cin, cout, k, s, pad, len, batch) in
            [(128, 64, 4, 2, 1, 8192, 1), (32, 16, 7, 3, 2, 300, 2)]
        {
            let axes = [AxisMap::UNIT, AxisMap::UNIT, plain_axis(len, k, s, pad)];
            let p = Problem {
                batch,
                ..one_image(cin, cout, axes)
            };
            assert_eq!(gemm_path(&p), Path::Col2im, "{p:?}");
            assert_runs_the_definition(&p, 19);
        }
        let a = plain_axis(91, 4, 2, 1);
        let square = one_image(128, 64, [AxisMap::UNIT, a, a]);
        assert_eq!(path(&square), Path::PhaseStack);
    }

    /// The stacked phases take 4x4/2 layers from 32x32 inputs (512 -> 128 on 64x64 too, in
    /// two passes of its transformed weight), not on 16x16 (dcgan keeps GEMM + col2im), nor
    /// FCN's 16x16/8 (64 phases), nor 512 -> 256 on 32x32 (four passes), nor 1024 input
    /// channels (short bands).
    #[test]
    fn row_shift_kernel_from_the_transposed_weight() {
        // the function path's row-shift kernel, made straight from the transposed weight, is
        // the row-shift lowering of the flipped kernel (groups, rectangular kernels)
        for (groups, cin_g, cg, kh, kw) in [(1, 3, 5, 4, 4), (2, 4, 3, 2, 5), (3, 2, 2, 7, 3)] {
            let p = Problem {
                batch: 1,
                groups,
                strided_channels: cin_g,
                dense_channels: cg,
                axes: [
                    AxisMap::UNIT,
                    plain_axis(6, kh, 1, 0),
                    plain_axis(5, kw, 1, 1),
                ],
            };
            let kvol = kh * kw;
            let w = data(groups * cin_g * cg * kvol, 7);
            let mut flipped = Vec::new();
            for g in 0..groups {
                for co in 0..cg {
                    for ci in 0..cin_g {
                        let taps = &w[((g * cin_g + ci) * cg + co) * kvol..][..kvol];
                        flipped.extend(taps.iter().rev());
                    }
                }
            }
            let conv = flipped_problem(&p);
            assert_eq!(
                super::super::conv::lowering(&conv),
                super::super::conv::Lowering::RowShift
            );
            let want = super::super::conv::lowered_weight(
                &conv,
                super::super::conv::Lowering::RowShift,
                &flipped,
            );
            let mut got = vec![1.0; 3];
            row_shift_from_transposed(&p, &w, &mut got);
            assert_eq!(got, want.into_owned(), "{p:?}");
        }
    }

    #[test]
    fn stacked_phases_take_large_enough_planes() {
        let on = |side: usize, k: usize, s: usize, cin: usize, cout: usize| {
            let a = plain_axis(side, k, s, (k - s) / 2);
            path(&one_image(cin, cout, [AxisMap::UNIT, a, a]))
        };
        assert_eq!(on(32, 4, 2, 256, 128), Path::PhaseStack);
        assert_eq!(on(32, 6, 3, 64, 32), Path::PhaseStack);
        // kernels short of a multiple of the stride: 5x5/2 (25 of 36 sub-kernel taps) and
        // 8x8/3 (64 of 81) take them, 3x3/2 (9 of 16) does not
        assert_eq!(on(40, 5, 2, 128, 64), Path::PhaseStack);
        assert_eq!(on(32, 8, 3, 64, 32), Path::PhaseStack);
        assert_ne!(on(64, 3, 2, 256, 128), Path::PhaseStack);
        // nor shallow inputs into many outputs (16 -> 256)
        assert_ne!(on(32, 4, 2, 16, 256), Path::PhaseStack);
        assert_eq!(on(16, 4, 2, 256, 128), Path::Col2im);
        assert_ne!(on(32, 16, 8, 21, 21), Path::PhaseStack);
        assert_eq!(on(64, 4, 2, 512, 128), Path::PhaseStack);
        assert_eq!(on(32, 4, 2, 512, 256), Path::Col2im);
        assert_eq!(on(32, 4, 2, 1024, 256), Path::Col2im);
    }

    /// A lone image with few output channels (an RGB head on a small map) splits into blocks
    /// of channels, so its tasks run in parallel: 3 channels x 64 taps in three one-channel
    /// GEMMs; 4 channels x 9 taps stay one block (64+ GEMM rows per block). Both equal the
    /// definition.
    #[test]
    fn few_channels_of_a_lone_image_split_into_blocks() {
        for (cin, cout, k, pad, side, block) in [(24, 3, 8, 3, 6, 1), (20, 4, 3, 1, 9, 4)] {
            let a = plain_axis(side, k, 1, pad);
            let p = one_image(cin, cout, [AxisMap::UNIT, a, a]);
            assert_eq!(path(&p), Path::Col2im, "{p:?}");
            assert_eq!(block_channels_for(&p, 1), block, "{p:?}");
            assert_runs_the_definition(&p, 17);
        }
    }

    /// A single input position projected onto the whole kernel (a generator's first layer):
    /// 1-D, 2-D and 3-D, groups, batches around the task split, any stride.
    #[test]
    fn projections_match_the_definition() {
        let unit_input = |kernel: usize, stride: usize| AxisMap {
            strided: 1,
            dense: kernel,
            kernel,
            stride,
            dilation: 1,
            pad_begin: 0,
        };
        for (batch, groups, cin, cout, dims) in [
            (1, 1, 5, 3, [1, 1, 4]),
            (9, 2, 3, 4, [1, 4, 3]),
            (16, 1, 7, 2, [2, 3, 2]),
            (5, 3, 2, 1, [1, 2, 2]),
        ] {
            let p = Problem {
                batch,
                groups,
                strided_channels: cin,
                dense_channels: cout,
                axes: dims.map(|k| unit_input(k, 1 + k % 2)),
            };
            assert_eq!(path(&p), Path::Projection, "{p:?}");
            for with_bias in [true, false] {
                let bad = mismatch(&p, 13, with_bias, 1e-12, |x, w, b, y| {
                    run(&p, x, w, None, b, y)
                });
                assert!(bad.is_none(), "{}", bad.unwrap_or_default());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Both strided paths equal the definition on any index map, whichever the dispatch
        /// would pick: arbitrary output lengths (cropped or extended), negative padding,
        /// dilation sharing factors with the stride, phases no tap reaches.
        #[test]
        fn strided_paths_match_the_definition(p in problem()) {
            let x = data(p.batch * p.strided_channels_total() * p.strided_plane(), 1);
            let w = data(p.strided_channels_total() * p.dense_channels * p.kernel_volume(), 2);
            let b = data(p.dense_channels_total(), 3);
            let want = scatter(&p, &x, &w, &b);
            let n = want.len();
            let mut via_col2im = vec![f64::NAN; n];
            gemm_col2im(&p, &x, &w, None, Some(&b), &mut via_col2im);
            let mut via_subpixel = vec![f64::NAN; n];
            super::super::subpixel::run(&p, &x, &w, None, Some(&b), &mut via_subpixel);
            for i in 0..n {
                prop_assert!((via_col2im[i] - want[i]).abs() <= 1e-9 * (1.0 + want[i].abs()), "col2im at {i}: {} vs {}", via_col2im[i], want[i]);
                prop_assert!((via_subpixel[i] - want[i]).abs() <= 1e-9 * (1.0 + want[i].abs()), "subpixel at {i}: {} vs {}", via_subpixel[i], want[i]);
            }
        }

        /// One image with few output channels and tall outputs: GEMM + col2im runs as bands
        /// of output rows, each from the input rows that reach it (cropped, extended, dilated,
        /// negative padding, kernel == stride).
        #[test]
        fn output_row_bands_match_the_definition(
            (groups, cin, cout, strided, kernel, stride, dilation, pad_begin, dense, w, exact) in
            (1usize..3, 1usize..4, 1usize..4, 9usize..40, 1usize..6, 1usize..4, 1usize..3,
             -2i64..5, 32usize..100, axis(), proptest::bool::ANY)
        ) {
            let h = if exact {
                AxisMap { strided, dense: strided * stride, kernel: stride, stride, dilation: 1, pad_begin: 0 }
            } else {
                AxisMap { strided, dense, kernel, stride, dilation, pad_begin }
            };
            let w = if exact {
                AxisMap { dense: w.strided * 2, kernel: 2, stride: 2, dilation: 1, pad_begin: 0, ..w }
            } else {
                w
            };
            let p = Problem {
                batch: 1,
                groups,
                strided_channels: cin,
                dense_channels: cout,
                axes: [AxisMap::UNIT, h, w],
            };
            let blocks = cout.div_ceil(block_channels_for(&p, groups));
            prop_assume!(out_bands(&p, groups * blocks) > 1);
            let bad = mismatch(&p, 10, true, 1e-9, |x, w, b, y| gemm_col2im(&p, x, w, None, b, y));
            prop_assert!(bad.is_none(), "{}", bad.unwrap_or_default());
        }

        /// Kernel == stride without padding: outputs are stored, never accumulated, every
        /// output is written once.
        #[test]
        fn exact_cover_matches_the_definition(p in exact_problem()) {
            let x = data(p.batch * p.strided_channels_total() * p.strided_plane(), 4);
            let w = data(p.strided_channels_total() * p.dense_channels * p.kernel_volume(), 5);
            let b = data(p.dense_channels_total(), 6);
            let want = scatter(&p, &x, &w, &b);
            let mut got = vec![f64::NAN; want.len()];
            run(&p, &x, &w, None, Some(&b), &mut got);
            for (i, (g, v)) in got.iter().zip(&want).enumerate() {
                prop_assert!((g - v).abs() <= 1e-9 * (1.0 + v.abs()), "at {i}: {g} vs {v}");
            }
        }
    }
}
