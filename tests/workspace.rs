//! Bounded memory: a `_into` call (contiguous arguments, preallocated output) allocates at most
//! `max(16 MiB, output size)` on top of what the caller holds, on any shape — measured with a
//! counting allocator around the call, threads and the per-thread scratch cache included.
//!
//! One test function, so no other test allocates concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array, Array3, Array4, Array5, Dimension};
use upconv::{
    conv1d_into, conv2d_into, conv_transpose1d_into, conv_transpose2d_into, conv_transpose3d_into,
    resize_into, upsample1d_into, upsample2d_into, Conv1d, Conv2d, ConvTranspose1d,
    ConvTranspose2d, ConvTranspose2dLayer, ConvTranspose3d, CoordinateTransform, Element, Mode,
    Resize, ResizeMode, Upsample1d, Upsample2d,
};

/// The system allocator, counting the bytes live now and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::SeqCst) + grow;
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;

/// Bytes `f` allocates above what is live when it starts, at its peak.
fn peak_growth(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

fn filled<T: Element, D: Dimension>(shape: impl ndarray::ShapeBuilder<Dim = D>) -> Array<T, D> {
    let mut i = 0u32;
    Array::from_shape_simple_fn(shape, || {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12345);
        T::from_f64_lossy(f64::from(i >> 8) / f64::from(1u32 << 24) - 0.5)
    })
}

/// Checks one call: the growth stays within `max(16 MiB, output bytes)`. The call runs in a
/// fresh pool of 4 threads (more than the CI machine's cores), so no scratch is cached yet
/// and the concurrency cap is exercised.
fn check(name: &str, out_bytes: usize, f: impl FnOnce() + Send) {
    check_holding(name, out_bytes, 0, f)
}

/// [`check`] for a call that may also make `held` bytes its layer keeps (a packed weight).
fn check_holding(name: &str, out_bytes: usize, held: usize, f: impl FnOnce() + Send) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let grew = pool.install(|| peak_growth(f));
    let bound = (16 * MIB).max(out_bytes) + held;
    eprintln!(
        "{name}: {:.2} MiB (bound {:.2})",
        grew as f64 / MIB as f64,
        bound as f64 / MIB as f64
    );
    assert!(
        grew <= bound,
        "{name}: allocated {:.2} MiB during the call, bound {:.2} MiB",
        grew as f64 / MIB as f64,
        bound as f64 / MIB as f64
    );
}

/// `[N, C_in, H, W]`, `C_out`, kernel, stride, padding, groups.
type Case = ([usize; 4], usize, usize, usize, usize, usize);

fn deconv2d<T: Element>(name: &str, (x, cout, k, s, pad, g): Case) {
    let cfg = ConvTranspose2d::new().stride(s).padding(pad).groups(g);
    let input: Array4<T> = filled(x);
    let weight: Array4<T> = filled([x[1], cout / g, k, k]);
    let dims = cfg.output_dims(&x, weight.shape()).unwrap();
    let mut out = Array4::<T>::zeros([dims[0], dims[1], dims[2], dims[3]]);
    let bytes = out.len() * std::mem::size_of::<T>();
    check(name, bytes, || {
        conv_transpose2d_into(&input, &weight, None, &cfg, &mut out).unwrap()
    });
    // the same through a layer: its first call may make one form of the weight that the
    // layer keeps (16-row panels of each group's `C_out/g * k * k` rows, the largest; or the
    // transposed or flipped weight); later calls only the bound
    let layer = ConvTranspose2dLayer::new(&weight, None, cfg).unwrap();
    let panel_rows = (cout / g * k * k).div_ceil(16) * 16;
    let packed = g * panel_rows * (x[1] / g) * std::mem::size_of::<T>();
    check_holding(
        &format!("{name}, layer's first call"),
        bytes,
        packed,
        || layer.forward_into(&input, &mut out).unwrap(),
    );
    check(&format!("{name}, layer's second call"), bytes, || {
        layer.forward_into(&input, &mut out).unwrap()
    });
}

fn conv<T: Element>(name: &str, (x, cout, k, s, pad, g): Case) {
    let cfg = Conv2d::new().stride(s).padding(pad).groups(g);
    let input: Array4<T> = filled(x);
    let weight: Array4<T> = filled([cout, x[1] / g, k, k]);
    let dims = cfg.output_dims(&x, weight.shape()).unwrap();
    let mut out = Array4::<T>::zeros([dims[0], dims[1], dims[2], dims[3]]);
    let bytes = out.len() * std::mem::size_of::<T>();
    check(name, bytes, || {
        conv2d_into(&input, &weight, None, &cfg, &mut out).unwrap()
    });
}

