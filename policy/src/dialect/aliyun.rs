//! Aliyun OSS `x-oss-process=image/<action>,<params>/…` (DIALECTS.md §3), also Huawei OBS
//! `x-image-process` and Baidu BOS `x-bce-process`, which copy it. Actions run in the
//! order written, so a crop after `resize` becomes a `post_crop`.

use super::{gravity_word, lossy, qiniu, Chain, Translated};
use crate::error::{PolicyError, Warning};
use crate::key;
use crate::query;
use crate::variant::{dropped, parse_fixed, parse_uint, Fit, Gravity, Variant};

/// The query parameters that carry a processing spec.
pub(crate) const PROCESS_PARAMS: &[&str] = &["x-oss-process", "x-image-process", "x-bce-process"];

pub(crate) fn is_process_param(name: &str) -> bool {
    PROCESS_PARAMS.contains(&name)
}

/// Signed-URL parameters of OSS, stripped from the canonical key.
fn is_signature_param(name: &str) -> bool {
    matches!(name, "ossaccesskeyid" | "expires" | "signature" | "security-token" | "response-content-type")
        || name.starts_with("x-oss-")
}

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    let key = key::parse_key(path)?;
    let mut v = Variant::default();
    let mut w = Vec::new();
    let mut chain = Chain::default();
    for pair in query::pairs(raw_query) {
        let name = &*pair.name;
        if is_process_param(name) {
            process(&mut v, &mut chain, &pair.value, &mut w)?;
        } else if !is_signature_param(name) {
            w.push(dropped(name));
        }
    }
    chain.finish(&mut v);
    v.normalize()?;
    Ok(Translated::new(key, v, w))
}

fn process(v: &mut Variant, chain: &mut Chain, spec: &str, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let Some(actions) = spec.strip_prefix("image/") else {
        if spec.starts_with("style/") {
            lossy(w, "named OSS styles are not known to Pixgate; dropped");
            return Ok(());
        }
        return Err(PolicyError::bad_param("x-oss-process", spec));
    };
    for action in actions.split('/').filter(|a| !a.is_empty()) {
        let mut parts = action.split(',');
        let name = parts.next().unwrap_or("");
        let params: Vec<&str> = parts.collect();
        match name {
            "resize" => {
                if chain.resize(w) {
                    resize(v, &params, w)?;
                }
            }
            "crop" => crop(v, chain, &params, w)?,
            "quality" => {
                for p in &params {
                    let (k, val) = kv(p);
                    match k {
                        "q" | "Q" => {
                            v.q = Some(crate::variant::parse_quality("quality", val, w)?);
                            if k == "q" {
                                lossy(w, "relative quality `q_` approximated as absolute");
                            }
                        }
                        _ => w.push(dropped(k)),
                    }
                }
            }
            "format" => {
                let f = params.first().copied().unwrap_or("");
                v.fmt = qiniu::legacy_format("format", f, w)?;
            }
            "rotate" => {
                let d = params.first().copied().unwrap_or("");
                match d {
                    "0" | "360" => {}
                    "90" | "180" | "270" => {
                        if chain.resized && d != "180" {
                            lossy(w, "rotation after resizing applied before it");
                        }
                        v.rot = parse_uint(d).unwrap_or(0) as u16;
                    }
                    _ if parse_uint(d).is_some() => lossy(w, "rotation by other than a right angle dropped"),
                    _ => return Err(PolicyError::bad_param("rotate", d)),
                }
            }
            "auto-orient" => {
                if params.first() == Some(&"0") {
                    lossy(w, "`auto-orient,0` ignored: orientation is always applied");
                }
            }
            "interlace" => v.prog = params.first() == Some(&"1"),
            "blur" => {
                for p in &params {
                    let (k, val) = kv(p);
                    if k == "s" {
                        let s = parse_fixed(val, 2).ok_or_else(|| PolicyError::bad_param("blur", val))?;
                        v.blur = Some(s.clamp(30, 10_000));
                    }
                }
            }
            "info" | "average-hue" | "exif" => lossy(w, format!("`{name}` is not an image operation here; dropped")),
            _ => lossy(w, format!("`{}` is not implemented", crate::error::truncate(name, 32))),
        }
    }
    Ok(())
}

fn kv(p: &str) -> (&str, &str) {
    p.split_once('_').unwrap_or((p, ""))
}

