//! Legacy URL dialects. Each translator turns its grammar into a canonical [`Variant`]
//! plus typed warnings; the key is validated by [`crate::key`] on the way.

pub mod aliyun;
pub mod cloudflare;
pub mod fastly;
pub mod generic;
pub mod imageresizer;
pub mod imgix;
pub mod qiniu;
pub mod tencent;
pub mod thumbor;

use crate::error::{ErrorCode, PolicyError, Warning, WarningCode};
use crate::variant::{Gravity, PostCrop, Rect, Variant, MAX_DIM};

/// The dialect names of DESIGN.md §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Generic,
    Imgix,
    Fastly,
    Imageresizer,
    Qiniu,
    Aliyun,
    Tencent,
    Thumbor,
    Cloudflare,
}

impl Dialect {
    pub const ALL: [Dialect; 9] = [
        Dialect::Generic,
        Dialect::Imgix,
        Dialect::Fastly,
        Dialect::Imageresizer,
        Dialect::Qiniu,
        Dialect::Aliyun,
        Dialect::Tencent,
        Dialect::Thumbor,
        Dialect::Cloudflare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::Imgix => "imgix",
            Dialect::Fastly => "fastly",
            Dialect::Imageresizer => "imageresizer",
            Dialect::Qiniu => "qiniu",
            Dialect::Aliyun => "aliyun",
            Dialect::Tencent => "tencent",
            Dialect::Thumbor => "thumbor",
            Dialect::Cloudflare => "cloudflare",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A vendor signature carried in the path, verified over bytes the translator names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSignature {
    /// The signature as sent (thumbor: 28 characters of url-safe base64).
    pub signature: String,
    /// The bytes it covers, still percent-encoded.
    pub message: Vec<u8>,
}

/// What a translator produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The decoded, validated object key (before the route's key prefix).
    pub key: String,
    pub variant: Variant,
    pub warnings: Vec<Warning>,
    /// A signature carried by the URL, stripped from the canonical form.
    pub signature: Option<String>,
    /// `exp` of a signed URL, in unix seconds.
    pub expires: Option<u64>,
    /// Thumbor's `/<hmac>/…` path signature; `None` for `/unsafe/` and other dialects.
    pub path_signature: Option<PathSignature>,
    /// Thumbor's `/unsafe/` marker was present: the URL claims to be unsigned.
    pub unsigned_marker: bool,
}

impl Translated {
    pub(crate) fn new(key: String, variant: Variant, warnings: Vec<Warning>) -> Translated {
        Translated {
            key,
            variant,
            warnings,
            signature: None,
            expires: None,
            path_signature: None,
            unsigned_marker: false,
        }
    }
}

/// Picks the dialect from the URL's shape (DESIGN.md §9, DIALECTS.md §7) when the route
/// does not name one. `path` may or may not start with `/`.
pub fn sniff(path: &[u8], query: &[u8]) -> Dialect {
    let path = path.strip_prefix(b"/").unwrap_or(path);
    if path.starts_with(b"cdn-cgi/image/") {
        return Dialect::Cloudflare;
    }
    if thumbor::looks_like_thumbor(path) {
        return Dialect::Thumbor;
    }
    let first = query.split(|&b| b == b'&').next().unwrap_or(b"");
    if first.starts_with(b"imageView2/") || first == b"imageView2" {
        return Dialect::Qiniu;
    }
    if first.starts_with(b"imageMogr2/") || first == b"imageMogr2" {
        return Dialect::Tencent;
    }
    // One pass: an Aliyun process parameter anywhere wins over imgix-only words. Names
    // and values are compared as percent-decoded bytes (what `query::pairs` would give,
    // up to case and U+FFFD, which no word here has): most need no decoding at all.
    let mut imgix_only = false;
    let is = |name: &[u8], words: &[&str]| words.iter().any(|w| name.eq_ignore_ascii_case(w.as_bytes()));
    for (name, value) in crate::query::raw_pairs(query) {
        // Every word below starts with `x`, `f` or `a` (an escape starts with `%`).
        if !matches!(name.first().map(u8::to_ascii_lowercase), Some(b'x' | b'f' | b'a' | b'%')) {
            continue;
        }
        let name = crate::query::decode_bytes(name);
        if is(&name, aliyun::PROCESS_PARAMS) {
            return Dialect::Aliyun;
        }
        imgix_only = imgix_only
            || is(&name, &["fm", "auto"])
            || (is(&name, &["fit", "f"])
                && matches!(
                    &*crate::query::decode_bytes(value),
                    b"clip" | b"max" | b"min" | b"scale" | b"fillmax" | b"facearea"
                ));
    }
    if imgix_only {
        Dialect::Imgix
    } else {
        Dialect::Generic
    }
}

/// Translates `path` (the part after the route prefix, still percent-encoded, without a
/// leading `/`) and `query` (raw, without `?`).
pub fn translate(dialect: Dialect, path: &[u8], query: &[u8]) -> Result<Translated, PolicyError> {
    let path = path.strip_prefix(b"/").unwrap_or(path);
    match dialect {
        Dialect::Generic => generic::translate(path, query),
        Dialect::Imgix => imgix::translate(path, query),
        Dialect::Fastly => fastly::translate(path, query),
        Dialect::Imageresizer => imageresizer::translate(path, query),
        Dialect::Qiniu => qiniu::translate(path, query),
        Dialect::Aliyun => aliyun::translate(path, query),
        Dialect::Tencent => tencent::translate(path, query),
        Dialect::Thumbor => thumbor::translate(path, query),
        Dialect::Cloudflare => cloudflare::translate(path, query),
    }
}

/// Records an approximation (DIALECTS.md §7: never approximate silently).
pub(crate) fn lossy(warnings: &mut Vec<Warning>, msg: impl Into<String>) {
    warnings.push(Warning::new(WarningCode::Lossy, msg));
}

pub(crate) fn remote_source() -> PolicyError {
    PolicyError::new(ErrorCode::RemoteSourceDisabled, "remote sources are disabled: no route allow-lists hosts")
}

/// True when a (raw or decoded) source names a remote URL.
pub(crate) fn is_remote(path: &[u8]) -> bool {
    let lower: Vec<u8> = path.iter().take(10).map(u8::to_ascii_lowercase).collect();
    lower.starts_with(b"http://")
        || lower.starts_with(b"https://")
        || lower.starts_with(b"http%3a")
        || lower.starts_with(b"https%3a")
        || lower.starts_with(b"//")
}

/// Gravity words of every vocabulary: compass names, `top`/`left` words and their
/// pairs in either order (`top-left`, `lefttop`, `North_West`, ImageResizer's
/// `topcenter`), `smart`/`entropy`/`auto`, `face(s)`.
pub(crate) fn gravity_word(s: &str) -> Option<Gravity> {
    // ASCII lowercasing is enough: the only other character that lowercases to ASCII, the
    // Kelvin sign, becomes a `k`, which no word has.
    let w: String = s.chars().filter(|c| !matches!(c, '-' | '_' | ' ' | ',')).map(|c| c.to_ascii_lowercase()).collect();
    if let Some(g) = Gravity::parse(&w) {
        return Some(g);
    }
    Some(match w.as_str() {
        "centre" | "middle" | "middlecenter" | "centermiddle" | "c" => Gravity::Center,
        "top" | "topcenter" | "n" | "up" => Gravity::North,
        "bottom" | "bottomcenter" | "s" | "down" => Gravity::South,
        "left" | "middleleft" | "leftcenter" | "w" => Gravity::West,
        "right" | "middleright" | "rightcenter" | "e" => Gravity::East,
        "topleft" | "lefttop" | "nw" => Gravity::NorthWest,
        "topright" | "righttop" | "ne" => Gravity::NorthEast,
        "bottomleft" | "leftbottom" | "sw" => Gravity::SouthWest,
        "bottomright" | "rightbottom" | "se" => Gravity::SouthEast,
        "entropy" | "attention" | "auto" | "edges" => Gravity::Smart,
        "faces" => Gravity::Face,
        _ => return None,
    })
}

/// CSS-ish colours: `#`-less or `#` hex in 3, 4, 6 or 8 digits (RGB order, alpha last), a
/// few names, `transparent`.
pub(crate) fn css_color(s: &str) -> Option<[u8; 4]> {
    let t = s.trim().to_ascii_lowercase();
    let named = match t.as_str() {
        "white" => Some([255, 255, 255, 255]),
        "black" => Some([0, 0, 0, 255]),
        "red" => Some([255, 0, 0, 255]),
        "green" => Some([0, 128, 0, 255]),
        "lime" => Some([0, 255, 0, 255]),
        "blue" => Some([0, 0, 255, 255]),
        "yellow" => Some([255, 255, 0, 255]),
        "gray" | "grey" => Some([128, 128, 128, 255]),
        "transparent" => Some([0, 0, 0, 0]),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let h = t.strip_prefix('#').unwrap_or(&t);
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let nib = |i: usize| u8::from_str_radix(&h[i..=i], 16).ok().map(|n| n * 17);
    match h.len() {
        3 => Some([nib(0)?, nib(1)?, nib(2)?, 255]),
        4 => Some([nib(0)?, nib(1)?, nib(2)?, nib(3)?]),
        6 | 8 => crate::variant::parse_color(h),
        _ => None,
    }
}

/// Decodes url-safe or standard base64, padded or not.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in s.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// State of an ordered legacy chain (imageMogr2, x-oss-process): crops are placed before
/// or after the resize according to their position in the URL.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub resized: bool,
    /// A pre-resize crop anchored away from the top-left: it becomes a `post_crop` when
    /// no resize follows, and is lossy otherwise.
    pending_anchored: Option<PostCrop>,
}

impl Chain {
    /// A crop of `size` (`None` = the whole side) at offset (`dx`, `dy`) from `gravity`.
    pub fn crop(
        &mut self,
        v: &mut Variant,
        warnings: &mut Vec<Warning>,
        gravity: Gravity,
        size: (Option<u32>, Option<u32>),
        (dx, dy): (u32, u32),
    ) {
        let (w, h) = (size.0.unwrap_or(MAX_DIM), size.1.unwrap_or(MAX_DIM));
        let top_left = gravity == Gravity::NorthWest;
        if !self.resized && top_left && v.crop.is_none() {
            v.crop = Some(Rect { x: dx, y: dy, w, h });
            return;
        }
        if v.post_crop.is_some() || self.pending_anchored.is_some() {
            lossy(warnings, "only one crop after resizing is supported; later crop dropped");
            return;
        }
        let pc = if top_left {
            PostCrop::Rect(Rect { x: dx, y: dy, w, h })
        } else {
            if dx != 0 || dy != 0 {
                lossy(warnings, "crop offsets from a non-top-left gravity dropped");
            }
            PostCrop::Anchored { gravity, w: w.min(MAX_DIM), h: h.min(MAX_DIM) }
        };
        if self.resized {
            v.post_crop = Some(pc);
        } else {
            self.pending_anchored = Some(pc);
        }
    }

