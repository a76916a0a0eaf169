//! Encoders: JPEG (libjpeg-turbo), PNG (image crate; Adam7 for `prog=1` in adam7.rs) and GIF
//! (image crate), WebP (libwebp, webp.rs), AVIF (libheif + libaom, heif.rs).

use image::{DynamicImage, ImageEncoder};
use pixgate_policy::Format;

use super::{adam7, heif, webp, TransformError};

pub const DEFAULT_JPEG_QUALITY: u8 = 80;
pub const DEFAULT_WEBP_QUALITY: u8 = 80;
pub const DEFAULT_AVIF_QUALITY: u8 = 55;

/// Default libaom `cpu-used` for AVIF (`transform.avif_speed`). libvips' default (effort 4)
/// is speed 5; on the bench photos at 400 px, speed 6 takes a quarter to a third of its time
/// for the same bytes (±3 %) at a 2–12 % worse DSSIM. Speed 7 halves the time again at a
/// larger quality cost; speed 9 needs up to 75 % more bytes.
pub const AVIF_SPEED: u8 = 6;
/// libaom's fastest speed; 0 is its slowest.
pub const AVIF_SPEED_MAX: u8 = 9;

#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    pub quality: Option<u8>,
    /// Progressive JPEG, interlaced (Adam7) PNG (`prog=1`).
    pub progressive: bool,
}

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> TransformError + '_ {
    move |e| TransformError::Encode(format!("{what}: {e}"))
}

/// Encodes an `ImageRgb8` or `ImageRgba8` image at libaom speed `avif_speed` if AVIF.
/// Metadata is never written.
pub(crate) fn encode(
    img: &DynamicImage,
    format: Format,
    opts: EncodeOptions,
    avif_speed: u8,
) -> Result<Vec<u8>, TransformError> {
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
            let channels = if img.color().has_alpha() { 4 } else { 3 };
            // q=100 asks for no loss at all: lossless WebP.
            webp::encode(img.as_bytes(), w, h, channels, q, q >= 100).map_err(TransformError::Encode)
        }
        Format::Avif => avif(img, opts, avif_speed),
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

fn avif(img: &DynamicImage, opts: EncodeOptions, speed: u8) -> Result<Vec<u8>, TransformError> {
    let channels = match img {
        DynamicImage::ImageRgba8(_) => 4,
        DynamicImage::ImageRgb8(_) => 3,
        _ => return Err(TransformError::Encode("avif: unexpected pixel layout".into())),
    };
    let settings = heif::AvifSettings {
        // libheif's quality scale is the one libvips (and imgproxy, thumbor on libvips) expose.
        quality: opts.quality.unwrap_or(DEFAULT_AVIF_QUALITY),
        speed,
        // One image, one thread: the origin's parallelism is across requests.
        threads: 1,
    };
    heif::encode_avif(img.as_bytes(), img.width(), img.height(), channels, settings).map_err(TransformError::Encode)
}
