//! User-Agent classifier for format negotiation (DESIGN.md §4 step 3): browser family,
//! major version and OS, and whether WebP and AVIF can be assumed, with the thresholds of
//! `corpus/FORMAT-SUPPORT.md`. Only consulted when `Accept` names no image type. The input
//! is untrusted bytes: it is read lossily and at most [`MAX_UA_BYTES`] of it.

/// Longer User-Agents are cut: real ones are far shorter, and the cost stays bounded.
pub const MAX_UA_BYTES: usize = 1024;

/// What a User-Agent says about its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub family: Family,
    /// Major version of the family's own token (iOS: the OS major).
    pub major: u32,
    pub os: Os,
    pub webp: bool,
    pub avif: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chrome,
    Edge,
    EdgeLegacy,
    Firefox,
    Safari,
    /// Every browser on iOS/iPadOS: the system WebKit decides.
    IosWebKit,
    SamsungInternet,
    Opera,
    OperaMini,
    OperaPresto,
    AndroidWebView,
    AndroidBrowser,
    InternetExplorer,
    /// Crawlers, HTTP libraries and native app stacks: never assumed to decode anything.
    NonBrowser,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Ios,
    Android,
    MacOs,
    Windows,
    Linux,
    Other,
}

const NON_BROWSER: &[&str] = &[
    "bot",
    "spider",
    "crawl",
    "slurp",
    "facebookexternalhit",
    "okhttp",
    "dalvik",
    "java/",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "cfnetwork",
    "guzzlehttp",
    "axios/",
    "node-fetch",
    "libwww-perl",
    "apache-httpclient",
];

/// The lowercased User-Agent and the byte pairs it holds. Most of the ~40 tokens looked
/// for are absent, and one with a pair that never occurs is rejected without a search:
/// the searches' setup was most of the classification's cost.
struct Lower<'a> {
    s: &'a str,
    pairs: [u64; 64],
}

impl<'a> Lower<'a> {
    fn new(s: &'a str) -> Self {
        let mut pairs = [0u64; 64];
        for w in s.as_bytes().windows(2) {
            let h = pair_hash(w[0], w[1]);
            pairs[h / 64] |= 1 << (h % 64);
        }
        Lower { s, pairs }
    }

    /// False only when `needle` cannot occur (a shared hash just means "search").
    fn may_hold(&self, needle: &str) -> bool {
        needle.as_bytes().windows(2).all(|w| {
            let h = pair_hash(w[0], w[1]);
            self.pairs[h / 64] & (1 << (h % 64)) != 0
        })
    }

    fn contains(&self, needle: &str) -> bool {
        self.may_hold(needle) && self.s.contains(needle)
    }

    fn find(&self, needle: &str) -> Option<usize> {
        if self.may_hold(needle) {
            self.s.find(needle)
        } else {
            None
        }
    }
}

impl std::ops::Deref for Lower<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.s
    }
}

/// A slot in the 4096-bit pair table (pairs sharing one only cost a search).
fn pair_hash(a: u8, b: u8) -> usize {
    (usize::from(a) * 31 + usize::from(b)) & 4095
}

/// Classifies a User-Agent.
pub fn classify(ua: &[u8]) -> Client {
    let ua = &ua[..ua.len().min(MAX_UA_BYTES)];
    // `from_utf8` validates ASCII quickly; the lossy path only runs on bad bytes.
    let text = match std::str::from_utf8(ua) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(ua),
    };
    let lowercased = text.to_ascii_lowercase();
    let lower = Lower::new(&lowercased);
    let os = os_of(&lower);
    let mk = |family, major, webp, avif| Client { family, major, os, webp, avif };

    if NON_BROWSER.iter().any(|t| lower.contains(t)) {
        return mk(Family::NonBrowser, 0, false, false);
    }
    if let Some(v) = version_after(&lower, "opera mini/") {
        // Server-side transcoding makes WebP safe; AVIF never.
        return mk(Family::OperaMini, v, true, false);
    }
    if lower.contains("presto/")
        || lower.starts_with("opera/")
        || lower.contains(" opera/")
        || lower.contains("opera mobi")
    {
        return mk(Family::OperaPresto, 0, false, false);
    }
    if lower.contains("ucweb") && !lower.contains("chrome/") {
        return mk(Family::Other, 0, false, false);
    }
    if os == Os::Ios {
        let (major, minor) = ios_version(&lower).unwrap_or((0, 0));
        let webp = major >= 14;
        let avif = major > 16 || (major == 16 && minor >= 1);
        return mk(Family::IosWebKit, major, webp, avif);
    }
    if let Some(v) = version_after(&lower, "edge/") {
        return mk(Family::EdgeLegacy, v, v >= 18, false);
    }
    if let Some(v) = version_after(&lower, "edg/").or_else(|| version_after(&lower, "edga/")) {
        return mk(Family::Edge, v, true, v >= 121);
    }
    if let Some(v) = version_after(&lower, "firefox/") {
        return mk(Family::Firefox, v, v >= 65, v >= 93);
    }
    if let Some(v) = version_after(&lower, "samsungbrowser/") {
        return mk(Family::SamsungInternet, v, true, v >= 14);
    }
    if let Some(v) = version_after(&lower, "opr/") {
        return if os == Os::Android {
            mk(Family::Opera, v, v >= 14, v >= 60)
        } else {
            mk(Family::Opera, v, v >= 19, v >= 71)
        };
    }
    let chrome = version_after(&lower, "chrome/").or_else(|| version_after(&lower, "chromium/"));
    if os == Os::Android && (lower.contains("; wv)") || lower.contains("version/")) {
        let android = android_version(&lower);
        return match chrome {
            // Android WebView: WebP from Android 4.4, AVIF from Chromium 85.
            Some(c) => mk(Family::AndroidWebView, c, android >= (4, 4), c >= 85),
            // The stock browser: full WebP from Android 4.2, never AVIF.
            None => mk(Family::AndroidBrowser, 0, android >= (4, 2), false),
        };
    }
    if let Some(c) = chrome {
        // Chrome and every Chromium derivative, on the embedded Chromium version.
        return mk(Family::Chrome, c, c >= 32, c >= 85);
    }
    if lower.contains("msie ") || lower.contains("trident/") {
        return mk(Family::InternetExplorer, 0, false, false);
    }
    if os == Os::MacOs && lower.contains("safari/") {
        if let Some((v, minor)) = dotted_after(&lower, "version/") {
            // Safari before Big Sur cannot decode WebP; from Big Sur on the OS token is
            // frozen at 10_15_7, so only an explicitly older macOS says no.
            let old_macos = mac_version(&lower).is_some_and(|m| m < (10, 15, 7));
            let webp = v >= 14 && !old_macos;
            let avif = (v > 16 || (v == 16 && minor >= 4)) && !old_macos;
            return mk(Family::Safari, v, webp, avif);
        }
    }
    mk(Family::Other, 0, false, false)
}

