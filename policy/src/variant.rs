//! The canonical variant (DESIGN.md §3): what an output image is, independent of the URL
//! dialect that asked for it. Its serialisation is the cache key.

use crate::error::{ErrorCode, PolicyError, Warning, WarningCode};

/// Largest box side, in output pixels.
pub const MAX_DIM: u32 = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Fit {
    #[default]
    Inside,
    Cover,
    Contain,
    Fill,
    Outside,
}

impl Fit {
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Inside => "inside",
            Fit::Cover => "cover",
            Fit::Contain => "contain",
            Fit::Fill => "fill",
            Fit::Outside => "outside",
        }
    }

    pub fn parse(s: &str) -> Option<Fit> {
        Some(match s {
            "inside" => Fit::Inside,
            "cover" => Fit::Cover,
            "contain" => Fit::Contain,
            "fill" => Fit::Fill,
            "outside" => Fit::Outside,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Avif,
    Gif,
    /// Resolved by negotiation; only ever upstream when the edge could not decide.
    Auto,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Avif => "avif",
            Format::Gif => "gif",
            Format::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Format::Jpeg,
            "png" => Format::Png,
            "webp" => Format::Webp,
            "avif" => Format::Avif,
            "gif" => Format::Gif,
            "auto" => Format::Auto,
            _ => return None,
        })
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Avif => "image/avif",
            Format::Gif => "image/gif",
            Format::Auto => "application/octet-stream",
        }
    }
}

/// Crop anchor (cover) or placement (contain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Gravity {
    #[default]
    Center,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
    Smart,
    Face,
    /// Focal point, in ten-thousandths of the width and height.
    Focal {
        x: u16,
        y: u16,
    },
}

impl Gravity {
    pub fn parse(s: &str) -> Option<Gravity> {
        Some(match s {
            "center" | "centre" => Gravity::Center,
            "north" => Gravity::North,
            "south" => Gravity::South,
            "east" => Gravity::East,
            "west" => Gravity::West,
            "northeast" => Gravity::NorthEast,
            "northwest" => Gravity::NorthWest,
            "southeast" => Gravity::SouthEast,
            "southwest" => Gravity::SouthWest,
            "smart" => Gravity::Smart,
            "face" => Gravity::Face,
            _ => {
                let rest = s.strip_prefix("fp:")?;
                let (x, y) = rest.split_once(',')?;
                let x = parse_fixed(x, 4)?;
                let y = parse_fixed(y, 4)?;
                if x > 10_000 || y > 10_000 {
                    return None;
                }
                Gravity::Focal { x: x as u16, y: y as u16 }
            }
        })
    }

    pub fn to_param(self) -> String {
        let mut s = String::new();
        self.write_param(&mut s);
        s
    }

    pub fn write_param(self, out: &mut String) {
        out.push_str(match self {
            Gravity::Center => "center",
            Gravity::North => "north",
            Gravity::South => "south",
            Gravity::East => "east",
            Gravity::West => "west",
            Gravity::NorthEast => "northeast",
            Gravity::NorthWest => "northwest",
            Gravity::SouthEast => "southeast",
            Gravity::SouthWest => "southwest",
            Gravity::Smart => "smart",
            Gravity::Face => "face",
            Gravity::Focal { x, y } => {
                out.push_str("fp:");
                push_fixed(out, u32::from(x), 4);
                out.push(',');
                push_fixed(out, u32::from(y), 4);
                return;
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flip {
    H,
    V,
    Hv,
}

impl Flip {
    pub fn as_str(self) -> &'static str {
        match self {
            Flip::H => "h",
            Flip::V => "v",
            Flip::Hv => "hv",
        }
    }
}

/// A rectangle in upright source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn parse(s: &str) -> Option<Rect> {
        let mut it = s.split(',').map(parse_uint);
        let r = Rect { x: it.next()??, y: it.next()??, w: it.next()??, h: it.next()?? };
        if it.next().is_some() || r.w == 0 || r.h == 0 {
            return None;
        }
        Some(r)
    }

    pub fn to_param(self) -> String {
        let mut s = String::new();
        self.write_param(&mut s);
        s
    }

    pub fn write_param(self, out: &mut String) {
        for (i, v) in [self.x, self.y, self.w, self.h].into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_uint(out, v);
        }
    }
}

/// The canonical description of one output image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant {
    pub w: Option<u32>,
    pub h: Option<u32>,
    pub l: Option<u32>,
    pub s: Option<u32>,
    pub pct: Option<u32>,
    /// Device pixel ratio in hundredths (100 = 1).
    pub dpr: u32,
    pub fit: Fit,
    pub enlarge: bool,
    pub lim_orig: bool,
    pub gravity: Gravity,
    pub crop: Option<Rect>,
    pub q: Option<u8>,
    pub fmt: Option<Format>,
    pub prog: bool,
    /// RGBA; alpha 255 serialises as `RRGGBB`.
    pub bg: Option<[u8; 4]>,
    pub rot: u16,
    pub flip: Option<Flip>,
    /// Gaussian sigma in hundredths.
    pub blur: Option<u32>,
    /// Extension `area=N`: scale so that the output's w·h is at most N pixels.
    pub area: Option<u32>,
    /// Extension `pctw`: scale the width alone by percent (the height by `pcth`, or kept).
    pub pctw: Option<u32>,
    /// Extension `pcth`: scale the height alone by percent.
    pub pcth: Option<u32>,
    /// `false` for extension `reduce=0`: the scale factor never goes below 1 (enlarge-only,
    /// ImageMagick's `<`); a box that would shrink leaves the image at its size.
    pub reduce: bool,
    /// Extension `post_crop`: a crop applied after resizing and padding, for ordered legacy
    /// chains (`imageMogr2/thumbnail/…/crop/…`, `x-oss-process=…/resize,…/crop,…`).
    pub post_crop: Option<PostCrop>,
}

