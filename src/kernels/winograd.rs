//! Winograd F(2x2, 3x3) and F(2x2, 2x2) for 2-D convolutions with stride 1 and no dilation:
//! the SRGAN / U-Net body layer (3x3), stride-1 transposed convolutions through their flipped
//! forward convolution, the 2x2 sub-pixel phases of 4x4 stride-2 transposed convolutions
//! (DCGAN-style layers), and larger kernels (4x4 to 8x8, square or not) cut into 2x2 or 3x3
//! sub-kernels two taps apart (see [`Cut`]).
//!
//! The output is cut into 2x2 tiles; tile `(ty, tx)` reads the 4x4 input patch `d` at
//! `(2*ty - pad_h, 2*tx - pad_w)`. With the transforms of Lavin & Gray (2015),
//!
//! ```text
//! B^T = | 1  0 -1  0 |     G = | 1    0    0  |     A^T = | 1  1  1  0 |
//!       | 0  1  1  0 |         | 1/2  1/2  1/2|           | 0  1 -1 -1 |
//!       | 0 -1  1  0 |         | 1/2 -1/2  1/2|
//!       | 0  1  0 -1 |         | 0    0    1  |
//! ```
//!
//! a tile is `Y = A^T [ sum over ci of (G g G^T) ⊙ (B^T d B) ] A`: 16 element-wise products
//! per (output channel, input channel, tile) instead of 36, i.e. 16 GEMMs
//! `M[xi] = U[xi] V[xi]` (`U[xi]`: `C_out x C_in`, transformed weight; `V[xi]`: `C_in x tiles`,
//! transformed input) with 2.25x fewer multiply-adds than direct convolution. For a 2x2 kernel
//! the patch is 3x3 and
//!
//! ```text
//! B^T = | 1 -1  0 |     G = | 1  0 |     A^T = | 1  1  0 |
//!       | 0  1  0 |         | 1  1 |           | 0  1  1 |
//!       | 0 -1  1 |         | 0  1 |
//! ```
//!
//! (9 GEMMs against 16 products per tile: 1.78x fewer). The transforms only add and subtract
//! (and halve, in the 3x3 weight's), so the result differs from the definition by rounding
//! alone, as any reordering of the sums does.
//!
//! A kernel cut into sub-kernels shares one input transform among them: sub-kernel `(a, b)`
//! reads the patches of the tiles `a` rows and `b` columns further on, so its products are
//! GEMMs over `V[xi]` shifted by that many tiles, all summed into one `M[xi]`.
//!
//! Bands of tile rows keep `V` and `M` within [`super::TILE_CAP`] elements per task.

use super::gemm::{matmul, packing, Mat};
use super::parallel::for_each_task;
use super::scratch::{sized, with_scratch, with_weight_scratch};
use super::{tile_rows, TILE_CAP, WEIGHT_COPY_BUDGET};
use crate::problem::{AxisMap, Problem};
use crate::Element;

/// Fewest channels per group (on each side) for Winograd: with fewer, the transforms and not
/// the products take most of the time.
const MIN_CHANNELS: usize = 16;

/// How Winograd covers a kernel: `r x r` sub-kernels (`r` = 2 or 3, the transform's kernel
/// size) at offsets `(2a, 2b)`, `a < across[0]`, `b < across[1]`; a 2x2 or 3x3 kernel is one
/// sub-kernel.
///
/// A tile's output at `(2ty + i, 2tx + j)` sums the taps `(2a + u, 2b + v)` over the input at
/// `(2ty + 2a + i + u, ...)`: sub-kernel `(a, b)` applied to the patch of tile
/// `(ty + a, tx + b)`. So a larger kernel costs one input transform over a grid of tiles
/// `across - 1` wider and taller than the output's, and per transformed position `xi` the
/// products `M[xi] = sum over (a, b) of U[xi][a, b] V[xi]` with `V[xi]` shifted by `(a, b)`
/// tiles: `across[0] * across[1] * (r + 1)^2` products per tile against `4 * K_h * K_w`
/// (4x4: 36 against 64, 5x5: 64 against 100, 8x8: 144 against 256; see
/// [`MAX_PRODUCT_SHARE`] for the kernels taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cut {
    r: usize,
    across: [usize; 2],
    /// Column shifts per GEMM: `across[1]` when that keeps the GEMM at most
    /// [`MAX_SPREAD_DEPTH`] deep (`V`'s rows spread, see [`spread_columns`]), 1 otherwise.
    spread: usize,
}

impl Cut {
    /// Sub-kernels in all.
    fn subs(&self) -> usize {
        self.across[0] * self.across[1]
    }

    /// Transformed values per tile: `(r + 1)^2`, the patch size squared.
    fn points(&self) -> usize {
        (self.r + 1) * (self.r + 1)
    }

    /// The sub-kernel (along `axis`, 0 rows or 1 columns) holding kernel tap `k`, and the
    /// tap's place in it. With `r = 3` the sub-kernels at offsets `2a` and `2a + 2` overlap
    /// by one tap; it goes to the later one (the earlier one has a zero there).
    fn owner(&self, axis: usize, k: usize) -> (usize, usize) {
        let a = (k / 2).min(self.across[axis] - 1);
        (a, k - 2 * a)
    }
}

/// Sub-kernels along an axis with a `k`-tap kernel: `r`-tap pieces at offsets `0, 2, 4, ...`
/// until the last covers tap `k - 1`.
fn across(k: usize, r: usize) -> usize {
    if k <= r {
        1
    } else {
        (k - r).div_ceil(2) + 1
    }
}

/// Deepest GEMM [`shifted_products`] makes by spreading `V`'s rows over column shifts. Paired
/// alternating builds (7 rounds, 2 threads): spreading 32- and 64-channel inputs over 2 to 4
/// shifts (GEMMs 64-128 deep instead of 16-64) took 0.78-0.96x the time (8x8 on 32 channels
/// 0.84x, 3x5 on 64 0.78x); deeper ones went 1.3-1.5x slower (`V` grows by the spread, so
/// bands shrink: 64 channels over three shifts, 192 over two).
const MAX_SPREAD_DEPTH: usize = 128;

/// Most products per output position Winograd may take, as a fraction of the kernel's taps
/// (the direct method's): 3x3 takes 0.44, 2x2, 4x4, 6x6 and 8x8 0.56, 5x5 0.64, 3x5 0.53.
/// 7x7 (0.73) and 9x9 (0.69) measured level with im2col + GEMM (paired A/B, forward and
/// transposed), so they keep it, as does a `1 x K` kernel (more products than direct).
const MAX_PRODUCT_SHARE: f64 = 0.65;