fn os_of(lower: &Lower<'_>) -> Os {
    if (lower.contains("iphone") || lower.contains("ipad") || lower.contains("ipod")) && !lower.contains("opera mini") {
        Os::Ios
    } else if lower.contains("android") {
        Os::Android
    } else if lower.contains("mac os x") || lower.contains("macintosh") {
        Os::MacOs
    } else if lower.contains("windows") {
        Os::Windows
    } else if lower.contains("linux") || lower.contains("x11") || lower.contains("cros") {
        Os::Linux
    } else {
        Os::Other
    }
}

/// The leading integer after `token` (`chrome/85.0` → 85).
fn version_after(lower: &Lower<'_>, token: &str) -> Option<u32> {
    dotted_after(lower, token).map(|(m, _)| m)
}

/// Major and minor after `token`; the minor defaults to 0.
fn dotted_after(lower: &Lower<'_>, token: &str) -> Option<(u32, u32)> {
    let i = lower.find(token)? + token.len();
    let mut parts = lower[i..].split(|c: char| !c.is_ascii_digit());
    let major = leading_int(parts.next()?)?;
    let rest = &lower[i..];
    let minor = rest
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&j| rest[j..].starts_with('.'))
        .and_then(|j| leading_int(rest[j + 1..].split(|c: char| !c.is_ascii_digit()).next()?))
        .unwrap_or(0);
    Some((major, minor))
}

fn leading_int(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 {
        return None;
    }
    s.parse().ok()
}

/// `CPU iPhone OS 16_1` / `CPU OS 14_0` → (16, 1).
fn ios_version(lower: &Lower<'_>) -> Option<(u32, u32)> {
    let i = lower.find(" os ")? + 4;
    let rest = &lower[i..];
    let mut it = rest.split(['_', '.', ' ']);
    let major = leading_int(it.next()?)?;
    let minor = it.next().and_then(leading_int).unwrap_or(0);
    Some((major, minor))
}

/// `Android 4.4.2` → (4, 4); unknown → (0, 0).
fn android_version(lower: &Lower<'_>) -> (u32, u32) {
    let Some(i) = lower.find("android ") else {
        return (0, 0);
    };
    let rest = &lower[i + 8..];
    // Slice only after ASCII digits: those offsets are char boundaries whatever follows.
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(rest);
    let major = leading_int(&rest[..n]).unwrap_or(0);
    let minor = match rest[n..].strip_prefix('.') {
        Some(after) if n > 0 => leading_int(&after[..digits(after)]).unwrap_or(0),
        _ => 0,
    };
    (major, minor)
}

/// `Mac OS X 10_15_7` / `10.15` → (10, 15, 7).
fn mac_version(lower: &Lower<'_>) -> Option<(u32, u32, u32)> {
    let i = lower.find("mac os x ")? + 9;
    let mut it = lower[i..].split(['_', '.']).map(|s| {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        leading_int(&d)
    });
    let a = it.next()??;
    let b = it.next().flatten().unwrap_or(0);
    let c = it.next().flatten().unwrap_or(0);
    Some((a, b, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_after_android_does_not_panic() {
        // Found by the `decide` fuzz target: the minor version was sliced at the length
        // of the printed major, inside the replacement character of an invalid byte.
        for ua in [&b"Mozilla/5.0 (Linux; U; Android \x88 Gecko)"[..], "Android \u{e9}.5".as_bytes(), b"Android "] {
            let _ = classify(ua);
        }
        assert_eq!(android_version(&Lower::new("linux; android 4.4.2; nexus")), (4, 4));
        assert_eq!(android_version(&Lower::new("android 10; k")), (10, 0));
    }

    #[test]
    fn garbage_never_panics_and_decides_nothing() {
        for ua in [&b""[..], b"\xff\xfe\x00", b"Chrome/", b"Chrome/99999999999", b"iPhone OS _"] {
            let c = classify(ua);
            assert!(!c.avif || c.family == Family::Chrome, "{c:?}");
        }
    }

    #[test]
    fn native_clients_are_never_assumed_capable() {
        for ua in ["okhttp/4.9.0", "Dalvik/2.1.0 (Linux; U; Android 11)", "curl/8.0"] {
            let c = classify(ua.as_bytes());
            assert_eq!(c.family, Family::NonBrowser, "{ua}");
            assert!(!c.webp && !c.avif);
        }
    }
}