/// A crop after resizing: an explicit region, or a window anchored at a gravity. Either is
/// clamped to the image it applies to, so a side of [`MAX_DIM`] means "all of it".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostCrop {
    Rect(Rect),
    Anchored { gravity: Gravity, w: u32, h: u32 },
}

impl PostCrop {
    pub fn parse(s: &str) -> Option<PostCrop> {
        if let Some((g, size)) = s.rsplit_once(':') {
            let gravity = Gravity::parse(g)?;
            let (w, h) = size.split_once('x')?;
            let (w, h) = (parse_uint(w)?, parse_uint(h)?);
            if w == 0 || h == 0 || w > MAX_DIM || h > MAX_DIM {
                return None;
            }
            return Some(PostCrop::Anchored { gravity, w, h });
        }
        Rect::parse(s).map(PostCrop::Rect)
    }

    pub fn to_param(self) -> String {
        let mut s = String::new();
        self.write_param(&mut s);
        s
    }

    pub fn write_param(self, out: &mut String) {
        match self {
            PostCrop::Rect(r) => r.write_param(out),
            PostCrop::Anchored { gravity, w, h } => {
                gravity.write_param(out);
                out.push(':');
                push_uint(out, w);
                out.push('x');
                push_uint(out, h);
            }
        }
    }
}

impl Default for Variant {
    fn default() -> Self {
        Variant {
            w: None,
            h: None,
            l: None,
            s: None,
            pct: None,
            dpr: 100,
            fit: Fit::Inside,
            enlarge: false,
            lim_orig: false,
            gravity: Gravity::Center,
            crop: None,
            q: None,
            fmt: None,
            prog: false,
            bg: None,
            rot: 0,
            flip: None,
            blur: None,
            area: None,
            pctw: None,
            pcth: None,
            reduce: true,
            post_crop: None,
        }
    }
}

/// Names of the canonical parameters, sorted (the order of the canonical query).
pub const CANONICAL_NAMES: &[&str] = &[
    "area",
    "bg",
    "blur",
    "crop",
    "dpr",
    "enlarge",
    "fit",
    "flip",
    "fmt",
    "gravity",
    "h",
    "l",
    "lim",
    "pct",
    "pcth",
    "pctw",
    "post_crop",
    "prog",
    "q",
    "reduce",
    "rot",
    "s",
    "w",
];

/// Largest `area`: a full `MAX_DIM` square.
pub const MAX_AREA: u32 = 67_108_864;

