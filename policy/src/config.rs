//! The filter's plugin configuration (DESIGN.md §9), also read by `pixgate-explain
//! --config` and by the origin. Unknown fields are errors so that a typo never silently
//! turns a feature off.

use crate::dialect::Dialect;
use crate::json::Reader;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterConfig {
    /// Route profiles, first match wins. Empty: one default route claims every path,
    /// with the key being the path without a leading `/img/` or `/`.
    pub routes: Vec<RouteConfig>,
    /// Add `x-pixgate-dialect` and `x-pixgate-canonical` to responses.
    pub debug_headers: bool,
    /// Answer requests carrying `x-pixgate-explain: 1` with the explain JSON.
    pub allow_explain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Path prefix the route claims (default `/`). The key is what follows it.
    pub prefix: String,
    /// Host (authority without port, case-insensitive) the route claims; any when absent.
    pub host: Option<String>,
    /// The route's dialect; sniffed from the URL's shape when absent.
    pub dialect: Option<Dialect>,
    /// Prepended to the key taken from the URL (maps a legacy bucket onto the store).
    pub key_prefix: String,
    pub formats: FormatsConfig,
    /// Add `User-Agent` to `Vary` when the User-Agent fallback may decide. Off by default:
    /// correctness for clients without an image `Accept` behind a shared cache, against
    /// cache fragmentation (DESIGN.md §4).
    pub vary_user_agent: bool,
    /// What to do with a legacy feature the canonical model can only approximate:
    /// `"approximate"` (default; counted and warned about) or `"reject"` (400
    /// `unsupported_legacy_feature`).
    pub lossy: LossyPolicy,
    /// URL signatures for this route (see [`crate::sign`]); none when absent.
    pub signature: Option<SignatureConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LossyPolicy {
    #[default]
    Approximate,
    Reject,
}

/// `"signature": {"keys": ["k1", "k2"], "required": true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureConfig {
    /// HMAC secrets, any of which verifies (rotation: add the new key, later drop the old
    /// one). Pixgate `sig` parameters use HMAC-SHA256; on a thumbor route they are
    /// thumbor's HMAC-SHA1 keys.
    pub keys: Vec<String>,
    /// `true`: a request without a valid signature is 403 `bad_signature` (thumbor:
    /// `/unsafe/` URLs too). `false`: a signature, when present, is still verified.
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatsConfig {
    pub avif: bool,
    pub webp: bool,
    /// Decide by User-Agent when `Accept` names no image type.
    pub user_agent_fallback: bool,
}

impl Default for FormatsConfig {
    fn default() -> Self {
        FormatsConfig { avif: true, webp: true, user_agent_fallback: true }
    }
}

impl FilterConfig {
    /// Parses and validates the JSON configuration. Errors name the offending field.
    pub fn from_json(bytes: &[u8]) -> Result<FilterConfig, String> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(FilterConfig::default());
        }
        let mut r = Reader::new(bytes);
        let cfg = read_filter_config(&mut r)?;
        r.end()?;
        for (i, r) in cfg.routes.iter().enumerate() {
            if !r.prefix.starts_with('/') {
                return Err(format!("routes[{i}].prefix must start with `/`"));
            }
            if let Some(sig) = &r.signature {
                if sig.keys.is_empty() || sig.keys.iter().any(String::is_empty) {
                    return Err(format!("routes[{i}].signature.keys must hold non-empty keys"));
                }
            }
            if !r.key_prefix.is_empty() {
                crate::key::validate_key(r.key_prefix.trim_end_matches('/'))
                    .map_err(|e| format!("routes[{i}].key_prefix: {}", e.message))?;
            }
        }
        Ok(cfg)
    }
}

// The readers below mirror what `#[derive(Deserialize)]` with `deny_unknown_fields`
// accepted: absent fields take their defaults, `null` is absent for `Option` fields only.

fn read_filter_config(r: &mut Reader<'_>) -> Result<FilterConfig, String> {
    let mut c = FilterConfig::default();
    r.structure("FilterConfig", &["routes", "debug_headers", "allow_explain"], &mut |r, i| {
        match i {
            0 => c.routes = r.seq(read_route)?,
            1 => c.debug_headers = r.boolean()?,
            _ => c.allow_explain = r.boolean()?,
        }
        Ok(())
    })?;
    Ok(c)
}

