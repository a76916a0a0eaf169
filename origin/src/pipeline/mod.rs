//! The image pipeline: plain functions over bytes, knowing nothing of HTTP.
//!
//! Order (DESIGN.md §3): sniff → header limits → decode → auto-orient → plan →
//! rotate/flip → pre-crop → resize → pad → post-crop → blur → flatten → encode.

use std::io::Cursor;

use fast_image_resize as fir;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbaImage};
use pixgate_policy::plan::Plan;
use pixgate_policy::variant::Flip;
use pixgate_policy::{plan, Format, Variant};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("unsupported media type: {0}")]
    Unsupported(String),
    #[error("corrupt image: {0}")]
    Corrupt(String),
    #[error("image too large: {0}")]
    TooLarge(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// What a source may cost before any pixel is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 50 << 20, max_pixels: 50_000_000, max_side: 16_384 }
    }
}

#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Identifies the source format from magic bytes, never from a file name.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    match image::guess_format(bytes).ok()? {
        ImageFormat::Jpeg => Some(Format::Jpeg),
        ImageFormat::Png => Some(Format::Png),
        ImageFormat::Gif => Some(Format::Gif),
        ImageFormat::WebP => Some(Format::Webp),
        _ => None,
    }
}

fn image_format(f: Format) -> Option<ImageFormat> {
    Some(match f {
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Png => ImageFormat::Png,
        Format::Gif => ImageFormat::Gif,
        Format::Webp => ImageFormat::WebP,
        Format::Avif | Format::Auto => return None,
    })
}

/// Transforms `bytes` into the variant.
pub fn transform(bytes: &[u8], variant: &Variant, limits: &Limits) -> Result<Encoded, TransformError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(TransformError::TooLarge(format!("source exceeds {} bytes", limits.max_bytes)));
    }
    let source = sniff(bytes).ok_or_else(|| TransformError::Unsupported("not a supported image format".into()))?;
    let mut img = decode(bytes, source, limits)?;
    let p = plan(variant, img.width(), img.height());
    let out_format = output_format(variant.fmt, source, img.color().has_alpha());
    if p.passthrough {
        return Ok(Encoded { bytes: bytes.to_vec(), format: source, width: p.width, height: p.height });
    }
    img = execute(img, &p)?;
    let has_alpha_out = matches!(out_format, Format::Png | Format::Webp | Format::Gif | Format::Avif);
    if !has_alpha_out && img.color().has_alpha() {
        img = flatten(img, p.bg.unwrap_or([255, 255, 255, 255]));
    }
    let (width, height) = (img.width(), img.height());
    let bytes = encode(&img, out_format, variant.q)?;
    Ok(Encoded { bytes, format: out_format, width, height })
}

