//! The one entry point both runtimes call: a request head in, a decision out.

use crate::config::{FilterConfig, LossyPolicy, RouteConfig};
use crate::dialect::{self, Dialect};
use crate::error::{ErrorCode, WarningCode};
use crate::error::{PolicyError, Warning};
use crate::key;
use crate::negotiate::{self, FormatReason};
use crate::query::split_target;
use crate::variant::{Format, Variant};

/// What the policy needs of a request. Header values are untrusted bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHead<'a> {
    /// `:authority` / `Host`.
    pub authority: &'a [u8],
    /// `:path`, with the query.
    pub path: &'a [u8],
    pub accept: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// Unix seconds, for signature expiry; the policy has no clock.
    pub now: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub dialect: Dialect,
    /// The object key in the store (route key prefix applied).
    pub key: String,
    pub variant: Variant,
    pub format_reason: FormatReason,
    /// Header names for `Vary`.
    pub vary: Vec<&'static str>,
    pub warnings: Vec<Warning>,
}

impl Outcome {
    /// `/img/<key>?<canonical query>`.
    pub fn canonical_path(&self) -> String {
        let mut p = String::with_capacity(64 + self.key.len());
        p.push_str("/img/");
        key::encode_key_into(&mut p, &self.key);
        p.push('?');
        let before = p.len();
        self.variant.write_query(&mut p);
        if p.len() == before {
            p.pop();
        }
        p
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No route claims the request: leave it untouched.
    Pass,
    Forward(Box<Outcome>),
    Reject(PolicyError),
}

/// A compiled configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    config: FilterConfig,
    /// The route used when the configuration has none, built once.
    default_route: RouteConfig,
}

/// The route used when the configuration has none.
fn default_route() -> RouteConfig {
    RouteConfig {
        prefix: "/".to_owned(),
        host: None,
        dialect: None,
        key_prefix: String::new(),
        formats: Default::default(),
        vary_user_agent: false,
        lossy: Default::default(),
        signature: None,
    }
}

impl Policy {
    pub fn new(config: FilterConfig) -> Policy {
        Policy { config, default_route: default_route() }
    }

    pub fn config(&self) -> &FilterConfig {
        &self.config
    }

    pub fn decide(&self, req: &RequestHead<'_>) -> Decision {
        let (path, query) = split_target(req.path);
        let route = if self.config.routes.is_empty() {
            &self.default_route
        } else {
            match self.config.routes.iter().find(|r| route_matches(r, req.authority, path)) {
                Some(r) => r,
                None => return Decision::Pass,
            }
        };
        match self.apply(route, req, path, query) {
            Ok(o) => Decision::Forward(Box::new(o)),
            Err(e) => Decision::Reject(e),
        }
    }

    /// The dialect a request would be read in (route-bound or sniffed); `None` when no
    /// route claims it.
    pub fn dialect_for(&self, req: &RequestHead<'_>) -> Option<Dialect> {
        let (path, query) = split_target(req.path);
        let route = if self.config.routes.is_empty() {
            &self.default_route
        } else {
            self.config.routes.iter().find(|r| route_matches(r, req.authority, path))?
        };
        if let Some(d) = route.dialect {
            return Some(d);
        }
        let rest = &path[route.prefix.len().min(path.len())..];
        Some(sniff_route_path(route, rest, query).0)
    }

    fn apply(
        &self,
        route: &RouteConfig,
        req: &RequestHead<'_>,
        path: &[u8],
        query: &[u8],
    ) -> Result<Outcome, PolicyError> {
        let rest = &path[route.prefix.len().min(path.len())..];
        // Canonical URLs keep their `/img/` namespace whatever the route prefix.
        let (sniffed, rest) = sniff_route_path(route, rest, query);
        let dialect = route.dialect.unwrap_or(sniffed);
        let mut t = dialect::translate(dialect, rest, query)?;
        // Translators return keys that `key::parse_key` validated; only a prefixed key is new.
        let key = if route.key_prefix.is_empty() {
            std::mem::take(&mut t.key)
        } else {
            let key = format!("{}{}", route.key_prefix, t.key);
            key::validate_key(&key)?;
            key
        };

        if route.lossy == LossyPolicy::Reject {
            if let Some(w) = t.warnings.iter().find(|w| w.code == WarningCode::Lossy) {
                return Err(PolicyError::new(ErrorCode::UnsupportedLegacyFeature, w.message.clone()));
            }
        }
        if let Some(sc) = &route.signature {
            check_signature(sc, dialect, &t, &key, req.now)?;
        }
        let mut variant = std::mem::take(&mut t.variant);

        let negotiates = route.formats.avif || route.formats.webp;
        let format_reason = match variant.fmt {
            Some(Format::Auto) | None if negotiates => {
                let opts = negotiate::Options {
                    avif: route.formats.avif,
                    webp: route.formats.webp,
                    user_agent_fallback: route.formats.user_agent_fallback,
                };
                let (fmt, reason) = negotiate::negotiate(req.accept, req.user_agent, opts);
                variant.fmt = fmt;
                reason
            }
            Some(Format::Auto) => {
                variant.fmt = None;
                FormatReason::None
            }
            Some(_) => FormatReason::Explicit,
            None => FormatReason::None,
        };
        let mut vary = Vec::new();
        if negotiates && format_reason != FormatReason::Explicit {
            vary.push("Accept");
            if route.vary_user_agent && route.formats.user_agent_fallback {
                vary.push("User-Agent");
            }
        }
        Ok(Outcome { dialect, key, variant, format_reason, vary, warnings: t.warnings })
    }
}

