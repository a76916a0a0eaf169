//! Tencent COS / Cloud Infinite `imageMogr2` (DIALECTS.md §4), also Qiniu's imageMogr2
//! (§2): `?imageMogr2/thumbnail/<geom>[/pad/1/color/<b64>]/gravity/…/crop/…`. Operations run
//! in URL order, so a crop after `thumbnail` becomes a `post_crop`.

use super::{base64_decode, css_color, gravity_word, lossy, qiniu, Chain, Translated};
use crate::error::{PolicyError, Warning};
use crate::variant::{dropped, parse_fixed, parse_uint, Fit, Gravity, Variant, MAX_AREA};

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    qiniu::translate_specs(path, raw_query, true)
}

/// `pad/1[/color/<b64>]`, applied once the geometry is known.
#[derive(Debug, Default)]
pub(crate) struct Pad {
    on: bool,
    color: Option<[u8; 4]>,
}

impl Pad {
    pub fn apply(self, v: &mut Variant, w: &mut Vec<Warning>) {
        if !self.on {
            return;
        }
        if v.w.is_some() && v.h.is_some() && v.fit == Fit::Inside {
            v.fit = Fit::Contain;
            v.bg = Some(self.color.unwrap_or([255, 255, 255, 255]));
        } else {
            lossy(w, "`pad/1` needs a `WxH` thumbnail; dropped");
        }
    }
}

const OPS_WITH_ARG: &[&str] = &[
    "thumbnail",
    "gravity",
    "crop",
    "rotate",
    "format",
    "quality",
    "rquality",
    "lquality",
    "blur",
    "interlace",
    "sharpen",
    "size-limit",
    "ignore-error",
    "pad",
    "color",
    "cut",
    "iradius",
    "rradius",
    "scrop",
    "rcrop",
    "minisize",
    "center",
    "dx",
    "dy",
    "bright",
    "contrast",
    "tpg",
];

pub(crate) fn mogr2(
    v: &mut Variant,
    chain: &mut Chain,
    pad: &mut Pad,
    spec: &str,
    w: &mut Vec<Warning>,
) -> Result<(), PolicyError> {
    let toks: Vec<&str> = spec.split('/').collect();
    let mut gravity = Gravity::NorthWest;
    let mut i = 0;
    while i < toks.len() {
        let op = toks[i];
        i += 1;
        match op {
            "" | "auto-orient" | "strip" => continue,
            _ => {}
        }
        if !OPS_WITH_ARG.contains(&op) {
            w.push(dropped(op));
            // Skip what looks like its argument.
            if toks.get(i).is_some_and(|t| !OPS_WITH_ARG.contains(t) && !matches!(*t, "auto-orient" | "strip")) {
                i += 1;
            }
            continue;
        }
        let arg = toks.get(i).copied().unwrap_or("");
        i += 1;
        let bad = || PolicyError::bad_param(op, arg);
        match op {
            "thumbnail" => {
                if chain.resize(w) {
                    thumbnail(v, arg)?;
                }
            }
            "gravity" => gravity = gravity_word(arg).ok_or_else(bad)?,
            "crop" => {
                let c = crop_geom(arg).ok_or_else(bad)?;
                chain.crop(v, w, gravity, (c.0, c.1), (c.2, c.3));
            }
            "rotate" => match arg {
                "0" | "360" => {}
                "90" | "180" | "270" => {
                    if chain.resized && arg != "180" {
                        lossy(w, "rotation after resizing applied before it");
                    }
                    v.rot = parse_uint(arg).unwrap_or(0) as u16;
                }
                _ if parse_fixed(arg, 0).is_some() => lossy(w, "rotation by other than a right angle dropped"),
                _ => return Err(bad()),
            },
            "format" => v.fmt = qiniu::legacy_format(op, arg, w)?,
            "quality" | "rquality" | "lquality" => {
                let q = arg.strip_suffix('!').unwrap_or(arg);
                v.q = Some(crate::variant::parse_quality(op, q, w)?);
                if op != "quality" {
                    lossy(w, format!("`{op}` approximated by an absolute quality"));
                }
            }
            "blur" => {
                let (_, sigma) = arg.split_once('x').ok_or_else(bad)?;
                let s = parse_fixed(sigma, 2).ok_or_else(bad)?;
                v.blur = Some(s.clamp(30, 10_000));
            }
            "interlace" => v.prog = arg == "1",
            "ignore-error" | "size-limit" => {}
            "pad" => pad.on = arg == "1",
            "color" => {
                let raw = base64_decode(arg).ok_or_else(bad)?;
                let s = String::from_utf8(raw).map_err(|_| bad())?;
                pad.color = Some(css_color(&s).ok_or_else(bad)?);
            }
            _ => lossy(w, format!("`{op}` is not implemented")),
        }
    }
    Ok(())
}

