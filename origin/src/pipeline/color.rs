//! Colour management: embedded ICC profiles to sRGB with moxcms, CMYK to RGB.

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

pub(crate) fn is_cmyk(icc: &[u8]) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|p| p.color_space == DataColorSpace::Cmyk)
}

/// Converts `img` (RGB8 or RGBA8) from `icc` to sRGB in place. Profiles that are not RGB
/// (gray profiles describe a tone curve only) or cannot be parsed leave the pixels as
/// they are: a best-effort colour fix must never fail a request.
pub(crate) fn to_srgb(img: &mut DynamicImage, icc: &[u8]) {
    if describes_srgb(icc) {
        return;
    }
    let Ok(profile) = ColorProfile::new_from_slice(icc) else { return };
    if profile.color_space != DataColorSpace::Rgb {
        return;
    }
    let (layout, buf): (Layout, &mut [u8]) = match img {
        DynamicImage::ImageRgb8(b) => (Layout::Rgb, b),
        DynamicImage::ImageRgba8(b) => (Layout::Rgba, b),
        _ => return,
    };
    let srgb = ColorProfile::new_srgb();
    let Ok(t) = profile.create_transform_8bit(layout, &srgb, layout, TransformOptions::default()) else { return };
    let src = buf.to_vec();
    let _ = t.transform(&src, buf);
}

/// Whether the profile's own `desc` tag names sRGB (ASCII in v2 `desc`, UTF-16BE in v4
/// `mluc`). Most camera and web JPEGs embed an sRGB profile; converting sRGB to sRGB would
/// only cost time and rounding.
fn describes_srgb(icc: &[u8]) -> bool {
    let be32 = |at: usize| icc.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let Some(count) = be32(128) else { return false };
    (0..count.min(64)).any(|i| {
        let entry = 132 + 12 * i;
        if icc.get(entry..entry + 4) != Some(b"desc") {
            return false;
        }
        let (Some(at), Some(len)) = (be32(entry + 4), be32(entry + 8)) else { return false };
        let Some(text) = icc.get(at..at.saturating_add(len).min(icc.len())) else { return false };
        text.windows(4).any(|w| w == b"sRGB") || text.windows(8).any(|w| w == b"\0s\0R\0G\0B")
    })
}

/// CMYK or YCCK-decoded samples (4 per pixel) to RGB. Adobe-written JPEGs store ink
/// inverted (255 = no ink). With a CMYK profile the conversion is colour-managed;
/// without one, the naive complement formula is the best available guess.
pub(crate) fn cmyk_to_rgb(cmyk: &[u8], adobe_inverted: bool, icc: Option<&[u8]>) -> Vec<u8> {
    let pixels = cmyk.len() / 4;
    let mut rgb = vec![0u8; pixels * 3];
    let profile =
        icc.and_then(|p| ColorProfile::new_from_slice(p).ok()).filter(|p| p.color_space == DataColorSpace::Cmyk);
    if let Some(profile) = profile {
        let srgb = ColorProfile::new_srgb();
        if let Ok(t) = profile.create_transform_8bit(Layout::Rgba, &srgb, Layout::Rgb, TransformOptions::default()) {
            // ICC CMYK counts ink: 0 = none.
            let ink: Vec<u8> = if adobe_inverted { cmyk.iter().map(|v| 255 - v).collect() } else { cmyk.to_vec() };
            if t.transform(&ink, &mut rgb).is_ok() {
                return rgb;
            }
        }
    }
    for (o, p) in rgb.chunks_exact_mut(3).zip(cmyk.chunks_exact(4)) {
        // Fraction of light each plane lets through.
        let pass = |v: u8| u32::from(if adobe_inverted { v } else { 255 - v });
        let k = pass(p[3]);
        for c in 0..3 {
            o[c] = ((pass(p[c]) * k + 127) / 255) as u8;
        }
    }
    rgb
}
