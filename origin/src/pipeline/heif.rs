//! AVIF encoding through libheif with its libaom encoder (Debian's `libheif1`, `libaom3`): the
//! same encoder and RGB→YUV path as libvips' `heifsave`, at a faster aom speed.
//!
//! The FFI surface is the dozen stable C functions the encoder needs, declared here by hand
//! (no bindgen, so no libclang in the build); every handle is owned by a guard that frees it.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::Once;

#[repr(C)]
struct HeifError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

#[repr(C)]
struct HeifWriter {
    writer_api_version: c_int,
    write: unsafe extern "C" fn(*mut c_void, *const c_void, usize, *mut c_void) -> HeifError,
}

// Opaque libheif handles.
enum Context {}
enum Encoder {}
enum Image {}

const COMPRESSION_AV1: c_int = 4;
const COLORSPACE_RGB: c_int = 1;
const CHROMA_INTERLEAVED_RGB: c_int = 10;
const CHROMA_INTERLEAVED_RGBA: c_int = 11;
const CHANNEL_INTERLEAVED: c_int = 10;

#[link(name = "heif")]
extern "C" {
    fn heif_init(params: *mut c_void) -> HeifError;
    fn heif_context_alloc() -> *mut Context;
    fn heif_context_free(ctx: *mut Context);
    fn heif_context_get_encoder_for_format(ctx: *mut Context, format: c_int, out: *mut *mut Encoder) -> HeifError;
    fn heif_encoder_release(enc: *mut Encoder);
    fn heif_encoder_set_lossy_quality(enc: *mut Encoder, quality: c_int) -> HeifError;
    fn heif_encoder_set_parameter_integer(enc: *mut Encoder, name: *const c_char, value: c_int) -> HeifError;
    fn heif_encoder_set_parameter_string(enc: *mut Encoder, name: *const c_char, value: *const c_char) -> HeifError;
    fn heif_image_create(w: c_int, h: c_int, colorspace: c_int, chroma: c_int, out: *mut *mut Image) -> HeifError;
    fn heif_image_add_plane(img: *mut Image, channel: c_int, w: c_int, h: c_int, bit_depth: c_int) -> HeifError;
    fn heif_image_get_plane(img: *mut Image, channel: c_int, stride: *mut c_int) -> *mut u8;
    fn heif_image_release(img: *const Image);
    fn heif_context_encode_image(
        ctx: *mut Context,
        img: *const Image,
        enc: *mut Encoder,
        options: *const c_void,
        out_handle: *mut *mut c_void,
    ) -> HeifError;
    fn heif_context_write(ctx: *mut Context, writer: *mut HeifWriter, userdata: *mut c_void) -> HeifError;
}

/// What the encoder is asked for; `quality` is libheif's (= libvips') 1–100 scale.
#[derive(Debug, Clone, Copy)]
pub struct AvifSettings {
    pub quality: u8,
    /// libaom `cpu-used`, 0 (slowest) – 9.
    pub speed: u8,
    /// Encoder threads for this one image.
    pub threads: u8,
}

fn check(e: HeifError, what: &str) -> Result<(), String> {
    if e.code == 0 {
        return Ok(());
    }
    // libheif documents `message` as always set; guard anyway.
    let msg = if e.message.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string owned by libheif, valid until the next call.
        unsafe { CStr::from_ptr(e.message) }.to_string_lossy().into_owned()
    };
    Err(format!("{what}: {msg} (libheif error {}.{})", e.code, e.subcode))
}

struct ContextGuard(*mut Context);
impl Drop for ContextGuard {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_context_alloc, freed once.
        unsafe { heif_context_free(self.0) }
    }
}
struct EncoderGuard(*mut Encoder);
impl Drop for EncoderGuard {
    fn drop(&mut self) {
        // SAFETY: obtained from heif_context_get_encoder_for_format, released once.
        unsafe { heif_encoder_release(self.0) }
    }
}
struct ImageGuard(*mut Image);
impl Drop for ImageGuard {
    fn drop(&mut self) {
        // SAFETY: created by heif_image_create, released once.
        unsafe { heif_image_release(self.0) }
    }
}