/// How Winograd covers the kernel of `p` (a forward-convolution problem), when `p` is a 2-D
/// convolution with stride 1, no dilation and a kernel Winograd takes with fewer products
/// (see [`MAX_PRODUCT_SHARE`]); of the two transforms, the one with fewer products.
pub(super) fn cut(p: &Problem) -> Option<Cut> {
    let a = &p.axes;
    let planar = a[0].strided == 1 && a[0].dense == 1 && a[0].kernel == 1 && a[0].pad_begin == 0;
    let plain = |x: &AxisMap| x.stride == 1 && x.dilation == 1 && x.strided >= 1 && x.kernel >= 2;
    if !(planar && plain(&a[1]) && plain(&a[2])) {
        return None;
    }
    let (kh, kw) = (a[1].kernel, a[2].kernel);
    // the first of equals: r = 3 (fewer, deeper products)
    let best = [3, 2]
        .into_iter()
        .map(|r| Cut {
            r,
            across: [across(kh, r), across(kw, r)],
            spread: 1,
        })
        .min_by_key(|c| c.subs() * c.points())?;
    let share = (best.subs() * best.points()) as f64 / (4 * kh * kw) as f64;
    let aw = best.across[1];
    let best = Cut {
        spread: if p.dense_channels * aw <= MAX_SPREAD_DEPTH {
            aw
        } else {
            1
        },
        ..best
    };
    (share <= MAX_PRODUCT_SHARE).then_some(best)
}

/// The products per output position Winograd saves on `p`: the kernel's taps over its
/// products per output position (2.25 for 3x3, 1.78 for 2x2 and 4x4, 1.0 where it does not
/// apply).
pub(super) fn savings(p: &Problem) -> f64 {
    cut(p).map_or(1.0, |c| {
        (4 * p.axes[1].kernel * p.axes[2].kernel) as f64 / (c.subs() * c.points()) as f64
    })
}

/// Fewest output positions per plane for Winograd whatever the channels and images. On
/// smaller planes a band holds few tiles, so its 16 (or 9) GEMMs are narrow, and a small
/// image is a single band, one task (A/B, one image, 2 threads: 256 -> 128 3x3 on 8x8 2.3x
/// and 128 -> 128 on 16x16 1.4x the time of im2col + GEMM; Winograd 0.7-0.9x from 32x32 on).
/// Half that plane (24x24 to 31x31) takes it with 128+ channels on each side, a quarter
/// (16x16 and up) with 32+ channels and two or more images or groups (paired A/B, 9 rounds,
/// 2 threads, fifteen layers not used to set the rule: 1.0-1.6x faster than im2col + GEMM,
/// e.g. 192 -> 192 3x3 on 24x24 0.65x the time, 64 -> 64 on four 16x16 0.69x; narrower
/// one-image layers went 1.1-1.4x slower, so they keep the full plane).
const MIN_PLANE: usize = 1024;

/// Most elements of a transformed weight: twice [`WEIGHT_COPY_BUDGET`] (4 MiB of `f32`; the
/// tasks that run at once shrink to keep the call within its budget, one at a time for
/// `f64` at the limit). It takes 256 -> 256 3x3 layers and 128 -> 128 4x4 and 5x5 ones
/// (paired A/B against the budget at `WEIGHT_COPY_BUDGET`, 7 rounds, 2 threads: 256 -> 256
/// 3x3 on 64x64 0.69x the time, 192 -> 192 on two 48x48 0.64x, 128 -> 128 4x4 0.70x
/// forward and 0.66x transposed, 5x5 0.79x transposed and level forward).
const COPY_BUDGET: usize = 2 * WEIGHT_COPY_BUDGET;

/// Whether `p` (a forward-convolution problem) runs through Winograd: [`eligible`], on a
/// plane large enough for its channels and images (see [`MIN_PLANE`]).
pub(super) fn applies(p: &Problem) -> bool {
    applies_at_any_weight(p) && copies(p) <= COPY_BUDGET
}

/// Whether `p` (a forward-convolution problem) runs through Winograd a block of output
/// channels at a time ([`run_blocked`]): it would take Winograd but for its transformed
/// weight, over [`COPY_BUDGET`] (512 -> 256 3x3: 2.1M elements), and each block has at
/// least [`MIN_BLOCK_CHANNELS`] output channels. Such layers ran im2col + GEMM (forward) or
/// GEMM + col2im (transposed, whose weight was also too large to flip). Paired in-process
/// A/B through the functions (7 rounds, 2 threads): forward 3x3 512 -> 256 on 32x32 0.39x
/// the time, on 64x64 0.58x, 512 -> 512 on two 16x16 maps 0.47x, 384 -> 384 on two 24x24
/// 0.47x, 1024 -> 512 on 16x16 (eight blocks of 64) level; transposed 512 -> 256 on 64x64
/// 0.58x, 320 -> 320 on four 32x32 0.58x, 512 -> 512 on 32x32 0.78x, on two 16x16 1.08x.
pub(super) fn applies_in_blocks(p: &Problem) -> bool {
    applies_at_any_weight(p)
        && copies(p) > COPY_BUDGET
        && savings(p) >= MIN_BLOCKED_SAVINGS
        && block_channels(p) >= MIN_BLOCK_CHANNELS
}

/// Fewest products per output position [`run_blocked`] must save (see [`savings`]): 3x3
/// kernels (2.25). Kernels cut into sub-kernels (1.56-1.78) ran slower in blocks than
/// through GEMM + col2im (alternating builds, 2 runs: 256 -> 256 4x4 on 32x32 and 256 ->
/// 128 5x5 on 48x48 about 1.2-1.5x the time), their input transform repeated per block over
/// a grid of sub-kernel shifts.
const MIN_BLOCKED_SAVINGS: f64 = 2.0;

/// [`applies`] but for the transformed weight's size.
fn applies_at_any_weight(p: &Problem) -> bool {
    let (plane, images) = (p.strided_plane(), p.batch * p.groups);
    let channels = p.dense_channels.min(p.strided_channels);
    let large_enough = plane >= MIN_PLANE
        || (plane >= MIN_PLANE / 2 && channels >= 128)
        || (plane >= MIN_PLANE / 4 && images >= 2 && channels >= 32);
    cut(p).is_some()
        && p.dense_channels >= MIN_CHANNELS
        && p.strided_channels >= MIN_CHANNELS
        && per_tile_row(p) <= TILE_CAP
        && large_enough
}