/// Strips the canonical `/img/` namespace (on a `/` route) and sniffs the dialect. Under
/// `/img/` only the query is sniffed: the path is a store key, so a key that happens to
/// start with `unsafe/` or `cdn-cgi/image/` keeps its canonical URL a fixed point.
fn sniff_route_path<'a>(route: &RouteConfig, rest: &'a [u8], query: &[u8]) -> (Dialect, &'a [u8]) {
    match rest.strip_prefix(b"img/").filter(|_| route.prefix == "/") {
        // `translate` forgives one leading `/` (prefix routes written without a trailing
        // one); after `/img/` that would hide an empty first segment, so both slashes
        // are passed on and `parse_key` refuses it.
        Some(key) if key.starts_with(b"/") => (Dialect::Generic, rest.strip_prefix(b"img").unwrap_or(rest)),
        Some(key) => (dialect::sniff(b"", query), key),
        None => {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (dialect::sniff(rest, query), rest)
        }
    }
}

/// Verifies the route's signature settings (see [`crate::sign`]); then `exp`.
fn check_signature(
    sc: &crate::config::SignatureConfig,
    dialect: Dialect,
    t: &dialect::Translated,
    store_key: &str,
    now: Option<u64>,
) -> Result<(), PolicyError> {
    let bad = |m: &str| PolicyError::new(ErrorCode::BadSignature, m);
    if dialect == Dialect::Thumbor {
        return match &t.path_signature {
            Some(ps) if crate::sign::verify_thumbor(&sc.keys, &ps.message, &ps.signature) => Ok(()),
            Some(_) => Err(bad("thumbor signature does not match")),
            None if sc.required => Err(bad("this route requires signed thumbor URLs")),
            None => Ok(()),
        };
    }
    match &t.signature {
        Some(sig) => {
            let msg = crate::sign::message(store_key, &t.variant, t.expires);
            if !crate::sign::verify(&sc.keys, msg.as_bytes(), sig) {
                return Err(bad("signature does not match"));
            }
        }
        None if sc.required => return Err(bad("this route requires a signature")),
        None => return Ok(()),
    }
    // The policy has no clock: without `now` expiry cannot be judged here.
    if let (Some(exp), Some(now)) = (t.expires, now) {
        if now > exp {
            return Err(PolicyError::new(ErrorCode::Expired, "signed URL has expired"));
        }
    }
    Ok(())
}

fn route_matches(r: &RouteConfig, authority: &[u8], path: &[u8]) -> bool {
    if let Some(host) = &r.host {
        let a = authority.split(|&b| b == b':').next().unwrap_or(authority);
        if !a.eq_ignore_ascii_case(host.as_bytes()) {
            return false;
        }
    }
    path.starts_with(r.prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(p: &Policy, path: &str) -> Outcome {
        match p.decide(&RequestHead { path: path.as_bytes(), ..Default::default() }) {
            Decision::Forward(o) => *o,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn default_route_rewrites_legacy_and_keeps_canonical() {
        let p = Policy::new(FilterConfig::default());
        assert_eq!(
            forward(&p, "/demo.jpg?width=200&height=150&crop=1").canonical_path(),
            "/img/demo.jpg?fit=cover&h=150&w=200"
        );
        assert_eq!(forward(&p, "/img/demo.jpg?w=100&fmt=webp").canonical_path(), "/img/demo.jpg?fmt=webp&w=100");
        assert_eq!(forward(&p, "/img/a%20b.jpg").canonical_path(), "/img/a%20b.jpg");
    }

    #[test]
    fn negotiation_fills_an_open_format_and_sets_vary() {
        let p = Policy::new(FilterConfig::default());
        let d = p.decide(&RequestHead { path: b"/a.jpg?w=10", accept: Some(b"image/webp,*/*"), ..Default::default() });
        let Decision::Forward(o) = d else { panic!() };
        assert_eq!(o.variant.fmt, Some(Format::Webp));
        assert_eq!(o.format_reason, FormatReason::Accept);
        assert_eq!(o.vary, vec!["Accept"]);
    }

    #[test]
    fn explicit_format_wins_and_needs_no_vary() {
        let p = Policy::new(FilterConfig::default());
        let d = p.decide(&RequestHead { path: b"/a.jpg?fmt=png", accept: Some(b"image/avif"), ..Default::default() });
        let Decision::Forward(o) = d else { panic!() };
        assert_eq!(o.variant.fmt, Some(Format::Png));
        assert!(o.vary.is_empty());
    }

    #[test]
    fn unclaimed_paths_pass_and_key_prefix_maps() {
        let cfg = FilterConfig::from_json(br#"{"routes":[{"prefix":"/legacy/","key_prefix":"old/"}]}"#).unwrap();
        let p = Policy::new(cfg);
        assert_eq!(p.decide(&RequestHead { path: b"/other/a.jpg", ..Default::default() }), Decision::Pass);
        assert_eq!(forward(&p, "/legacy/a.jpg?width=5").canonical_path(), "/img/old/a.jpg?w=5");
    }

    #[test]
    fn traversal_is_rejected() {
        let p = Policy::new(FilterConfig::default());
        for path in ["/../etc/passwd", "/img/%2e%2e/x", "/", "", "/img/a//b", "/img//etc/passwd", "/img///a.jpg?w=1"] {
            let d = p.decide(&RequestHead { path: path.as_bytes(), ..Default::default() });
            assert!(matches!(d, Decision::Reject(ref e) if e.status() == 400), "{path}: {d:?}");
        }
    }
}