impl Variant {
    /// Sets one canonical parameter from its textual value. `Ok(false)` when `name` is not
    /// a canonical parameter (the caller decides whether to drop it).
    pub fn set(&mut self, name: &str, value: &str, warnings: &mut Vec<Warning>) -> Result<bool, PolicyError> {
        let bad = || PolicyError::bad_param(name, value);
        // Byte patterns: see `dialect::generic::translate_with`.
        match name.as_bytes() {
            b"w" => self.w = Some(parse_dim(name, value)?),
            b"h" => self.h = Some(parse_dim(name, value)?),
            b"l" => self.l = Some(parse_dim(name, value)?),
            b"s" => self.s = Some(parse_dim(name, value)?),
            b"pct" => self.pct = Some(parse_percent(value).ok_or_else(bad)?),
            b"pctw" => self.pctw = Some(parse_percent(value).ok_or_else(bad)?),
            b"pcth" => self.pcth = Some(parse_percent(value).ok_or_else(bad)?),
            b"area" => {
                let v = parse_uint(value).ok_or_else(bad)?;
                if !(1..=MAX_AREA).contains(&v) {
                    return Err(bad());
                }
                self.area = Some(v);
            }
            b"reduce" => self.reduce = parse_bool01(value).ok_or_else(bad)?,
            b"post_crop" => self.post_crop = Some(PostCrop::parse(value).ok_or_else(bad)?),
            b"dpr" => self.dpr = parse_dpr(value, warnings).ok_or_else(bad)?,
            b"fit" => self.fit = Fit::parse(value).ok_or_else(bad)?,
            b"enlarge" => self.enlarge = parse_bool01(value).ok_or_else(bad)?,
            b"lim" => {
                if value != "orig" {
                    return Err(bad());
                }
                self.lim_orig = true;
            }
            b"gravity" => self.gravity = Gravity::parse(value).ok_or_else(bad)?,
            b"crop" => self.crop = Some(Rect::parse(value).ok_or_else(bad)?),
            b"q" => self.q = Some(parse_quality(name, value, warnings)?),
            b"fmt" => self.fmt = Some(Format::parse(value).ok_or_else(bad)?),
            b"prog" => self.prog = parse_bool01(value).ok_or_else(bad)?,
            b"bg" => self.bg = Some(parse_color(value).ok_or_else(bad)?),
            b"rot" => {
                self.rot = match value {
                    "0" => 0,
                    "90" => 90,
                    "180" => 180,
                    "270" => 270,
                    _ => return Err(bad()),
                }
            }
            b"flip" => {
                self.flip = Some(match value {
                    "h" => Flip::H,
                    "v" => Flip::V,
                    "hv" | "vh" => Flip::Hv,
                    _ => return Err(bad()),
                })
            }
            b"blur" => {
                let v = parse_fixed(value, 2).ok_or_else(bad)?;
                if !(30..=10_000).contains(&v) {
                    return Err(bad());
                }
                self.blur = Some(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies the canonical-form rules: combinations are checked, and parameters that
    /// are defaults or cannot act are reset so that they do not reach the cache key.
    pub fn normalize(&mut self) -> Result<(), PolicyError> {
        let has_wh = self.w.is_some() || self.h.is_some();
        let has_ls = self.l.is_some() || self.s.is_some();
        if has_wh && has_ls {
            return Err(PolicyError::new(ErrorCode::BadParam, "`l`/`s` cannot be combined with `w`/`h`"));
        }
        if self.pct.is_some() && (has_wh || has_ls) {
            return Err(PolicyError::new(ErrorCode::BadParam, "`pct` cannot be combined with a box"));
        }
        let has_pct_axis = self.pctw.is_some() || self.pcth.is_some();
        let sizing_ops = [has_wh || has_ls, self.pct.is_some(), has_pct_axis, self.area.is_some()];
        if sizing_ops.iter().filter(|&&b| b).count() > 1 {
            return Err(PolicyError::new(
                ErrorCode::BadParam,
                "`area`, `pctw`/`pcth`, `pct` and a box are mutually exclusive",
            ));
        }
        for (name, side) in [("w", self.w), ("h", self.h), ("l", self.l), ("s", self.s)] {
            if let Some(v) = side {
                if u64::from(v) * u64::from(self.dpr) > u64::from(MAX_DIM) * 100 {
                    return Err(PolicyError::new(
                        ErrorCode::TooLarge,
                        format!("`{name}` × dpr exceeds the maximum side of {MAX_DIM} px"),
                    ));
                }
            }
        }
        let two_sides = (self.w.is_some() && self.h.is_some()) || (self.l.is_some() && self.s.is_some());
        if matches!(self.fit, Fit::Cover | Fit::Contain | Fit::Fill) && !two_sides {
            self.fit = Fit::Inside;
        }
        if matches!(self.fit, Fit::Inside | Fit::Outside | Fit::Fill) {
            self.gravity = Gravity::Center;
        }
        // Nothing can enlarge without a box, an area, or a percentage above 100.
        let can_enlarge = has_wh
            || has_ls
            || self.area.is_some()
            || [self.pct, self.pctw, self.pcth].iter().any(|p| p.is_some_and(|p| p > 100));
        if !can_enlarge {
            self.lim_orig = false;
            self.enlarge = false;
        }
        // `reduce=0` only acts where something scales.
        if !(has_wh || has_ls || self.area.is_some() || self.pct.is_some() || has_pct_axis) {
            self.reduce = true;
        }
        Ok(())
    }

    /// Canonical parameters, sorted by name, defaults left out: the pairs of
    /// [`Variant::to_query`], which is the one place that spells them.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let q = self.to_query();
        q.split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                let name = CANONICAL_NAMES.iter().find(|n| **n == k)?;
                Some((*name, v.to_owned()))
            })
            .collect()
    }

    /// The canonical query string (no leading `?`). Values only use `[A-Za-z0-9._~,:-]`.
    pub fn to_query(&self) -> String {
        let mut q = String::with_capacity(48);
        self.write_query(&mut q);
        q
    }

    /// Appends the canonical query to `out`: parameters sorted by name, defaults left
    /// out. Written in place, without a string per parameter: it runs on every request.
    pub fn write_query(&self, out: &mut String) {
        let start = out.len();
        let key = |out: &mut String, name: &str| {
            if out.len() > start {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
        };
        if let Some(a) = self.area {
            key(out, "area");
            push_uint(out, a);
        }
        if let Some(bg) = self.bg {
            key(out, "bg");
            push_color(out, bg);
        }
        if let Some(b) = self.blur {
            key(out, "blur");
            push_fixed(out, b, 2);
        }
        if let Some(c) = self.crop {
            key(out, "crop");
            c.write_param(out);
        }
        if self.dpr != 100 {
            key(out, "dpr");
            push_fixed(out, self.dpr, 2);
        }
        if self.enlarge {
            key(out, "enlarge");
            out.push('1');
        }
        if self.fit != Fit::Inside {
            key(out, "fit");
            out.push_str(self.fit.as_str());
        }
        if let Some(f) = self.flip {
            key(out, "flip");
            out.push_str(f.as_str());
        }
        if let Some(f) = self.fmt {
            key(out, "fmt");
            out.push_str(f.as_str());
        }
        if self.gravity != Gravity::Center {
            key(out, "gravity");
            self.gravity.write_param(out);
        }
        if let Some(h) = self.h {
            key(out, "h");
            push_uint(out, h);
        }
        if let Some(l) = self.l {
            key(out, "l");
            push_uint(out, l);
        }
        if self.lim_orig {
            key(out, "lim");
            out.push_str("orig");
        }
        if let Some(p) = self.pct {
            key(out, "pct");
            push_uint(out, p);
        }
        if let Some(p) = self.pcth {
            key(out, "pcth");
            push_uint(out, p);
        }
        if let Some(p) = self.pctw {
            key(out, "pctw");
            push_uint(out, p);
        }
        if let Some(c) = self.post_crop {
            key(out, "post_crop");
            c.write_param(out);
        }
        if self.prog {
            key(out, "prog");
            out.push('1');
        }
        if let Some(q) = self.q {
            key(out, "q");
            push_uint(out, u32::from(q));
        }
        if !self.reduce {
            key(out, "reduce");
            out.push('0');
        }
        if self.rot != 0 {
            key(out, "rot");
            push_uint(out, u32::from(self.rot));
        }
        if let Some(s) = self.s {
            key(out, "s");
            push_uint(out, s);
        }
        if let Some(w) = self.w {
            key(out, "w");
            push_uint(out, w);
        }
    }

    /// Parses a canonical query strictly: unknown names are dropped with a warning.
    pub fn from_query(query: &[u8]) -> Result<(Variant, Vec<Warning>), PolicyError> {
        let mut v = Variant::default();
        let mut warnings = Vec::new();
        for pair in crate::query::pairs(query) {
            if !v.set(&pair.name, &pair.value, &mut warnings)? {
                warnings.push(dropped(&pair.name));
            }
        }
        v.normalize()?;
        Ok((v, warnings))
    }
}

pub(crate) fn dropped(name: &str) -> Warning {
    // Common on every request (tracking parameters): no formatting machinery.
    let name = crate::error::truncate(name, 64);
    let mut m = String::with_capacity(28 + name.len());
    m.push_str("unknown parameter `");
    m.push_str(name);
    m.push_str("` dropped");
    Warning::new(WarningCode::DroppedParam, m)
}

/// Parses a plain decimal integer (no sign, no leading `+`). Overflow gives `None`.
pub fn parse_uint(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_percent(s: &str) -> Option<u32> {
    parse_uint(s).filter(|v| (1..=1000).contains(v))
}

fn parse_dim(name: &str, value: &str) -> Result<u32, PolicyError> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: a huge value is a size problem, not a syntax one.
        return match parse_uint(value) {
            Some(0) => Err(PolicyError::bad_param(name, value)),
            Some(v) if v <= MAX_DIM => Ok(v),
            _ => {
                Err(PolicyError::new(ErrorCode::TooLarge, format!("`{name}` exceeds the maximum side of {MAX_DIM} px")))
            }
        };
    }
    Err(PolicyError::bad_param(name, value))
}

pub(crate) fn parse_quality(name: &str, value: &str, warnings: &mut Vec<Warning>) -> Result<u8, PolicyError> {
    let digits = value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty();
    if !digits {
        return Err(PolicyError::bad_param(name, value));
    }
    let v = parse_uint(value).unwrap_or(u32::MAX);
    let clamped = v.clamp(1, 100);
    if clamped != v {
        warnings.push(Warning::new(
            WarningCode::Clamped,
            format!("`{name}` {} clamped to {clamped}", crate::error::truncate(value, 16)),
        ));
    }
    Ok(clamped as u8)
}

pub(crate) fn parse_dpr(value: &str, warnings: &mut Vec<Warning>) -> Option<u32> {
    let v = parse_fixed(value, 2)?;
    let clamped = v.clamp(100, 400);
    if clamped != v {
        warnings.push(Warning::new(
            WarningCode::Clamped,
            format!("`dpr` {} clamped to {}", crate::error::truncate(value, 16), format_fixed(clamped, 2)),
        ));
    }
    Some(clamped)
}

fn parse_bool01(s: &str) -> Option<bool> {
    match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// Parses `RRGGBB` or `RRGGBBAA` (an optional leading `#` is tolerated).
pub fn parse_color(s: &str) -> Option<[u8; 4]> {
    let s = s.strip_prefix('#').unwrap_or(s);
    if !(s.len() == 6 || s.len() == 8) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?, if s.len() == 8 { byte(6)? } else { 255 }])
}

