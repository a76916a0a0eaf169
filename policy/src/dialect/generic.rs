//! The generic query dialect (DIALECTS.md §1): `?width=200&height=150&crop=1` and the
//! canonical names themselves, so that a canonical URL is a fixed point. The imgix, Fastly
//! and ImageResizer vocabularies share this engine and differ through [`Vocab`].

use super::{css_color, gravity_word, lossy, Translated};
use crate::error::{PolicyError, Warning, WarningCode};
use crate::key;
use crate::query;
use crate::variant::{dropped, parse_fixed, Fit, Flip, Format, Gravity, Rect, Variant};

/// Which query vocabulary a route speaks; the same word means different things in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    Generic,
    Imgix,
    Fastly,
    ImageResizer,
}

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    translate_with(Vocab::Generic, path, raw_query)
}

/// Pieces that depend on other parameters and are settled after the whole query is read
/// (the URL's order does not matter).
#[derive(Default)]
struct Pending {
    auto_compress: bool,
    frac_w: Option<u32>,
    frac_h: Option<u32>,
    imgix_crop: Option<Gravity>,
    ar: Option<(u32, u32)>,
    fill_color: Option<[u8; 4]>,
    imgix_fill: bool,
}

pub fn translate_with(vocab: Vocab, path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    let key = key::parse_key(path)?;
    // imgix's default fit (`clip`) enlarges.
    let mut v = Variant { enlarge: vocab == Vocab::Imgix, ..Variant::default() };
    let mut w = Vec::new();
    let mut pend = Pending::default();
    let mut signature = None;
    let mut expires = None;

    for pair in query::pairs(raw_query) {
        let (name, value) = (&*pair.name, &*pair.value);
        let bad = || PolicyError::bad_param(name, value);
        // Byte-string patterns compile to a decision tree on length and bytes; `&str`
        // patterns to one comparison call per arm, which the size-optimised filter pays
        // for every parameter of every request.
        match name.as_bytes() {
            b"width" | b"w" | b"imwidth" | b"maxwidth" => {
                if let Some(p) = fraction(vocab, value) {
                    pend.frac_w = Some(p);
                } else {
                    v.set("w", value, &mut w).map_err(|e| rename(e, name, value))?;
                }
            }
            b"height" | b"h" | b"maxheight" => {
                if let Some(p) = fraction(vocab, value) {
                    pend.frac_h = Some(p);
                } else {
                    v.set("h", value, &mut w).map_err(|e| rename(e, name, value))?;
                }
            }
            b"quality" | b"q" => {
                v.set("q", value, &mut w).map_err(|e| rename(e, name, value))?;
            }
            b"format" | b"fm" | b"output" | b"fmt" => set_format(&mut v, name, value, &mut w)?,
            b"dpr" | b"dppx" | b"zoom" => {
                v.set("dpr", value, &mut w).map_err(|e| rename(e, name, value))?;
            }
            b"fit" | b"f" | b"mode" => set_fit(vocab, &mut v, name, value, &mut w)?,
            b"gravity" | b"g" | b"anchor" | b"position" | b"crop-gravity" => {
                v.gravity = gravity_word(value).ok_or_else(bad)?;
            }
            b"bg" | b"bgcolor" | b"background" | b"fill-color" => {
                let c = if vocab == Vocab::Imgix { imgix_color(value) } else { css_color(value) }.ok_or_else(bad)?;
                if name == "fill-color" {
                    pend.fill_color = Some(c);
                } else {
                    v.bg = Some(c);
                }
            }
            b"fill" if vocab == Vocab::Imgix => match value {
                "solid" => pend.imgix_fill = true,
                "blur" | "gen" => lossy(&mut w, format!("imgix `fill={value}` padded with a colour")),
                _ => return Err(bad()),
            },
            b"rect" => {
                v.set("crop", value, &mut w).map_err(|e| rename(e, name, value))?;
            }
            b"crop" => set_crop(vocab, &mut v, &mut pend, value, &mut w)?,
            b"ar" => {
                let (a, b) = value.split_once(':').ok_or_else(bad)?;
                let (a, b) = (parse_fixed(a, 2).ok_or_else(bad)?, parse_fixed(b, 2).ok_or_else(bad)?);
                if a == 0 || b == 0 {
                    return Err(bad());
                }
                pend.ar = Some((a, b));
            }
            b"auto" => {
                for item in value.split(',') {
                    match item.trim() {
                        "format" | "webp" | "avif" => {
                            if v.fmt.is_none() {
                                v.fmt = Some(Format::Auto);
                            }
                        }
                        "compress" => pend.auto_compress = true,
                        "" => {}
                        other => lossy(&mut w, format!("`auto={}` ignored", crate::error::truncate(other, 32))),
                    }
                }
            }
            b"enable" | b"disable" if value == "upscale" => v.enlarge = name == "enable",
            b"we" => v.enlarge = false,
            b"scale" => match value {
                "down" | "downscaleonly" => v.enlarge = false,
                "both" => v.enlarge = true,
                "up" | "upscaleonly" => {
                    v.enlarge = true;
                    v.reduce = false;
                }
                "canvas" | "upscalecanvas" => {
                    v.enlarge = false;
                    if v.fit == Fit::Inside {
                        v.fit = Fit::Contain;
                    }
                    lossy(&mut w, "`scale=canvas` approximated by padding");
                }
                _ => return Err(bad()),
            },
            b"rot" | b"rotate" | b"srotate" => match value {
                "0" | "90" | "180" | "270" | "360" => {
                    v.rot = parse_fixed(value, 0).map_or(0, |d| d % 360) as u16;
                }
                _ if parse_fixed(value, 2).is_some() => lossy(&mut w, "rotation by other than a right angle dropped"),
                _ => return Err(bad()),
            },
            b"flip" | b"sflip" => {
                v.flip = match value {
                    "h" | "x" => Some(Flip::H),
                    "v" | "y" => Some(Flip::V),
                    "hv" | "vh" | "both" | "xy" => Some(Flip::Hv),
                    "none" => None,
                    _ => return Err(bad()),
                }
            }
            b"sig" | b"signature" | b"sign" => signature = Some(value.to_owned()),
            // `s` is the canonical short edge; a non-number is imgix's signature.
            b"s" if !is_number(value) => signature = Some(value.to_owned()),
            b"exp" | b"expires" => {
                expires = Some(value.parse::<u64>().map_err(|_| bad())?);
            }
            b"ixlib" | b"strip" | b"metadata" | b"cs" => {}
            b"sharp" | b"sharpen" | b"usm" | b"anim" | b"frame" | b"facepad" | b"faceindex" => {
                lossy(&mut w, format!("`{name}` is not implemented"));
            }
            _ => {
                if !v.set(name, value, &mut w)? {
                    w.push(dropped(name));
                }
            }
        }
    }
    finish(vocab, &mut v, pend, &mut w)?;
    v.normalize()?;
    let mut t = Translated::new(key, v, w);
    t.signature = signature;
    t.expires = expires;
    Ok(t)
}

