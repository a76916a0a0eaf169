//! The thumbor path dialect (DIALECTS.md §5), after libthumbor's `Url.regex`: every part
//! optional, in this order —
//! `/(unsafe|<hmac>)/[debug/][meta/][trim…/][AxB:CxD/][adaptive-][full-]fit-in/`
//! `[-]Wx[-]H/[halign/][valign/][smart/][filters:…/]<image>`. The key is the image part.

use super::{css_color, is_remote, lossy, remote_source, PathSignature, Translated};
use crate::error::{PolicyError, Warning};
use crate::key;
use crate::variant::{dropped, parse_fixed, parse_uint, Fit, Flip, Gravity, Rect, Variant};

/// The sniffing rule: `unsafe/…`, or a 28-character signature followed by a thumbor option.
pub(crate) fn looks_like_thumbor(path: &[u8]) -> bool {
    // Cheap rejection first: the first segment is `unsafe` or a 28-character signature.
    let first = path.split(|&b| b == b'/').next().unwrap_or(b"");
    if first != b"unsafe" && first.len() != 28 {
        return false;
    }
    let Ok(path) = std::str::from_utf8(path) else {
        return false;
    };
    let mut segs = path.split('/');
    let first = segs.next().unwrap_or("");
    let Some(next) = segs.next() else {
        return false;
    };
    if first == "unsafe" {
        return true;
    }
    is_signature(first) && is_option_segment(next)
}

fn is_signature(s: &str) -> bool {
    s.len() == 28 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'-'))
}

fn is_option_segment(s: &str) -> bool {
    matches!(
        s,
        "debug"
            | "meta"
            | "fit-in"
            | "full-fit-in"
            | "adaptive-fit-in"
            | "adaptive-full-fit-in"
            | "left"
            | "right"
            | "center"
            | "top"
            | "bottom"
            | "middle"
            | "smart"
    ) || s.starts_with("trim")
        || s.starts_with("filters:")
        || manual_crop(s).is_some()
        || dims(s).is_some()
}

/// `L x T : R x B` in source pixels.
fn manual_crop(s: &str) -> Option<Rect> {
    let (a, b) = s.split_once(':')?;
    let (l, t) = a.split_once('x')?;
    let (r, btm) = b.split_once('x')?;
    let (l, t, r, btm) = (parse_uint(l)?, parse_uint(t)?, parse_uint(r)?, parse_uint(btm)?);
    if r <= l || btm <= t {
        return None;
    }
    Some(Rect { x: l, y: t, w: r - l, h: btm - t })
}

