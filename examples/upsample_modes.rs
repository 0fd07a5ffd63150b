//! A 4x4 ramp through every upsampling mode, printed side by side (first output row, x2).
//!
//! Run with `cargo run --release --example upsample_modes`.

use ndarray::Array4;
use upconv::{upsample2d, CoordinateMode, Mode, Upsample2d};

fn main() -> Result<(), upconv::Error> {
    let x = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, i, j)| (4 * i + j) as f32);
    let modes = [
        ("nearest", Upsample2d::scale([2.0, 2.0]).mode(Mode::Nearest)),
        (
            "nearest-exact",
            Upsample2d::scale([2.0, 2.0]).mode(Mode::NearestExact),
        ),
        ("bilinear", Upsample2d::scale([2.0, 2.0]).mode(Mode::Linear)),
        (
            "bilinear ac",
            Upsample2d::scale([2.0, 2.0])
                .mode(Mode::Linear)
                .coordinates(CoordinateMode::AlignCorners),
        ),
        ("bicubic", Upsample2d::scale([2.0, 2.0]).mode(Mode::Cubic)),
        (
            "bicubic aa 0.5x",
            Upsample2d::scale([0.5, 0.5])
                .mode(Mode::Cubic)
                .antialias(true),
        ),
        ("area 0.5x", Upsample2d::scale([0.5, 0.5]).mode(Mode::Area)),
    ];
    println!("input row 0: {:?}", x.row_ref_0());
    for (name, cfg) in modes {
        let y = upsample2d(&x, &cfg)?;
        let row: Vec<String> = y
            .slice(ndarray::s![0, 0, 1, ..])
            .iter()
            .map(|v| format!("{v:6.2}"))
            .collect();
        println!("{name:>16} {:?} row 1: {}", y.shape(), row.join(" "));
    }
    Ok(())
}

trait Row0 {
    fn row_ref_0(&self) -> Vec<f32>;
}

impl Row0 for Array4<f32> {
    fn row_ref_0(&self) -> Vec<f32> {
        self.slice(ndarray::s![0, 0, 0, ..]).to_vec()
    }
}
