//! URL signatures (DESIGN.md §6).
//!
//! **Pixgate signatures**: `sig` = base64url, without padding, of
//! HMAC-SHA256(key, message), where the message is the canonical path of the request as
//! the client asked for it — `/img/<encoded store key>?<canonical query>` with the route's
//! `key_prefix` applied and before format negotiation (so `fmt=auto` stays `fmt=auto`) —
//! with `exp=<unix seconds>` added among the parameters in name order when the URL carries
//! one. `sig` itself is never part of the message nor of the cache key. Several keys may
//! be configured for rotation; comparison is constant-time.
//!
//! **thumbor signatures**: `/<hmac>/<rest>` where `<hmac>` is url-safe base64 (padded, 28
//! characters) of HMAC-SHA1(key, rest), `rest` taken as sent, still percent-encoded.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::key::encode_key;
use crate::variant::Variant;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// The message a Pixgate signature covers (see the module documentation).
pub fn message(store_key: &str, variant: &Variant, exp: Option<u64>) -> String {
    let mut params = variant.params();
    if let Some(e) = exp {
        params.push(("exp", e.to_string()));
    }
    params.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = format!("/img/{}", encode_key(store_key));
    for (i, (k, v)) in params.iter().enumerate() {
        m.push(if i == 0 { '?' } else { '&' });
        m.push_str(k);
        m.push('=');
        m.push_str(v);
    }
    m
}

/// `sig` for `message` under `key`.
pub fn sign(key: &[u8], message: &[u8]) -> String {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            base64url(&mac.finalize().into_bytes(), false)
        }
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => String::new(),
    }
}

/// True when `sig` is a valid signature of `message` under one of `keys`.
pub fn verify(keys: &[String], message: &[u8], sig: &str) -> bool {
    let Some(raw) = crate::dialect::base64_decode(sig) else {
        return false;
    };
    keys.iter().any(|k| {
        HmacSha256::new_from_slice(k.as_bytes()).is_ok_and(|mut mac| {
            mac.update(message);
            mac.verify_slice(&raw).is_ok()
        })
    })
}

/// thumbor's `<hmac>` for `rest` under `key`.
pub fn thumbor_sign(key: &[u8], rest: &[u8]) -> String {
    match HmacSha1::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(rest);
            base64url(&mac.finalize().into_bytes(), true)
        }
        Err(_) => String::new(),
    }
}

pub fn verify_thumbor(keys: &[String], rest: &[u8], sig: &str) -> bool {
    let Some(raw) = crate::dialect::base64_decode(sig) else {
        return false;
    };
    keys.iter().any(|k| {
        HmacSha1::new_from_slice(k.as_bytes()).is_ok_and(|mut mac| {
            mac.update(rest);
            mac.verify_slice(&raw).is_ok()
        })
    })
}

/// RFC 4648 §5 base64url.
pub fn base64url(bytes: &[u8], pad: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        let raw = crate::dialect::base64_decode(&sig).unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(!sig.contains('='));
    }

    #[test]
    fn thumbor_signature_is_28_padded_characters() {
        let s = thumbor_sign(b"MY_SECURE_KEY", b"300x200/a.jpg");
        assert_eq!(s.len(), 28);
        assert!(s.ends_with('='));
        assert!(verify_thumbor(&["x".into(), "MY_SECURE_KEY".into()], b"300x200/a.jpg", &s));
        assert!(!verify_thumbor(&["MY_SECURE_KEY".into()], b"300x201/a.jpg", &s));
    }

    #[test]
    fn message_sorts_exp_among_the_parameters() {
        let (v, _) = Variant::from_query(b"w=10&fit=cover&h=5").unwrap();
        assert_eq!(message("a b.jpg", &v, Some(99)), "/img/a%20b.jpg?exp=99&fit=cover&h=5&w=10");
        assert_eq!(message("a.jpg", &Variant::default(), None), "/img/a.jpg");
    }

    #[test]
    fn any_configured_key_verifies() {
        let m = b"/img/a.jpg?w=10";
        let sig = sign(b"old", m);
        assert!(verify(&["new".into(), "old".into()], m, &sig));
        assert!(!verify(&["new".into()], m, &sig));
        assert!(!verify(&["old".into()], m, "not base64 !"));
    }

    #[test]
    fn base64url_known_values() {
        assert_eq!(base64url(b"", false), "");
        assert_eq!(base64url(b"f", true), "Zg==");
        assert_eq!(base64url(b"fo", false), "Zm8");
        assert_eq!(base64url(b"\xfb\xff", false), "-_8");
    }
}
