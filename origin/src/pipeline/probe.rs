//! Header probing: dimensions, frame count, orientation and colour metadata, read from the
//! container before any pixel buffer exists, so that limits are enforced first.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader};

use super::orient::Orient;
use super::sniff::{sniff, Source};
use super::tiff_color;
use super::{Limits, TransformError};

/// What the pipeline knows about a source before decoding it.
#[derive(Debug, Clone)]
pub struct Header {
    pub format: Source,
    /// Size as stored, before orientation (and before an AVIF `clap` crop).
    pub stored_width: u32,
    pub stored_height: u32,
    /// Size the viewer sees: after `clap` and orientation. Plans are made for this size.
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub has_alpha: bool,
    pub orient: Orient,
    /// JPEG only: progressive (multi-scan) coding.
    pub progressive: bool,
    /// Time spent reading the orientation from EXIF (`pixgate_exif_parse_duration_seconds`);
    /// `None` when the format carries none the probe looks for.
    pub exif_parse: Option<std::time::Duration>,
    pub(crate) meta: Meta,
}

/// Format-specific details the decoder needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    /// Embedded ICC profile, where the container gives it without decoding (JPEG, AVIF).
    pub icc: Option<Vec<u8>>,
    /// JPEG: APP14 "Adobe" marker present (CMYK data stored inverted).
    pub adobe: bool,
    /// JPEG: 4 components (CMYK or YCCK).
    pub cmyk: bool,
    /// JPEG: sample precision in bits.
    pub precision: u8,
    /// JPEG: lossless (SOF3/SOF7/SOF11/SOF15) coding.
    pub lossless: bool,
    /// AVIF: clean-aperture crop in stored coordinates (x, y, w, h).
    pub clap: Option<(u32, u32, u32, u32)>,
    /// AVIF: offsets of the type of each track that is not a picture (audio, text), which
    /// libavif 1.0 cannot parse; the decoder renames them `free` (see `avif`).
    pub avif_other_tracks: Vec<usize>,
    /// TIFF: a colour type the image crate refuses, read by `tiff_color` instead.
    pub tiff_color: bool,
}

/// Reads `bytes`' header and checks it against `limits`. Allocates nothing proportional
/// to the declared size.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Header, TransformError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(TransformError::TooLarge(format!("source exceeds {} bytes", limits.max_bytes)));
    }
    let format = sniff(bytes)?;
    let mut h = match format {
        Source::Jpeg => jpeg(bytes)?,
        Source::Png => png_ihdr(bytes)?,
        Source::Gif => gif(bytes)?,
        Source::Webp => webp(bytes)?,
        Source::Bmp => bmp(bytes)?,
        Source::Avif => avif(bytes)?,
        Source::Tiff => blank(Source::Tiff, 0, 0),
    };
    if format != Source::Tiff {
        check(&h, limits)?;
    }
    if format == Source::Png {
        png_chunks(bytes, &mut h)?;
    }
    // The image crate's decoders give orientation for PNG (eXIf), WebP (EXIF) and TIFF, and
    // the TIFF size; their constructors read headers only, under explicit limits.
    if matches!(format, Source::Png | Source::Webp | Source::Tiff) {
        match image_decoder(bytes, format, limits) {
            Ok(mut decoder) => {
                let (w, hh) = decoder.dimensions();
                (h.stored_width, h.stored_height) = (w, hh);
                h.has_alpha = h.has_alpha || decoder.color_type().has_alpha();
                let started = std::time::Instant::now();
                let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
                h.orient = Orient::from_image(orientation);
                h.exif_parse = Some(started.elapsed());
            }
            Err(TransformError::Unsupported(why)) if format == Source::Tiff => {
                let theirs = |e| match e {
                    TransformError::Unsupported(_) => TransformError::Unsupported(why.clone()),
                    other => other,
                };
                (h.stored_width, h.stored_height, h.orient) = tiff_color::probe(bytes, limits).map_err(theirs)?;
                h.meta.tiff_color = true;
            }
            Err(e) => return Err(e),
        }
    }
    let (cw, ch) = h.meta.clap.map_or((h.stored_width, h.stored_height), |c| (c.2, c.3));
    (h.width, h.height) = h.orient.apply_size(cw, ch);
    check(&h, limits)?;
    Ok(h)
}