fn finish(vocab: Vocab, v: &mut Variant, pend: Pending, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    if pend.auto_compress && v.q.is_none() {
        v.q = Some(45);
    }
    match (pend.frac_w, pend.frac_h) {
        (Some(p), None) if v.h.is_none() => v.pct = Some(p),
        (None, Some(p)) if v.w.is_none() => v.pct = Some(p),
        (None, None) => {}
        _ => lossy(w, "fractional width/height with another box dropped"),
    }
    if v.fit == Fit::Cover {
        if let Some(g) = pend.imgix_crop {
            v.gravity = g;
        }
        if let Some((a, b)) = pend.ar {
            match (v.w, v.h) {
                (Some(x), None) => v.h = Some(scale(x, b, a)),
                (None, Some(y)) => v.w = Some(scale(y, a, b)),
                _ => {}
            }
        }
    }
    if vocab == Vocab::Imgix && v.fit == Fit::Contain {
        if let Some(c) = pend.fill_color {
            v.bg = Some(c);
        }
    }
    let _ = pend.imgix_fill;
    Ok(())
}

fn scale(x: u32, num: u32, den: u32) -> u32 {
    let v = (2 * u64::from(x) * u64::from(num) + u64::from(den)) / (2 * u64::from(den.max(1)));
    u32::try_from(v).unwrap_or(u32::MAX).max(1)
}