/// Fewest output channels per block of [`run_blocked`]: narrower blocks make GEMMs of
/// too few rows.
const MIN_BLOCK_CHANNELS: usize = 32;

/// Output channels per block of [`run_blocked`]: as many as keep a block's transformed weight
/// within [`COPY_BUDGET`], shared out evenly over the blocks.
pub(super) fn block_channels(p: &Problem) -> usize {
    let per_channel = (points(p) * cut_of(p).subs() * p.dense_channels).max(1);
    let most = (COPY_BUDGET / per_channel).max(1);
    let cout = p.strided_channels;
    cout.div_ceil(cout.div_ceil(most))
}

/// `p` restricted to one image, one group and `channels` output channels: the problem of a
/// block of [`run_blocked`].
fn block_problem(p: &Problem, channels: usize) -> Problem {
    Problem {
        batch: 1,
        groups: 1,
        strided_channels: channels,
        ..*p
    }
}

/// [`workspace`] of `p` as it runs: a block's when it runs in blocks.
pub(super) fn call_workspace(p: &Problem) -> usize {
    if applies_in_blocks(p) {
        workspace(&block_problem(p, block_channels(p)))
    } else {
        workspace(p)
    }
}

/// [`copies`] of `p` as it runs: a block's transformed weight when it runs in blocks.
pub(super) fn call_copies(p: &Problem) -> usize {
    if applies_in_blocks(p) {
        copies(&block_problem(p, block_channels(p)))
    } else {
        copies(p)
    }
}

/// Whether [`band_product`] can compute `p` (a forward-convolution problem) within the
/// scratch budget, whatever its channels and weight size (the stacked phases' test).
pub(super) fn fits(p: &Problem) -> bool {
    cut(p).is_some() && per_tile_row(p) <= TILE_CAP
}

/// [`cut`] of `p`, for which it is known to exist (a 3x3 cut otherwise).
fn cut_of(p: &Problem) -> Cut {
    cut(p).unwrap_or(Cut {
        r: 3,
        across: [1, 1],
        spread: 1,
    })
}

/// Transformed values per tile: `(r + 1)^2`, the patch size squared.
fn points(p: &Problem) -> usize {
    cut_of(p).points()
}

/// Tiles across a row of the output.
fn tiles_wide(p: &Problem) -> usize {
    p.axes[2].strided.div_ceil(2)
}

/// Tiles across a row of the transformed input (and of `M`, whose extra tiles are not read):
/// the output's and `across[1] - 1` more, for the sub-kernels further right.
fn grid_wide(p: &Problem) -> usize {
    tiles_wide(p) + cut_of(p).across[1] - 1
}

/// Scratch elements of one row of tiles: its `V` and `M` columns.
fn per_tile_row(p: &Problem) -> usize {
    let spread = cut_of(p).spread;
    points(p) * (p.dense_channels * spread + p.strided_channels) * grid_wide(p)
}

/// Output rows per band (even, but for the last band): as many tile rows as
/// [`super::tile_rows`] allows.
pub(super) fn band_rows(p: &Problem) -> usize {
    let rows = p.axes[1].strided.div_ceil(2);
    2 * tile_rows(per_tile_row(p), grid_wide(p), rows)
}

/// [`band_rows`] for [`run_transformed`]'s tasks: a lone image (and group) whose rows fit in
/// one band goes in two, so that it is two tasks and not one that a single thread runs while
/// the others wait (fixed by the problem, never by the thread count). Paired A/B, 9 rounds,
/// 2 threads: 64 -> 64 3x3 on one 32x32 map 0.54x the time, 128 -> 128 4x4 on 24x24 0.60x
/// (which the plane rule of [`MIN_PLANE`] had made 1.36x slower than im2col + GEMM with one
/// task), level on layers of two bands or more.
fn task_band_rows(p: &Problem) -> usize {
    let band = band_rows(p);
    let rows = p.axes[1].strided.div_ceil(2);
    if p.batch * p.groups == 1 && band / 2 >= rows && rows >= 2 {
        2 * rows.div_ceil(2)
    } else {
        band
    }
}

/// Elements of the even/odd row buffers of one band.
fn row_buffers(p: &Problem) -> usize {
    8 * (2 * grid_wide(p) + 2)
}

/// Scratch elements [`band_product`] takes for a band of [`band_rows`] rows, the GEMM's
/// packing included.
pub(super) fn workspace(p: &Problem) -> usize {
    let t = band_rows(p) / 2 * grid_wide(p);
    let (cin, cout) = (p.dense_channels, p.strided_channels);
    let depth = cin * cut_of(p).spread;
    points(p) * (depth * input_tiles(p, t) + cout * t) + row_buffers(p) + packing(cout, depth, t)
}

/// Tiles of the transformed input for `tiles` of `M`: `across[0] - 1` more rows of them, for
/// the sub-kernels further down.
fn input_tiles(p: &Problem, tiles: usize) -> usize {
    tiles + (cut_of(p).across[0] - 1) * grid_wide(p)
}

/// Weight elements copied: the transformed weight, `(r + 1)^2` per sub-kernel and channel
/// pair.
pub(super) fn copies(p: &Problem) -> usize {
    let c = cut_of(p);
    c.points() * c.subs() * p.strided_channels_total() * p.dense_channels
}

/// `G` applied to the `r` values (2 or 3) of one kernel column or row: `r + 1` values (the
/// fourth is zero for `r = 2`).
#[inline]
pub(super) fn g_column<T: Element>(r: usize, k: [T; 3]) -> [T; 4] {
    if r == 3 {
        let half = T::from_f64_lossy(0.5);
        let (a, b, c) = (k[0], k[1], k[2]);
        [a, (a + b + c) * half, (a - b + c) * half, c]
    } else {
        [k[0], k[0] + k[1], k[1], T::zero()]
    }
}