fn check(h: &Header, limits: &Limits) -> Result<(), TransformError> {
    let (w, hh) = (h.stored_width, h.stored_height);
    if w == 0 || hh == 0 {
        return Err(TransformError::Corrupt(format!("{} header declares a {w}×{hh} image", h.format.as_str())));
    }
    if w > limits.max_side || hh > limits.max_side {
        return Err(TransformError::TooLarge(format!("{w}×{hh} exceeds the {} px side limit", limits.max_side)));
    }
    if u64::from(w) * u64::from(hh) > limits.max_pixels {
        return Err(TransformError::TooLarge(format!("{w}×{hh} exceeds {} pixels", limits.max_pixels)));
    }
    if h.frames > limits.max_frames {
        return Err(TransformError::TooLarge(format!("{} frames exceed {}", h.frames, limits.max_frames)));
    }
    Ok(())
}

fn blank(format: Source, w: u32, h: u32) -> Header {
    Header {
        format,
        stored_width: w,
        stored_height: h,
        width: w,
        height: h,
        frames: 1,
        has_alpha: false,
        orient: Orient::IDENTITY,
        progressive: false,
        exif_parse: None,
        meta: Meta::default(),
    }
}

/// The image crate's limits, set explicitly: its defaults do not cap width or height.
pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    // RGBA16 of the largest allowed image, plus room for the decoder's own buffers.
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    l
}

pub(crate) fn image_decoder<'a>(
    bytes: &'a [u8],
    format: Source,
    limits: &Limits,
) -> Result<Box<dyn ImageDecoder + 'a>, TransformError> {
    let fmt = match format {
        Source::Jpeg => ImageFormat::Jpeg,
        Source::Png => ImageFormat::Png,
        Source::Gif => ImageFormat::Gif,
        Source::Webp => ImageFormat::WebP,
        Source::Tiff => ImageFormat::Tiff,
        Source::Bmp => ImageFormat::Bmp,
        Source::Avif => return Err(TransformError::Unsupported("avif through the image crate".into())),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), fmt);
    reader.limits(image_limits(limits));
    let decoder = reader.into_decoder().map_err(classify)?;
    Ok(Box::new(decoder))
}

