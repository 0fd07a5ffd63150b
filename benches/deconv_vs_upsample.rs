//! Deconvolution versus upsampling: what each way of doubling one feature map costs.
//!
//! One `[1, 64, 64, 64]` f32 map becomes `[1, 64, 128, 128]` by nearest, bilinear and bicubic
//! upsampling, pixel shuffle (of a `[1, 256, 64, 64]` map), and transposed convolutions
//! 2x2/s2, 4x4/s2/p1, 3x3/s2/p1/op1 and depthwise 4x4/s2/p1 (64 -> 64 channels). Each runs
//! with a new output per call (`alloc`) and into a preallocated one (`into`).
//!
//! The cost model's multiply-adds and bytes are in every benchmark id and in a table printed
//! once on stderr; criterion's throughput is FLOP/s (as elements/s) for the convolutions and
//! bytes/s for the copies and interpolations.
//!
//! ```text
//! cargo bench --bench deconv_vs_upsample            # all, about a minute
//! cargo bench --bench deconv_vs_upsample -- bilinear # one family
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array4;
use upconv::shape::Cost;
use upconv::{
    conv_transpose2d, conv_transpose2d_into, pixel_shuffle, pixel_shuffle_into, upsample2d,
    upsample2d_into, ConvTranspose2d, Mode, Upsample2d,
};

const N: usize = 1;
const C: usize = 64;
const H: usize = 64;
const W: usize = 64;

/// Deterministic pseudo-random values in [-1, 1).
fn random(shape: [usize; 4], seed: u64) -> Array4<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array4::from_shape_simple_fn(shape, || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    })
}

/// What one case does.
enum Op {
    Up(Upsample2d),
    Shuffle(usize),
    Deconv(ConvTranspose2d, Array4<f32>),
}

struct Case {
    name: &'static str,
    x: Array4<f32>,
    op: Op,
}

impl Case {
    fn cost(&self) -> Cost {
        let x = self.x.shape();
        match &self.op {
            Op::Up(cfg) => cfg.cost(x, 4).expect("upsample cost"),
            // a permutation: the input read once, an output of the same size written once
            Op::Shuffle(_) => {
                let b = 4 * self.x.len() as u64;
                Cost {
                    bytes_read: b,
                    bytes_written: b,
                    ..Cost::default()
                }
            }
            Op::Deconv(cfg, w) => cfg.cost(x, w.shape(), 4).expect("deconv cost"),
        }
    }

    fn run(&self) -> Array4<f32> {
        match &self.op {
            Op::Up(cfg) => upsample2d(&self.x, cfg).expect("upsample"),
            Op::Shuffle(r) => pixel_shuffle(&self.x, *r).expect("pixel shuffle"),
            Op::Deconv(cfg, w) => conv_transpose2d(&self.x, w, None, cfg).expect("deconv"),
        }
    }

    fn run_into(&self, y: &mut Array4<f32>) {
        match &self.op {
            Op::Up(cfg) => upsample2d_into(&self.x, cfg, y).expect("upsample"),
            Op::Shuffle(r) => pixel_shuffle_into(&self.x, *r, y).expect("pixel shuffle"),
            Op::Deconv(cfg, w) => conv_transpose2d_into(&self.x, w, None, cfg, y).expect("deconv"),
        }
    }
}

fn cases() -> Vec<Case> {
    let x = random([N, C, H, W], 1);
    let up = |name, mode| Case {
        name,
        x: x.clone(),
        op: Op::Up(Upsample2d::scale([2.0, 2.0]).mode(mode)),
    };
    // weight [C_in, C_out / groups, k, k]
    let deconv = |name, k: usize, cfg: ConvTranspose2d, out_per_group: usize| Case {
        name,
        x: x.clone(),
        op: Op::Deconv(cfg, random([C, out_per_group, k, k], 2)),
    };
    vec![
        up("nearest_x2", Mode::Nearest),
        up("bilinear_x2", Mode::Linear),
        up("bicubic_x2", Mode::Cubic),
        Case {
            name: "pixel_shuffle_x2",
            x: random([N, 4 * C, H, W], 3),
            op: Op::Shuffle(2),
        },
        deconv("deconv_2x2_s2", 2, ConvTranspose2d::new().stride(2), C),
        deconv(
            "deconv_4x4_s2_p1",
            4,
            ConvTranspose2d::new().stride(2).padding(1),
            C,
        ),
        deconv(
            "deconv_3x3_s2_p1_op1",
            3,
            ConvTranspose2d::new()
                .stride(2)
                .padding(1)
                .output_padding(1),
            C,
        ),
        deconv(
            "depthwise_4x4_s2_p1",
            4,
            ConvTranspose2d::new().stride(2).padding(1).groups(C),
            1,
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    eprintln!("\n[1, 64, 64, 64] -> [1, 64, 128, 128], f32, cost model:");
    eprintln!(
        "{:<22} {:>14} {:>12} {:>12}",
        "case", "multiply-adds", "bytes moved", "MAC/byte"
    );
    for case in &cases {
        let k = case.cost();
        eprintln!(
            "{:<22} {:>14} {:>12} {:>12.2}",
            case.name,
            k.multiply_adds,
            k.bytes_moved(),
            k.multiply_adds as f64 / k.bytes_moved() as f64
        );
    }
    let mut g = c.benchmark_group("deconv_vs_upsample");
    for case in &cases {
        let k = case.cost();
        let deconv = matches!(case.op, Op::Deconv(..));
        g.throughput(if deconv {
            Throughput::Elements(k.flops())
        } else {
            Throughput::Bytes(k.bytes_moved())
        });
        let param = format!("{}MAC_{}B", k.multiply_adds, k.bytes_moved());
        g.bench_function(
            BenchmarkId::new(format!("{}/alloc", case.name), &param),
            |b| b.iter(|| black_box(case.run())),
        );
        let mut y = case.run();
        g.bench_function(
            BenchmarkId::new(format!("{}/into", case.name), &param),
            |b| {
                b.iter(|| {
                    case.run_into(&mut y);
                    black_box(&mut y);
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