/// `G g G^T` of one `r x r` kernel (`r` = 2 or 3) whose tap `(row, col)` is `at(row, col)`:
/// its `(r + 1)^2` values go to `put(xi, value)`.
#[inline]
pub(super) fn transform_kernel<T: Element>(
    r: usize,
    at: impl Fn(usize, usize) -> T,
    mut put: impl FnMut(usize, T),
) {
    if r == 2 {
        // G = [1 0; 1 1; 0 1]: rows (g0, g0 + g1, g1) of the kernel's rows, then the same
        // along the columns
        let (g00, g01, g10, g11) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
        let rows = [[g00, g01], [g00 + g10, g01 + g11], [g10, g11]];
        for (i, [x0, x1]) in rows.into_iter().enumerate() {
            put(3 * i, x0);
            put(3 * i + 1, x0 + x1);
            put(3 * i + 2, x1);
        }
    } else {
        // G g: one column of 4 values per kernel column, then G along each of its rows
        let cols: [[T; 4]; 3] =
            std::array::from_fn(|col| g_column(3, [at(0, col), at(1, col), at(2, col)]));
        let rows: [[T; 3]; 4] = std::array::from_fn(|i| [cols[0][i], cols[1][i], cols[2][i]]);
        for (i, &gi) in rows.iter().enumerate() {
            for (j, &v) in g_column(3, gi).iter().enumerate() {
                put(4 * i + j, v);
            }
        }
    }
}

/// `U[g][xi][a][co][ci][b] = (G g_ab G^T)[xi]` for sub-kernel `(a, b)` (see [`Cut`]) of the kernel
/// `w[g*C_out/g + co][ci]`, in the conv weight layout `[groups][C_out/g][C_in/g][K_h][K_w]`;
/// in parallel tasks when `parallel` (a layer's kept copy is made on one thread: see
/// [`super::prepared`]).
pub(super) fn transformed_weight<T: Element>(p: &Problem, w: &[T], parallel: bool) -> Vec<T> {
    let mut u = vec![T::zero(); copies(p)];
    transform_kernels(p, w, false, parallel, &mut u, None);
    u
}

/// [`transformed_weight`] of the flipped kernel of a stride-1 transposed convolution, read
/// from that convolution's weight `[groups][C_in/g][C_out/g][K_h][K_w]` (`p` is the forward
/// problem, so its `C_out` is the transposed convolution's): the flipped copy is never made.
/// Into `u` (a call's own copy, in its thread's weight scratch: see
/// [`super::scratch::with_weight_scratch`]; or a layer's kept copy), which it sizes; in
/// parallel tasks when `parallel` (see [`transformed_weight`]).
pub(super) fn transformed_from_transposed<T: Element>(
    p: &Problem,
    w: &[T],
    u: &mut Vec<T>,
    parallel: bool,
) {
    transform_kernels(p, w, true, parallel, sized(u, copies(p)), None);
}

/// Output channels per task of [`transform_kernels`].
const TRANSFORM_CHANNELS: usize = 8;

/// Input channels transformed into a local run before they are stored: the `np * subs`
/// slabs are `C_out * C_in` apart, and stores straight into them (a power of two apart)
/// thrashed one L1 set (a fifth of a 128 -> 128 3x3 layer's time).
const TRANSFORM_RUN: usize = 64;

/// [`transformed_weight`] (`transposed == false`) or [`transformed_from_transposed`], into
/// `u` ([`copies`] long; every element is written).
///
/// With `block` `(g, co0, n)`, only group `g`'s output channels `co0..co0 + n` (into a `u`
/// laid out as that block's problem's, [`block_problem`]).
fn transform_kernels<T: Element>(
    p: &Problem,
    w: &[T],
    transposed: bool,
    parallel: bool,
    u: &mut [T],
    block: Option<(usize, usize, usize)>,
) {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    // the groups and output channels made: rows `co0..co0 + rows` of groups from `g0` on
    let (g0, co_first, rows) = block.unwrap_or((0, 0, cout));
    let c = cut_of(p);
    let (r, np, subs) = (c.r, c.points(), c.subs());
    let (kh, kw) = (p.axes[1].kernel, p.axes[2].kernel);
    let taps = kh * kw;
    // source[s][row * 3 + col]: where the value at place (row, col) of sub-kernel s is in a
    // pair's taps (row-major, as the conv layout stores them), or `taps` (a zero kept after
    // them) where the sub-kernel has none
    let source: Vec<[usize; 9]> = (0..subs)
        .map(|s| {
            let (sa, sb) = (s / c.across[1], s % c.across[1]);
            std::array::from_fn(|i| {
                let (row, col) = (i / 3, i % 3);
                let (y, x) = (2 * sa + row, 2 * sb + col);
                let owned = row < r
                    && col < r
                    && y < kh
                    && x < kw
                    && c.owner(0, y).0 == sa
                    && c.owner(1, x).0 == sb;
                if owned {
                    y * kw + x
                } else {
                    taps
                }
            })
        })
        .collect();
    // slab (xi, a, bo): `C_out` rows of `C_in * spread` values `(ci, bi)`, for sub-kernel
    // (a, b = bo * spread + bi)
    let spread = c.spread;
    let depth = cin * spread;
    let slab = rows * depth;
    // task (group g, output channels co0..co0+n of the rows made): their rows in each of g's
    // slabs
    let mut tasks: Vec<(usize, usize, Vec<&mut [T]>)> = Vec::new();
    for (g, slabs) in u.chunks_mut(np * subs / spread * slab).enumerate() {
        let first = tasks.len();
        for co0 in (0..rows).step_by(TRANSFORM_CHANNELS) {
            tasks.push((g0 + g, co0, Vec::with_capacity(np * subs)));
        }
        for slab_xs in slabs.chunks_mut(slab) {
            let mut rest = slab_xs;
            for task in &mut tasks[first..] {
                let n = TRANSFORM_CHANNELS.min(rows - task.1);
                let (head, tail) = rest.split_at_mut(n * depth);
                task.2.push(head);
                rest = tail;
            }
        }
    }
    let transform = |(g, co0, mut slabs): (usize, usize, Vec<&mut [T]>)| {
        let n = TRANSFORM_CHANNELS.min(rows - co0);
        // values of (xi, s) go to run[(xi * subs + s) * RUN + ci - c0]
        let mut run = vec![T::zero(); np * subs * TRANSFORM_RUN];
        // one pair's taps in the conv layout's order, then a zero
        let mut pair_taps = vec![T::zero(); taps + 1];
        for co in co0..co0 + n {
            // (`co` counts the rows made; the weight's channel is `co_first + co`)
            let wc = co_first + co;
            for c0 in (0..cin).step_by(TRANSFORM_RUN) {
                let len = TRANSFORM_RUN.min(cin - c0);
                for ci in c0..c0 + len {
                    // in the transposed layout a pair's taps are reversed (the flip reverses
                    // every axis at once)
                    if transposed {
                        let k = &w[((g * cin + ci) * cout + wc) * taps..][..taps];
                        for (d, &v) in pair_taps.iter_mut().zip(k.iter().rev()) {
                            *d = v;
                        }
                    } else {
                        let k = &w[((g * cout + wc) * cin + ci) * taps..][..taps];
                        pair_taps[..taps].copy_from_slice(k);
                    }
                    for (s, src) in source.iter().enumerate() {
                        let at = |row: usize, col: usize| pair_taps[src[row * 3 + col]];
                        let mut put = |xi: usize, v: T| {
                            run[(xi * subs + s) * TRANSFORM_RUN + ci - c0] = v;
                        };
                        transform_kernel(r, at, &mut put);
                    }
                }
                // run (xi * subs + a * aw + b) to slab (xi, a, bo), every spread-th value
                // from bi (slab index xab * spread + bi is that run's)
                for (xab, slab) in slabs.iter_mut().enumerate() {
                    let row = &mut slab[(co - co0) * depth + c0 * spread..][..len * spread];
                    if spread == 1 {
                        // (one run, copied whole: the element loop of the spread case was a
                        // third of a 512 -> 512 layer's transform; alternating builds, 7
                        // rounds, function calls of 3x3 layers 0.76-0.91x the time)
                        row.copy_from_slice(&run[xab * TRANSFORM_RUN..][..len]);
                        continue;
                    }
                    for bi in 0..spread {
                        let src = &run[(xab * spread + bi) * TRANSFORM_RUN..][..len];
                        for (d, &v) in row[bi..].iter_mut().step_by(spread).zip(src) {
                            *d = v;
                        }
                    }
                }
            }
        }
    };
    if parallel {
        let work = (TRANSFORM_CHANNELS * cin * np * subs) as u64 * 16;
        for_each_task(tasks, work, usize::MAX, transform);
    } else {
        tasks.into_iter().for_each(transform);
    }
}

