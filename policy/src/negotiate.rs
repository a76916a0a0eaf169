//! Output format negotiation (DESIGN.md §4).

use crate::variant::Format;

/// Why the output format is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatReason {
    Explicit,
    Accept,
    UserAgent,
    None,
}

impl FormatReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FormatReason::Explicit => "explicit",
            FormatReason::Accept => "accept",
            FormatReason::UserAgent => "user-agent",
            FormatReason::None => "none",
        }
    }
}

/// What a route lets negotiation pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub avif: bool,
    pub webp: bool,
    pub user_agent_fallback: bool,
}

/// How an `Accept` header treats one media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// Named explicitly with q > 0.
    Listed,
    /// Named explicitly with q = 0.
    Refused,
    /// Not named (wildcards do not count).
    Unlisted,
}

/// Looks `mime` up in an `Accept` header. Malformed members are skipped.
pub fn acceptance(accept: &[u8], mime: &str) -> Acceptance {
    acceptances(accept, [mime])[0]
}

/// [`acceptance`] of several types in one pass over the header.
fn acceptances<const N: usize>(accept: &[u8], mimes: [&str; N]) -> [Acceptance; N] {
    let mut result = [Acceptance::Unlisted; N];
    // Index scanning rather than nested `split` iterators: this runs on every request.
    let mut start = 0;
    while start <= accept.len() {
        let end = accept[start..].iter().position(|&b| b == b',').map_or(accept.len(), |p| start + p);
        let member = &accept[start..end];
        start = end + 1;
        let range_end = member.iter().position(|&b| b == b';').unwrap_or(member.len());
        let range = trim(&member[..range_end]);
        let Some(i) = mimes.iter().position(|m| range.eq_ignore_ascii_case(m.as_bytes())) else {
            continue;
        };
        let mut q_zero = false;
        for param in member[range_end..].split(|&b| b == b';').skip(1) {
            let param = trim(param);
            if param.len() >= 2 && param[..2].eq_ignore_ascii_case(b"q=") {
                q_zero = is_zero_q(trim(&param[2..]));
            }
        }
        // A type listed twice: any positive listing wins.
        result[i] = match (result[i], q_zero) {
            (Acceptance::Listed, _) | (_, false) => Acceptance::Listed,
            _ => Acceptance::Refused,
        };
    }
    result
}

fn is_zero_q(q: &[u8]) -> bool {
    !q.is_empty() && q[0] == b'0' && q[1..].iter().all(|&b| b == b'.' || b == b'0')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &s[start..end]
}

/// True when `Accept` names a concrete image type (`image/*` does not count).
pub fn names_image_type(accept: &[u8]) -> bool {
    accept.split(|&b| b == b',').any(|member| {
        let range = trim(member.split(|&b| b == b';').next().unwrap_or(b""));
        range.len() > 6 && range[..6].eq_ignore_ascii_case(b"image/") && range != b"image/*"
    })
}

/// Picks a modern format for a request whose variant leaves the format open: Accept
/// first; the User-Agent only when Accept names no image type and the route allows it.
pub fn negotiate(accept: Option<&[u8]>, user_agent: Option<&[u8]>, opts: Options) -> (Option<Format>, FormatReason) {
    let accept = accept.unwrap_or(b"");
    let [avif, webp] = acceptances(accept, ["image/avif", "image/webp"]);
    if opts.avif && avif == Acceptance::Listed {
        return (Some(Format::Avif), FormatReason::Accept);
    }
    if opts.webp && webp == Acceptance::Listed {
        return (Some(Format::Webp), FormatReason::Accept);
    }
    if opts.user_agent_fallback && !names_image_type(accept) {
        if let Some(ua) = user_agent {
            let c = crate::ua::classify(ua);
            if opts.avif && c.avif {
                return (Some(Format::Avif), FormatReason::UserAgent);
            }
            if opts.webp && c.webp {
                return (Some(Format::Webp), FormatReason::UserAgent);
            }
        }
    }
    (None, FormatReason::None)
}

/// The `Vary` value to send when the response must vary on `names` and already carries
/// `existing` (the upstream's, possibly the origin's own): `None` when nothing needs
/// adding, else the existing value with the missing names appended. Header names compare
/// case-insensitively; `*` already varies on everything.
pub fn merge_vary(existing: Option<&[u8]>, names: &[&str]) -> Option<Vec<u8>> {
    let existing = existing.unwrap_or_default();
    let present = |name: &str| {
        existing.split(|&b| b == b',').any(|t| {
            let t = t.trim_ascii();
            t == b"*" || t.eq_ignore_ascii_case(name.as_bytes())
        })
    };
    let missing: Vec<&str> = names.iter().copied().filter(|n| !present(n)).collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = existing.trim_ascii().to_vec();
    for name in missing {
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(name.as_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Options = Options { avif: true, webp: true, user_agent_fallback: true };

    #[test]
    fn accept_decides() {
        let cases: &[(&str, Option<Format>)] = &[
            ("image/avif,image/webp,*/*", Some(Format::Avif)),
            ("image/webp,*/*", Some(Format::Webp)),
            ("image/avif;q=0,image/webp", Some(Format::Webp)),
            ("image/avif;q=0.0, image/webp;q=0", None),
            ("*/*", None),
            ("image/*", None),
            ("IMAGE/WEBP", Some(Format::Webp)),
            ("image/webp;q=0.5", Some(Format::Webp)),
            ("", None),
        ];
        for &(accept, want) in cases {
            assert_eq!(negotiate(Some(accept.as_bytes()), None, ALL).0, want, "{accept}");
        }
    }

    #[test]
    fn route_switches_limit_the_choice() {
        let webp_only = Options { avif: false, ..ALL };
        assert_eq!(negotiate(Some(b"image/avif,image/webp"), None, webp_only).0, Some(Format::Webp));
    }

    #[test]
    fn non_utf8_accept_does_not_panic() {
        assert_eq!(negotiate(Some(b"\xff\xfe;q=\xff,"), None, ALL).0, None);
    }

    #[test]
    fn merge_vary_adds_only_missing_names() {
        let cases: &[(Option<&str>, &[&str], Option<&str>)] = &[
            (None, &["Accept"], Some("Accept")),
            (Some(""), &["Accept", "User-Agent"], Some("Accept, User-Agent")),
            (Some("Accept"), &["Accept"], None),
            (Some("accept"), &["Accept"], None),
            (Some("Accept-Encoding"), &["Accept"], Some("Accept-Encoding, Accept")),
            (Some(" Accept , Origin "), &["Accept", "User-Agent"], Some("Accept , Origin, User-Agent")),
            (Some("*"), &["Accept"], None),
            (Some("Accept, User-Agent"), &["Accept", "User-Agent"], None),
            (Some("Origin"), &[], None),
        ];
        for (existing, names, want) in cases {
            let got = merge_vary(existing.map(str::as_bytes), names);
            assert_eq!(got.as_deref(), want.map(str::as_bytes), "{existing:?} + {names:?}");
        }
    }
}
