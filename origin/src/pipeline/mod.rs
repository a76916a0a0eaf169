//! The image pipeline: plain functions over bytes, knowing nothing of HTTP.
//!
//! sniff (magic bytes) → probe (header: size, frames, orientation; limits enforced before
//! any pixel buffer exists) → plan (policy crate) → decode (DCT-scaled for JPEG) → execute
//! the plan in DESIGN.md §3 order (orientation with rot/flip, pre-crop + resize, colour
//! to sRGB, pad, post-crop, blur, flatten) → encode. Metadata is never copied to outputs.

mod adam7;
mod color;
mod decode;
mod encode;
mod heif;
mod libavif;
mod orient;
mod probe;
pub mod quality;
mod resize;
mod sniff;
mod tiff_color;
mod webp;

use std::time::{Duration, Instant};

use image::DynamicImage;
use pixgate_policy::plan::Plan;
use pixgate_policy::variant::Gravity;
use pixgate_policy::{plan, Format, Variant};

pub use encode::{
    EncodeOptions, AVIF_SPEED, AVIF_SPEED_MAX, DEFAULT_AVIF_QUALITY, DEFAULT_JPEG_QUALITY, DEFAULT_WEBP_QUALITY,
};
pub use orient::Orient;
pub use probe::{probe, Header};
pub use sniff::{sniff, Source};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// Not an image, or a format outside the decode set (HTTP 415).
    #[error("unsupported media type: {0}")]
    Unsupported(String),
    /// A supported format whose data is damaged or truncated (HTTP 422).
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// Over a configured limit: bytes, pixels, side or frames (HTTP 413).
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The variant asks for more output than the limits allow on this source, which only
    /// its size revealed (HTTP 400 `too_large`, as for a box side above the maximum).
    #[error("{0}")]
    OutputTooLarge(String),
    /// Our failure, not the input's: an encoder or internal step failed (HTTP 500).
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// What a source may cost, checked from its header before any pixel is decoded, and the
/// output budgets of DESIGN.md §6.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
    /// Frames an animated source may declare (only the first is decoded).
    pub max_frames: u32,
    /// Output pixels beyond which AVIF is downgraded to WebP.
    pub avif_max_pixels: u64,
    /// CPU spent on each AVIF encode: libaom's speed, 0 (slowest) – 9 (see `AVIF_SPEED`).
    pub avif_speed: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 50 << 20,
            max_pixels: 50_000_000,
            max_side: 16_384,
            max_frames: 1_000,
            avif_max_pixels: 4_000_000,
            avif_speed: AVIF_SPEED,
        }
    }
}

/// Wall time per stage, for `Server-Timing` and the stage histograms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Sniff, header probe and decode (with colour conversion of CMYK sources).
    pub decode: Duration,
    /// Crop, resample, colour management, pad, blur, flatten.
    pub resize: Duration,
    pub encode: Duration,
    /// Turning the decoded pixels upright (EXIF orientation, `rot`, `flip`).
    pub orient: Duration,
    /// Reading the EXIF orientation from the header, where the format has one.
    pub exif: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
    pub timings: Timings,
    /// Why the output format differs from the requested one (`X-Pixgate-Format-Reason`).
    pub format_reason: Option<&'static str>,
    /// The source was returned unchanged (`lim=orig`).
    pub passthrough: bool,
    /// JPEG shrink-on-load denominator used while decoding (1 = full size).
    pub shrink: u32,
}

/// Transforms `bytes` into `variant`.
pub fn transform(bytes: &[u8], variant: &Variant, limits: &Limits) -> Result<Encoded, TransformError> {
    let started = Instant::now();
    let header = probe(bytes, limits)?;
    let p = plan(variant, header.width, header.height);
    let (format, reason) = output_format(variant.fmt, &header, &p, limits);
    let probed = started.elapsed();
    let opts = EncodeOptions { quality: variant.q, progressive: variant.prog };
    let mut out = transform_plan(bytes, &header, &p, format, opts, limits)?;
    out.timings.decode += probed;
    out.timings.exif = header.exif_parse;
    out.format_reason = reason;
    Ok(out)
}

