//! The TIFF colour types the image crate refuses, read with the `tiff` crate it is built on:
//! palette images (1, 2, 4 or 8 bits per index; scans, faxes, converted GIFs) and 8-bit
//! YCbCr (what JPEG-compressed TIFFs from cameras and scanners store).

use std::borrow::Cow;
use std::io::Cursor;

use image::{DynamicImage, RgbImage};
use tiff::decoder::{Decoder, DecodingResult, Limits as TiffLimits};
use tiff::tags::{PhotometricInterpretation, PlanarConfiguration, Tag};
use tiff::{ColorType, TiffError};

use super::orient::Orient;
use super::{Limits, TransformError};

fn classify(e: TiffError) -> TransformError {
    match e {
        TiffError::UnsupportedError(u) => TransformError::Unsupported(format!("TIFF: {u}")),
        TiffError::LimitsExceeded => TransformError::TooLarge("TIFF: decoding buffer limit".into()),
        other => TransformError::Corrupt(format!("TIFF: {other}")),
    }
}

enum Kind {
    Palette(u8),
    YCbCr,
}

type Reader<'a> = Decoder<Cursor<Cow<'a, [u8]>>>;

fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(Reader<'a>, Kind), TransformError> {
    // The tiff crate reads no palette images. Their pixels are stored as grey ones would
    // be, so a copy that says "grey" (BlackIsZero: no inversion) gives the indices.
    let photometric = photometric_entry(bytes);
    let palette = photometric.is_some_and(|(_, value, _)| value == PhotometricInterpretation::RGBPalette.to_u16());
    let data = match photometric {
        Some((at, _, big_endian)) if palette => {
            let grey = PhotometricInterpretation::BlackIsZero.to_u16();
            let mut copy = bytes.to_vec();
            copy[at..at + 2].copy_from_slice(&if big_endian { grey.to_be_bytes() } else { grey.to_le_bytes() });
            Cow::Owned(copy)
        }
        _ => Cow::Borrowed(bytes),
    };
    let mut l = TiffLimits::default();
    // Three bytes per pixel of the largest allowed image: the largest result asked of it.
    l.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(3)).unwrap_or(usize::MAX);
    let mut d = Decoder::new(Cursor::new(data)).map_err(classify)?.with_limits(l);
    let kind = match (d.colortype().map_err(classify)?, palette) {
        (ColorType::Gray(bits @ (1 | 2 | 4 | 8)), true) => Kind::Palette(bits),
        (ColorType::YCbCr(8), false) => Kind::YCbCr,
        (other, _) => return Err(TransformError::Unsupported(format!("TIFF colour type {other:?}"))),
    };
    Ok((d, kind))
}

/// Where the first page's PhotometricInterpretation value is (a SHORT, stored in its
/// entry), with the value and whether the file is big-endian. Classic and BigTIFF.
fn photometric_entry(b: &[u8]) -> Option<(usize, u16, bool)> {
    let big_endian = match b.get(..2)? {
        b"II" => false,
        b"MM" => true,
        _ => return None,
    };
    let bytes = |at: usize, n: usize| b.get(at..at.checked_add(n)?);
    let uint = |at: usize, n: usize| {
        let s = bytes(at, n)?;
        let fold = |acc: u64, &x: &u8| acc << 8 | u64::from(x);
        Some(if big_endian { s.iter().fold(0, fold) } else { s.iter().rev().fold(0, fold) })
    };
    // (IFD offset, width of the entry count, entry size, where an entry's value sits)
    let (ifd, count_width, entry, value_at) = match uint(2, 2)? {
        42 => (uint(4, 4)?, 2, 12, 8),
        43 => (uint(8, 8)?, 8, 20, 12),
        _ => return None,
    };
    let ifd = usize::try_from(ifd).ok()?;
    let count = uint(ifd, count_width)?.min(4096) as usize;
    (0..count).find_map(|i| {
        let e = ifd.checked_add(count_width + i * entry)?;
        let short = 3;
        if uint(e, 2)? != u64::from(Tag::PhotometricInterpretation.to_u16()) || uint(e + 2, 2)? != short {
            return None;
        }
        Some((e + value_at, uint(e + value_at, 2)? as u16, big_endian))
    })
}