pub fn format_color(c: [u8; 4]) -> String {
    let mut s = String::with_capacity(8);
    push_color(&mut s, c);
    s
}

/// `RRGGBB`, or `RRGGBBAA` when not opaque, lowercase.
fn push_color(out: &mut String, c: [u8; 4]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = if c[3] == 255 { 3 } else { 4 };
    for b in &c[..n] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_uint(out: &mut String, mut v: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Parses a non-negative decimal into fixed point with `decimals` places, rounding
/// half up beyond them (`1.255` → 126 at 2 places).
pub fn parse_fixed(s: &str, decimals: u32) -> Option<u32> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 6
        || frac.len() > 12
    {
        return None;
    }
    let scale = 10u64.pow(decimals);
    let int_v: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_v: u64 = 0;
    let fb = frac.as_bytes();
    for i in 0..decimals as usize {
        frac_v = frac_v * 10 + fb.get(i).map_or(0, |d| u64::from(d - b'0'));
    }
    let round_up = fb.get(decimals as usize).is_some_and(|&d| d >= b'5');
    let v = int_v * scale + frac_v + u64::from(round_up);
    u32::try_from(v).ok()
}

/// Shortest decimal form of a fixed-point value (`150` at 2 places → `1.5`, `200` → `2`).
pub fn format_fixed(v: u32, decimals: u32) -> String {
    let mut s = String::new();
    push_fixed(&mut s, v, decimals);
    s
}

fn push_fixed(out: &mut String, v: u32, decimals: u32) {
    let scale = 10u32.pow(decimals);
    push_uint(out, v / scale);
    let mut frac = v % scale;
    if frac == 0 {
        return;
    }
    out.push('.');
    // Leading zeros of the fraction, then its digits without trailing zeros.
    let mut width = decimals;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let digits = frac.ilog10() + 1;
    for _ in digits..width {
        out.push('0');
    }
    push_uint(out, frac);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(q: &str) -> String {
        Variant::from_query(q.as_bytes()).unwrap().0.to_query()
    }

    #[test]
    fn canonical_form_sorts_and_drops_defaults() {
        let cases = [
            ("w=200&h=150&fit=cover", "fit=cover&h=150&w=200"),
            ("fit=inside&w=10&enlarge=0&gravity=center&dpr=1&rot=0", "w=10"),
            ("w=10&fit=cover", "w=10"),
            ("w=10&h=10&fit=fill&gravity=north", "fit=fill&h=10&w=10"),
            ("dpr=2.0&w=5", "dpr=2&w=5"),
            ("dpr=1.50&w=5", "dpr=1.5&w=5"),
            ("w=007", "w=7"),
            ("pct=50&lim=orig", "pct=50"),
            ("pct=150&lim=orig", "lim=orig&pct=150"),
            ("bg=FFFFFF&w=1", "bg=ffffff&w=1"),
            ("bg=000000ff", "bg=000000"),
            ("gravity=fp:0.50,0.250&w=1&h=1&fit=cover", "fit=cover&gravity=fp:0.5,0.25&h=1&w=1"),
            ("q=80&fmt=jpg", "fmt=jpeg&q=80"),
            ("junk=1&w=3", "w=3"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn clamps_quality_and_dpr_with_a_warning() {
        let (v, w) = Variant::from_query(b"q=0&dpr=5&w=10").unwrap();
        assert_eq!(v.q, Some(1));
        assert_eq!(v.dpr, 400);
        assert_eq!(w.iter().filter(|w| w.code == WarningCode::Clamped).count(), 2);
    }

    #[test]
    fn rejects_malformed_values_naming_the_parameter() {
        for q in ["w=-5", "q=abc", "fit=squash", "w=0", "rot=45", "crop=1,2,3", "bg=xyz", "blur=0.1", "dpr=-1"] {
            let e = Variant::from_query(q.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadParam, "{q}");
            let name = q.split('=').next().unwrap();
            assert!(e.message.contains(&format!("`{name}`")), "{q}: {}", e.message);
        }
    }

    #[test]
    fn rejects_boxes_over_max_dim() {
        for q in ["w=8193", "h=99999999999999", "w=5000&dpr=2"] {
            assert_eq!(Variant::from_query(q.as_bytes()).unwrap_err().code, ErrorCode::TooLarge, "{q}");
        }
        assert!(Variant::from_query(b"w=8192").is_ok());
    }

    #[test]
    fn rejects_conflicting_boxes() {
        for q in ["w=1&l=2", "pct=50&w=3", "s=4&pct=5"] {
            assert_eq!(Variant::from_query(q.as_bytes()).unwrap_err().code, ErrorCode::BadParam, "{q}");
        }
    }

    #[test]
    fn fixed_point_round_trips() {
        assert_eq!(parse_fixed("1.255", 2), Some(126));
        assert_eq!(parse_fixed(".5", 2), Some(50));
        assert_eq!(parse_fixed("2.", 2), Some(200));
        assert_eq!(parse_fixed("", 2), None);
        assert_eq!(parse_fixed("1e3", 2), None);
        assert_eq!(format_fixed(150, 2), "1.5");
        assert_eq!(format_fixed(5, 4), "0.0005");
        assert_eq!(format_fixed(10_500, 4), "1.05");
        assert_eq!(format_fixed(1_000, 4), "0.1");
        assert_eq!(format_fixed(1_234, 4), "0.1234");
        assert_eq!(format_fixed(4_000_000_000, 2), "40000000");
        assert_eq!(format_color([1, 0xab, 255, 255]), "01abff");
        assert_eq!(format_color([1, 0xab, 255, 0]), "01abff00");
    }

    #[test]
    fn canonical_query_is_a_fixed_point() {
        for q in ["w=200&h=150&fit=cover&q=70&fmt=webp", "crop=1,2,3,4&rot=90&flip=hv&blur=2.5&l=300"] {
            let once = canon(q);
            assert_eq!(canon(&once), once);
        }
    }
}
