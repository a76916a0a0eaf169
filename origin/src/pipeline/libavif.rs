//! AVIF decoding through libavif (with dav1d), called directly: the safe binding cannot
//! relax libavif 1.0's strict checks, which refuse files that later versions and browsers
//! accept (a missing `pixi`, a `clap` outside the image), nor cap its threads and sizes.
#![allow(unsafe_code)]

use std::ffi::CStr;

use libavif_sys as sys;

/// 8-bit pixels, `channels` (3 or 4) per pixel, rows packed.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

struct DecoderGuard(*mut sys::avifDecoder);

impl Drop for DecoderGuard {
    fn drop(&mut self) {
        // SAFETY: created by avifDecoderCreate, destroyed once.
        unsafe { sys::avifDecoderDestroy(self.0) }
    }
}

/// The primary image (or a sequence's first frame) as 8-bit RGB, or RGBA when `alpha`.
/// `max_pixels` is handed to libavif as well, though the probe has refused larger headers.
pub fn decode(bytes: &[u8], alpha: bool, max_pixels: u64) -> Result<Pixels, String> {
    // SAFETY: the decoder is owned by a guard declared before use; it reads `bytes`, which
    // outlives it; the RGB conversion writes within `row * height` bytes of `data`, the size
    // it is told through `rowBytes` and the image's own size.
    unsafe {
        let decoder = DecoderGuard(sys::avifDecoderCreate());
        if decoder.0.is_null() {
            return Err("decoder allocation failed".into());
        }
        let d = decoder.0;
        (*d).strictFlags = sys::AVIF_STRICT_DISABLED;
        (*d).maxThreads = 1;
        (*d).ignoreExif = 1;
        (*d).ignoreXMP = 1;
        (*d).imageSizeLimit = u32::try_from(max_pixels).unwrap_or(u32::MAX).max(1);
        let step = |r: sys::avifResult, what: &str| {
            if r == sys::AVIF_RESULT_OK {
                return Ok(());
            }
            let reason = CStr::from_ptr(sys::avifResultToString(r)).to_string_lossy();
            let detail = CStr::from_ptr((*d).diag.error.as_ptr()).to_string_lossy();
            Err(if detail.is_empty() { format!("{what}: {reason}") } else { format!("{what}: {reason} ({detail})") })
        };
        step(sys::avifDecoderSetIOMemory(d, bytes.as_ptr(), bytes.len()), "io")?;
        step(sys::avifDecoderParse(d), "parse")?;
        step(sys::avifDecoderNextImage(d), "decode")?;
        let image = (*d).image;
        let mut rgb = sys::avifRGBImage::default();
        sys::avifRGBImageSetDefaults(&mut rgb, image);
        let channels: u8 = if alpha { 4 } else { 3 };
        rgb.format = if alpha { sys::AVIF_RGB_FORMAT_RGBA } else { sys::AVIF_RGB_FORMAT_RGB };
        rgb.depth = 8;
        rgb.maxThreads = 1;
        let row = rgb.width as usize * usize::from(channels);
        let mut data = vec![0u8; row * rgb.height as usize];
        rgb.pixels = data.as_mut_ptr();
        rgb.rowBytes = u32::try_from(row).map_err(|_| "row too long".to_string())?;
        step(sys::avifImageYUVToRGB(image, &mut rgb), "yuv to rgb")?;
        Ok(Pixels { width: rgb.width, height: rgb.height, channels, data })
    }
}
