//! Decoding to 8-bit RGB or RGBA. JPEG goes through libjpeg-turbo, which can decode at
//! 1/2, 1/4 or 1/8 scale straight from the DCT coefficients ("shrink-on-load"); AVIF
//! through libavif + dav1d; the rest through the `image` crate, under explicit limits.

use image::{DynamicImage, RgbImage, RgbaImage};

use super::probe::{classify, image_decoder, Header};
use super::sniff::Source;
use super::{color, tiff_color};
use super::{Limits, TransformError};

pub(crate) struct Decoded {
    /// `ImageRgb8` or `ImageRgba8`, as stored (not yet oriented), `clap` applied.
    pub img: DynamicImage,
    /// ICC profile still to convert from (CMYK profiles are applied while decoding).
    pub icc: Option<Vec<u8>>,
}

/// libjpeg-turbo's recommended cap on progressive scans: a crafted file with thousands of
/// tiny scans otherwise costs minutes of CPU.
const MAX_JPEG_SCANS: u32 = 500;

/// Decodes the first frame. `shrink` (1, 2, 4 or 8) is a DCT-domain downscale that only
/// JPEG honours; the caller reads the scale from the result's size.
pub(crate) fn decode(bytes: &[u8], h: &Header, shrink: u32, limits: &Limits) -> Result<Decoded, TransformError> {
    match h.format {
        Source::Jpeg if h.meta.precision == 8 => match jpeg(bytes, h, shrink) {
            Ok(d) => Ok(d),
            // libjpeg-turbo's 8-bit API refuses some rare codings (lossless with scaling,
            // unusual sampling); give them to the pure-Rust decoder before failing.
            Err(turbo) => generic(bytes, h, limits).map_err(|_| turbo),
        },
        Source::Avif => avif(bytes, h, limits),
        Source::Tiff if h.meta.tiff_color => tiff_color::decode(bytes, limits).map(|(img, icc)| Decoded { img, icc }),
        _ => generic(bytes, h, limits),
    }
}

fn jpeg(bytes: &[u8], h: &Header, shrink: u32) -> Result<Decoded, TransformError> {
    use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};
    let internal = |e: turbojpeg::Error| TransformError::Encode(format!("libjpeg-turbo: {e}"));
    let corrupt = |e: turbojpeg::Error| TransformError::Corrupt(format!("JPEG: {e}"));
    let mut d = Decompressor::new().map_err(internal)?;
    d.set_scan_limit(MAX_JPEG_SCANS).map_err(internal)?;
    let header = d.read_header(bytes).map_err(corrupt)?;
    if shrink > 1 && !header.is_lossless {
        d.set_scaling_factor(ScalingFactor::new(1, shrink as usize)).map_err(internal)?;
    }
    let sf = d.scaling_factor();
    let (w, hh) = (sf.scale(header.width), sf.scale(header.height));
    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let format = if cmyk { PixelFormat::CMYK } else { PixelFormat::RGB };
    let mut pixels = vec![0u8; w * hh * format.size()];
    d.decompress(
        bytes,
        Image { pixels: pixels.as_mut_slice(), width: w, pitch: w * format.size(), height: hh, format },
    )
    .map_err(corrupt)?;
    let (w, hh) = (w as u32, hh as u32);
    let short = || TransformError::Encode("decoded buffer size mismatch".into());
    if cmyk {
        let rgb = color::cmyk_to_rgb(&pixels, h.meta.adobe, h.meta.icc.as_deref());
        let img = RgbImage::from_raw(w, hh, rgb).ok_or_else(short)?;
        return Ok(Decoded { img: DynamicImage::ImageRgb8(img), icc: None });
    }
    let img = RgbImage::from_raw(w, hh, pixels).ok_or_else(short)?;
    Ok(Decoded { img: DynamicImage::ImageRgb8(img), icc: h.meta.icc.clone() })
}

fn generic(bytes: &[u8], h: &Header, limits: &Limits) -> Result<Decoded, TransformError> {
    let mut decoder = image_decoder(bytes, h.format, limits)?;
    let icc = h.meta.icc.clone().or_else(|| decoder.icc_profile().ok().flatten());
    let img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    let cmyk_icc = icc.as_deref().is_some_and(color::is_cmyk);
    let img = match img {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => img,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.into_rgba8()),
        other => DynamicImage::ImageRgb8(other.into_rgb8()),
    };
    // The image crate has already turned CMYK into RGB (naively); a CMYK profile no longer applies.
    Ok(Decoded { img, icc: if cmyk_icc { None } else { icc } })
}

fn avif(bytes: &[u8], h: &Header, limits: &Limits) -> Result<Decoded, TransformError> {
    let renamed;
    let bytes = if h.meta.avif_other_tracks.is_empty() {
        bytes
    } else {
        let mut copy = bytes.to_vec();
        for &at in &h.meta.avif_other_tracks {
            if let Some(kind) = copy.get_mut(at..at + 4) {
                kind.copy_from_slice(b"free");
            }
        }
        renamed = copy;
        &renamed[..]
    };
    let px = super::libavif::decode(bytes, h.has_alpha, limits.max_pixels)
        .map_err(|e| TransformError::Corrupt(format!("AVIF: {e}")))?;
    let (w, hh) = (px.width, px.height);
    let mismatch = || TransformError::Corrupt("AVIF: decoded buffer size mismatch".into());
    let mut img = if px.channels == 4 {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(w, hh, px.data).ok_or_else(mismatch)?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, hh, px.data).ok_or_else(mismatch)?)
    };
    if let Some((x, y, cw, ch)) = h.meta.clap {
        if x + cw <= w && y + ch <= hh {
            img = img.crop_imm(x, y, cw, ch);
        }
    }
    Ok(Decoded { img, icc: h.meta.icc.clone() })
}