/// Forward convolution of `p` (for which [`applies`] holds) through Winograd; `held`
/// weight-copy elements are already held by the caller.
pub(super) fn run<T: Element>(
    p: &Problem,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
) {
    with_weight_scratch(|u: &mut Vec<T>| {
        let u = sized(u, copies(p));
        transform_kernels(p, w, false, true, u, None);
        run_transformed(p, x, u, b, y, held + u.len());
    });
}

/// Forward convolution of `p` (for which [`applies_in_blocks`] holds) through Winograd, a
/// block of `per_block` output channels at a time ([`block_channels`]): the block's
/// transformed weight (in this thread's weight scratch, within [`COPY_BUDGET`]), then each
/// image's bands for those channels, whose outputs are one contiguous run of planes. The
/// input transform is repeated per block (`C_in` values per tile against the block's
/// `C_out * C_in` products). `w` is the forward weight, or with `transposed` the stride-1
/// transposed convolution's (see [`transformed_from_transposed`]); `held` weight-copy
/// elements are held by the caller.
pub(super) fn run_blocked<T: Element>(
    p: &Problem,
    x: &[T],
    (w, transposed): (&[T], bool),
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
    per_block: usize,
) {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    let (pin, pout) = (p.dense_plane(), p.strided_plane());
    with_weight_scratch(|u: &mut Vec<T>| {
        for g in 0..p.groups {
            for co0 in (0..cout).step_by(per_block) {
                let n = per_block.min(cout - co0);
                let q = block_problem(p, n);
                let u = sized(u, copies(&q));
                transform_kernels(p, w, transposed, true, u, Some((g, co0, n)));
                for image in 0..p.batch {
                    let ng = image * p.groups + g;
                    let xg = &x[ng * cin * pin..][..cin * pin];
                    let yb = &mut y[(ng * cout + co0) * pout..][..n * pout];
                    let bb = b.map(|b| &b[g * cout + co0..][..n]);
                    run_transformed(&q, xg, u, bb, yb, held + u.len());
                }
            }
        }
    });
}

/// [`run`] with the transformed weight `u` ([`transformed_weight`]) at hand; `held`
/// weight-copy elements (`u` among them) are held.
pub(super) fn run_transformed<T: Element>(
    p: &Problem,
    x: &[T],
    u: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    held: usize,
) {
    let (cout, cin) = (p.strided_channels, p.dense_channels);
    let (h_out, w_out) = (p.axes[1].strided, p.axes[2].strided);
    let pin = p.axes[1].dense * p.axes[2].dense;
    let band = task_band_rows(p);

    let y_len = y.len();
    let at_once = super::max_concurrent(workspace(p), held, y_len, size_of::<T>());
    let per_group = copies(p) / p.groups;
    let body = |(n, g, r0, mut segments): super::conv::BandTask<'_, T>| {
        let r1 = (r0 + band).min(h_out);
        let xg = &x[(n * p.groups + g) * cin * pin..][..cin * pin];
        let ug = &u[g * per_group..][..per_group];
        with_scratch(|scratch: &mut Vec<T>, _: &mut Vec<T>| {
            let bias = |co: usize| b.map_or(T::zero(), |b| b[g * cout + co]);
            band_product(p, ug, xg, (r0, r1), scratch, &mut segments, bias);
        });
    };
    if band >= h_out && p.batch * p.groups > 1 {
        // whole planes: runs of (image, group) blocks, split into channels inside the task
        // (see `super::whole_runs`)
        let block = cout * h_out * w_out;
        let runs = super::whole_runs(p.batch * p.groups, y, block);
        let work = (p.multiply_adds() / 2) / runs.len().max(1) as u64;
        for_each_task(runs, work, at_once, |(first, out)| {
            for (i, out) in out.chunks_mut(block).enumerate() {
                let ng = first + i;
                let segments = out.chunks_mut(h_out * w_out).collect();
                body((ng / p.groups, ng % p.groups, 0, segments));
            }
        });
        return;
    }
    let tasks = super::conv::band_tasks(p, y, (band, h_out), w_out);
    let work = (p.multiply_adds() / 2) / tasks.len().max(1) as u64;
    for_each_task(tasks, work, at_once, body);
}

