//! Interlaced (Adam7) PNG for `prog=1`, which the `png` crate cannot write: the seven
//! passes are laid out and filtered here, deflated with miniz_oxide and framed with
//! CRC-checked chunks. 8-bit RGB or RGBA only, the pipeline's two layouts.

/// Each pass's first column and row and its column and row steps (PNG spec, §8.2).
const PASSES: [(u32, u32, u32, u32); 7] =
    [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

/// zlib level: close to the non-interlaced encoder's "fast" setting in size and time.
const DEFLATE_LEVEL: u8 = 4;

/// Encodes `pixels` (`channels` = 3 for RGB, 4 for RGBA, rows packed) as an Adam7 PNG.
pub(crate) fn encode(pixels: &[u8], width: u32, height: u32, channels: usize) -> Vec<u8> {
    debug_assert!(channels == 3 || channels == 4);
    debug_assert_eq!(pixels.len(), width as usize * height as usize * channels);
    let mut raw = Vec::with_capacity(pixels.len() + pixels.len() / 4 + 16);
    for &(x0, y0, dx, dy) in &PASSES {
        let pw = width.saturating_sub(x0).div_ceil(dx) as usize;
        let ph = height.saturating_sub(y0).div_ceil(dy);
        // An empty pass has no rows at all, not even filter bytes.
        if pw == 0 || ph == 0 {
            continue;
        }
        let mut prev = vec![0u8; pw * channels];
        let mut row = vec![0u8; pw * channels];
        for y in (y0..height).step_by(dy as usize) {
            let line = &pixels[y as usize * width as usize * channels..][..width as usize * channels];
            for (i, x) in (x0..width).step_by(dx as usize).enumerate() {
                row[i * channels..][..channels].copy_from_slice(&line[x as usize * channels..][..channels]);
            }
            filter_row(&row, &prev, channels, &mut raw);
            std::mem::swap(&mut prev, &mut row);
        }
    }
    let idat = miniz_oxide::deflate::compress_to_vec_zlib(&raw, DEFLATE_LEVEL);

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&height.to_be_bytes());
    // Bit depth 8; colour type 2 (RGB) or 6 (RGBA); deflate; adaptive filtering; Adam7.
    ihdr[8..].copy_from_slice(&[8, if channels == 4 { 6 } else { 2 }, 0, 0, 1]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Appends the filter type and the filtered row, choosing per row the filter with the
/// smallest sum of absolute residuals (the PNG spec's recommended heuristic).
fn filter_row(row: &[u8], prev: &[u8], bpp: usize, raw: &mut Vec<u8>) {
    let left = |i: usize| if i >= bpp { row[i - bpp] } else { 0 };
    let upleft = |i: usize| if i >= bpp { prev[i - bpp] } else { 0 };
    let residual = |kind: u8, i: usize| -> u8 {
        match kind {
            0 => row[i],
            1 => row[i].wrapping_sub(left(i)),
            2 => row[i].wrapping_sub(prev[i]),
            3 => row[i].wrapping_sub(((u16::from(left(i)) + u16::from(prev[i])) / 2) as u8),
            _ => row[i].wrapping_sub(paeth(left(i), prev[i], upleft(i))),
        }
    };
    let cost = |kind: u8| -> u64 { (0..row.len()).map(|i| u64::from((residual(kind, i) as i8).unsigned_abs())).sum() };
    let best = (0..=4u8).min_by_key(|&k| cost(k)).unwrap_or(0);
    raw.push(best);
    raw.extend((0..row.len()).map(|i| residual(best, i)));
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> image::DynamicImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap()
    }

    #[test]
    fn interlaced_output_decodes_to_the_same_pixels_at_every_small_size() {
        // Sizes below 8 leave some passes empty; they must be skipped without rows.
        for (w, h) in [(1, 1), (1, 7), (3, 2), (5, 5), (8, 8), (9, 13), (33, 17)] {
            for channels in [3usize, 4] {
                let pixels: Vec<u8> =
                    (0..w * h * channels as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
                let png = encode(&pixels, w, h, channels);
                assert_eq!(png[28], 1, "{w}x{h}: IHDR declares Adam7");
                let img = decode(&png);
                assert_eq!((img.width(), img.height()), (w, h));
                let back = if channels == 4 { img.to_rgba8().into_raw() } else { img.to_rgb8().into_raw() };
                assert_eq!(back, pixels, "{w}x{h}x{channels}");
            }
        }
    }
}