/// Executes an already made plan on a probed source.
pub fn transform_plan(
    bytes: &[u8],
    header: &Header,
    p: &Plan,
    format: Format,
    opts: EncodeOptions,
    limits: &Limits,
) -> Result<Encoded, TransformError> {
    pixgate_policy::plan::check_output(p).map_err(|e| TransformError::OutputTooLarge(e.message))?;
    if p.passthrough {
        if let Some(source) = web_format(header.format) {
            return Ok(Encoded {
                bytes: bytes.to_vec(),
                format: source,
                width: header.width,
                height: header.height,
                timings: Timings::default(),
                format_reason: None,
                passthrough: true,
                shrink: 1,
            });
        }
        // TIFF/BMP cannot be served as they are: the identity plan re-encodes them.
    }
    let started = Instant::now();
    let shrink = shrink_factor(header, p);
    let decoded = tracing::info_span!("decode").in_scope(|| decode::decode(bytes, header, shrink, limits))?;
    let decoded_at = Instant::now();
    let (img, orient) = tracing::info_span!("resize").in_scope(|| execute(decoded, header, p, shrink, format))?;
    let resized_at = Instant::now();
    let bytes = tracing::info_span!("encode", format = format.as_str())
        .in_scope(|| encode::encode(&img, format, opts, limits.avif_speed))?;
    let timings = Timings {
        decode: decoded_at - started,
        orient,
        resize: (resized_at - decoded_at).saturating_sub(orient),
        encode: resized_at.elapsed(),
        exif: None,
    };
    Ok(Encoded {
        bytes,
        format,
        width: img.width(),
        height: img.height(),
        timings,
        format_reason: None,
        passthrough: false,
        shrink,
    })
}

/// Decodes, orients and converts to sRGB without resizing: the upright first frame.
pub fn decode_upright(bytes: &[u8], limits: &Limits) -> Result<DynamicImage, TransformError> {
    let header = probe(bytes, limits)?;
    let p = plan(&Variant::default(), header.width, header.height);
    execute(decode::decode(bytes, &header, 1, limits)?, &header, &p, 1, Format::Png).map(|(img, _)| img)
}

fn web_format(s: Source) -> Option<Format> {
    match s {
        Source::Jpeg => Some(Format::Jpeg),
        Source::Png => Some(Format::Png),
        Source::Gif => Some(Format::Gif),
        Source::Webp => Some(Format::Webp),
        Source::Avif => Some(Format::Avif),
        Source::Tiff | Source::Bmp => None,
    }
}

fn has_alpha_channel(f: Format) -> bool {
    !matches!(f, Format::Jpeg)
}

/// The encoder to use: an explicit `fmt` wins; absent (or an unresolved `auto`) keeps a
/// web source's format, else PNG with alpha, JPEG without (DESIGN.md §3). AVIF over the
/// pixel budget becomes WebP (DESIGN.md §6).
pub fn output_format(
    fmt: Option<Format>,
    header: &Header,
    p: &Plan,
    limits: &Limits,
) -> (Format, Option<&'static str>) {
    let f = match fmt {
        Some(f) if f != Format::Auto => f,
        _ => web_format(header.format).unwrap_or(if header.has_alpha { Format::Png } else { Format::Jpeg }),
    };
    if f == Format::Avif && u64::from(p.width) * u64::from(p.height) > limits.avif_max_pixels {
        return (Format::Webp, Some("avif-pixel-budget"));
    }
    (f, None)
}