/// Output rows `r0..r1` of one image and group: `dst[co]` (rows `r0..r1` of output channel
/// `co`, `W_out` each) gets the convolution plus `bias(co)`. `u` is the group's transformed
/// weight, `xg` the group's input; `scratch` holds `V`, `M` and the row buffers.
pub(super) fn band_product<T: Element>(
    p: &Problem,
    u: &[T],
    xg: &[T],
    (r0, r1): (usize, usize),
    scratch: &mut Vec<T>,
    dst: &mut [&mut [T]],
    bias: impl Fn(usize) -> T,
) {
    let (cout, cin, np) = (p.strided_channels, p.dense_channels, points(p));
    let tiles = (r1 - r0).div_ceil(2) * grid_wide(p);
    let in_tiles = input_tiles(p, tiles);
    // sized for a whole band even when this one is shorter, so a thread's scratch grows once
    // (growing it again would hold the old and the new buffer at the same time)
    let full = (band_rows(p) / 2 * grid_wide(p)).max(tiles);
    let c = cut_of(p);
    let aw = c.spread;
    let all = sized(
        scratch,
        np * (cin * aw * input_tiles(p, full) + cout * full) + row_buffers(p),
    );
    let (v, rest) = all.split_at_mut(np * cin * aw * in_tiles);
    let (m, rows) = rest.split_at_mut(np * cout * tiles);
    if np == 16 {
        input_transform::<T, 3>(p, xg, (r0, r1), v, rows);
    } else {
        input_transform::<T, 2>(p, xg, (r0, r1), v, rows);
    }
    if aw > 1 {
        spread_columns(v, np * cin, in_tiles, aw);
    }
    if c.subs() == 1 {
        products(u, v, m, (cout, cin, tiles));
    } else {
        shifted_products(u, v, m, c, (cout, cin, tiles, grid_wide(p)));
    }
    if np == 16 {
        output_transform::<T, 3>(p, m, (r0, r1), dst, bias, rows);
    } else {
        output_transform::<T, 2>(p, m, (r0, r1), dst, bias, rows);
    }
}

/// The Winograd products of a band: `M[xi] = U[xi] V[xi]` for every transformed position
/// `xi`, with `U[xi]` `cout x cin`, `V[xi]` `cin x tiles` and `M[xi]` `cout x tiles`, each
/// packed one after the other.
pub(super) fn products<T: Element>(
    u: &[T],
    v: &[T],
    m: &mut [T],
    (cout, cin, tiles): (usize, usize, usize),
) {
    for (xi, mx) in m.chunks_exact_mut(cout * tiles).enumerate() {
        let lhs = Mat {
            data: &u[xi * cout * cin..][..cout * cin],
            rows: cout,
            cols: cin,
            row_stride: cin,
            col_stride: 1,
        };
        let rhs = Mat {
            data: &v[xi * cin * tiles..][..cin * tiles],
            rows: cin,
            cols: tiles,
            row_stride: tiles,
            col_stride: 1,
        };
        matmul(mx, tiles, lhs, rhs, false);
    }
}

/// `V`'s rows (`rows` of `len` tiles, packed) spread to `aw` rows each: row `(i, b)` holds
/// row `i` from tile `b` on (its last `b` values are left as they were: they feed only the
/// extra tiles of `M` past the output). A sub-kernel `b` columns to the right reads its
/// patches `b` tiles on, so with the rows spread a GEMM over `C_in * aw` rows covers all
/// of a row `a` of sub-kernels at once.
fn spread_columns<T: Copy>(v: &mut [T], rows: usize, len: usize, aw: usize) {
    // from the last row back, so that no row is overwritten before it has moved
    for row in (0..rows).rev() {
        let to = row * aw * len;
        v.copy_within(row * len..(row + 1) * len, to);
        for b in 1..aw {
            v.copy_within(to + b..to + len, to + b * len);
        }
    }
}

/// [`products`] of a kernel cut in several sub-kernels (see [`Cut`]):
/// `M[xi] = sum over (a, bo) of U[xi][a][bo] V'[xi]`, with `V'[xi]` the rows of `V[xi]`
/// spread over `spread` column shifts ([`spread_columns`]; not spread when `spread` is 1) and
/// shifted by `a` rows of `grid` tiles and `bo * spread` tiles: one GEMM `C_in * spread` deep
/// per `spread` sub-kernels of a row, all into the same `M`. The last `across[1] - 1` tiles
/// of `M`'s last row (beyond the output) are left as they are.
fn shifted_products<T: Element>(
    u: &[T],
    v: &[T],
    m: &mut [T],
    cut: Cut,
    (cout, cin, tiles, grid): (usize, usize, usize, usize),
) {
    let (ah, aw, spread) = (cut.across[0], cut.across[1], cut.spread);
    let depth = cin * spread;
    let in_tiles = tiles + (ah - 1) * grid;
    let cols = tiles - (aw - 1);
    let per_xi = ah * aw / spread;
    for (xi, mx) in m.chunks_exact_mut(cout * tiles).enumerate() {
        let vx = &v[xi * depth * in_tiles..][..depth * in_tiles];
        for k in 0..per_xi {
            // sub-kernels (a, bo * spread + bi) for bi < spread
            let (a, bo) = (k / (aw / spread), k % (aw / spread));
            let lhs = Mat {
                data: &u[(xi * per_xi + k) * cout * depth..][..cout * depth],
                rows: cout,
                cols: depth,
                row_stride: depth,
                col_stride: 1,
            };
            let rhs = Mat {
                data: &vx[a * grid + bo * spread..][..(depth - 1) * in_tiles + cols],
                rows: depth,
                cols,
                row_stride: in_tiles,
                col_stride: 1,
            };
            matmul(mx, tiles, lhs, rhs, k > 0);
        }
    }
}