/// `[-](W|orig)x[-](H|orig)`: sizes (`None` = proportional) and the two flip flags.
#[allow(clippy::type_complexity)]
fn dims(s: &str) -> Option<(Option<u32>, Option<u32>, bool, bool)> {
    let (a, b) = s.split_once('x')?;
    let side = |t: &str| -> Option<(Option<u32>, bool)> {
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        match t {
            "" | "orig" => Some((None, neg)),
            // 0 means "proportional", like a missing side.
            _ => Some((Some(parse_uint(t)?).filter(|n| *n > 0), neg)),
        }
    };
    let ((w, fh), (h, fv)) = (side(a)?, side(b)?);
    Some((w, h, fh, fv))
}

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    let text = std::str::from_utf8(path).map_err(|_| key_error())?;
    let mut w: Vec<Warning> = Vec::new();
    let mut v = Variant::default();
    let (first, after_first) = text.split_once('/').unwrap_or((text, ""));
    let (mut rest, sig, unsafe_marker) = if first == "unsafe" {
        (after_first, None, true)
    } else if is_signature(first) {
        (after_first, Some(first), false)
    } else {
        (text, None, false)
    };
    let signed_part = rest;

    let seg = |r: &mut &str| -> Option<String> {
        let (s, tail) = r.split_once('/')?;
        let s = s.to_owned();
        *r = tail;
        Some(s)
    };
    let peek = |r: &str| r.split('/').next().unwrap_or("").to_owned();

    for opt in ["debug", "meta"] {
        if peek(rest) == opt {
            seg(&mut rest);
            lossy(&mut w, format!("`{opt}/` is not supported; the image is served"));
        }
    }
    if peek(rest).starts_with("trim") && rest.contains('/') {
        seg(&mut rest);
        lossy(&mut w, "`trim` is not implemented");
    }
    if let Some(r) = manual_crop(&peek(rest)).filter(|_| rest.contains('/')) {
        seg(&mut rest);
        v.crop = Some(r);
    }
    let (mut fit_in, mut full, mut adaptive) = (false, false, false);
    match peek(rest).as_str() {
        p @ ("fit-in" | "full-fit-in" | "adaptive-fit-in" | "adaptive-full-fit-in") if rest.contains('/') => {
            fit_in = true;
            full = p.contains("full-");
            adaptive = p.starts_with("adaptive-");
            seg(&mut rest);
        }
        _ => {}
    }
    let mut size = (None, None);
    if let Some((bw, bh, fh, fv)) = dims(&peek(rest)).filter(|_| rest.contains('/')) {
        seg(&mut rest);
        size = (bw, bh);
        v.flip = match (fh, fv) {
            (true, true) => Some(Flip::Hv),
            (true, false) => Some(Flip::H),
            (false, true) => Some(Flip::V),
            _ => None,
        };
    }
    let mut halign = None;
    if let p @ ("left" | "right" | "center") = peek(rest).as_str() {
        if rest.contains('/') {
            halign = Some(p.to_owned());
            seg(&mut rest);
        }
    }
    let mut valign = None;
    if let p @ ("top" | "bottom" | "middle") = peek(rest).as_str() {
        if rest.contains('/') {
            valign = Some(p.to_owned());
            seg(&mut rest);
        }
    }
    let mut smart = false;
    if peek(rest) == "smart" && rest.contains('/') {
        seg(&mut rest);
        smart = true;
    }
    let mut filters = Vec::new();
    if let Some(f) = rest.strip_prefix("filters:") {
        // The segment ends at the first `)/`.
        if let Some(end) = f.find(")/") {
            filters = split_filters(&f[..=end]);
            rest = &f[end + 2..];
        }
    }
    if is_remote(rest.as_bytes()) {
        return Err(remote_source());
    }
    let key = key::parse_key(rest.as_bytes())?;

    // Geometry: cover with enlargement unless fit-in.
    let (bw, bh) = size;
    if fit_in {
        if adaptive {
            let (a, b) = (bw, bh);
            match (a, b) {
                (Some(a), Some(b)) => {
                    v.l = Some(a.max(b));
                    v.s = Some(a.min(b));
                }
                _ => (v.w, v.h) = (a, b),
            }
        } else {
            (v.w, v.h) = (bw, bh);
        }
        if full {
            v.fit = Fit::Outside;
            v.enlarge = true;
        } else {
            v.fit = Fit::Inside;
            v.enlarge = false;
        }
    } else {
        (v.w, v.h) = (bw, bh);
        v.fit = Fit::Cover;
        v.enlarge = true;
    }
    if smart {
        v.gravity = Gravity::Smart;
    } else {
        let h = match halign.as_deref() {
            Some("left") => "west",
            Some("right") => "east",
            _ => "",
        };
        let vv = match valign.as_deref() {
            Some("top") => "north",
            Some("bottom") => "south",
            _ => "",
        };
        v.gravity = Gravity::parse(&format!("{vv}{h}")).unwrap_or(Gravity::Center);
    }
    for (name, args) in filters {
        filter(&mut v, fit_in, &name, &args, &mut w)?;
    }
    v.normalize()?;
    for pair in crate::query::pairs(raw_query) {
        w.push(dropped(&pair.name));
    }
    let mut t = Translated::new(key, v, w);
    t.unsigned_marker = unsafe_marker;
    t.path_signature = sig.map(|s| PathSignature { signature: s.to_owned(), message: signed_part.as_bytes().to_vec() });
    Ok(t)
}

