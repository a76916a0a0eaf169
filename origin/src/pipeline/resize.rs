//! Resampling and the pixel steps around it: crop+resize in one pass through
//! `fast_image_resize` (Lanczos3, alpha premultiplied), padding, post-crop, blur, flatten.

use fast_image_resize as fir;
use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

use super::TransformError;

/// Lanczos3: the sharpest of the common windowed-sinc filters without visible ringing on
/// photos, and what libvips' thumbnail uses for the final resample.
const FILTER: fir::FilterType = fir::FilterType::Lanczos3;

/// Resamples the region `crop` (x, y, w, h in source pixels, fractional after a DCT-scaled
/// decode) of `img` to `w`×`h`.
pub(crate) fn crop_resize(
    img: &DynamicImage,
    crop: (f64, f64, f64, f64),
    w: u32,
    h: u32,
) -> Result<DynamicImage, TransformError> {
    resample(img, crop, w, h, fir::ResizeAlg::Convolution(FILTER))
}

pub(crate) fn resample(
    img: &DynamicImage,
    crop: (f64, f64, f64, f64),
    w: u32,
    h: u32,
    alg: fir::ResizeAlg,
) -> Result<DynamicImage, TransformError> {
    let internal = |e: &dyn std::fmt::Display| TransformError::Encode(format!("resize: {e}"));
    let pixel = match img {
        DynamicImage::ImageRgb8(_) => fir::PixelType::U8x3,
        DynamicImage::ImageRgba8(_) => fir::PixelType::U8x4,
        _ => return Err(TransformError::Encode("resize: unexpected pixel layout".into())),
    };
    let src = fir::images::ImageRef::new(img.width(), img.height(), img.as_bytes(), pixel).map_err(|e| internal(&e))?;
    let mut dst = fir::images::Image::new(w, h, pixel);
    // Scaling plan coordinates by the decode's ratio can overshoot the edge by a rounding error.
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let (x, y) = (crop.0.clamp(0.0, iw - 1.0), crop.1.clamp(0.0, ih - 1.0));
    let crop = (x, y, crop.2.min(iw - x).max(1.0), crop.3.min(ih - y).max(1.0));
    let opts = fir::ResizeOptions::new().resize_alg(alg).crop(crop.0, crop.1, crop.2, crop.3);
    fir::Resizer::new().resize(&src, &mut dst, &opts).map_err(|e| internal(&e))?;
    let raw = dst.into_vec();
    let out = match pixel {
        fir::PixelType::U8x4 => RgbaImage::from_raw(w, h, raw).map(DynamicImage::ImageRgba8),
        _ => RgbImage::from_raw(w, h, raw).map(DynamicImage::ImageRgb8),
    };
    out.ok_or_else(|| TransformError::Encode("resize produced a short buffer".into()))
}

/// Places `img` at (`x`, `y`) on a `w`×`h` canvas of `bg`.
pub(crate) fn pad(img: DynamicImage, w: u32, h: u32, x: u32, y: u32, bg: [u8; 4]) -> DynamicImage {
    if img.color().has_alpha() || bg[3] < 255 {
        let mut canvas = RgbaImage::from_pixel(w, h, Rgba(bg));
        image::imageops::replace(&mut canvas, &img.into_rgba8(), i64::from(x), i64::from(y));
        DynamicImage::ImageRgba8(canvas)
    } else {
        let mut canvas = RgbImage::from_pixel(w, h, Rgb([bg[0], bg[1], bg[2]]));
        image::imageops::replace(&mut canvas, &img.into_rgb8(), i64::from(x), i64::from(y));
        DynamicImage::ImageRgb8(canvas)
    }
}

/// Composites onto `bg` and drops alpha, for outputs without an alpha channel.
pub(crate) fn flatten(img: DynamicImage, bg: [u8; 4]) -> DynamicImage {
    let rgba = match img {
        DynamicImage::ImageRgba8(i) => i,
        other => return other,
    };
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.as_mut().chunks_exact_mut(3).zip(rgba.as_raw().chunks_exact(4)) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            o[c] = ((u32::from(p[c]) * a + u32::from(bg[c]) * (255 - a) + 127) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(out)
}

/// Moves a `win_w`×`win_h` window along the overflowing axis of `img` to where the
/// detail is (sum of absolute luma gradients), for `gravity=smart`. Returns its origin.
pub(crate) fn smart_window(img: &DynamicImage, win_w: u32, win_h: u32, planned: (u32, u32)) -> (u32, u32) {
    let (w, h) = (img.width(), img.height());
    if win_w > w || win_h > h || (win_w == w && win_h == h) {
        return planned;
    }
    let luma = img.to_luma8();
    let horizontal = win_w < w;
    let len = if horizontal { w } else { h } as usize;
    // Detail per column (or row).
    let mut profile = vec![0u64; len];
    for y in 1..h {
        for x in 1..w {
            let p = i32::from(luma.get_pixel(x, y)[0]);
            let d = (p - i32::from(luma.get_pixel(x - 1, y)[0])).unsigned_abs()
                + (p - i32::from(luma.get_pixel(x, y - 1)[0])).unsigned_abs();
            profile[if horizontal { x } else { y } as usize] += u64::from(d);
        }
    }
    let win = if horizontal { win_w } else { win_h } as usize;
    let mut sum: u64 = profile[..win].iter().sum();
    let (mut best, mut best_at) = (sum, 0usize);
    for start in 1..=len - win {
        sum = sum + profile[start + win - 1] - profile[start - 1];
        if sum > best {
            (best, best_at) = (sum, start);
        }
    }
    if horizontal {
        (best_at as u32, planned.1)
    } else {
        (planned.0, best_at as u32)
    }
}