/// `V[xi][ci][t] = (B^T d B)[xi]` for the tiles `t` of output rows `r0..r1` (tile row `ty`
/// holds rows `r0 + 2ty` and the next), `d` the `(R+1) x (R+1)` input patch of the tile (zero
/// outside the input). `rows` holds 8 rows of `2*(tiles + 1)`.
///
/// Each of a tile row's input rows is read with its even and odd columns apart (column `c` of
/// the padded row is input column `c - pad_w`; tile `t` reads columns `2t..2t + R + 1`, that is
/// even `t, t+1` and odd `t` (and `t+1` for R = 3)), so both transforms run on contiguous runs.
fn input_transform<T: Element, const R: usize>(
    p: &Problem,
    xg: &[T],
    (r0, r1): (usize, usize),
    v: &mut [T],
    rows: &mut [T],
) {
    let (h, w) = (&p.axes[1], &p.axes[2]);
    let (h_in, w_in) = (h.dense, w.dense);
    let tw = grid_wide(p);
    let half = tw + 1;
    let width = 2 * half;
    let tile_rows = (r1 - r0).div_ceil(2) + cut_of(p).across[0] - 1;
    let tiles = tile_rows * tw;
    let stride = p.dense_channels * tiles;
    let n = R + 1;
    for (ci, plane) in xg.chunks_exact(h_in * w_in).enumerate() {
        for ty in 0..tile_rows {
            let (d, r) = rows[..8 * width].split_at_mut(4 * width);
            for (k, row) in d.chunks_exact_mut(width).take(n).enumerate() {
                let iy = (r0 + 2 * ty + k) as i64 - h.pad_begin;
                let (even, odd) = row.split_at_mut(half);
                if iy < 0 || iy >= h_in as i64 {
                    even.fill(T::zero());
                    odd.fill(T::zero());
                    continue;
                }
                let src = &plane[iy as usize * w_in..][..w_in];
                every_other(src, -w.pad_begin, even);
                every_other(src, 1 - w.pad_begin, odd);
            }
            // B^T down the columns, every column at once
            let dr = |k: usize| &d[k * width..(k + 1) * width];
            let (t0_, rest) = r.split_at_mut(width);
            let (t1_, rest) = rest.split_at_mut(width);
            let (t2_, t3_) = rest.split_at_mut(width);
            if R == 3 {
                let (d0, d1, d2, d3) = (dr(0), dr(1), dr(2), dr(3));
                for c in 0..width {
                    t0_[c] = d0[c] - d2[c];
                    t1_[c] = d1[c] + d2[c];
                    t2_[c] = d2[c] - d1[c];
                    t3_[c] = d1[c] - d3[c];
                }
            } else {
                let (d0, d1, d2) = (dr(0), dr(1), dr(2));
                for c in 0..width {
                    t0_[c] = d0[c] - d1[c];
                    t1_[c] = d1[c];
                    t2_[c] = d2[c] - d1[c];
                }
            }
            // B along each row: with e, o the even and odd columns, tile t's values are
            // e[t] - e[t+1], o[t] + e[t+1], e[t+1] - o[t], o[t] - o[t+1] (R = 3), or
            // e[t] - o[t], o[t], e[t+1] - o[t] (R = 2)
            let base = (ty * tw, tiles);
            for (i, ri) in [&*t0_, &*t1_, &*t2_, &*t3_].into_iter().take(n).enumerate() {
                let (e, o) = ri.split_at(half);
                let (e0, e1, o0, o1) = (&e[..tw], &e[1..half], &o[..tw], &o[1..half]);
                let at = (i * n * p.dense_channels + ci) * base.1 + base.0;
                let (v0, rest) = v[at..].split_at_mut(stride);
                let (v1, rest) = rest.split_at_mut(stride);
                let (v0, v1) = (&mut v0[..tw], &mut v1[..tw]);
                if R == 3 {
                    let (v2, v3) = rest.split_at_mut(stride);
                    let (v2, v3) = (&mut v2[..tw], &mut v3[..tw]);
                    for t in 0..tw {
                        v0[t] = e0[t] - e1[t];
                        v1[t] = o0[t] + e1[t];
                        v2[t] = e1[t] - o0[t];
                        v3[t] = o0[t] - o1[t];
                    }
                } else {
                    let v2 = &mut rest[..tw];
                    for t in 0..tw {
                        v0[t] = e0[t] - o0[t];
                        v1[t] = o0[t];
                        v2[t] = e1[t] - o0[t];
                    }
                }
            }
        }
    }
}

/// `dst[k] = src[start + 2k]`, zero where that is outside `src`.
fn every_other<T: Element>(src: &[T], start: i64, dst: &mut [T]) {
    let len = src.len() as i64;
    // k with 0 <= start + 2k < len
    let lo = if start >= 0 { 0 } else { (-start + 1) / 2 };
    let hi = if start >= len {
        0
    } else {
        (len - start + 1) / 2
    };
    let (lo, hi) = (
        lo.min(dst.len() as i64) as usize,
        hi.min(dst.len() as i64) as usize,
    );
    if lo >= hi {
        dst.fill(T::zero());
        return;
    }
    dst[..lo].fill(T::zero());
    dst[hi..].fill(T::zero());
    let first = (start + 2 * lo as i64) as usize;
    dst[lo..hi]
        .iter_mut()
        .zip(src[first..].iter().step_by(2))
        .for_each(|(d, &s)| *d = s);
}