fn key_error() -> PolicyError {
    PolicyError::new(crate::error::ErrorCode::BadKey, "path is not valid UTF-8")
}

/// `name(args):name(args)` → pairs; arguments may hold `:` inside parentheses.
fn split_filters(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b':' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once('(') {
            Some((n, a)) => (n.to_owned(), a.strip_suffix(')').unwrap_or(a).to_owned()),
            None => (f.to_owned(), String::new()),
        })
        .collect()
}

fn filter(v: &mut Variant, fit_in: bool, name: &str, args: &str, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let bad = || PolicyError::bad_param(&format!("filters:{name}"), args);
    match name {
        "format" => {
            let f = crate::variant::Format::parse(args).ok_or_else(bad)?;
            v.fmt = Some(f);
        }
        "quality" => v.q = Some(crate::variant::parse_quality("filters:quality", args, w)?),
        "upscale" => v.enlarge = true,
        "no_upscale" => v.enlarge = false,
        "stretch" => v.fit = Fit::Fill,
        "strip_exif" | "strip_icc" => {}
        "fill" => {
            let color = args.split(',').next().unwrap_or("");
            match color {
                "auto" | "blur" => lossy(w, format!("`fill({color})` padded with white")),
                _ => {}
            }
            if fit_in && v.fit == Fit::Inside {
                v.fit = Fit::Contain;
            }
            v.bg = Some(match color {
                "auto" | "blur" => [255, 255, 255, 255],
                c => css_color(c).ok_or_else(bad)?,
            });
        }
        "background_color" => v.bg = Some(css_color(args).ok_or_else(bad)?),
        "blur" => {
            let mut it = args.split(',');
            let radius = it.next().unwrap_or("");
            let sigma = it.next().unwrap_or(radius);
            let s = parse_fixed(sigma.trim(), 2).ok_or_else(bad)?;
            if s > 0 {
                v.blur = Some(s.clamp(30, 10_000));
            }
        }
        "rotate" => match args {
            "0" | "360" => {}
            "90" | "180" | "270" => v.rot = parse_uint(args).unwrap_or(0) as u16,
            _ => lossy(w, "rotation by other than a right angle dropped"),
        },
        "focal" => lossy(w, "`focal()` needs the source size; centred"),
        "grayscale" | "brightness" | "contrast" | "rgb" | "round_corner" | "watermark" | "sharpen" | "noise"
        | "equalize" | "convolution" | "max_bytes" | "saturation" | "red_eye" | "extract_focal" | "frame" | "curve"
        | "proportion" | "max_age" | "cover" | "autojpg" => lossy(w, format!("`filters:{name}` is not implemented")),
        _ => w.push(dropped(&format!("filters:{name}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_images_are_refused() {
        let e = translate(b"unsafe/300x200/https%3A%2F%2Fx.test%2Fa.jpg", b"").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::RemoteSourceDisabled);
    }

    #[test]
    fn signed_path_keeps_the_message_encoded() {
        let t = translate(b"AbCdEfGhIjKlMnOpQrStUvWxYz0=/300x200/a%20b.jpg", b"").unwrap();
        let s = t.path_signature.unwrap();
        assert_eq!(s.message, b"300x200/a%20b.jpg");
        assert_eq!(t.key, "a b.jpg");
    }

    #[test]
    fn bad_format_filter_is_a_bad_param() {
        let e = translate(b"unsafe/filters:format(asdf)/a.jpg", b"").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::BadParam);
    }

    #[test]
    fn flips_and_orig() {
        let t = translate(b"unsafe/-origx-200/a.jpg", b"").unwrap();
        assert_eq!(t.variant.to_query(), "enlarge=1&flip=hv&h=200");
    }
}
