//! Encoders: JPEG (libjpeg-turbo), PNG (image crate; Adam7 for `prog=1` in adam7.rs) and GIF
//! (image crate), WebP (libwebp), AVIF (rav1e).

use image::{DynamicImage, ImageEncoder};
use pixgate_policy::Format;

use super::{adam7, TransformError};

pub const DEFAULT_JPEG_QUALITY: u8 = 80;
pub const DEFAULT_WEBP_QUALITY: u8 = 80;
pub const DEFAULT_AVIF_QUALITY: u8 = 55;

/// rav1e speed 8 gave the best bytes per millisecond at thumbnail sizes; slower speeds
/// buy a few percent of bytes for several times the latency, and speed 9 needs ~10 % more
/// bytes for the same DSSIM on the bench photos.
pub const AVIF_SPEED: u8 = 8;

/// `q` on the scale users know from libvips (and imgproxy, thumbor on libvips) to ravif's
/// quality. ravif's scale is harsher: its 55 scored a third worse DSSIM than libvips' Q=55
/// on the bench photos, its 77 matched it. Piecewise linear through (55, 77) and (100, 100).
fn avif_quality(q: u8) -> f32 {
    let q = f32::from(q.clamp(1, 100));
    if q <= 55.0 {
        q * 77.0 / 55.0
    } else {
        77.0 + (q - 55.0) * 23.0 / 45.0
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    pub quality: Option<u8>,
    /// Progressive JPEG, interlaced (Adam7) PNG (`prog=1`).
    pub progressive: bool,
}

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> TransformError + '_ {
    move |e| TransformError::Encode(format!("{what}: {e}"))
}

/// Encodes an `ImageRgb8` or `ImageRgba8` image. Metadata is never written.
pub(crate) fn encode(img: &DynamicImage, format: Format, opts: EncodeOptions) -> Result<Vec<u8>, TransformError> {
    let (w, h) = (img.width(), img.height());
    match format {
        Format::Jpeg => jpeg(img, opts),
        Format::Png if opts.progressive => {
            Ok(adam7::encode(img.as_bytes(), w, h, if img.color().has_alpha() { 4 } else { 3 }))
        }
        Format::Png => {
            let mut out = Vec::new();
            let enc = image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Fast,
                image::codecs::png::FilterType::Adaptive,
            );
            enc.write_image(img.as_bytes(), w, h, img.color().into()).map_err(|e| err("png")(&e))?;
            Ok(out)
        }
        Format::Webp => {
            let q = opts.quality.unwrap_or(DEFAULT_WEBP_QUALITY);
            let enc = if img.color().has_alpha() {
                webp::Encoder::from_rgba(img.as_bytes(), w, h)
            } else {
                webp::Encoder::from_rgb(img.as_bytes(), w, h)
            };
            // q=100 asks for no loss at all: lossless WebP.
            let mem = enc.encode_simple(q >= 100, f32::from(q)).map_err(|e| err("webp")(&format!("{e:?}")))?;
            Ok(mem.to_vec())
        }
        Format::Avif => avif(img, opts),
        Format::Gif => {
            let mut out = Vec::new();
            let rgba = img.to_rgba8();
            // Speed 10 of NeuQuant: palette quality is adequate for the stills GIF output serves.
            let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
            enc.encode(rgba.as_raw(), w, h, image::ExtendedColorType::Rgba8).map_err(|e| err("gif")(&e))?;
            drop(enc);
            Ok(out)
        }
        Format::Auto => Err(TransformError::Encode("no encoder for fmt=auto".into())),
    }
}

fn jpeg(img: &DynamicImage, opts: EncodeOptions) -> Result<Vec<u8>, TransformError> {
    use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};
    let e = err("jpeg");
    let rgb;
    let pixels = match img {
        DynamicImage::ImageRgb8(b) => b.as_raw().as_slice(),
        other => {
            rgb = other.to_rgb8();
            rgb.as_raw().as_slice()
        }
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut c = Compressor::new().map_err(|x| e(&x))?;
    c.set_quality(i32::from(opts.quality.unwrap_or(DEFAULT_JPEG_QUALITY).clamp(1, 100))).map_err(|x| e(&x))?;
    c.set_subsamp(Subsamp::Sub2x2).map_err(|x| e(&x))?;
    c.set_progressive(opts.progressive).map_err(|x| e(&x))?;
    let image = Image { pixels, width: w, pitch: w * 3, height: h, format: PixelFormat::RGB };
    c.compress_to_vec(image).map_err(|x| e(&x))
}

fn avif(img: &DynamicImage, opts: EncodeOptions) -> Result<Vec<u8>, TransformError> {
    use rgb::FromSlice;
    let q = avif_quality(opts.quality.unwrap_or(DEFAULT_AVIF_QUALITY));
    // 8-bit AV1 for 8-bit sources: 10-bit (ravif's default) took 1.8x the time for ~2 % of
    // DSSIM at equal bytes.
    let enc = ravif::Encoder::new()
        .with_quality(q)
        .with_alpha_quality(q)
        .with_speed(AVIF_SPEED)
        .with_bit_depth(ravif::BitDepth::Eight);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let e = err("avif");
    let out = match img {
        DynamicImage::ImageRgba8(b) => enc.encode_rgba(imgref::Img::new(b.as_raw().as_rgba(), w, h)),
        DynamicImage::ImageRgb8(b) => enc.encode_rgb(imgref::Img::new(b.as_raw().as_rgb(), w, h)),
        _ => return Err(TransformError::Encode("avif: unexpected pixel layout".into())),
    };
    Ok(out.map_err(|x| e(&x))?.avif_file)
}

#[cfg(test)]
mod tests {
    use super::avif_quality;

    #[test]
    fn avif_quality_maps_the_libvips_scale_onto_ravif_monotonically() {
        assert_eq!(avif_quality(55), 77.0);
        assert_eq!(avif_quality(100), 100.0);
        assert!(avif_quality(0) >= 1.0 && avif_quality(1) >= 1.0);
        assert!((1..100).all(|q| avif_quality(q) < avif_quality(q + 1)));
    }
}
