//! Cloudflare Images URL format (DIALECTS.md §6): `/cdn-cgi/image/<opt>,<opt>…/<source>`.
//! The source is the rest of the path (not encoded); remote sources are refused.

use super::{css_color, gravity_word, is_remote, lossy, remote_source, Translated};
use crate::error::{PolicyError, Warning};
use crate::key;
use crate::query;
use crate::variant::{dropped, parse_fixed, Fit, Flip, Format, Gravity, Variant};

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    let path = path.strip_prefix(b"cdn-cgi/image/").unwrap_or(path);
    let split = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
    let (opts, source) = (&path[..split], path.get(split + 1..).unwrap_or(b""));
    let source = source.strip_prefix(b"/").unwrap_or(source);
    if is_remote(source) {
        return Err(remote_source());
    }
    let mut v = Variant::default();
    let mut w = Vec::new();
    for opt in split_options(&query::decode_lossy(opts)) {
        let (name, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
        option(&mut v, name.trim(), value.trim(), &mut w)?;
    }
    let key = key::parse_key(source)?;
    v.normalize()?;
    for pair in query::pairs(raw_query) {
        w.push(dropped(&pair.name));
    }
    Ok(Translated::new(key, v, w))
}

/// Splits on commas outside parentheses (`background=rgb(1,2,3)`).
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().filter(|o| !o.is_empty()).collect()
}

fn option(v: &mut Variant, name: &str, value: &str, w: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let bad = || PolicyError::bad_param(name, value);
    let canon_err = |e: PolicyError| {
        if e.code == crate::error::ErrorCode::BadParam {
            bad()
        } else {
            e
        }
    };
    match name {
        "width" | "w" | "height" | "h" => {
            let side = if name.starts_with('w') { "w" } else { "h" };
            if value == "auto" {
                lossy(w, "`width=auto` needs client hints; the size is left open");
            } else {
                v.set(side, value, w).map_err(canon_err)?;
            }
        }
        "quality" | "q" => {
            let q = match value {
                "high" => "90",
                "medium-high" => "82",
                "medium-low" => "72",
                "low" => "60",
                n => n,
            };
            v.set("q", q, w).map_err(canon_err)?;
        }
        "format" | "f" => {
            v.fmt = Some(match value {
                "baseline-jpeg" => Format::Jpeg,
                "json" => return Err(bad()),
                other => Format::parse(other).ok_or_else(bad)?,
            })
        }
        "fit" => {
            let (fit, enlarge, lim) = match value {
                "scale-down" => (Fit::Inside, false, false),
                "contain" => (Fit::Inside, true, false),
                "cover" => (Fit::Cover, true, false),
                "crop" => (Fit::Cover, false, true),
                "aspect-crop" => (Fit::Cover, false, false),
                "pad" => (Fit::Contain, true, false),
                "squeeze" => (Fit::Fill, false, false),
                _ => return Err(bad()),
            };
            v.fit = fit;
            v.enlarge = enlarge;
            v.lim_orig = lim;
        }
        "gravity" | "g" => {
            v.gravity = match value.split_once('x') {
                Some((x, y)) if x.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                    Gravity::parse(&format!("fp:{x},{y}")).ok_or_else(bad)?
                }
                _ => gravity_word(value).ok_or_else(bad)?,
            };
        }
        "dpr" => {
            v.set("dpr", value, w).map_err(canon_err)?;
        }
        "background" => v.bg = Some(css_color(value).ok_or_else(bad)?),
        "rotate" => match value {
            "0" | "90" | "180" | "270" => v.set("rot", value, w).map(|_| ())?,
            _ => return Err(bad()),
        },
        "flip" => {
            v.flip = Some(match value {
                "h" => Flip::H,
                "v" => Flip::V,
                "hv" | "vh" => Flip::Hv,
                _ => return Err(bad()),
            })
        }
        "blur" => {
            // Cloudflare's blur is a radius 1–250; sigma ≈ radius / 2.
            let r = parse_fixed(value, 2).ok_or_else(bad)?;
            if r > 0 {
                v.blur = Some((r / 2).clamp(30, 10_000));
                lossy(w, "`blur` radius approximated by a gaussian sigma");
            }
        }
        "metadata" | "onerror" => {}
        "anim" if value == "true" => {}
        "anim" | "sharpen" | "brightness" | "contrast" | "gamma" | "saturation" | "border" | "compression" | "zoom"
        | "segment" | "trim" | "trim.width" | "trim.height" | "trim.left" | "trim.top" => {
            lossy(w, format!("`{name}` is not implemented"))
        }
        _ => w.push(dropped(name)),
    }
    Ok(())
}
