//! Property tests of the upsampling ops (proptest, 64 cases each).

use ndarray::{s, Array, Array4, Ix3, Ix4};
use proptest::prelude::*;
use upconv::{
    conv_transpose2d, pixel_shuffle, pixel_unshuffle, upsample1d, upsample2d, ConvTranspose2d,
    CoordinateMode, Mode, Upsample1d, Upsample2d,
};

const ALL: [Mode; 5] = [
    Mode::Nearest,
    Mode::NearestExact,
    Mode::Linear,
    Mode::Cubic,
    Mode::Area,
];

fn image(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Array4<f64> {
    // small integers: every product with a dyadic weight is exact in f64
    let mut s = seed | 1;
    Array::from_shape_simple_fn((n, c, h, w), || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s % 201) as f64) - 100.0
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn same_size_is_identity(h in 1usize..7, w in 1usize..7, c in 1usize..3, seed: u64, m in 0usize..5) {
        let x = image(1, c, h, w, seed);
        let y = upsample2d(&x, &Upsample2d::size([h, w]).mode(ALL[m])).unwrap();
        prop_assert_eq!(&y, &x);
        let y = upsample2d(&x, &Upsample2d::scale([1.0, 1.0]).mode(ALL[m])).unwrap();
        prop_assert_eq!(y, x);
    }

    #[test]
    fn constant_stays_constant(h in 1usize..6, w in 1usize..6, oh in 1usize..13, ow in 1usize..13,
                               v in -10.0f64..10.0, m in 2usize..5, ac: bool, aa: bool) {
        let x = Array4::from_elem((1, 2, h, w), v);
        let mut cfg = Upsample2d::size([oh, ow]).mode(ALL[m]);
        if ALL[m] != Mode::Area {
            cfg = cfg.antialias(aa);
            if ac { cfg = cfg.coordinates(CoordinateMode::AlignCorners); }
        }
        let y = upsample2d(&x, &cfg).unwrap();
        prop_assert_eq!(y.shape(), &[1, 2, oh, ow]);
        for &u in y.iter() {
            prop_assert!((u - v).abs() <= 1e-12 * v.abs().max(1.0), "{} vs {}", u, v);
        }
    }

    #[test]
    fn align_corners_keeps_corners(h in 2usize..6, w in 2usize..6, oh in 2usize..13, ow in 2usize..13,
                                   seed: u64, cubic: bool) {
        let x = image(1, 1, h, w, seed);
        let mode = if cubic { Mode::Cubic } else { Mode::Linear };
        let cfg = Upsample2d::size([oh, ow]).mode(mode).coordinates(CoordinateMode::AlignCorners);
        let y = upsample2d(&x, &cfg).unwrap();
        for (a, b) in [((0, 0), (0, 0)), ((0, w - 1), (0, ow - 1)), ((h - 1, 0), (oh - 1, 0)),
                       ((h - 1, w - 1), (oh - 1, ow - 1))] {
            let (u, v) = (y[[0, 0, b.0, b.1]], x[[0, 0, a.0, a.1]]);
            prop_assert!((u - v).abs() <= 1e-12 * v.abs().max(1.0), "{} vs {}", u, v);
        }
    }

    /// nearest x s == depthwise transposed conv with an all-ones s x s kernel, stride s,
    /// groups = C (exactly).
    #[test]
    fn nearest_integer_is_ones_deconv(h in 1usize..6, w in 1usize..6, c in 1usize..4, s in 1usize..4, seed: u64) {
        let x = image(2, c, h, w, seed);
        let y = upsample2d(&x, &Upsample2d::scale([s as f64, s as f64])).unwrap();
        let k = Array4::<f64>::ones((c, 1, s, s));
        let z = conv_transpose2d(&x, &k, None, &ConvTranspose2d::new().stride(s).groups(c)).unwrap();
        prop_assert_eq!(y, z);
    }

    /// bilinear x2 (half pixel) == depthwise transposed conv with kernel
    /// [1,3,3,1]/4 (x) [1,3,3,1]/4, stride 2, padding 3, applied to the input padded by one
    /// edge-replicated pixel on each side. Derivation (1-D): y[2k] = x[k-1]/4 + 3x[k]/4 and
    /// y[2k+1] = 3x[k]/4 + x[k+1]/4 with clamped x; on xp[j] = x[clamp(j-1)] the scatter
    /// position of xp[j] through tap t is 2j + t - 3, which gives exactly those taps, and the
    /// length is (n+1)*2 + 4 - 6 = 2n. Integer inputs make every product exact.
    #[test]
    fn bilinear_x2_is_replicated_deconv(h in 1usize..6, w in 1usize..6, c in 1usize..3, seed: u64) {
        let x = image(1, c, h, w, seed);
        let y = upsample2d(&x, &Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear)).unwrap();
        let mut xp = Array4::<f64>::zeros((1, c, h + 2, w + 2));
        for i in 0..h + 2 {
            for j in 0..w + 2 {
                let (si, sj) = (i.clamp(1, h) - 1, j.clamp(1, w) - 1);
                let col = x.slice(s![.., .., si, sj]).to_owned();
                xp.slice_mut(s![.., .., i, j]).assign(&col);
            }
        }
        let k1 = [0.25, 0.75, 0.75, 0.25];
        let k = Array4::from_shape_fn((c, 1, 4, 4), |(_, _, a, b)| k1[a] * k1[b]);
        let cfg = ConvTranspose2d::new().stride(2).padding(3).groups(c);
        let z = conv_transpose2d(&xp, &k, None, &cfg).unwrap();
        prop_assert_eq!(y, z);
    }

    #[test]
    fn unshuffle_inverts_shuffle(n in 1usize..3, c in 1usize..3, r in 1usize..4, h in 1usize..4, w in 1usize..4, seed: u64) {
        let x = image(n, c * r * r, h, w, seed);
        let y = pixel_shuffle(&x, r).unwrap();
        prop_assert_eq!(y.shape(), &[n, c, h * r, w * r]);
        prop_assert_eq!(pixel_unshuffle(&y, r).unwrap(), x);
    }

    #[test]
    fn f32_and_f64_agree(l in 1usize..9, ol in 1usize..20, m in 0usize..5, seed: u64, aa: bool) {
        let x = image(1, 2, 1, l, seed).into_shape_with_order((1, 2, l)).unwrap().into_dimensionality::<Ix3>().unwrap();
        let xf = x.mapv(|v| v as f32);
        let mut cfg = Upsample1d::size([ol]).mode(ALL[m]);
        if matches!(ALL[m], Mode::Linear | Mode::Cubic) { cfg = cfg.antialias(aa); }
        let a = upsample1d(&x, &cfg).unwrap();
        let b = upsample1d(&xf, &cfg).unwrap();
        for (u, v) in a.iter().zip(b.iter()) {
            prop_assert!((u - f64::from(*v)).abs() <= 1e-4 * 100.0, "{} vs {}", u, v);
        }
    }

    /// Bad input gives an error, never a panic.
    #[test]
    fn bad_options_are_errors(scale in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), Just(1e-300), 0.01f64..8.0],
                              size in 0usize..3, m in 0usize..5) {
        let x = Array4::<f32>::ones((1, 1, 2, 2));
        // area (adaptive average pooling) returns an empty array for a zero-length output axis,
        // as PyTorch does; the other modes reject it
        let area = ALL[m] == Mode::Area;
        let r = upsample2d(&x, &Upsample2d::scale([scale, 1.0]).mode(ALL[m]));
        prop_assert_eq!(r.is_ok(), scale.is_finite() && scale > 0.0 && (area || 2.0 * scale >= 1.0));
        let r = upsample2d(&x, &Upsample2d::size([size, 2]).mode(ALL[m]));
        prop_assert_eq!(r.is_ok(), area || size > 0);
        if let Ok(y) = r {
            prop_assert_eq!(y.shape(), &[1, 1, size, 2]);
        }
        let ac = Upsample2d::size([3, 3]).mode(ALL[m]).coordinates(CoordinateMode::AlignCorners);
        prop_assert_eq!(upsample2d(&x, &ac).is_ok(), matches!(ALL[m], Mode::Linear | Mode::Cubic));
    }
}

#[test]
fn error_cases() {
    let x = Array4::<f32>::ones((1, 3, 2, 2));
    assert!(pixel_shuffle(&x, 0).is_err());
    assert!(pixel_shuffle(&x, 2).is_err());
    assert!(pixel_unshuffle(&x, 3).is_err());
    let e = Array::<f32, Ix4>::zeros((1, 0, 2, 2));
    assert!(upsample2d(&e, &Upsample2d::size([3, 3])).is_err());
    assert!(upsample2d(&x, &Upsample2d::scale([f64::INFINITY, 1.0])).is_err());
    assert!(upsample2d(&x, &Upsample2d::scale([1e300, 1e300])).is_err());
    assert!(upsample2d(&x, &Upsample2d::scale([1e18, 1.0])).is_err());
    assert!(upsample2d(&x, &Upsample2d::size([2, 2]).recompute_scale_factor(true)).is_err());
    assert!(upsample2d(
        &x,
        &Upsample2d::size([2, 2]).mode(Mode::Area).antialias(true)
    )
    .is_err());
}
