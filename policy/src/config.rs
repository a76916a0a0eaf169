//! The filter's plugin configuration (DESIGN.md §9), also read by `pixgate-explain
//! --config` and by the origin. Unknown fields are errors so that a typo never silently
//! turns a feature off.

use serde::Deserialize;

use crate::dialect::Dialect;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Route profiles, first match wins. Empty: one default route claims every path,
    /// with the key being the path without a leading `/img/` or `/`.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Add `x-pixgate-dialect` and `x-pixgate-canonical` to responses.
    #[serde(default)]
    pub debug_headers: bool,
    /// Answer requests carrying `x-pixgate-explain: 1` with the explain JSON.
    #[serde(default)]
    pub allow_explain: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix the route claims (default `/`). The key is what follows it.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Host (authority without port, case-insensitive) the route claims; any when absent.
    #[serde(default)]
    pub host: Option<String>,
    /// The route's dialect; sniffed from the URL's shape when absent.
    #[serde(default)]
    pub dialect: Option<Dialect>,
    /// Prepended to the key taken from the URL (maps a legacy bucket onto the store).
    #[serde(default)]
    pub key_prefix: String,
    #[serde(default)]
    pub formats: FormatsConfig,
    /// Add `User-Agent` to `Vary` when the User-Agent fallback may decide. Off by default:
    /// correctness for clients without an image `Accept` behind a shared cache, against
    /// cache fragmentation (DESIGN.md §4).
    #[serde(default)]
    pub vary_user_agent: bool,
    /// What to do with a legacy feature the canonical model can only approximate:
    /// `"approximate"` (default; counted and warned about) or `"reject"` (400
    /// `unsupported_legacy_feature`).
    #[serde(default)]
    pub lossy: LossyPolicy,
    /// URL signatures for this route (see [`crate::sign`]); none when absent.
    #[serde(default)]
    pub signature: Option<SignatureConfig>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LossyPolicy {
    #[default]
    Approximate,
    Reject,
}

/// `"signature": {"keys": ["k1", "k2"], "required": true}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    /// HMAC secrets, any of which verifies (rotation: add the new key, later drop the old
    /// one). Pixgate `sig` parameters use HMAC-SHA256; on a thumbor route they are
    /// thumbor's HMAC-SHA1 keys.
    pub keys: Vec<String>,
    /// `true`: a request without a valid signature is 403 `bad_signature` (thumbor:
    /// `/unsafe/` URLs too). `false`: a signature, when present, is still verified.
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FormatsConfig {
    #[serde(default = "yes")]
    pub avif: bool,
    #[serde(default = "yes")]
    pub webp: bool,
    /// Decide by User-Agent when `Accept` names no image type.
    #[serde(default = "yes")]
    pub user_agent_fallback: bool,
}

impl Default for FormatsConfig {
    fn default() -> Self {
        FormatsConfig { avif: true, webp: true, user_agent_fallback: true }
    }
}

fn default_prefix() -> String {
    "/".to_owned()
}

fn yes() -> bool {
    true
}

impl FilterConfig {
    /// Parses and validates the JSON configuration. Errors name the offending field.
    pub fn from_json(bytes: &[u8]) -> Result<FilterConfig, String> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(FilterConfig::default());
        }
        let cfg: FilterConfig = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
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
