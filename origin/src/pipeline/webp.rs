//! WebP encoding through Debian's libwebp (`libwebp7`), the library libvips' `webpsave` uses.
//!
//! The system library picks its SIMD kernels (SSE4.1, AVX2) at run time, which a copy built
//! for the baseline x86-64 cannot, and its one-call API imports RGB straight to YUV for lossy
//! output. Five stable C functions, declared by hand like heif.rs.
#![allow(unsafe_code)]

use std::ffi::{c_float, c_int};

#[link(name = "webp")]
extern "C" {
    fn WebPEncodeRGB(rgb: *const u8, w: c_int, h: c_int, stride: c_int, q: c_float, out: *mut *mut u8) -> usize;
    fn WebPEncodeRGBA(rgba: *const u8, w: c_int, h: c_int, stride: c_int, q: c_float, out: *mut *mut u8) -> usize;
    fn WebPEncodeLosslessRGB(rgb: *const u8, w: c_int, h: c_int, stride: c_int, out: *mut *mut u8) -> usize;
    fn WebPEncodeLosslessRGBA(rgba: *const u8, w: c_int, h: c_int, stride: c_int, out: *mut *mut u8) -> usize;
    fn WebPFree(ptr: *mut u8);
}

/// Encodes tightly packed RGB (`channels` 3) or RGBA (4) pixels: lossy at `quality` (0–100,
/// libwebp's default preset and method 4, as libvips and cwebp), or lossless.
pub fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: u8,
    quality: u8,
    lossless: bool,
) -> Result<Vec<u8>, String> {
    let (w, h) = (c_int::try_from(width), c_int::try_from(height));
    let (Ok(w), Ok(h)) = (w, h) else { return Err(format!("webp: {width}x{height} is too large")) };
    let stride = w.checked_mul(c_int::from(channels)).ok_or_else(|| "webp: row too long".to_owned())?;
    let expected = usize::try_from(stride).ok().and_then(|s| s.checked_mul(usize::try_from(h).ok()?));
    if !matches!(channels, 3 | 4) || expected != Some(pixels.len()) {
        return Err(format!("webp: {} bytes are not {width}x{height}x{channels}", pixels.len()));
    }
    let q = c_float::from(quality);
    let mut out: *mut u8 = std::ptr::null_mut();
    let px = pixels.as_ptr();
    // SAFETY: `pixels` holds `h` rows of `stride` bytes (checked above) and outlives the call;
    // on success libwebp stores a malloc'd buffer of the returned size in `out`.
    let size = unsafe {
        match (channels, lossless) {
            (3, false) => WebPEncodeRGB(px, w, h, stride, q, &mut out),
            (3, true) => WebPEncodeLosslessRGB(px, w, h, stride, &mut out),
            (_, false) => WebPEncodeRGBA(px, w, h, stride, q, &mut out),
            (_, true) => WebPEncodeLosslessRGBA(px, w, h, stride, &mut out),
        }
    };
    if out.is_null() {
        // libwebp refuses sizes over 16383 px a side, and fails on allocation.
        return Err(format!("webp: libwebp could not encode {width}x{height}"));
    }
    // SAFETY: `out` points at `size` initialised bytes that libwebp allocated.
    let bytes = unsafe { std::slice::from_raw_parts(out, size) }.to_vec();
    // SAFETY: `out` came from libwebp and is freed once, by libwebp's allocator.
    unsafe { WebPFree(out) };
    if bytes.is_empty() {
        return Err("webp: libwebp wrote nothing".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_rgb_and_lossless_rgba_round_trip_through_a_decoder() {
        let rgb: Vec<u8> = (0..32 * 16).flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 16) as u8, 128]).collect();
        let lossy = encode(&rgb, 32, 16, 3, 80, false).unwrap();
        let img = image::load_from_memory_with_format(&lossy, image::ImageFormat::WebP).unwrap();
        assert_eq!((img.width(), img.height()), (32, 16));

        let rgba: Vec<u8> = rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 200]).collect();
        let lossless = encode(&rgba, 32, 16, 4, 100, true).unwrap();
        let back = image::load_from_memory_with_format(&lossless, image::ImageFormat::WebP).unwrap().to_rgba8();
        assert_eq!(back.as_raw(), &rgba, "lossless keeps every pixel and the alpha");
    }

    #[test]
    fn a_buffer_of_the_wrong_size_is_an_error_not_a_read_past_its_end() {
        assert!(encode(&[0; 10], 4, 4, 3, 80, false).is_err());
        assert!(encode(&[0; 32], 4, 4, 2, 80, false).is_err());
    }

    #[test]
    fn sizes_libwebp_refuses_are_an_error() {
        let wide = vec![0u8; 20_000 * 3];
        assert!(encode(&wide, 20_000, 1, 3, 80, false).is_err());
    }
}
