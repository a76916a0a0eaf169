//! Object keys: validated once, so that no store ever sees a traversal attempt.

use crate::error::{ErrorCode, PolicyError};
use crate::query;

pub const MAX_KEY_BYTES: usize = 1024;

/// Decodes a raw (still percent-encoded) key once and validates it (DESIGN.md §3).
pub fn parse_key(raw: &[u8]) -> Result<String, PolicyError> {
    // An encoded slash or backslash would change how the key splits into segments.
    if has_escape(raw, &[b"2f", b"5c"]) {
        return Err(bad_key("encoded path separator in key"));
    }
    let decoded = query::decode(raw);
    let key = String::from_utf8(decoded).map_err(|_| bad_key("key is not valid UTF-8"))?;
    validate_key(&key)?;
    Ok(key)
}

/// Validates a decoded key.
pub fn validate_key(key: &str) -> Result<(), PolicyError> {
    if key.is_empty() {
        return Err(bad_key("empty key"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(bad_key(format!("key longer than {MAX_KEY_BYTES} bytes")));
    }
    if key.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad_key("control byte in key"));
    }
    if key.contains('\\') {
        return Err(bad_key("backslash in key"));
    }
    // What is still percent-encoded after one decoding was encoded twice: a classic way
    // to smuggle `..` past a proxy that decodes once more than we do.
    let b = key.as_bytes();
    if has_escape(b, &[b"2e", b"2f", b"5c", b"25"]) {
        return Err(bad_key("doubly encoded character in key"));
    }
    for seg in key.split('/') {
        match seg {
            "" => return Err(bad_key("empty segment in key")),
            "." | ".." => return Err(bad_key("dot segment in key")),
            _ => {}
        }
    }
    Ok(())
}

/// Percent-encodes a key for a canonical URL: each segment by RFC 3986 `pchar` rules,
/// uppercase hex, `/` between segments.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    encode_key_into(&mut out, key);
    out
}

/// [`encode_key`], appended to `out`.
pub fn encode_key_into(out: &mut String, key: &str) {
    // Runs of bytes that need no escaping (all ASCII) are copied at once.
    let bytes = key.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' // unreserved
                    | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                    | b':' | b'@' | b'/'
            );
        if !keep {
            out.push_str(std::str::from_utf8(&bytes[run..i]).unwrap_or_default());
            run = i + 1;
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out.push_str(std::str::from_utf8(&bytes[run..]).unwrap_or_default());
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn bad_key(msg: impl Into<String>) -> PolicyError {
    PolicyError::new(ErrorCode::BadKey, msg)
}

/// True when `hay` holds `%` followed by one of `hexes` (lowercase), in any case. One
/// pass: most keys have no `%` at all.
fn has_escape(hay: &[u8], hexes: &[&[u8; 2]]) -> bool {
    hay.iter().enumerate().any(|(i, &b)| {
        b == b'%' && hay.get(i + 1..i + 3).is_some_and(|h| hexes.iter().any(|x| h.eq_ignore_ascii_case(*x)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_unicode_keys() {
        for raw in ["demo.jpg", "a/b/c.png", "caf%C3%A9.jpg", "with%20space.jpg", "x..y.jpg"] {
            assert!(parse_key(raw.as_bytes()).is_ok(), "{raw}");
        }
    }

    #[test]
    fn rejects_traversal_in_every_spelling() {
        let cases = [
            "../etc/passwd",
            "a/../b",
            "./a",
            "a/./b",
            "%2e%2e/etc/passwd",
            "%2E%2E/x",
            "a%2fb",
            "a%2F..%2Fb",
            "%252e%252e/x",
            "a\\b",
            "a%5cb",
            "a//b",
            "/a",
            "a/",
            "a%00b",
            "a%0Ab",
            "",
            "%ff%fe",
        ];
        for raw in cases {
            let err = parse_key(raw.as_bytes()).expect_err(raw);
            assert_eq!(err.code, ErrorCode::BadKey, "{raw}");
        }
    }

    #[test]
    fn rejects_keys_over_1024_bytes() {
        let ok = "a".repeat(1024);
        assert!(parse_key(ok.as_bytes()).is_ok());
        let long = "a".repeat(1025);
        assert_eq!(parse_key(long.as_bytes()).unwrap_err().code, ErrorCode::BadKey);
    }

    #[test]
    fn encodes_with_pchar_rules() {
        assert_eq!(encode_key("a b/café?.jpg"), "a%20b/caf%C3%A9%3F.jpg");
        assert_eq!(encode_key("x:y@z,1+2.jpg"), "x:y@z,1+2.jpg");
    }

    #[test]
    fn encoded_key_parses_back() {
        for k in ["a b/café?.jpg", "100%.jpg", "#frag.png"] {
            assert_eq!(parse_key(encode_key(k).as_bytes()).unwrap(), k);
        }
    }
}