/// Reads the header, refuses what is over the limits, then decodes and orients.
fn decode(bytes: &[u8], source: Format, limits: &Limits) -> Result<DynamicImage, TransformError> {
    let fmt = image_format(source).ok_or_else(|| TransformError::Unsupported(source.as_str().into()))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(l);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(TransformError::TooLarge(format!("{w}×{h} exceeds {} pixels", limits.max_pixels)));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn classify(e: image::ImageError) -> TransformError {
    match e {
        image::ImageError::Limits(l) => TransformError::TooLarge(l.to_string()),
        image::ImageError::Unsupported(u) => TransformError::Unsupported(u.to_string()),
        other => TransformError::Corrupt(other.to_string()),
    }
}

/// Absent `fmt` keeps the source's format (DESIGN.md §3).
fn output_format(fmt: Option<Format>, source: Format, has_alpha: bool) -> Format {
    match fmt {
        Some(Format::Avif) | Some(Format::Auto) | None => match source {
            Format::Avif | Format::Auto if has_alpha => Format::Png,
            Format::Avif | Format::Auto => Format::Jpeg,
            s => s,
        },
        Some(f) => f,
    }
}

fn execute(mut img: DynamicImage, p: &Plan) -> Result<DynamicImage, TransformError> {
    img = match p.rot {
        90 => img.rotate90(),
        180 => img.rotate180(),
        270 => img.rotate270(),
        _ => img,
    };
    img = match p.flip {
        Some(Flip::H) => img.fliph(),
        Some(Flip::V) => img.flipv(),
        Some(Flip::Hv) => img.fliph().flipv(),
        None => img,
    };
    if let Some(c) = p.crop {
        img = img.crop_imm(c.x, c.y, c.w, c.h);
    }
    if (img.width(), img.height()) != p.resize {
        img = resize(img, p.resize.0, p.resize.1)?;
    }
    if let Some(pad) = p.pad {
        let bg = p.bg.unwrap_or([255, 255, 255, 0]);
        let mut canvas = RgbaImage::from_pixel(pad.width, pad.height, image::Rgba(bg));
        image::imageops::overlay(&mut canvas, &img.to_rgba8(), i64::from(pad.x), i64::from(pad.y));
        img = DynamicImage::ImageRgba8(canvas);
    }
    if let Some(c) = p.post_crop {
        img = img.crop_imm(c.x, c.y, c.w, c.h);
    }
    if let Some(sigma) = p.blur {
        img = img.blur(sigma as f32 / 100.0);
    }
    Ok(img)
}

/// Lanczos3 through `fast_image_resize` (SIMD), alpha premultiplied while resampling.
fn resize(img: DynamicImage, w: u32, h: u32) -> Result<DynamicImage, TransformError> {
    let alpha = img.color().has_alpha();
    let (src, pixel) = if alpha {
        let i = img.into_rgba8();
        ((i.width(), i.height(), i.into_raw()), fir::PixelType::U8x4)
    } else {
        let i = img.into_rgb8();
        ((i.width(), i.height(), i.into_raw()), fir::PixelType::U8x3)
    };
    let src = fir::images::Image::from_vec_u8(src.0, src.1, src.2, pixel)
        .map_err(|e| TransformError::Encode(e.to_string()))?;
    let mut dst = fir::images::Image::new(w, h, pixel);
    let opts = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new().resize(&src, &mut dst, &opts).map_err(|e| TransformError::Encode(e.to_string()))?;
    let raw = dst.into_vec();
    let out = if alpha {
        image::RgbaImage::from_raw(w, h, raw).map(DynamicImage::ImageRgba8)
    } else {
        image::RgbImage::from_raw(w, h, raw).map(DynamicImage::ImageRgb8)
    };
    out.ok_or_else(|| TransformError::Encode("resize produced a short buffer".into()))
}

fn flatten(img: DynamicImage, bg: [u8; 4]) -> DynamicImage {
    let rgba = img.into_rgba8();
    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            o[c] = ((u32::from(p[c]) * a + u32::from(bg[c]) * (255 - a) + 127) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(out)
}

fn encode(img: &DynamicImage, format: Format, q: Option<u8>) -> Result<Vec<u8>, TransformError> {
    let mut out = Vec::new();
    let err = |e: image::ImageError| TransformError::Encode(e.to_string());
    match format {
        Format::Jpeg => {
            let rgb = img.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q.unwrap_or(80))
                .encode_image(&rgb)
                .map_err(err)?;
        }
        Format::Png => img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(err)?,
        Format::Gif => img.to_rgba8().write_to(&mut Cursor::new(&mut out), ImageFormat::Gif).map_err(err)?,
        Format::Webp => img.to_rgba8().write_to(&mut Cursor::new(&mut out), ImageFormat::WebP).map_err(err)?,
        Format::Avif | Format::Auto => {
            return Err(TransformError::Encode(format!("no encoder for {}", format.as_str())));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
        out
    }

    fn variant(q: &str) -> Variant {
        Variant::from_query(q.as_bytes()).unwrap().0
    }

    #[test]
    fn resizes_and_crops_to_the_planned_size() {
        let src = jpeg(400, 225);
        for (q, want, fmt) in [
            ("w=200&h=150&fit=cover", (200, 150), Format::Jpeg),
            ("w=100", (100, 56), Format::Jpeg),
            ("w=50&fmt=png", (50, 28), Format::Png),
            ("w=50&fmt=webp", (50, 28), Format::Webp),
            ("w=60&h=60&fit=contain&fmt=png", (60, 60), Format::Png),
        ] {
            let out = transform(&src, &variant(q), &Limits::default()).unwrap();
            assert_eq!((out.width, out.height, out.format), (want.0, want.1, fmt), "{q}");
            let decoded = image::load_from_memory(&out.bytes).unwrap();
            assert_eq!((decoded.width(), decoded.height()), want, "{q}");
        }
    }

    #[test]
    fn refuses_non_images_and_corrupt_data() {
        assert!(matches!(transform(b"<svg/>", &variant(""), &Limits::default()), Err(TransformError::Unsupported(_))));
        let mut truncated = jpeg(64, 64);
        truncated.truncate(40);
        assert!(matches!(transform(&truncated, &variant(""), &Limits::default()), Err(TransformError::Corrupt(_))));
    }

    #[test]
    fn refuses_oversized_sources_from_the_header() {
        let src = jpeg(300, 300);
        let limits = Limits { max_pixels: 10_000, ..Limits::default() };
        assert!(matches!(transform(&src, &variant("w=10"), &limits), Err(TransformError::TooLarge(_))));
    }
}
