//! Qiniu `imageView2` (modes 0–5) and the `imageMogr2` basics (DIALECTS.md §2). The
//! processing spec is the bare query string: `key.jpg?imageView2/1/w/200/h/200`; several
//! specs may be piped with `|`. Download tokens (`e=…&token=…`) are stripped.

use super::{lossy, tencent, Chain, Translated};
use crate::error::{PolicyError, Warning};
use crate::key;
use crate::query;
use crate::variant::{dropped, parse_uint, Fit, Format, Variant};

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    translate_specs(path, raw_query, false)
}

/// Shared by Qiniu and Tencent: both accept both spec families.
pub(crate) fn translate_specs(path: &[u8], raw_query: &[u8], tencent_route: bool) -> Result<Translated, PolicyError> {
    let key = key::parse_key(path)?;
    let mut v = Variant::default();
    let mut w = Vec::new();
    let mut chain = Chain::default();
    let mut pad = tencent::Pad::default();
    for seg in raw_query.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        let decoded = query::decode_lossy(seg);
        if decoded.starts_with("imageView2") || decoded.starts_with("imageMogr2") {
            for spec in decoded.split('|') {
                if let Some(rest) = spec.strip_prefix("imageView2") {
                    if !chain.resize(&mut w) {
                        continue;
                    }
                    image_view2(&mut v, rest.trim_start_matches('/'), &mut w)?;
                } else if let Some(rest) = spec.strip_prefix("imageMogr2") {
                    tencent::mogr2(&mut v, &mut chain, &mut pad, rest.trim_start_matches('/'), &mut w)?;
                } else if !spec.is_empty() {
                    lossy(&mut w, "unsupported processing spec in a pipe dropped");
                }
            }
            continue;
        }
        let name = decoded.split('=').next().unwrap_or("").to_ascii_lowercase();
        if !is_token_param(&name) {
            w.push(dropped(&name));
        }
    }
    let _ = tencent_route;
    chain.finish(&mut v);
    pad.apply(&mut v, &mut w);
    v.normalize()?;
    Ok(Translated::new(key, v, w))
}

/// Download tokens and signatures of private buckets (Qiniu `e`/`token`, COS `q-sign-*`,
/// `sign`): never part of the canonical key.
fn is_token_param(name: &str) -> bool {
    matches!(name, "e" | "token" | "sign" | "attname" | "ci-process")
        || name.starts_with("q-sign")
        || name.starts_with("q-ak")
        || name.starts_with("q-key")
        || name.starts_with("q-header")
        || name.starts_with("q-url")
        || name.starts_with("x-cos-")
}

/// `<mode>/w/<W>/h/<H>/format/<f>/q/<N>[!]/interlace/<b>/…`
fn image_view2(v: &mut Variant, spec: &str, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let mut it = spec.split('/');
    let mode_s = it.next().unwrap_or("");
    let mode =
        parse_uint(mode_s).filter(|m| *m <= 5).ok_or_else(|| PolicyError::bad_param("imageView2 mode", mode_s))?;
    let (mut bw, mut bh) = (None, None);
    while let Some(name) = it.next() {
        if name.is_empty() {
            continue;
        }
        let value = it.next().unwrap_or("");
        let bad = || PolicyError::bad_param(name, value);
        match name {
            "w" => bw = Some(dim(name, value)?),
            "h" => bh = Some(dim(name, value)?),
            "format" => v.fmt = legacy_format(name, value, w)?,
            "q" => {
                let q = value.strip_suffix('!').unwrap_or(value);
                v.q = Some(crate::variant::parse_quality(name, q, w)?);
            }
            "interlace" => {
                v.prog = match value {
                    "1" => true,
                    "0" => false,
                    _ => return Err(bad()),
                }
            }
            "ignore-error" => {}
            "colors" => lossy(w, "`colors` palette reduction is not implemented"),
            _ => w.push(dropped(name)),
        }
    }
    // Modes 1, 3, 4 and 5 read a missing side as the given one; 0 and 2 as unbounded.
    let square = matches!(mode, 1 | 3 | 4 | 5);
    let (bw, bh) = if square { (bw.or(bh), bh.or(bw)) } else { (bw, bh) };
    v.fit = match mode {
        0 | 2 => Fit::Inside,
        1 | 5 => Fit::Cover,
        _ => Fit::Outside,
    };
    if matches!(mode, 0 | 4 | 5) {
        (v.l, v.s) = (bw, bh);
    } else {
        (v.w, v.h) = (bw, bh);
    }
    // "新图的宽/高/长边/短边，不会比原图大": imageView2 never enlarges.
    v.enlarge = false;
    Ok(())
}

pub(crate) fn dim(name: &str, value: &str) -> Result<u32, PolicyError> {
    let mut scratch = Variant::default();
    scratch.set("w", value, &mut Vec::new()).map_err(|e| {
        if e.code == crate::error::ErrorCode::BadParam {
            PolicyError::bad_param(name, value)
        } else {
            e
        }
    })?;
    Ok(scratch.w.unwrap_or(1))
}

/// Vendor format names: `copy`/`src` keep the source's format; formats Pixgate cannot
/// encode are dropped with a warning.
pub(crate) fn legacy_format(name: &str, value: &str, w: &mut Vec<Warning>) -> Result<Option<Format>, PolicyError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "copy" | "src" | "" => None,
        "heic" | "heif" | "bmp" | "tiff" | "tif" | "tpg" | "svg" | "ico" => {
            lossy(w, format!("format `{value}` is not produced; source format kept"));
            None
        }
        "jxl" => {
            lossy(w, "`jxl` has no encoder; negotiated instead");
            Some(Format::Auto)
        }
        other => Some(Format::parse(other).ok_or_else(|| PolicyError::bad_param(name, value))?),
    })
}