/// Stored size and orientation, from the first page's tags only.
pub(crate) fn probe(bytes: &[u8], limits: &Limits) -> Result<(u32, u32, Orient), TransformError> {
    let (mut d, _) = open(bytes, limits)?;
    let (w, h) = d.dimensions().map_err(classify)?;
    let tag = d.find_tag_unsigned::<u8>(Tag::Orientation).map_err(classify)?;
    let orientation = tag.and_then(image::metadata::Orientation::from_exif);
    Ok((w, h, Orient::from_image(orientation.unwrap_or(image::metadata::Orientation::NoTransforms))))
}

/// The first page as RGB, with its ICC profile if it has one. Call after `probe` has
/// checked the size against the limits.
pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<(DynamicImage, Option<Vec<u8>>), TransformError> {
    let (mut d, kind) = open(bytes, limits)?;
    let (w, h) = d.dimensions().map_err(classify)?;
    let chunky = d.find_tag_unsigned::<u16>(Tag::PlanarConfiguration).map_err(classify)?;
    if chunky.is_some_and(|p| p != PlanarConfiguration::Chunky.to_u16()) {
        return Err(TransformError::Unsupported("TIFF: planar palette or YCbCr".into()));
    }
    let map = match kind {
        Kind::Palette(_) => d.get_tag_u16_vec(Tag::ColorMap).map_err(classify)?,
        Kind::YCbCr => Vec::new(),
    };
    let icc = d.get_tag_u8_vec(Tag::IccProfile).ok();
    let DecodingResult::U8(data) = d.read_image().map_err(classify)? else {
        return Err(TransformError::Unsupported("TIFF: samples wider than 8 bits".into()));
    };
    let rgb = match kind {
        Kind::Palette(bits) => palette_to_rgb(&data, w, h, bits, &map),
        Kind::YCbCr => ycbcr_to_rgb(&data, w, h),
    }
    .ok_or_else(|| TransformError::Corrupt("TIFF: fewer samples than the image needs".into()))?;
    Ok((DynamicImage::ImageRgb8(rgb), icc))
}

/// Rows of `bits`-bit indices (most significant bits first, each row starting on a byte)
/// looked up in a TIFF colour map: all reds, then all greens, then all blues, 16 bits each.
fn palette_to_rgb(data: &[u8], w: u32, h: u32, bits: u8, map: &[u16]) -> Option<RgbImage> {
    let entries = 1usize << bits;
    if map.len() < 3 * entries {
        return None;
    }
    let row_bytes = (w as usize * usize::from(bits)).div_ceil(8);
    if data.len() < row_bytes * h as usize {
        return None;
    }
    let mask = (entries - 1) as u8;
    let per_byte = 8 / usize::from(bits);
    Some(RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let byte = data[y * row_bytes + x / per_byte];
        let shift = 8 - usize::from(bits) * (x % per_byte + 1);
        let i = usize::from((byte >> shift) & mask);
        let c = |channel: usize| (map[channel * entries + i] >> 8) as u8;
        image::Rgb([c(0), c(1), c(2)])
    }))
}