/// The JPEG DCT-scale denominator (1, 2, 4 or 8) for this plan: as small a decode as
/// possible while the resampler still gets at least 2× the target size in both axes, so
/// that Lanczos3 (not the DCT's box-like reduction) shapes the final pixels.
fn shrink_factor(h: &Header, p: &Plan) -> u32 {
    if h.format != Source::Jpeg || h.meta.lossless {
        return 1;
    }
    let (fw, fh) = if p.rot % 180 == 90 { (h.height, h.width) } else { (h.width, h.height) };
    let (cw, ch) = p.crop.map_or((fw, fh), |c| (c.w, c.h));
    let (tw, th) = (u64::from(p.resize.0), u64::from(p.resize.1));
    [8u32, 4, 2]
        .into_iter()
        .find(|&d| u64::from(cw) >= 2 * u64::from(d) * tw && u64::from(ch) >= 2 * u64::from(d) * th)
        .unwrap_or(1)
}

/// Decoded pixels per source pixel along one axis. A DCT-scaled decode is exactly 1/`shrink`
/// of the source, its last column (row) covering only the remainder: dividing the decoded
/// size by the full size instead would stretch the image by up to a block (on a 5141 px wide
/// photo at 1/4, a quarter of an output pixel of drift that doubled the DSSIM).
fn decode_scale(decoded: u32, full: u32, shrink: u32) -> f64 {
    if shrink > 1 && decoded == full.div_ceil(shrink) {
        1.0 / f64::from(shrink)
    } else {
        f64::from(decoded) / f64::from(full)
    }
}

/// Executes `p` on a decoded image, in DESIGN.md §3 order; also gives the time spent
/// orienting.
fn execute(
    d: decode::Decoded,
    h: &Header,
    p: &Plan,
    shrink: u32,
    format: Format,
) -> Result<(DynamicImage, Duration), TransformError> {
    let decode::Decoded { mut img, icc } = d;
    let started = Instant::now();
    let mut o = h.orient.then_rotate_cw(((p.rot / 90) % 4) as u8);
    if let Some(f) = p.flip {
        o = o.then_flip(f);
    }
    o.apply(&mut img);
    let orient = started.elapsed();

    // The plan is in full-resolution, rotated coordinates; a DCT-scaled decode is smaller.
    let (fw, fh) = if p.rot % 180 == 90 { (h.height, h.width) } else { (h.width, h.height) };
    let (sx, sy) = (decode_scale(img.width(), fw, shrink), decode_scale(img.height(), fh, shrink));
    let (cx, cy, cw, ch) = p.crop.map_or((0, 0, fw, fh), |c| (c.x, c.y, c.w, c.h));
    if sx == 1.0 && sy == 1.0 && p.resize == (cw, ch) {
        if (cw, ch) != (img.width(), img.height()) {
            img = img.crop_imm(cx, cy, cw, ch);
        }
    } else {
        let region = (f64::from(cx) * sx, f64::from(cy) * sy, f64::from(cw) * sx, f64::from(ch) * sy);
        img = resize::crop_resize(&img, region, p.resize.0, p.resize.1)?;
    }

    // After the resample, on the smaller image (as libvips' thumbnail does): converting
    // a 24 MP decode would cost more than the resize itself.
    if let Some(icc) = icc {
        color::to_srgb(&mut img, &icc);
    }

    let alpha_out = has_alpha_channel(format);
    if let Some(pad) = p.pad {
        let bg = p.bg.unwrap_or(if alpha_out { [255, 255, 255, 0] } else { [255, 255, 255, 255] });
        img = resize::pad(img, pad.width, pad.height, pad.x, pad.y, bg);
    }
    if let Some(c) = p.post_crop {
        let (x, y) = if matches!(p.gravity, Gravity::Smart | Gravity::Face) {
            resize::smart_window(&img, c.w, c.h, (c.x, c.y))
        } else {
            (c.x, c.y)
        };
        img = img.crop_imm(x, y, c.w, c.h);
    }
    if let Some(sigma) = p.blur {
        img = img.blur(sigma as f32 / 100.0);
    }
    if !alpha_out && img.color().has_alpha() {
        img = resize::flatten(img, p.bg.unwrap_or([255, 255, 255, 255]));
    }
    Ok((img, orient))
}

#[cfg(test)]
mod tests;