fn resize(v: &mut Variant, params: &[&str], w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let (mut m, mut bw, mut bh, mut l, mut s, mut p) = ("lfit", None, None, None, None, None);
    let mut limit = true;
    let mut color = None;
    for param in params {
        let (k, val) = kv(param);
        match k {
            "m" => m = val,
            "w" => bw = Some(qiniu::dim("w", val)?),
            "h" => bh = Some(qiniu::dim("h", val)?),
            "l" => l = Some(qiniu::dim("l", val)?),
            "s" => s = Some(qiniu::dim("s", val)?),
            "p" => {
                p = Some(
                    parse_uint(val)
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| PolicyError::bad_param("p", val))?,
                )
            }
            "limit" => {
                limit = match val {
                    "0" => false,
                    "1" => true,
                    _ => return Err(PolicyError::bad_param("limit", val)),
                }
            }
            "color" => {
                color = Some(crate::variant::parse_color(val).ok_or_else(|| PolicyError::bad_param("color", val))?)
            }
            _ => w.push(dropped(k)),
        }
    }
    let fit = match m {
        "lfit" => Fit::Inside,
        "mfit" => Fit::Outside,
        "fill" => Fit::Cover,
        "pad" => Fit::Contain,
        "fixed" => Fit::Fill,
        _ => return Err(PolicyError::bad_param("m", m)),
    };
    v.fit = fit;
    if bw.is_some() || bh.is_some() {
        // fill/pad/fixed read a missing side as the given one.
        if matches!(fit, Fit::Cover | Fit::Contain | Fit::Fill) {
            (bw, bh) = (bw.or(bh), bh.or(bw));
        }
        (v.w, v.h) = (bw, bh);
        if p.is_some() {
            w.push(dropped("p"));
        }
    } else if l.is_some() || s.is_some() {
        if matches!(fit, Fit::Cover | Fit::Contain | Fit::Fill) {
            (l, s) = (l.or(s), s.or(l));
        }
        (v.l, v.s) = (l, s);
    } else if let Some(p) = p {
        v.pct = Some(p);
    }
    if fit == Fit::Contain {
        v.bg = Some(color.unwrap_or([255, 255, 255, 255]));
        v.gravity = Gravity::Center;
    }
    // limit_1 (the default): "目标缩放图比原图尺寸大时，默认返回原图".
    v.enlarge = !limit;
    v.lim_orig = limit;
    Ok(())
}

/// `crop,w_,h_,x_,y_,g_`: x/y are offsets from the anchor `g_` (default top-left).
fn crop(v: &mut Variant, chain: &mut Chain, params: &[&str], w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let (mut cw, mut ch, mut x, mut y, mut g) = (None, None, 0, 0, Gravity::NorthWest);
    for param in params {
        let (k, val) = kv(param);
        let num = || parse_uint(val).ok_or_else(|| PolicyError::bad_param(k, val));
        match k {
            "w" => cw = Some(num()?).filter(|n| *n > 0),
            "h" => ch = Some(num()?).filter(|n| *n > 0),
            "x" => x = num()?,
            "y" => y = num()?,
            "g" => g = gravity_word(val).ok_or_else(|| PolicyError::bad_param("g", val))?,
            _ => w.push(dropped(k)),
        }
    }
    chain.crop(v, w, g, (cw, ch), (x, y));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(q: &str) -> String {
        translate(b"a.jpg", q.as_bytes()).unwrap().variant.to_query()
    }

    #[test]
    fn ordered_actions() {
        let cases = [
            ("x-oss-process=image/resize,w_200/crop,w_100,h_100,g_center", "lim=orig&post_crop=center:100x100&w=200"),
            ("x-oss-process=image/crop,x_10,y_20,w_30,h_40", "crop=10,20,30,40"),
            ("x-oss-process=image/resize,p_50/rotate,90", "pct=50&rot=90"),
            ("x-oss-process=image/resize,w_10&OSSAccessKeyId=a&Expires=1&Signature=x", "lim=orig&w=10"),
            ("x-image-process=image/format,png", "fmt=png"),
        ];
        for (q, want) in cases {
            assert_eq!(canon(q), want, "{q}");
        }
    }

    #[test]
    fn malformed_actions_are_bad_params() {
        for q in [
            "x-oss-process=image/resize,m_squash,w_1",
            "x-oss-process=image/resize,w_-1",
            "x-oss-process=image/format,asdf",
            "x-oss-process=video/snapshot",
        ] {
            let e = translate(b"a.jpg", q.as_bytes()).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::BadParam, "{q}");
        }
    }
}
