//! Image-quality yardsticks shared by the quality test and the pipeline benchmark: a
//! high-precision reference resize and a structural dissimilarity score.

use std::io::Cursor;

use fast_image_resize as fir;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::color;

/// Reference downscale: a full-resolution decode by the image crate's pure-Rust decoders
/// (no DCT scaling), resampled with Lanczos3 in 32-bit float per channel, then converted
/// from the embedded ICC profile to sRGB. `None` when the image crate cannot decode it.
pub fn reference_resize(bytes: &[u8], w: u32, h: u32) -> Option<RgbImage> {
    let mut decoder = ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?.into_decoder().ok()?;
    let icc = decoder.icc_profile().ok().flatten();
    let src = DynamicImage::from_decoder(decoder).ok()?;
    let mut out = DynamicImage::ImageRgb8(float_resize(&src, w, h));
    if let Some(icc) = icc {
        color::to_srgb(&mut out, &icc);
    }
    Some(out.into_rgb8())
}

fn float_resize(src: &DynamicImage, w: u32, h: u32) -> RgbImage {
    let rgb = src.to_rgb32f();
    let floats: Vec<u8> = rgb.as_raw().iter().flat_map(|v| v.to_ne_bytes()).collect();
    let from = fir::images::Image::from_vec_u8(rgb.width(), rgb.height(), floats, fir::PixelType::F32x3)
        .expect("buffer matches its size");
    let mut to = fir::images::Image::new(w, h, fir::PixelType::F32x3);
    let opts = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new().resize(&from, &mut to, &opts).expect("float resize");
    let px: Vec<u8> = to
        .buffer()
        .chunks_exact(4)
        .map(|b| (f32::from_ne_bytes([b[0], b[1], b[2], b[3]]).clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    RgbImage::from_raw(w, h, px).expect("buffer matches its size")
}

/// DSSIM = 1/SSIM − 1 (0 = identical), SSIM averaged over the R, G and B planes with the
/// usual 11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03. Sizes must match.
pub fn dssim(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "dssim needs equal sizes");
    let (w, h) = (a.width() as usize, a.height() as usize);
    let mut total = 0.0;
    for c in 0..3 {
        let plane =
            |img: &RgbImage| -> Vec<f64> { img.as_raw().iter().skip(c).step_by(3).map(|&v| f64::from(v)).collect() };
        total += ssim_plane(&plane(a), &plane(b), w, h);
    }
    1.0 / (total / 3.0).max(1e-9) - 1.0
}

fn ssim_plane(x: &[f64], y: &[f64], w: usize, h: usize) -> f64 {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(y).map(|(a, b)| a * b).collect();
    let (mx, my) = (blur(x, w, h), blur(y, w, h));
    let (sxx, syy, sxy) = (blur(&xx, w, h), blur(&yy, w, h), blur(&xy, w, h));
    let mut sum = 0.0;
    for i in 0..w * h {
        let (vx, vy, cov) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
        sum +=
            ((2.0 * mx[i] * my[i] + c1) * (2.0 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
    }
    sum / (w * h) as f64
}

/// Separable Gaussian, edges clamped.
fn blur(p: &[f64], w: usize, h: usize) -> Vec<f64> {
    let k: Vec<f64> = (-5i32..=5).map(|i| (-(f64::from(i * i)) / (2.0 * 1.5 * 1.5)).exp()).collect();
    let norm: f64 = k.iter().sum();
    let mut tmp = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let xx = (x as i64 + j as i64 - 5).clamp(0, w as i64 - 1) as usize;
                s += kv * p[y * w + xx];
            }
            tmp[y * w + x] = s / norm;
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let yy = (y as i64 + j as i64 - 5).clamp(0, h as i64 - 1) as usize;
                s += kv * tmp[yy * w + x];
            }
            out[y * w + x] = s / norm;
        }
    }
    out
}