unsafe extern "C" fn append(_ctx: *mut c_void, data: *const c_void, size: usize, userdata: *mut c_void) -> HeifError {
    // SAFETY: userdata is the `Vec<u8>` that `encode_avif` passes and outlives the call; libheif
    // hands a readable buffer of `size` bytes.
    unsafe {
        let out = &mut *(userdata as *mut Vec<u8>);
        out.extend_from_slice(std::slice::from_raw_parts(data as *const u8, size));
    }
    HeifError { code: 0, subcode: 0, message: c"".as_ptr() }
}

/// Encodes interleaved 8-bit RGB (`channels` 3) or RGBA (4) pixels, rows packed, as AVIF.
/// Chroma is 4:2:0 below quality 90 and 4:4:4 from there, as libvips does by default.
pub fn encode_avif(pixels: &[u8], width: u32, height: u32, channels: u8, s: AvifSettings) -> Result<Vec<u8>, String> {
    static INIT: Once = Once::new();
    // heif_init registers the built-in codecs once per process (reference counted; never undone).
    INIT.call_once(|| {
        // SAFETY: NULL asks for the default parameters.
        let _ = unsafe { heif_init(ptr::null_mut()) };
    });
    let row = width as usize * usize::from(channels);
    if !(channels == 3 || channels == 4) || pixels.len() != row * height as usize {
        return Err(format!("avif: {} bytes are not {width}x{height}x{channels}", pixels.len()));
    }
    let (w, h) = (
        c_int::try_from(width).map_err(|_| "avif: width".to_string())?,
        c_int::try_from(height).map_err(|_| "avif: height".to_string())?,
    );
    let chroma = if channels == 4 { CHROMA_INTERLEAVED_RGBA } else { CHROMA_INTERLEAVED_RGB };
    // SAFETY: every pointer below comes from libheif and is owned by a guard declared before
    // use; plane writes stay within `stride * height` bytes libheif allocated.
    unsafe {
        let ctx = ContextGuard(heif_context_alloc());
        if ctx.0.is_null() {
            return Err("avif: libheif context allocation failed".into());
        }
        let mut enc = ptr::null_mut();
        check(heif_context_get_encoder_for_format(ctx.0, COMPRESSION_AV1, &mut enc), "avif: no AV1 encoder")?;
        let enc = EncoderGuard(enc);
        check(heif_encoder_set_lossy_quality(enc.0, c_int::from(s.quality.clamp(1, 100))), "avif: quality")?;
        check(
            heif_encoder_set_parameter_integer(
                enc.0,
                c"speed".as_ptr(),
                c_int::from(s.speed.min(super::AVIF_SPEED_MAX)),
            ),
            "avif: speed",
        )?;
        check(
            heif_encoder_set_parameter_integer(enc.0, c"threads".as_ptr(), c_int::from(s.threads.max(1))),
            "avif: threads",
        )?;
        let sub = if s.quality >= 90 { c"444" } else { c"420" };
        check(heif_encoder_set_parameter_string(enc.0, c"chroma".as_ptr(), sub.as_ptr()), "avif: chroma")?;

        let mut img = ptr::null_mut();
        check(heif_image_create(w, h, COLORSPACE_RGB, chroma, &mut img), "avif: image")?;
        let img = ImageGuard(img);
        check(heif_image_add_plane(img.0, CHANNEL_INTERLEAVED, w, h, 8), "avif: plane")?;
        let mut stride: c_int = 0;
        let plane = heif_image_get_plane(img.0, CHANNEL_INTERLEAVED, &mut stride);
        let stride = usize::try_from(stride).unwrap_or(0);
        if plane.is_null() || stride < row {
            return Err("avif: libheif gave no plane".into());
        }
        for (y, src) in pixels.chunks_exact(row).enumerate() {
            ptr::copy_nonoverlapping(src.as_ptr(), plane.add(y * stride), row);
        }
        check(heif_context_encode_image(ctx.0, img.0, enc.0, ptr::null(), ptr::null_mut()), "avif: encode")?;
        let mut out: Vec<u8> = Vec::new();
        let mut writer = HeifWriter { writer_api_version: 1, write: append };
        check(heif_context_write(ctx.0, &mut writer, &mut out as *mut Vec<u8> as *mut c_void), "avif: write")?;
        Ok(out)
    }
}