fn read_route(r: &mut Reader<'_>) -> Result<RouteConfig, String> {
    const FIELDS: &[&str] =
        &["prefix", "host", "dialect", "key_prefix", "formats", "vary_user_agent", "lossy", "signature"];
    let mut c = RouteConfig {
        prefix: "/".to_owned(),
        host: None,
        dialect: None,
        key_prefix: String::new(),
        formats: FormatsConfig::default(),
        vary_user_agent: false,
        lossy: LossyPolicy::default(),
        signature: None,
    };
    r.structure("RouteConfig", FIELDS, &mut |r, i| {
        match i {
            0 => c.prefix = r.string()?,
            1 => c.host = if r.null()? { None } else { Some(r.string()?) },
            2 => {
                c.dialect = if r.null()? {
                    None
                } else {
                    let names = Dialect::ALL.map(Dialect::as_str);
                    Some(r.variant(&names, Dialect::parse)?)
                }
            }
            3 => c.key_prefix = r.string()?,
            4 => c.formats = read_formats(r)?,
            5 => c.vary_user_agent = r.boolean()?,
            6 => {
                c.lossy = r.variant(&["approximate", "reject"], |s| match s {
                    "approximate" => Some(LossyPolicy::Approximate),
                    "reject" => Some(LossyPolicy::Reject),
                    _ => None,
                })?
            }
            _ => c.signature = if r.null()? { None } else { Some(read_signature(r)?) },
        }
        Ok(())
    })?;
    Ok(c)
}

fn read_signature(r: &mut Reader<'_>) -> Result<SignatureConfig, String> {
    let mut keys = None;
    let mut required = false;
    r.structure("SignatureConfig", &["keys", "required"], &mut |r, i| {
        match i {
            0 => keys = Some(r.seq(Reader::string)?),
            _ => required = r.boolean()?,
        }
        Ok(())
    })?;
    let keys = keys.ok_or_else(|| r.err("missing field `keys`"))?;
    Ok(SignatureConfig { keys, required })
}

fn read_formats(r: &mut Reader<'_>) -> Result<FormatsConfig, String> {
    let mut f = FormatsConfig::default();
    r.structure("FormatsConfig", &["avif", "webp", "user_agent_fallback"], &mut |r, i| {
        let v = r.boolean()?;
        match i {
            0 => f.avif = v,
            1 => f.webp = v,
            _ => f.user_agent_fallback = v,
        }
        Ok(())
    })?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_configuration_is_the_default() {
        assert_eq!(FilterConfig::from_json(b"").unwrap(), FilterConfig::default());
        assert_eq!(FilterConfig::from_json(b"{}").unwrap(), FilterConfig::default());
    }

    #[test]
    fn misspelt_field_is_refused_by_name() {
        let e = FilterConfig::from_json(br#"{"routes":[{"prefx":"/"}]}"#).unwrap_err();
        assert!(e.contains("prefx"), "{e}");
        let e = FilterConfig::from_json(br#"{"debug_header":true}"#).unwrap_err();
        assert!(e.contains("debug_header"), "{e}");
    }

    #[test]
    fn unknown_dialect_is_refused() {
        let e = FilterConfig::from_json(br#"{"routes":[{"dialect":"cloudinary"}]}"#).unwrap_err();
        assert!(e.contains("cloudinary"), "{e}");
    }

    #[test]
    fn lossy_and_signature_settings_parse() {
        let c = FilterConfig::from_json(
            br#"{"routes":[{"lossy":"reject","signature":{"keys":["k1","k2"],"required":true}}]}"#,
        )
        .unwrap();
        assert_eq!(c.routes[0].lossy, LossyPolicy::Reject);
        let s = c.routes[0].signature.as_ref().unwrap();
        assert_eq!(s.keys, ["k1", "k2"]);
        assert!(s.required);
        assert!(FilterConfig::from_json(br#"{"routes":[{"signature":{"keys":[]}}]}"#).is_err());
        assert!(FilterConfig::from_json(br#"{"routes":[{"lossy":"maybe"}]}"#).is_err());
    }

    #[test]
    fn routes_take_defaults() {
        let c = FilterConfig::from_json(br#"{"routes":[{"dialect":"qiniu","key_prefix":"legacy/"}]}"#).unwrap();
        assert_eq!(c.routes[0].prefix, "/");
        assert_eq!(c.routes[0].dialect, Some(Dialect::Qiniu));
        assert!(c.routes[0].formats.avif);
    }
}