fn all_for<T: Element>() {
    let deconvs: [(&str, Case); 39] = [
        ("dcgan", ([8, 256, 16, 16], 128, 4, 2, 1, 1)),
        ("unet", ([1, 512, 32, 32], 256, 2, 2, 0, 1)),
        ("fcn", ([1, 21, 32, 32], 21, 16, 8, 4, 1)),
        ("small", ([4, 32, 56, 56], 16, 3, 2, 1, 1)),
        // a transformed kernel over the copy budget: Winograd a block of output channels
        // at a time (four blocks; three, two images)
        (
            "stride 1, 512 channels",
            ([1, 512, 48, 48], 512, 3, 1, 1, 1),
        ),
        (
            "stride 1, 384 channels, two images",
            ([2, 384, 40, 40], 384, 3, 1, 1, 1),
        ),
        (
            "large weight, tiny image",
            ([1, 1024, 4, 4], 512, 4, 2, 1, 1),
        ),
        ("large weight, batch", ([8, 1024, 4, 4], 512, 4, 2, 1, 1)),
        ("many tiny images", ([64, 512, 2, 2], 512, 3, 2, 1, 1)),
        // products of 4-64 columns: a layer reads its packed weight there
        ("pose head, 8x6 input", ([1, 2048, 8, 6], 256, 4, 2, 1, 1)),
        ("grouped, 4x4 input", ([2, 768, 4, 4], 384, 3, 2, 1, 3)),
        // a layer runs these one image per task (the largest weight it does that for)
        ("three 8x8 images", ([3, 512, 8, 8], 128, 4, 2, 1, 1)),
        ("one long row", ([1, 8, 2, 65536], 8, 4, 2, 1, 1)),
        ("kernel 7", ([1, 256, 32, 32], 256, 7, 2, 3, 1)),
        ("grouped", ([2, 256, 32, 32], 256, 4, 2, 1, 4)),
        ("depthwise", ([2, 64, 64, 64], 64, 4, 2, 1, 64)),
        // Winograd: stride 1 (flipped forward conv) and the sub-pixel phases of 4x4/2
        ("winograd stride 1", ([1, 128, 96, 96], 64, 3, 1, 1, 1)),
        (
            "winograd 6x6 sub-kernels",
            ([1, 128, 96, 96], 64, 6, 1, 2, 1),
        ),
        ("winograd phases", ([1, 128, 96, 96], 64, 4, 2, 1, 1)),
        // stacked phases whose transformed weight goes in two passes (of one 64-channel block)
        (
            "stacked phases, passes",
            ([1, 512, 64, 64], 128, 4, 2, 1, 1),
        ),
        // a few input positions (skinny product), a projected latent vector, a 3-channel
        // kernel == stride head, one output channel in row bands, depthwise rows in bands
        ("skinny, 2x2 input", ([1, 1024, 2, 2], 512, 4, 2, 1, 1)),
        ("projection", ([16, 1024, 1, 1], 512, 4, 1, 0, 1)),
        ("tiled RGB head", ([1, 16, 512, 512], 3, 2, 2, 0, 1)),
        // shallow inputs through the direct tiles (in f32): four images, and a tall image
        // whose bands are cut to fit a task's input copy
        ("direct tiles", ([4, 32, 56, 56], 16, 3, 2, 1, 1)),
        (
            "direct tiles, tall image",
            ([1, 32, 256, 512], 16, 4, 2, 1, 1),
        ),
        // a shallow layer whose 96x96 kernel makes a 36 MiB weight: too large to copy
        ("shallow, huge kernel", ([1, 32, 4, 4], 32, 96, 32, 0, 1)),
        // many 1x2 inputs cropped to 1x3 outputs through the direct tiles (tasks that each
        // listed their 32 output planes took more memory than the output itself)
        (
            "direct tiles, 65536 tiny images",
            ([65536, 8, 1, 2], 32, 3, 2, 1, 1),
        ),
        ("one channel, row bands", ([1, 56, 128, 128], 1, 9, 2, 4, 1)),
        // hundreds of thousands of tiny planes: tasks that listed a slice per output plane
        // took more memory than the outputs (GEMM + col2im 69.8 MiB against 48, the tiled
        // head 20 MiB against 16); whole planes now go as one run per image or per task
        (
            "GEMM + col2im, 65536 tiny images",
            ([65536, 40, 1, 2], 64, 3, 2, 1, 1),
        ),
        (
            "tiled head, 262144 tiny images",
            ([262144, 4, 1, 2], 2, 2, 2, 0, 1),
        ),
        (
            "stride 1, 65536 tiny images",
            ([65536, 40, 1, 2], 64, 3, 1, 1, 1),
        ),
        // (the pointwise loop 18 MiB against 16, the flipped 1x1 layer's forward convolution
        // 71.5 MiB against 32, before the same fix)
        (
            "pointwise, 262144 tiny images",
            ([262144, 8, 1, 2], 2, 1, 1, 0, 1),
        ),
        (
            "1x1 to 64 channels, 65536 tiny images",
            ([65536, 16, 1, 2], 64, 1, 1, 0, 1),
        ),
        (
            "projection, 262144 1x1 inputs",
            ([262144, 16, 1, 1], 8, 4, 1, 0, 1),
        ),
        ("depthwise long rows", ([2, 8, 6, 6000], 8, 4, 2, 1, 8)),
        // 1x1 layers: few outputs (pointwise), and more on a 256x256 plane whose input is
        // copied into padded rows
        ("pointwise head", ([2, 512, 128, 128], 8, 1, 1, 0, 1)),
        (
            "1x1 on an aliased plane",
            ([1, 512, 256, 256], 48, 1, 1, 0, 1),
        ),
        // more outputs: GEMMs reading the weight in place, a lone image in channel blocks
        (
            "1x1 lone image, large weight",
            ([1, 2048, 7, 7], 1024, 1, 1, 0, 1),
        ),
        (
            "col2im, aliased input copied",
            ([1, 64, 256, 256], 3, 3, 2, 1, 1),
        ),
    ];
    for (name, case) in deconvs {
        deconv2d::<T>(&format!("conv_transpose2d {name} {}", T::NAME), case);
    }
    let convs: [(&str, Case); 10] = [
        // Winograd in blocks of output channels (per group)
        ("3x3, 512 channels", ([1, 512, 48, 48], 512, 3, 1, 1, 1)),
        (
            "3x3 in blocks, groups",
            ([1, 1024, 32, 32], 256, 3, 1, 1, 2),
        ),
        ("pointwise head", ([2, 512, 128, 128], 8, 1, 1, 0, 1)),
        (
            "1x1 on an aliased plane",
            ([1, 512, 256, 256], 48, 1, 1, 0, 1),
        ),
        (
            "1x1 lone image, large weight",
            ([1, 2048, 7, 7], 1024, 1, 1, 0, 1),
        ),
        ("strided 4x4", ([2, 128, 64, 64], 256, 4, 2, 1, 1)),
        ("large weight", ([1, 1024, 6, 6], 1024, 3, 1, 1, 1)),
        ("winograd 3x3", ([2, 128, 128, 128], 128, 3, 1, 1, 1)),
        ("winograd 5x5", ([1, 128, 128, 128], 128, 5, 1, 2, 1)),
        (
            "3x3 on 65536 3x3 images",
            ([65536, 16, 3, 3], 64, 3, 1, 1, 1),
        ),
    ];
    for (name, case) in convs {
        conv::<T>(&format!("conv2d {name} {}", T::NAME), case);
    }
    // long 1-D signals (audio): one row far over any tile, cut into windows
    let x: Array3<T> = filled([1, 64, 65536]);
    for (name, s, k, pad) in [("vocoder upsampling", 8, 16, 4), ("stride 1", 1, 7, 3)] {
        let cfg = ConvTranspose1d::new().stride(s).padding(pad);
        let w: Array3<T> = filled([64, 32, k]);
        let d = cfg.output_dims(x.shape(), w.shape()).unwrap();
        let mut y = Array3::<T>::zeros([d[0], d[1], d[2]]);
        let bytes = y.len() * std::mem::size_of::<T>();
        check(
            &format!("conv_transpose1d {name} {}", T::NAME),
            bytes,
            || conv_transpose1d_into(&x, &w, None, &cfg, &mut y).unwrap(),
        );
    }
    let cfg = Conv1d::new().padding(3);
    let w: Array3<T> = filled([64, 64, 7]);
    let mut y = Array3::<T>::zeros([1, 64, 65536]);
    check(
        &format!("conv1d long signal {}", T::NAME),
        y.len() * std::mem::size_of::<T>(),
        || conv1d_into(&x, &w, None, &cfg, &mut y).unwrap(),
    );
    // a deep layer (the width-shift lowering) with a dilation whose reach dwarfs its windows
    let x: Array3<T> = filled([1, 300, 30000]);
    let w: Array3<T> = filled([16, 300, 7]);
    for dilation in [3, 4000] {
        let cfg = Conv1d::new().dilation(dilation);
        let d = cfg.output_dims(x.shape(), w.shape()).unwrap();
        let mut y = Array3::<T>::zeros([d[0], d[1], d[2]]);
        check(
            &format!("conv1d deep, dilation {dilation} {}", T::NAME),
            y.len() * std::mem::size_of::<T>(),
            || conv1d_into(&x, &w, None, &cfg, &mut y).unwrap(),
        );
    }
    // 3-D and upsampling
    let cfg = ConvTranspose3d::new().stride(2).padding(1);
    let x: Array5<T> = filled([1, 64, 8, 16, 16]);
    let w: Array5<T> = filled([64, 32, 4, 4, 4]);
    let d = cfg.output_dims(x.shape(), w.shape()).unwrap();
    let mut y = Array5::<T>::zeros([d[0], d[1], d[2], d[3], d[4]]);
    let bytes = y.len() * std::mem::size_of::<T>();
    check("conv_transpose3d", bytes, || {
        conv_transpose3d_into(&x, &w, None, &cfg, &mut y).unwrap()
    });
    let x: Array4<T> = filled([2, 64, 64, 64]);
    for mode in [Mode::Nearest, Mode::Linear, Mode::Cubic, Mode::Area] {
        let cfg = Upsample2d::scale([2.0, 2.0]).mode(mode);
        let mut y = Array4::<T>::zeros([2, 64, 128, 128]);
        let bytes = y.len() * std::mem::size_of::<T>();
        check(&format!("upsample2d {mode:?}"), bytes, || {
            upsample2d_into(&x, &cfg, &mut y).unwrap()
        });
    }
    // long signals: a table per axis grows with the axis, not with the tensor (linear x2 of
    // 2^21 samples would take 64 MiB of table in f32 for 16 MiB of output)
    for (shape, scale, mode, antialias) in [
        ([1, 1, 1 << 21], 2.0, Mode::Linear, false),
        ([1, 2, 1 << 20], 3.0, Mode::Cubic, false),
        ([2, 4, 1 << 20], 0.25, Mode::Linear, true),
        ([1, 3, 1 << 21], 0.3, Mode::Area, false),
        ([1, 1, 1 << 21], 1.5, Mode::Nearest, false),
    ] {
        let x: Array3<T> = filled(shape);
        let cfg = Upsample1d::scale([scale]).mode(mode).antialias(antialias);
        let d = cfg.output_dims(x.shape()).unwrap();
        let mut y = Array3::<T>::zeros([d[0], d[1], d[2]]);
        check(
            &format!("upsample1d {shape:?} x{scale} {mode:?} aa {antialias}"),
            y.len() * std::mem::size_of::<T>(),
            || upsample1d_into(&x, &cfg, &mut y).unwrap(),
        );
    }
    // and a long axis across a short one, through ONNX Resize with outside outputs
    let x = filled::<T, _>(ndarray::IxDyn(&[2, 1 << 20]));
    let cfg = Resize::new()
        .mode(ResizeMode::Cubic)
        .scales(vec![1.5, 2.0])
        .coordinate_transformation_mode(CoordinateTransform::TfCropAndResize)
        .roi(vec![-0.1, 0.0, 1.0, 1.1]);
    let d = cfg.output_dims(x.shape()).unwrap();
    let mut y = Array::<T, _>::zeros(ndarray::IxDyn(&d));
    check(
        &format!("resize {:?} -> {d:?}", x.shape()),
        y.len() * std::mem::size_of::<T>(),
        || resize_into(&x, &cfg, &mut y).unwrap(),
    );
}

#[test]
fn into_calls_allocate_at_most_max_of_16_mib_and_the_output() {
    all_for::<f32>();
    all_for::<f64>();
}