/// Geometry of `thumbnail/` (ImageMagick's, with `p`→`%`, `r`→`^` escapes).
fn thumbnail(v: &mut Variant, g: &str) -> Result<(), PolicyError> {
    let bad = || PolicyError::bad_param("thumbnail", g);
    let pct = |s: &str| parse_uint(s).filter(|n| (1..=1000).contains(n)).ok_or_else(bad);
    v.enlarge = true;
    if let Some(rest) = g.strip_prefix('!') {
        if let Some(n) = rest.strip_prefix('x').and_then(|r| r.strip_suffix('p')) {
            v.pcth = Some(pct(n)?);
        } else if let Some(n) = rest.strip_suffix("px") {
            v.pctw = Some(pct(n)?);
        } else if let Some(n) = rest.strip_suffix('p') {
            v.pct = Some(pct(n)?);
        } else if let Some(box_) = rest.strip_suffix('r') {
            let (bw, bh) = wh(box_).ok_or_else(bad)?;
            (v.w, v.h) = (bw, bh);
            v.fit = Fit::Outside;
        } else {
            return Err(bad());
        }
        return Ok(());
    }
    if let Some(a) = g.strip_suffix('@') {
        v.area = Some(parse_uint(a).filter(|a| (1..=MAX_AREA).contains(a)).ok_or_else(bad)?);
        v.enlarge = false;
        return Ok(());
    }
    let (body, suffix) = match g.as_bytes().last() {
        Some(b'!' | b'>' | b'<') => (&g[..g.len() - 1], g.as_bytes().last().copied()),
        _ => (g, None),
    };
    let (bw, bh) = wh(body).ok_or_else(bad)?;
    for side in [bw, bh].into_iter().flatten() {
        if side > crate::variant::MAX_DIM {
            return Err(PolicyError::new(
                crate::error::ErrorCode::TooLarge,
                format!("`thumbnail` exceeds the maximum side of {} px", crate::variant::MAX_DIM),
            ));
        }
    }
    (v.w, v.h) = (bw, bh);
    match suffix {
        Some(b'!') => v.fit = Fit::Fill,
        Some(b'>') => v.enlarge = false,
        Some(b'<') => v.reduce = false,
        _ => {}
    }
    Ok(())
}

/// `W x H` with either side optional (not both).
fn wh(s: &str) -> Option<(Option<u32>, Option<u32>)> {
    let (a, b) = s.split_once('x')?;
    let side = |t: &str| -> Option<Option<u32>> {
        if t.is_empty() {
            Some(None)
        } else {
            parse_uint(t).filter(|n| *n > 0).map(Some)
        }
    };
    let (a, b) = (side(a)?, side(b)?);
    if a.is_none() && b.is_none() {
        return None;
    }
    Some((a, b))
}

/// `crop/<W>x`, `x<H>`, `<W>x<H>`, `!<W>x<H>(a|-)dx(a|-)dy`. Negative offsets clamp to 0.
fn crop_geom(s: &str) -> Option<(Option<u32>, Option<u32>, u32, u32)> {
    let Some(rest) = s.strip_prefix('!') else {
        let (a, b) = wh(s)?;
        return Some((a, b, 0, 0));
    };
    let end = rest.find(['a', '-']).unwrap_or(rest.len());
    let (a, b) = wh(&rest[..end])?;
    let mut offs = [0u32; 2];
    let mut tail = &rest[end..];
    for o in &mut offs {
        if tail.is_empty() {
            break;
        }
        let neg = tail.starts_with('-');
        tail = &tail[1..];
        let e = tail.find(['a', '-']).unwrap_or(tail.len());
        let n = parse_uint(&tail[..e])?;
        *o = if neg { 0 } else { n };
        tail = &tail[e..];
    }
    Some((a, b, offs[0], offs[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(q: &str) -> String {
        translate(b"a.jpg", q.as_bytes()).unwrap().variant.to_query()
    }

    #[test]
    fn ordered_chains_become_post_crops() {
        let cases = [
            (
                "imageMogr2/auto-orient/thumbnail/!50p/gravity/Center/crop/300x300/format/webp/quality/80",
                "fmt=webp&pct=50&post_crop=center:300x300&q=80",
            ),
            ("imageMogr2/crop/!300x200a10a20", "crop=10,20,300,200"),
            ("imageMogr2/gravity/South/crop/300x", "post_crop=south:300x8192"),
            ("imageMogr2/thumbnail/400x/crop/!100x100a5a6", "enlarge=1&post_crop=5,6,100,100&w=400"),
            ("imageMogr2/thumbnail/!50p/strip/blur/3x2", "blur=2&pct=50"),
        ];
        for (q, want) in cases {
            assert_eq!(canon(q), want, "{q}");
        }
    }

    #[test]
    fn geometry_errors_are_bad_params() {
        for q in ["imageMogr2/thumbnail/abc", "imageMogr2/thumbnail/x", "imageMogr2/crop/zz"] {
            let e = translate(b"a.jpg", q.as_bytes()).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::BadParam, "{q}");
        }
    }
}