/// Error messages name the parameter as the client wrote it.
fn rename(e: PolicyError, name: &str, value: &str) -> PolicyError {
    if e.code == crate::error::ErrorCode::BadParam {
        PolicyError::bad_param(name, value)
    } else {
        e
    }
}

/// Magnitude at which [`parse_rounded`] stops counting: any crop edge this far out is
/// refused, whatever its exact value.
const ROUNDED_BIG: u64 = 1 << 34;

/// What `s.parse::<f64>()` rounded half away from zero `as i64` gives, without floats
/// (their parsing code was a large part of the filter): the same grammar (sign,
/// `inf`/`infinity`/`nan`, digits, fraction, exponent) and the same result, including the
/// binary rounding that turns a fraction a hair below `.5` into `.5`. Magnitudes of
/// [`ROUNDED_BIG`] and more come back as ±`ROUNDED_BIG`.
fn parse_rounded(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let signed = |m: u64| if neg { -(m.min(ROUNDED_BIG) as i64) } else { m.min(ROUNDED_BIG) as i64 };
    if b.eq_ignore_ascii_case(b"nan") {
        return Some(0);
    }
    if b.eq_ignore_ascii_case(b"inf") || b.eq_ignore_ascii_case(b"infinity") {
        return Some(signed(ROUNDED_BIG));
    }
    let digits = |from: usize| b.get(from..).map_or(0, |t| t.iter().take_while(|c| c.is_ascii_digit()).count());
    let int = &b[..digits(0)];
    let mut end = int.len();
    let mut frac: &[u8] = &[];
    if b.get(end) == Some(&b'.') {
        frac = &b[end + 1..end + 1 + digits(end + 1)];
        end += 1 + frac.len();
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if let Some(b'e' | b'E') = b.get(end) {
        end += 1;
        let exp_neg = b.get(end) == Some(&b'-');
        if matches!(b.get(end), Some(b'-' | b'+')) {
            end += 1;
        }
        let n = digits(end);
        if n == 0 {
            return None;
        }
        for &d in &b[end..end + n] {
            exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        }
        if exp_neg {
            exp = -exp;
        }
        end += n;
    }
    if end != b.len() {
        return None;
    }
    // Significant digits, and how many of them stand before the decimal point.
    let all = int.iter().chain(frac).map(|d| d - b'0');
    let zeros = all.clone().take_while(|&d| d == 0).count();
    let point = (int.len() as i64).saturating_add(exp).saturating_sub(zeros as i64);
    let mut sig = all.skip(zeros).peekable();
    if sig.peek().is_none() || point < 0 {
        // Zero, or below 0.1: rounds to 0 (the sign of -0.0 is lost by `as i64`).
        return Some(0);
    }
    if point > 11 {
        return Some(signed(ROUNDED_BIG));
    }
    let mut n: u64 = 0;
    for _ in 0..point {
        n = n * 10 + u64::from(sig.next().unwrap_or(0));
    }
    if n >= ROUNDED_BIG {
        return Some(signed(ROUNDED_BIG));
    }
    // The fraction rounds up from `0.5 - 2^-p`: half the gap below n + 0.5 among f64s
    // (a tie goes to n + 0.5, whose last significand bit is 0). In p decimal places that
    // is 5·10^(p-1) - 5^p, computed digit by digit.
    let p = if n == 0 { 55 } else { 53 - n.ilog2() as usize };
    let mut pow5 = [0u8; 55];
    pow5[p - 1] = 1;
    for _ in 0..p {
        let mut carry = 0;
        for d in pow5[..p].iter_mut().rev() {
            let v = *d * 5 + carry;
            (*d, carry) = (v % 10, v / 10);
        }
    }
    let mut threshold = [0u8; 55];
    threshold[0] = 5;
    let mut borrow = 0;
    for (t, &q) in threshold[..p].iter_mut().zip(&pow5[..p]).rev() {
        let v = *t as i8 - q as i8 - borrow;
        (*t, borrow) = if v < 0 { ((v + 10) as u8, 1) } else { (v as u8, 0) };
    }
    let mut up = true;
    for &td in &threshold[..p] {
        let fd = sig.next().unwrap_or(0);
        if fd != td {
            up = fd > td;
            break;
        }
    }
    Some(signed(n + u64::from(up)))
}

/// imgix sizes in (0, 1) are a fraction of the source: a percent.
fn fraction(vocab: Vocab, value: &str) -> Option<u32> {
    if vocab != Vocab::Imgix || !value.contains('.') {
        return None;
    }
    let f = parse_fixed(value, 4)?;
    if f == 0 || f >= 10_000 {
        return None;
    }
    Some(((f + 50) / 100).max(1))
}

/// imgix writes 4- and 8-digit colours alpha first (`ARGB`, `AARRGGBB`).
fn imgix_color(s: &str) -> Option<[u8; 4]> {
    let h = s.strip_prefix('#').unwrap_or(s);
    match h.len() {
        4 | 8 if h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let n = h.len() / 4;
            let reordered = format!("{}{}", &h[n..], &h[..n]);
            css_color(&reordered)
        }
        _ => css_color(h),
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn set_format(
    v: &mut Variant,
    name: &str,
    value: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), PolicyError> {
    match value.to_ascii_lowercase().as_str() {
        "pjpg" | "pjpeg" | "progressive-jpeg" => {
            v.fmt = Some(Format::Jpeg);
            v.prog = true;
        }
        "png8" | "png32" => v.fmt = Some(Format::Png),
        "baseline-jpeg" | "jpegbaseline" => v.fmt = Some(Format::Jpeg),
        "jxl" | "jpegxl" => {
            v.fmt = Some(Format::Auto);
            warnings.push(Warning::new(WarningCode::Lossy, "`jxl` has no encoder; negotiated instead"));
        }
        other => v.fmt = Some(Format::parse(other).ok_or_else(|| PolicyError::bad_param(name, value))?),
    }
    Ok(())
}

fn set_fit(vocab: Vocab, v: &mut Variant, name: &str, value: &str, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let value = value.to_ascii_lowercase();
    let (fit, enlarge) = match (vocab, value.as_str()) {
        (Vocab::Fastly, "bounds") => (Fit::Inside, None),
        (Vocab::Fastly, "cover") => (Fit::Outside, None),
        (Vocab::Fastly, "crop") => (Fit::Cover, None),
        (Vocab::ImageResizer, "max") => (Fit::Inside, None),
        (Vocab::ImageResizer, "pad") => (Fit::Contain, None),
        (Vocab::ImageResizer, "crop") => (Fit::Cover, None),
        (Vocab::ImageResizer, "stretch") => (Fit::Fill, None),
        (Vocab::ImageResizer, "carve") => {
            lossy(w, "`mode=carve` approximated by `fill`");
            (Fit::Fill, None)
        }
        // imgix's table, also read by the generic vocabulary for its unambiguous words.
        (_, "clip") => (Fit::Inside, Some(true)),
        (Vocab::Imgix | Vocab::Generic, "max") => (Fit::Inside, Some(false)),
        (Vocab::Imgix, "crop") => (Fit::Cover, Some(true)),
        (Vocab::Imgix | Vocab::Generic, "min") => (Fit::Cover, Some(false)),
        (Vocab::Imgix | Vocab::Generic, "scale") => (Fit::Fill, Some(true)),
        (Vocab::Imgix, "fill") => (Fit::Contain, Some(true)),
        (_, "fillmax") => (Fit::Contain, Some(false)),
        (_, "facearea") => {
            lossy(w, "`fit=facearea` approximated by a face-centred cover");
            v.gravity = Gravity::Face;
            (Fit::Cover, Some(true))
        }
        (Vocab::Imgix | Vocab::Generic, "clamp") => {
            lossy(w, "`fit=clamp` edge extension approximated by padding");
            (Fit::Contain, Some(true))
        }
        // Cloudflare's names, unambiguous in a generic query.
        (Vocab::Generic, "scale-down") => (Fit::Inside, Some(false)),
        (Vocab::Generic, "pad") => (Fit::Contain, Some(true)),
        (Vocab::Generic, "squeeze" | "stretch") => (Fit::Fill, None),
        (Vocab::Generic, "aspect-crop") => (Fit::Cover, Some(false)),
        (Vocab::Generic, "crop") => (Fit::Cover, None),
        (_, other) => (Fit::parse(other).ok_or_else(|| PolicyError::bad_param(name, other))?, None),
    };
    v.fit = fit;
    if let Some(e) = enlarge {
        v.enlarge = e;
    }
    Ok(())
}

/// `crop` is a boolean, a Shopify anchor, an imgix gravity list, a canonical region,
/// ImageResizer's `x1,y1,x2,y2` or Fastly's `W,H,xX,yY`.
fn set_crop(
    vocab: Vocab,
    v: &mut Variant,
    pend: &mut Pending,
    value: &str,
    w: &mut Vec<Warning>,
) -> Result<(), PolicyError> {
    let bad = || PolicyError::bad_param("crop", value);
    match value {
        "1" | "true" | "yes" if vocab != Vocab::Fastly => {
            v.fit = Fit::Cover;
            return Ok(());
        }
        "0" | "false" | "no" => return Ok(()),
        _ => {}
    }
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.iter().all(|i| i.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')) {
        // A gravity list: the first recognised word wins, two compass words combine.
        let mut g = None;
        let mut words = Vec::new();
        for i in &items {
            match *i {
                "top" | "bottom" | "left" | "right" => words.push(*i),
                "focalpoint" => lossy(w, "`crop=focalpoint` needs fp-x/fp-y; centred"),
                other => {
                    if g.is_none() {
                        g = gravity_word(other);
                    }
                }
            }
        }
        let compass = match words.len() {
            0 => None,
            1 => gravity_word(words[0]),
            _ => gravity_word(&format!("{}{}", words[0], words[1])),
        };
        let g = g.or(compass).ok_or_else(bad)?;
        if vocab == Vocab::Imgix {
            pend.imgix_crop = Some(g);
        } else {
            v.fit = Fit::Cover;
            v.gravity = g;
        }
        return Ok(());
    }
    match vocab {
        Vocab::ImageResizer => {
            let n: Vec<i64> = items.iter().map(|i| parse_rounded(i)).collect::<Option<_>>().ok_or_else(bad)?;
            if n.len() != 4 {
                return Err(bad());
            }
            if n.iter().any(|&x| x < 0) || n[2] == 0 || n[3] == 0 {
                lossy(w, "crop edges counted from the far side need the source size; dropped");
                return Ok(());
            }
            if n[2] <= n[0] || n[3] <= n[1] {
                return Err(bad());
            }
            let c = |x: i64| u32::try_from(x).map_err(|_| bad());
            v.crop = Some(Rect { x: c(n[0])?, y: c(n[1])?, w: c(n[2] - n[0])?, h: c(n[3] - n[1])? });
            Ok(())
        }
        Vocab::Fastly => {
            // `W,H,xX,yY` is a region; sizes alone, percentages and aspect crops need
            // the source size.
            let px = |s: &str| crate::variant::parse_uint(s);
            if items.len() == 4 {
                if let (Some(cw), Some(ch), Some(x), Some(y)) = (
                    px(items[0]),
                    px(items[1]),
                    items[2].strip_prefix('x').and_then(px),
                    items[3].strip_prefix('y').and_then(px),
                ) {
                    if cw > 0 && ch > 0 {
                        v.crop = Some(Rect { x, y, w: cw, h: ch });
                        return Ok(());
                    }
                }
            }
            if value.contains(':') || items.len() >= 2 {
                lossy(w, "Fastly crop relative to the source size dropped");
                return Ok(());
            }
            Err(bad())
        }
        _ => v.set("crop", value, w).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(q: &str) -> String {
        translate(b"a.jpg", q.as_bytes()).unwrap().variant.to_query()
    }

    #[test]
    fn maps_generic_names_to_canonical() {
        let cases = [
            ("width=200&height=150&crop=1", "fit=cover&h=150&w=200"),
            ("width=320", "w=320"),
            ("w=100&fmt=webp", "fmt=webp&w=100"),
            ("quality=70&format=jpg", "fmt=jpeg&q=70"),
            ("fm=pjpg", "fmt=jpeg&prog=1"),
            ("auto=format", "fmt=auto"),
            ("auto=compress&auto=format", "fmt=auto&q=45"),
            ("auto=format,compress", "fmt=auto&q=45"),
            ("width=100&height=100&crop=top", "fit=cover&gravity=north&h=100&w=100"),
            ("crop=10,20,30,40", "crop=10,20,30,40"),
            ("width=10&utm_source=x&cachebust=123", "w=10"),
            ("width=10&sig=abc&expires=99", "w=10"),
            ("bgcolor=%23ff0000&w=1", "bg=ff0000&w=1"),
            ("bg=fff&w=1", "bg=ffffff&w=1"),
            ("w=10&h=10&fit=scale-down", "h=10&w=10"),
            ("w=10&h=10&fit=pad", "enlarge=1&fit=contain&h=10&w=10"),
            ("w=10&enable=upscale", "enlarge=1&w=10"),
            ("w=10&rotate=90&flip=v", "flip=v&rot=90&w=10"),
            ("area=100&reduce=0", "area=100&reduce=0"),
            ("pctw=50", "pctw=50"),
            ("w=10&post_crop=north:5x5", "post_crop=north:5x5&w=10"),
            ("post_crop=1,2,3,4", "post_crop=1,2,3,4"),
        ];
        for (q, want) in cases {
            assert_eq!(canon(q), want, "{q}");
        }
    }

    #[test]
    fn last_repeated_value_wins() {
        assert_eq!(canon("width=10&width=20"), "w=20");
    }

    #[test]
    fn bad_values_name_the_legacy_parameter() {
        for (q, name) in [("width=-5", "width"), ("quality=abc", "quality"), ("fit=squash", "fit")] {
            let e = translate(b"a.jpg", q.as_bytes()).unwrap_err();
            assert!(e.message.contains(&format!("`{name}`")), "{}", e.message);
        }
    }

    #[test]
    fn junk_is_dropped_with_a_warning() {
        let t = translate(b"a.jpg", b"w=1&foo=bar").unwrap();
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(t.warnings[0].code, WarningCode::DroppedParam);
    }

    #[test]
    fn signature_params_are_captured_not_canonical() {
        let t = translate(b"a.jpg", b"w=1&sig=abc&exp=42").unwrap();
        assert_eq!(t.signature.as_deref(), Some("abc"));
        assert_eq!(t.expires, Some(42));
        assert_eq!(t.variant.to_query(), "w=1");
    }

    #[test]
    fn rounded_parse_matches_f64() {
        let reference = |s: &str| {
            s.parse::<f64>().ok().map(|f| {
                let r = f.round();
                if r.abs() >= ROUNDED_BIG as f64 {
                    r.signum() as i64 * ROUNDED_BIG as i64
                } else {
                    r as i64
                }
            })
        };
        let mut cases: Vec<String> = [
            "0",
            "1",
            "-1",
            "+3",
            "0.5",
            "1.5",
            "2.5",
            "-0.5",
            "-0.4",
            "-0",
            ".5",
            "5.",
            ".",
            "",
            "+",
            "-",
            "e5",
            "1e",
            "1e3",
            "1E-1",
            "1.e2",
            "1e+2",
            "1e-",
            "inf",
            "-inf",
            "+Infinity",
            "NaN",
            "-nan",
            "infin",
            "0x10",
            "1_0",
            " 7",
            "7 ",
            "4294967295.5",
            "17179869183.5",
            "17179869184",
            "1e400",
            "1e-400",
            "0.49999999999999999999",
            "0.4999999999999999722444243843710864894092082977294921875",
            "0.4999999999999999722444243843710864894092082977294921874",
            "1.49999999999999988897769753748434595763683319091796875",
            "1.49999999999999988897769753748434595763683319091796874",
            "00000000000000000000001.5",
            "0.000000000000000000000000000000000000000000000000000000000001e60",
            "123456789012345678901234567890e-20",
            "99999999999.5",
            "12e-1",
            "35e-2",
            "1.0e9999999999999999999999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Fractions next to .5 for integers of every size, and random numerals.
        for n in [0u64, 1, 2, 3, 7, 100, 1023, 65_535, 1 << 20, (1 << 32) - 1, (1 << 33) + 1, (1 << 34) - 1] {
            for frac in
                ["5", "4999999", "49999999999", "4999999999999", "499999999999999", "49999999999999999", "5000001"]
            {
                cases.push(format!("{n}.{frac}"));
                cases.push(format!("-{n}.{frac}"));
                cases.push(format!("{n}{frac}e-{}", frac.len()));
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(b"0123456789012345678945.e-+"[(seed % 26) as usize] as char);
            }
            cases.push(s);
        }
        for s in &cases {
            assert_eq!(parse_rounded(s), reference(s), "{s:?}");
        }
    }
}
