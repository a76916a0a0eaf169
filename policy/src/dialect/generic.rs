//! The generic query dialect (DIALECTS.md §1): `?width=200&height=150&crop=1` and the
//! canonical names themselves, so that a canonical URL is a fixed point.

use super::Translated;
use crate::error::{PolicyError, Warning, WarningCode};
use crate::key;
use crate::query;
use crate::variant::{dropped, Fit, Format, Gravity, Variant};

pub fn translate(path: &[u8], raw_query: &[u8]) -> Result<Translated, PolicyError> {
    let key = key::parse_key(path)?;
    let mut v = Variant::default();
    let mut warnings = Vec::new();
    let mut signature = None;
    let mut expires = None;
    let mut auto_compress = false;

    for pair in query::pairs(raw_query) {
        let (name, value) = (pair.name.as_str(), pair.value.as_str());
        match name {
            "width" | "imwidth" => {
                v.set("w", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "height" => {
                v.set("h", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "quality" => {
                v.set("q", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "format" | "fm" | "output" | "fmt" => set_format(&mut v, name, value, &mut warnings)?,
            "dppx" | "zoom" => {
                v.set("dpr", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "g" | "anchor" | "position" => {
                v.gravity = Gravity::parse(value).ok_or_else(|| PolicyError::bad_param(name, value))?;
            }
            "bgcolor" | "background" => {
                v.set("bg", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "rect" => {
                v.set("crop", value, &mut warnings).map_err(|_| PolicyError::bad_param(name, value))?;
            }
            "crop" => set_crop(&mut v, value, &mut warnings)?,
            "auto" => match value {
                "format" => {
                    if v.fmt.is_none() {
                        v.fmt = Some(Format::Auto);
                    }
                }
                "compress" => auto_compress = true,
                _ => warnings.push(Warning::new(WarningCode::Lossy, "`auto` value ignored")),
            },
            "enable" if value == "upscale" => v.enlarge = true,
            "disable" if value == "upscale" => v.enlarge = false,
            "sig" | "signature" | "sign" => signature = Some(pair.value.clone()),
            "s" if !is_number(value) => signature = Some(pair.value.clone()),
            "exp" | "expires" => {
                expires = Some(value.parse::<u64>().map_err(|_| PolicyError::bad_param(name, value))?);
            }
            "ixlib" => {}
            _ => {
                if !v.set(name, value, &mut warnings)? {
                    warnings.push(dropped(name));
                }
            }
        }
    }
    if auto_compress && v.q.is_none() {
        v.q = Some(45);
    }
    v.normalize()?;
    Ok(Translated { key, variant: v, warnings, signature, expires })
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn set_format(v: &mut Variant, name: &str, value: &str, warnings: &mut Vec<Warning>) -> Result<(), PolicyError> {
    match value.to_ascii_lowercase().as_str() {
        "pjpg" => {
            v.fmt = Some(Format::Jpeg);
            v.prog = true;
        }
        "png8" => v.fmt = Some(Format::Png),
        "jxl" => {
            v.fmt = Some(Format::Auto);
            warnings.push(Warning::new(WarningCode::Lossy, "`jxl` has no encoder; negotiated instead"));
        }
        other => v.fmt = Some(Format::parse(other).ok_or_else(|| PolicyError::bad_param(name, value))?),
    }
    Ok(())
}

/// `crop` is a boolean, a Shopify-style anchor, or a canonical region.
fn set_crop(v: &mut Variant, value: &str, warnings: &mut Vec<Warning>) -> Result<(), PolicyError> {
    let anchor = match value {
        "1" | "true" | "yes" => Some(Gravity::Center),
        "0" | "false" | "no" => return Ok(()),
        "center" => Some(Gravity::Center),
        "top" => Some(Gravity::North),
        "bottom" => Some(Gravity::South),
        "left" => Some(Gravity::West),
        "right" => Some(Gravity::East),
        _ => None,
    };
    match anchor {
        Some(g) => {
            v.fit = Fit::Cover;
            v.gravity = g;
            Ok(())
        }
        None => v.set("crop", value, warnings).map(|_| ()),
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
            ("width=100&height=100&crop=top", "fit=cover&gravity=north&h=100&w=100"),
            ("crop=10,20,30,40", "crop=10,20,30,40"),
            ("width=10&utm_source=x&cachebust=123", "w=10"),
            ("width=10&sig=abc&expires=99", "w=10"),
            ("bgcolor=%23ff0000&w=1", "bg=ff0000&w=1"),
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
        let e = translate(b"a.jpg", b"width=-5").unwrap_err();
        assert!(e.message.contains("`width`"), "{}", e.message);
    }

    #[test]
    fn junk_is_dropped_with_a_warning() {
        let t = translate(b"a.jpg", b"w=1&foo=bar").unwrap();
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(t.warnings[0].code, WarningCode::DroppedParam);
    }
}