    /// Marks a resize; an anchored crop before it cannot be expressed.
    pub fn resize(&mut self, warnings: &mut Vec<Warning>) -> bool {
        if self.resized {
            lossy(warnings, "only one resize per chain is supported; later resize dropped");
            return false;
        }
        if self.pending_anchored.take().is_some() {
            lossy(warnings, "anchored crop before a resize dropped");
        }
        self.resized = true;
        true
    }

    pub fn finish(self, v: &mut Variant) {
        if let Some(pc) = self.pending_anchored {
            v.post_crop = Some(pc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_dialect_by_shape() {
        let cases: &[(&str, &str, Dialect)] = &[
            ("/cdn-cgi/image/w=80/a.jpg", "", Dialect::Cloudflare),
            ("/unsafe/300x200/a.jpg", "", Dialect::Thumbor),
            ("/AbCdEfGhIjKlMnOpQrStUvWxYz0=/300x200/a.jpg", "", Dialect::Thumbor),
            ("/a.jpg", "x-oss-process=image/resize,w_10", Dialect::Aliyun),
            ("/a.jpg", "imageView2/1/w/200", Dialect::Qiniu),
            ("/a.jpg", "imageMogr2/thumbnail/!50p", Dialect::Tencent),
            ("/a.jpg", "w=10&fm=webp", Dialect::Imgix),
            ("/a.jpg", "w=10&fit=clip", Dialect::Imgix),
            ("/a.jpg", "w=10&auto=format", Dialect::Imgix),
            ("/a.jpg", "width=10&crop=1", Dialect::Generic),
            ("/img/a.jpg", "w=10&fit=cover", Dialect::Generic),
            ("/unsafe.jpg", "", Dialect::Generic),
        ];
        for &(p, q, want) in cases {
            assert_eq!(sniff(p.as_bytes(), q.as_bytes()), want, "{p}?{q}");
        }
    }

    #[test]
    fn gravity_words_of_every_vocabulary() {
        for (w, g) in [
            ("top,left", Gravity::NorthWest),
            ("NorthWest", Gravity::NorthWest),
            ("bottomright", Gravity::SouthEast),
            ("top", Gravity::North),
            ("faces", Gravity::Face),
            ("entropy", Gravity::Smart),
        ] {
            assert_eq!(gravity_word(w), Some(g), "{w}");
        }
        assert_eq!(gravity_word("sideways"), None);
    }

    #[test]
    fn colours_and_base64() {
        assert_eq!(css_color("#f00"), Some([255, 0, 0, 255]));
        assert_eq!(css_color("white"), Some([255; 4]));
        assert_eq!(css_color("#000000"), Some([0, 0, 0, 255]));
        assert_eq!(css_color("nope"), None);
        assert_eq!(base64_decode("I0ZGMDAwMA").unwrap(), b"#FF0000");
        assert_eq!(base64_decode("I0ZGMDAwMA==").unwrap(), b"#FF0000");
        assert_eq!(base64_decode("*"), None);
    }
}