pub(crate) fn classify(e: image::ImageError) -> TransformError {
    match e {
        image::ImageError::Limits(l) => TransformError::TooLarge(l.to_string()),
        image::ImageError::Unsupported(u) => TransformError::Unsupported(u.to_string()),
        other => TransformError::Corrupt(other.to_string()),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn corrupt(what: &str) -> TransformError {
    TransformError::Corrupt(what.into())
}

/// Walks JPEG marker segments up to the first scan: SOF size, EXIF orientation, ICC
/// profile (possibly split over several APP2 segments), Adobe APP14.
fn jpeg(b: &[u8]) -> Result<Header, TransformError> {
    let mut h = blank(Source::Jpeg, 0, 0);
    let mut sof = false;
    let mut icc: Vec<(u8, &[u8])> = Vec::new();
    let mut exif_seen = false;
    let mut pos = 2;
    let sos = loop {
        while pos < b.len() && b[pos] != 0xFF {
            pos += 1; // tolerate stray bytes between segments, as libjpeg does
        }
        while pos < b.len() && b[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = b.get(pos) else {
            return Err(corrupt("JPEG ends before its first scan"));
        };
        pos += 1;
        match marker {
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return Err(corrupt("JPEG has no scan")),
            _ => {}
        }
        let len = be16(b, pos).ok_or_else(|| corrupt("truncated JPEG segment"))? as usize;
        let seg = b.get(pos + 2..pos + len.max(2)).ok_or_else(|| corrupt("truncated JPEG segment"))?;
        if len < 2 {
            return Err(corrupt("bad JPEG segment length"));
        }
        match marker {
            0xDA => break pos,
            0xE1 if !exif_seen && seg.starts_with(b"Exif\0\0") => {
                exif_seen = true;
                let started = std::time::Instant::now();
                h.orient = image::metadata::Orientation::from_exif_chunk(&seg[6..])
                    .map_or(Orient::IDENTITY, Orient::from_image);
                h.exif_parse = Some(started.elapsed());
            }
            0xE2 if seg.len() > 14 && seg.starts_with(b"ICC_PROFILE\0") => icc.push((seg[12], &seg[14..])),
            0xEE if seg.len() >= 12 && seg.starts_with(b"Adobe") => h.meta.adobe = true,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if seg.len() < 6 {
                    return Err(corrupt("short JPEG SOF"));
                }
                sof = true;
                h.meta.precision = seg[0];
                h.stored_height = be16(seg, 1).unwrap_or(0);
                h.stored_width = be16(seg, 3).unwrap_or(0);
                h.meta.cmyk = seg[5] == 4;
                h.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                h.meta.lossless = matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF);
            }
            _ => {}
        }
        pos += len;
    };
    if !sof {
        return Err(corrupt("JPEG has no frame header (SOF)"));
    }
    // A JPEG without an EOI after its scans was cut short: decoders would paint the
    // missing part grey, and a cache would keep that. (0xFF 0xD9 cannot occur inside
    // entropy-coded data, which stuffs every 0xFF.)
    let eoi = b.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    if eoi.is_none_or(|e| e < sos) {
        return Err(corrupt("truncated JPEG (no end-of-image marker)"));
    }
    if !icc.is_empty() {
        icc.sort_by_key(|(seq, _)| *seq);
        h.meta.icc = Some(icc.iter().flat_map(|(_, d)| d.iter().copied()).collect());
    }
    Ok(h)
}

/// PNG: IHDR.
fn png_ihdr(b: &[u8]) -> Result<Header, TransformError> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(corrupt("PNG does not start with IHDR"));
    }
    let (w, hh) = (be32(b, 16).unwrap_or(0), be32(b, 20).unwrap_or(0));
    let mut h = blank(Source::Png, w, hh);
    // Compression and filter methods have one defined value; interlace two.
    if b.get(26) != Some(&0) || b.get(27) != Some(&0) || b.get(28).is_none_or(|i| *i > 1) {
        return Err(corrupt("PNG IHDR declares an unknown compression, filter or interlace method"));
    }
    h.has_alpha = matches!(b.get(25), Some(4 | 6));
    Ok(h)
}

/// PNG chunks before the first IDAT: animation, transparency, and metadata that must not
/// be a decompression bomb.
fn png_chunks(b: &[u8], h: &mut Header) -> Result<(), TransformError> {
    let mut text_budget = MAX_PNG_TEXT;
    let mut pos = 8;
    while let (Some(len), Some(kind)) = (be32(b, pos), b.get(pos + 4..pos + 8)) {
        match kind {
            b"IDAT" | b"IEND" => break,
            b"acTL" => h.frames = be32(b, pos + 8).unwrap_or(1).max(1),
            b"tRNS" => h.has_alpha = true,
            b"iCCP" => {
                let data = b.get(pos + 8..(pos + 8).saturating_add(len as usize).min(b.len())).unwrap_or_default();
                let keyword_end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                if data.get(keyword_end + 1).is_some_and(|m| *m != 0) {
                    return Err(corrupt("unknown iCCP compression method"));
                }
            }
            b"zTXt" | b"iTXt" => {
                let data = b.get(pos + 8..(pos + 8).saturating_add(len as usize).min(b.len())).unwrap_or_default();
                text_budget = inflate_text(kind, data, text_budget)?;
            }
            _ => {}
        }
        pos = pos.saturating_add(12).saturating_add(len as usize);
    }
    Ok(())
}

/// Compressed PNG text may inflate to at most this much per chunk (Pillow's limit too) and
/// in all: metadata is stripped, but a zTXt bomb is refused rather than half-read.
const MAX_PNG_TEXT_CHUNK: usize = 1 << 20;
const MAX_PNG_TEXT: usize = 8 << 20;