/// Output rows `r0..r1` from `M[xi][co][t]`: `Y = A^T M A` plus the bias, into `dst[co]`
/// (rows `r0..r1` of output channel `co`). `rows` holds 8 runs of `tw`.
fn output_transform<T: Element, const R: usize>(
    p: &Problem,
    m: &[T],
    (r0, r1): (usize, usize),
    dst: &mut [&mut [T]],
    bias: impl Fn(usize) -> T,
    rows: &mut [T],
) {
    let w_out = p.axes[2].strided;
    let (tw, grid) = (tiles_wide(p), grid_wide(p));
    let tile_rows = (r1 - r0).div_ceil(2);
    let tiles = tile_rows * grid;
    let cout = p.strided_channels;
    let n = R + 1;
    let (s0, s1) = rows[..8 * tw].split_at_mut(4 * tw);
    for (co, seg) in dst.iter_mut().enumerate() {
        let bias = bias(co);
        for ty in 0..tile_rows {
            let t0 = ty * grid;
            let run = |xi: usize| &m[(xi * cout + co) * tiles + t0..][..tw];
            // A^T down the columns: s0[j] = m0j + m1j + m2j, s1[j] = m1j - m2j - m3j (R = 3),
            // or s0[j] = m0j + m1j, s1[j] = m1j + m2j (R = 2)
            for j in 0..n {
                let (u, v) = (&mut s0[j * tw..][..tw], &mut s1[j * tw..][..tw]);
                let (a, b, c) = (run(j), run(n + j), run(2 * n + j));
                if R == 3 {
                    let d = run(3 * n + j);
                    for t in 0..tw {
                        u[t] = a[t] + b[t] + c[t];
                        v[t] = b[t] - c[t] - d[t];
                    }
                } else {
                    for t in 0..tw {
                        u[t] = a[t] + b[t];
                        v[t] = b[t] + c[t];
                    }
                }
            }
            // A along the rows, per output row
            for (dy, s) in [&*s0, &*s1].into_iter().enumerate() {
                let oy = 2 * ty + dy;
                if r0 + oy >= r1 {
                    break;
                }
                let out = &mut seg[oy * w_out..][..w_out];
                let (a, b, c) = (&s[..tw], &s[tw..2 * tw], &s[2 * tw..3 * tw]);
                if R == 3 {
                    let d = &s[3 * tw..4 * tw];
                    for (t, o) in out.chunks_exact_mut(2).enumerate() {
                        o[0] = a[t] + b[t] + c[t] + bias;
                        o[1] = b[t] - c[t] - d[t] + bias;
                    }
                } else {
                    for (t, o) in out.chunks_exact_mut(2).enumerate() {
                        o[0] = a[t] + b[t] + bias;
                        o[1] = b[t] + c[t] + bias;
                    }
                }
                if w_out % 2 == 1 {
                    let t = tw - 1;
                    out[w_out - 1] = if R == 3 {
                        a[t] + b[t] + c[t]
                    } else {
                        a[t] + b[t]
                    } + bias;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::data;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Winograd on planes of any size (the dispatch takes only large ones): 3x3 and 2x2,
        /// and kernels up to 9x9, square or not, cut in sub-kernels; odd and even sizes,
        /// padding past the kernel (cropping), groups, bias; f64 to 1e-12.
        #[test]
        fn small_planes_match_the_definition(
            (batch, groups, cout) in (1usize..3, 1usize..3, 16usize..19),
            // 44+ input channels over 3+ column shifts: GEMMs of sub-kernels one by one
            cin in prop_oneof![16usize..19, 44usize..47],
            (h, w, pad) in (1usize..11, 1usize..11, 0usize..5),
            (kh, kw) in prop_oneof![(2usize..4).prop_map(|k| (k, k)), (2usize..10, 2usize..10)],
        ) {
            let axis = |dense: usize, k: usize| AxisMap {
                strided: (dense + 2 * pad).saturating_sub(k - 1),
                dense,
                kernel: k,
                stride: 1,
                dilation: 1,
                pad_begin: pad as i64,
            };
            let p = Problem {
                batch,
                groups,
                strided_channels: cout,
                dense_channels: cin,
                axes: [AxisMap::UNIT, axis(h, kh), axis(w, kw)],
            };
            prop_assume!(p.strided_plane() > 0 && cut(&p).is_some());
            prop_assume!(copies(&p) <= COPY_BUDGET && per_tile_row(&p) <= TILE_CAP);
            let x = data(batch * groups * cin * p.dense_plane(), 1);
            let wt = data(groups * cout * cin * kh * kw, 2);
            let b = data(groups * cout, 3);
            // the same kernels as a stride-1 transposed convolution's weight
            // `[g][ci][co][taps reversed]` transform to the same values
            let taps = kh * kw;
            let mut transposed = vec![0.0; wt.len()];
            for (pair, k) in wt.chunks_exact(taps).enumerate() {
                let (g, co, ci) = (pair / (cout * cin), pair / cin % cout, pair % cin);
                let at = ((g * cin + ci) * cout + co) * taps;
                for (t, &v) in k.iter().enumerate() {
                    transposed[at + taps - 1 - t] = v;
                }
            }
            // (into a longer buffer with other contents: every element is written)
            let mut from_transposed = vec![f64::NAN; copies(&p) + 5];
            transformed_from_transposed(&p, &transposed, &mut from_transposed, true);
            prop_assert_eq!(
                &from_transposed[..copies(&p)],
                &transformed_weight(&p, &wt, false)[..]
            );
            let mut want = vec![0.0; batch * groups * cout * p.strided_plane()];
            crate::reference::gather(&p, &x, &wt, Some(&b), &mut want);
            let mut got = vec![f64::NAN; want.len()];
            run(&p, &x, &wt, Some(&b), &mut got, 0);
            let max = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (g, v)) in got.iter().zip(&want).enumerate() {
                prop_assert!((g - v).abs() <= 1e-12 * max, "{:?} at {}: {} vs {}", p, i, g, v);
            }
            // a block of output channels at a time (blocks of `per_block`, the last one
            // shorter), from the forward and from the transposed weight
            for (per_block, weight, transposed) in [(5, &wt, false), (16, &transposed, true)] {
                let mut got = vec![f64::NAN; want.len()];
                run_blocked(&p, &x, (weight, transposed), Some(&b), &mut got, 0, per_block);
                for (i, (g, v)) in got.iter().zip(&want).enumerate() {
                    prop_assert!(
                        (g - v).abs() <= 1e-12 * max,
                        "blocks of {}, {:?} at {}: {} vs {}", per_block, p, i, g, v
                    );
                }
            }
        }
    }

    /// Layers whose transformed kernel is over the copy budget run in blocks of output
    /// channels, each block's within it; the blocks are shared out evenly.
    #[test]
    fn deep_layers_run_in_blocks() {
        let axis = |k: usize| AxisMap {
            strided: 32 + 2 * (k / 2) - (k - 1),
            dense: 32,
            kernel: k,
            stride: 1,
            dilation: 1,
            pad_begin: (k / 2) as i64,
        };
        let layer = |cin: usize, cout: usize, k: usize| Problem {
            batch: 1,
            groups: 1,
            strided_channels: cout,
            dense_channels: cin,
            axes: [AxisMap::UNIT, axis(k), axis(k)],
        };
        // 256 -> 256 3x3: 16 * 65536 elements, exactly the budget
        assert!(applies(&layer(256, 256, 3)) && !applies_in_blocks(&layer(256, 256, 3)));
        for (cin, cout, k, blocks) in [(512, 256, 3, 2), (512, 512, 3, 4), (384, 384, 3, 3)] {
            let p = layer(cin, cout, k);
            assert!(
                !applies(&p) && applies_in_blocks(&p),
                "{cin} -> {cout} {k}x{k}"
            );
            let per_block = block_channels(&p);
            assert_eq!(cout.div_ceil(per_block), blocks, "{cin} -> {cout} {k}x{k}");
            assert!(call_copies(&p) <= COPY_BUDGET);
        }
        // blocks of fewer than 32 channels, and kernels cut into sub-kernels, keep im2col
        assert!(!applies_in_blocks(&layer(2048, 64, 3)));
        assert!(!applies_in_blocks(&layer(256, 256, 4)));
    }
}