/// Full-range BT.601 YCbCr (JPEG's, which JPEG-compressed TIFFs use) to RGB.
fn ycbcr_to_rgb(data: &[u8], w: u32, h: u32) -> Option<RgbImage> {
    if data.len() < w as usize * h as usize * 3 {
        return None;
    }
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    Some(RgbImage::from_fn(w, h, |x, y| {
        let at = (y as usize * w as usize + x as usize) * 3;
        let (l, cb, cr) = (f32::from(data[at]), f32::from(data[at + 1]) - 128.0, f32::from(data[at + 2]) - 128.0);
        image::Rgb([clamp(l + 1.402 * cr), clamp(l - 0.344_136 * cb - 0.714_136 * cr), clamp(l + 1.772 * cb)])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An uncompressed one-strip palette TIFF: `rows` of packed indices, colour `i` of the
    /// map being (i, 100 + i, 200 - i), each modulo 256.
    fn palette_tiff(big_endian: bool, bits: u16, w: u16, rows: &[&[u8]]) -> Vec<u8> {
        let put16 = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let put32 = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let entries = 1u32 << bits;
        let (ifd_end, map_len) = (8 + 2 + 10 * 12 + 4, 3 * entries * 2);
        let strip: Vec<u8> = rows.concat();
        let (short, long) = (3u16, 4u16);
        let fields: [(u16, u16, u32, u32); 10] = [
            (256, short, 1, u32::from(w)),
            (257, short, 1, rows.len() as u32),
            (258, short, 1, u32::from(bits)),
            (259, short, 1, 1),
            (262, short, 1, 3),
            (273, long, 1, ifd_end + map_len),
            (277, short, 1, 1),
            (278, short, 1, rows.len() as u32),
            (279, long, 1, strip.len() as u32),
            (320, short, 3 * entries, ifd_end),
        ];
        let mut t = if big_endian { b"MM\0\x2a".to_vec() } else { b"II\x2a\0".to_vec() };
        t.extend(put32(8));
        t.extend(put16(fields.len() as u16));
        for (tag, kind, count, value) in fields {
            t.extend(put16(tag));
            t.extend(put16(kind));
            t.extend(put32(count));
            if kind == short && count == 1 {
                t.extend(put16(value as u16));
                t.extend([0, 0]);
            } else {
                t.extend(put32(value));
            }
        }
        t.extend(put32(0));
        for channel in 0..3u32 {
            for i in 0..entries {
                let v = ([i, 100 + i, 200u32.wrapping_sub(i)][channel as usize] & 0xFF) as u16;
                t.extend(put16(v << 8));
            }
        }
        t.extend(strip);
        t
    }

    #[test]
    fn palette_tiffs_come_out_in_their_colour_map_colours_in_either_byte_order() {
        for big_endian in [false, true] {
            let file = palette_tiff(big_endian, 4, 3, &[&[0x01, 0x20], &[0xF0, 0x30]]);
            let (img, icc) = decode(&file, &Limits::default()).unwrap();
            let img = img.to_rgb8();
            let px = |x, y| img.get_pixel(x, y).0;
            assert_eq!([px(0, 0), px(1, 0), px(2, 0)], [[0, 100, 200], [1, 101, 199], [2, 102, 198]]);
            assert_eq!([px(0, 1), px(1, 1), px(2, 1)], [[15, 115, 185], [0, 100, 200], [3, 103, 197]]);
            assert!(icc.is_none());
            assert_eq!(probe(&file, &Limits::default()).unwrap().0, 3);
        }
    }

    #[test]
    fn an_eight_bit_palette_tiff_reads_whole_bytes_as_indices() {
        let file = palette_tiff(false, 8, 2, &[&[7, 42]]);
        let img = decode(&file, &Limits::default()).unwrap().0.to_rgb8();
        assert_eq!([img.get_pixel(0, 0).0, img.get_pixel(1, 0).0], [[7, 107, 193], [42, 142, 158]]);
    }

    #[test]
    fn two_bit_indices_are_read_most_significant_first_and_rows_start_on_a_byte() {
        // 3×2 image, 2 bits per index: row 0 = 0,1,2 (0b00_01_10_00), row 1 = 3,0,1.
        let data = [0b0001_1000, 0b1100_0100];
        let map: Vec<u16> = [0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32].iter().map(|v| v << 8).collect();
        let img = palette_to_rgb(&data, 3, 2, 2, &map).unwrap();
        let px = |x, y| img.get_pixel(x, y).0;
        assert_eq!([px(0, 0), px(1, 0), px(2, 0)], [[0, 1, 2], [10, 11, 12], [20, 21, 22]]);
        assert_eq!([px(0, 1), px(1, 1), px(2, 1)], [[30, 31, 32], [0, 1, 2], [10, 11, 12]]);
    }

    #[test]
    fn a_colour_map_shorter_than_the_index_range_is_refused() {
        assert!(palette_to_rgb(&[0], 1, 1, 8, &[0; 3 * 255]).is_none());
    }

    #[test]
    fn too_few_samples_are_refused_rather_than_read_past() {
        assert!(palette_to_rgb(&[0], 9, 1, 1, &[0; 6]).is_none());
        assert!(ycbcr_to_rgb(&[0; 5], 2, 1).is_none());
    }

    #[test]
    fn ycbcr_grey_stays_grey_and_primaries_come_out_saturated() {
        let img = ycbcr_to_rgb(&[128, 128, 128, 76, 85, 255], 2, 1).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [128, 128, 128]);
        let red = img.get_pixel(1, 0).0;
        assert!(red[0] >= 250 && red[1] <= 3 && red[2] <= 3, "{red:?}");
    }
}