/// Inflates a zTXt or compressed iTXt payload within `budget`; returns what is left.
fn inflate_text(kind: &[u8], data: &[u8], budget: usize) -> Result<usize, TransformError> {
    let keyword_end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    let compressed = match kind {
        // keyword NUL method text; deflate (0) is the only method
        b"zTXt" if data.get(keyword_end + 1) != Some(&0) => return Err(corrupt("unknown zTXt compression method")),
        b"zTXt" => data.get(keyword_end + 2..),
        // keyword NUL flag method language NUL translated NUL text
        _ if data.get(keyword_end + 1) == Some(&1) => {
            let rest = data.get(keyword_end + 3..).unwrap_or_default();
            let mut nuls = rest.iter().enumerate().filter(|(_, c)| **c == 0).map(|(i, _)| i);
            let _language = nuls.next();
            nuls.next().and_then(|t| rest.get(t + 1..))
        }
        _ => None,
    };
    let Some(compressed) = compressed else { return Ok(budget) };
    match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(compressed, budget.min(MAX_PNG_TEXT_CHUNK)) {
        Ok(text) => Ok(budget - text.len()),
        Err(e) if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
            Err(TransformError::TooLarge("PNG text metadata inflates beyond its limit (decompression bomb)".into()))
        }
        // Damaged metadata is the decoder's call; it is dropped anyway.
        Err(_) => Ok(budget),
    }
}

/// GIF: logical screen size; frames counted by walking blocks without decoding LZW data.
fn gif(b: &[u8]) -> Result<Header, TransformError> {
    let mut h = blank(Source::Gif, le16(b, 6).unwrap_or(0), le16(b, 8).unwrap_or(0));
    let flags = b.get(10).copied().unwrap_or(0);
    let mut pos = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    let skip_sub_blocks = |mut p: usize| -> usize {
        while let Some(&n) = b.get(p) {
            p += 1 + n as usize;
            if n == 0 {
                break;
            }
        }
        p
    };
    let mut frames = 0u32;
    while let Some(&tag) = b.get(pos) {
        match tag {
            0x21 => {
                if b.get(pos + 1) == Some(&0xF9) && b.get(pos + 3).is_some_and(|f| f & 1 != 0) {
                    h.has_alpha = true;
                }
                pos = skip_sub_blocks(pos + 2);
            }
            0x2C => {
                frames += 1;
                let local = b.get(pos + 9).copied().unwrap_or(0);
                pos += 10 + if local & 0x80 != 0 { 3 << ((local & 7) + 1) } else { 0 };
                pos = skip_sub_blocks(pos + 1);
            }
            _ => break,
        }
    }
    if frames == 0 {
        return Err(corrupt("GIF holds no image"));
    }
    h.frames = frames;
    Ok(h)
}

/// WebP: size from the VP8/VP8L/VP8X header; frames from ANMF chunks.
fn webp(b: &[u8]) -> Result<Header, TransformError> {
    let kind = b.get(12..16).ok_or_else(|| corrupt("truncated WebP"))?;
    let d = 20;
    let mut h = match kind {
        b"VP8 " => {
            if b.get(d + 3..d + 6) != Some(&[0x9D, 0x01, 0x2A]) {
                return Err(corrupt("bad VP8 frame signature"));
            }
            blank(Source::Webp, le16(b, d + 6).unwrap_or(0) & 0x3FFF, le16(b, d + 8).unwrap_or(0) & 0x3FFF)
        }
        b"VP8L" => {
            if b.get(d) != Some(&0x2F) {
                return Err(corrupt("bad VP8L signature"));
            }
            let bits = le32(b, d + 1).ok_or_else(|| corrupt("truncated VP8L"))?;
            let mut h = blank(Source::Webp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
            h.has_alpha = bits >> 28 & 1 == 1;
            h
        }
        b"VP8X" => {
            let flags = b.get(d).copied().ok_or_else(|| corrupt("truncated VP8X"))?;
            let le24 = |at: usize| le32(b, at).map(|v| v & 0xFF_FFFF);
            let mut h = blank(
                Source::Webp,
                le24(d + 4).ok_or_else(|| corrupt("truncated VP8X"))? + 1,
                le24(d + 7).ok_or_else(|| corrupt("truncated VP8X"))? + 1,
            );
            h.has_alpha = flags & 0x10 != 0;
            if flags & 0x02 != 0 {
                let mut frames = 0;
                let mut pos = 12;
                while let (Some(kind), Some(len)) = (b.get(pos..pos + 4), le32(b, pos + 4)) {
                    if kind == b"ANMF" {
                        frames += 1;
                    }
                    pos = pos.saturating_add(8).saturating_add((len as usize + 1) & !1);
                }
                h.frames = frames.max(1);
            }
            h
        }
        _ => return Err(corrupt("unknown WebP chunk")),
    };
    h.progressive = false;
    Ok(h)
}

/// BMP: the info header's size; embedded JPEG/PNG payloads are refused.
fn bmp(b: &[u8]) -> Result<Header, TransformError> {
    let header_size = le32(b, 14).ok_or_else(|| corrupt("truncated BMP"))?;
    let (w, hh) = if header_size == 12 {
        (le16(b, 18).unwrap_or(0), le16(b, 20).unwrap_or(0))
    } else {
        let w = le32(b, 18).unwrap_or(0) as i32;
        let hh = le32(b, 22).unwrap_or(0) as i32;
        (w.unsigned_abs(), hh.unsigned_abs())
    };
    if header_size >= 40 && matches!(le32(b, 30), Some(4 | 5)) {
        return Err(TransformError::Unsupported("BMP with an embedded JPEG/PNG payload".into()));
    }
    let mut h = blank(Source::Bmp, w, hh);
    h.has_alpha = header_size >= 40 && le16(b, 28) == Some(32);
    Ok(h)
}

/// ISO-BMFF boxes of `data`: (type, body). Stops at the first malformed box.
fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let size = be32(data, pos)? as u64;
        let kind = data.get(pos + 4..pos + 8)?;
        let (header, size) = match size {
            0 => (8, (data.len() - pos) as u64),
            1 => (16, u64::from(be32(data, pos + 8)?) << 32 | u64::from(be32(data, pos + 12)?)),
            s => (8, s),
        };
        let end = pos.checked_add(usize::try_from(size).ok()?)?;
        let body = data.get(pos + header..end.min(data.len()))?;
        if size < header as u64 {
            return None;
        }
        pos = end;
        Some((kind, body))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| *k == kind).map(|(_, b)| b)
}

