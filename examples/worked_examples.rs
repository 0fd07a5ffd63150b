//! The classic worked example: a 3x3 input and a 2x2 kernel, through transposed convolution
//! (stride 1 and 2), the parameter choices that give a 5x5 output, and nearest-neighbour
//! upsampling, each printed as numbers and symbolically, with its cost.
//!
//! Symbolic cells are not typed in by hand: they come from running the op itself with
//! one-hot kernels (or one-hot inputs), one run per symbol, and reading off the coefficients.
//!
//! Run with `cargo run --release --example worked_examples`.

use ndarray::{array, Array2, Array4};
use upconv::{conv_transpose2d, shape, upsample2d, ConvTranspose2d, Mode, Upsample2d};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The input `[[1,2,3],[4,5,6],[7,8,9]]` as `[1, 1, 3, 3]`.
fn input() -> Array4<f64> {
    array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
        .into_shape_with_order((1, 1, 3, 3))
        .expect("9 elements")
}

/// A 2x2 kernel `[[a, b], [c, d]]` as `[1, 1, 2, 2]`.
fn kernel(a: f64, b: f64, c: f64, d: f64) -> Array4<f64> {
    array![[[[a, b], [c, d]]]]
}

fn print_numbers(title: &str, y: &Array4<f64>) {
    println!("{title}");
    for row in y.slice(ndarray::s![0, 0, .., ..]).rows() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:6}")).collect();
        println!("  {}", cells.join(" "));
    }
    println!();
}

/// `5a + 4b + 2c + d` from the coefficients of each symbol.
fn combination(coefs: &[f64], symbols: &[&str]) -> String {
    let terms: Vec<String> = coefs
        .iter()
        .zip(symbols)
        .filter(|(c, _)| **c != 0.0)
        .map(|(c, s)| {
            if *c == 1.0 {
                s.to_string()
            } else {
                format!("{c}{s}")
            }
        })
        .collect();
    if terms.is_empty() {
        "0".into()
    } else {
        terms.join(" + ")
    }
}

fn print_symbolic(title: &str, per_symbol: &[Array2<f64>], symbols: &[&str]) {
    println!("{title}");
    let (h, w) = per_symbol[0].dim();
    let cells: Vec<Vec<String>> = (0..h)
        .map(|i| {
            (0..w)
                .map(|j| {
                    let coefs: Vec<f64> = per_symbol.iter().map(|m| m[[i, j]]).collect();
                    combination(&coefs, symbols)
                })
                .collect()
        })
        .collect();
    let width = cells.iter().flatten().map(String::len).max().unwrap_or(1);
    for row in cells {
        let padded: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
        println!("  {}", padded.join(" | "));
    }
    println!();
}

/// Runs the transposed convolution once per kernel symbol with a one-hot kernel.
fn symbolic_deconv(cfg: &ConvTranspose2d) -> Result<Vec<Array2<f64>>> {
    let one_hot = [
        kernel(1.0, 0.0, 0.0, 0.0),
        kernel(0.0, 1.0, 0.0, 0.0),
        kernel(0.0, 0.0, 1.0, 0.0),
        kernel(0.0, 0.0, 0.0, 1.0),
    ];
    one_hot
        .iter()
        .map(|w| {
            let y = conv_transpose2d(&input(), w, None, cfg)?;
            Ok(y.slice(ndarray::s![0, 0, .., ..]).to_owned())
        })
        .collect()
}

fn deconv_section(title: &str, cfg: &ConvTranspose2d) -> Result<()> {
    let w = kernel(1.0, 10.0, 100.0, 1000.0);
    let y = conv_transpose2d(&input(), &w, None, cfg)?;
    print_numbers(&format!("{title}, kernel a=1, b=10, c=100, d=1000:"), &y);
    print_symbolic(
        &format!("{title}, symbolically:"),
        &symbolic_deconv(cfg)?,
        &["a", "b", "c", "d"],
    );
    println!("  cost: {}\n", cfg.cost(&[1, 1, 3, 3], &[1, 1, 2, 2], 8)?);
    Ok(())
}

fn main() -> Result<()> {
    println!("Input x = [[1,2,3],[4,5,6],[7,8,9]], kernel [[a,b],[c,d]]\n");

    deconv_section(
        "Transposed convolution, stride 1 (3x3 -> 4x4)",
        &ConvTranspose2d::new(),
    )?;
    deconv_section(
        "Transposed convolution, stride 2 (3x3 -> 6x6)",
        &ConvTranspose2d::new().stride(2),
    )?;

    println!("Parameter choices that turn the 3x3 input into a 5x5 output (Shape calculator):");
    let mut found = Vec::new();
    for k in 1..=5usize {
        for s in 1..=3usize {
            for p in 0..=2usize {
                for d in 1..=2usize {
                    for op in 0..s.max(d) {
                        let ax = shape::AxisParams::new(k)
                            .stride(s)
                            .padding(p)
                            .dilation(d)
                            .output_padding(op);
                        if shape::conv_transpose_output_len(0, 3, &ax) == Ok(5) {
                            found.push((k, s, p, d, op));
                        }
                    }
                }
            }
        }
    }
    for (k, s, p, d, op) in &found {
        println!("  kernel {k}x{k}, stride {s}, padding {p}, dilation {d}, output_padding {op}");
    }
    println!();
    let five = ConvTranspose2d::new()
        .stride(2)
        .padding(1)
        .output_padding(1);
    deconv_section(
        "With the 2x2 kernel: stride 2, padding 1, output_padding 1 (3x3 -> 5x5)",
        &five,
    )?;
    println!(
        "  (A widely copied article draws this 5x5 result with kernel symbols e..h; a 2x2 kernel\n   only has a..d, and the table above is what the operation really computes.)\n"
    );

    // Nearest-neighbour x2 of a..i: one run per input symbol with a one-hot input.
    let symbols = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    let up = Upsample2d::scale([2.0, 2.0]).mode(Mode::Nearest);
    let mut per_symbol = Vec::new();
    for idx in 0..9 {
        let mut x = Array4::<f64>::zeros((1, 1, 3, 3));
        x[[0, 0, idx / 3, idx % 3]] = 1.0;
        let y = upsample2d(&x, &up)?;
        per_symbol.push(y.slice(ndarray::s![0, 0, .., ..]).to_owned());
    }
    print_symbolic(
        "Nearest-neighbour upsampling x2 of [[a,b,c],[d,e,f],[g,h,i]] (3x3 -> 6x6):",
        &per_symbol,
        &symbols,
    );
    println!("  cost: {}\n", up.cost(&[1, 1, 3, 3], 8)?);
    println!("Every output of the upsampling copies one input: no multiply-adds, no parameters.");
    println!("The stride-2 transposed convolution computes each output from learned weights.");
    Ok(())
}