/// Depth-first search for the first box of `kind` under the container boxes of a track.
fn find_deep<'a>(data: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    for (k, body) in boxes(data) {
        if k == kind {
            return Some(body);
        }
        if matches!(k, b"trak" | b"mdia" | b"minf" | b"stbl") {
            if let Some(found) = find_deep(body, kind) {
                return Some(found);
            }
        }
    }
    None
}

/// AVIF: the primary item's `ispe`, `irot`, `imir`, `clap` and ICC `colr`; sequences'
/// size from the track header and frame count from the sample table.
fn avif(b: &[u8]) -> Result<Header, TransformError> {
    let mut h = blank(Source::Avif, 0, 0);
    // The picture track (handler `pict`, or `vide` in older files) gives a sequence's size
    // and frame count. libavif 1.0 fails on any other kind of track, which later versions
    // skip: the decoder hides those from it.
    let mut picture = None;
    for (kind, trak) in child(b, b"moov").into_iter().flat_map(boxes).filter(|(k, _)| *k == b"trak") {
        match find_deep(trak, b"hdlr").and_then(|hdlr| hdlr.get(8..12)) {
            Some(b"pict" | b"vide") if picture.is_none() => picture = Some(trak),
            Some(b"pict" | b"vide" | b"auxv") => {}
            _ => h.meta.avif_other_tracks.push(kind.as_ptr() as usize - b.as_ptr() as usize),
        }
    }
    if let Some(trak) = picture {
        h.frames = find_deep(trak, b"stsz").and_then(|s| be32(s, 8)).unwrap_or(1).max(1);
    }
    let Some(meta) = child(b, b"meta").and_then(|m| m.get(4..)) else {
        // Sequence without a still image: the track header carries the size (16.16 fixed point).
        let tkhd = picture.and_then(|t| find_deep(t, b"tkhd")).ok_or_else(|| corrupt("AVIF without meta or track"))?;
        let at = if tkhd.first() == Some(&1) { 88 } else { 76 };
        h.stored_width = be32(tkhd, at).unwrap_or(0) >> 16;
        h.stored_height = be32(tkhd, at + 4).unwrap_or(0) >> 16;
        return Ok(h);
    };
    let pitm = child(meta, b"pitm").ok_or_else(|| corrupt("AVIF without primary item"))?;
    let primary = if pitm.first() == Some(&0) { be16(pitm, 4) } else { be32(pitm, 4) };
    let primary = primary.ok_or_else(|| corrupt("bad pitm"))?;
    let iprp = child(meta, b"iprp").ok_or_else(|| corrupt("AVIF without item properties"))?;
    let ipco: Vec<(&[u8], &[u8])> = child(iprp, b"ipco").map(|c| boxes(c).collect()).unwrap_or_default();
    h.has_alpha = ipco.iter().any(|(k, body)| *k == b"auxC" && body.windows(5).any(|w| w == b"alpha"));
    let mut props: Vec<usize> = Vec::new();
    for (k, ipma) in boxes(iprp) {
        if k != b"ipma" {
            continue;
        }
        let (version, flags) = (ipma.first().copied().unwrap_or(0), ipma.get(3).copied().unwrap_or(0));
        let count = be32(ipma, 4).unwrap_or(0);
        let mut pos = 8;
        for _ in 0..count {
            let (item, n) = if version < 1 { (be16(ipma, pos), 2) } else { (be32(ipma, pos), 4) };
            let item = item.ok_or_else(|| corrupt("truncated ipma"))?;
            pos += n;
            let assoc = ipma.get(pos).copied().ok_or_else(|| corrupt("truncated ipma"))?;
            pos += 1;
            for _ in 0..assoc {
                let index = if flags & 1 != 0 {
                    let v = be16(ipma, pos).ok_or_else(|| corrupt("truncated ipma"))? & 0x7FFF;
                    pos += 2;
                    v
                } else {
                    let v = u32::from(ipma.get(pos).copied().ok_or_else(|| corrupt("truncated ipma"))? & 0x7F);
                    pos += 1;
                    v
                };
                if item == primary && index > 0 {
                    props.push(index as usize - 1);
                }
            }
        }
    }
    let (mut irot, mut imir, mut clap) = (0u8, None, None);
    for &i in &props {
        let Some(&(kind, body)) = ipco.get(i) else { continue };
        match kind {
            b"ispe" => {
                h.stored_width = be32(body, 4).unwrap_or(0);
                h.stored_height = be32(body, 8).unwrap_or(0);
            }
            b"irot" => irot = body.first().copied().unwrap_or(0) & 3,
            b"imir" => imir = body.first().map(|a| a & 1),
            b"clap" => clap = Some(body),
            b"colr" if matches!(body.get(..4), Some(b"prof" | b"rICC")) => h.meta.icc = Some(body[4..].to_vec()),
            _ => {}
        }
    }
    // `irot` turns anticlockwise; `imir` axis 0 exchanges top and bottom, 1 left and right
    // (HEIF: EXIF orientation 4 is axis 0). Applied after `clap`, `irot` before `imir`.
    let mut o = Orient::IDENTITY.then_rotate_cw((4 - irot) & 3);
    if let Some(axis) = imir {
        o = o.then_flip(if axis == 0 { pixgate_policy::variant::Flip::V } else { pixgate_policy::variant::Flip::H });
    }
    h.orient = o;
    // The pipeline crops itself (libavif 1.0 leaves `clap` to its caller).
    h.meta.clap = clap.and_then(|c| clean_aperture(c, h.stored_width, h.stored_height));
    Ok(h)
}

/// The `clap` rectangle in pixels, or `None` when it is invalid (then it is ignored).
fn clean_aperture(c: &[u8], w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
    let u = |i: usize| be32(c, i * 4);
    let ratio = |n: f64, d: u32| if d == 0 { None } else { Some(n / f64::from(d)) };
    let cw = ratio(f64::from(u(0)?), u(1)?)?;
    let ch = ratio(f64::from(u(2)?), u(3)?)?;
    let off_x = ratio(f64::from(u(4)? as i32), u(5)?)?;
    let off_y = ratio(f64::from(u(6)? as i32), u(7)?)?;
    let left = (off_x + (f64::from(w) - cw) / 2.0).round();
    let top = (off_y + (f64::from(h) - ch) / 2.0).round();
    let (cw, ch) = (cw.round(), ch.round());
    let fits = left >= 0.0 && top >= 0.0 && cw >= 1.0 && ch >= 1.0;
    if !fits || left + cw > f64::from(w) || top + ch > f64::from(h) {
        return None;
    }
    Some((left as u32, top as u32, cw as u32, ch as u32))
}
