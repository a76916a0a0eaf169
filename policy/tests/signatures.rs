//! Signature and lossy-policy behaviour of routes, through `Policy::decide`.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pixgate_policy::sign;
use pixgate_policy::{Decision, FilterConfig, Policy, RequestHead, Variant};

fn policy(json: &str) -> Policy {
    Policy::new(FilterConfig::from_json(json.as_bytes()).unwrap())
}

fn decide(p: &Policy, path: &str, now: Option<u64>) -> Decision {
    p.decide(&RequestHead { authority: b"img.example", path: path.as_bytes(), accept: None, user_agent: None, now })
}

fn code(d: &Decision) -> Option<&'static str> {
    match d {
        Decision::Reject(e) => Some(e.code.as_str()),
        _ => None,
    }
}

const SIGNED: &str = r#"{"routes":[{"key_prefix":"b/","signature":{"keys":["new","old"],"required":true}}]}"#;

fn signed_url(key: &[u8], query: &str, exp: Option<u64>) -> String {
    let (v, _) = Variant::from_query(query.as_bytes()).unwrap();
    let msg = sign::message("b/a.jpg", &v, exp);
    let sig = sign::sign(key, msg.as_bytes());
    match exp {
        Some(e) => format!("/a.jpg?{query}&exp={e}&sig={sig}"),
        None => format!("/a.jpg?{query}&sig={sig}"),
    }
}

#[test]
fn valid_signatures_under_any_key_pass_and_stay_out_of_the_key() {
    let p = policy(SIGNED);
    for k in [&b"new"[..], b"old"] {
        let url = signed_url(k, "w=100&fit=cover&h=50", None);
        match decide(&p, &url, None) {
            Decision::Forward(o) => {
                assert_eq!(o.canonical_path(), "/img/b/a.jpg?fit=cover&h=50&w=100")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn legacy_spelling_of_the_same_variant_verifies() {
    // The message is canonical, so `width=` and `w=` sign alike.
    let p = policy(SIGNED);
    let url = signed_url(b"new", "w=100", None).replace("w=100", "width=100");
    assert!(matches!(decide(&p, &url, None), Decision::Forward(_)), "{url}");
}

#[test]
fn bad_missing_and_foreign_signatures_are_403() {
    let p = policy(SIGNED);
    let good = signed_url(b"new", "w=100", None);
    let cases = [
        good.replace("w=100", "w=101"),
        "/a.jpg?w=100".to_owned(),
        signed_url(b"stranger", "w=100", None),
        "/a.jpg?w=100&sig=%%%".to_owned(),
    ];
    for url in cases {
        let d = decide(&p, &url, None);
        assert_eq!(code(&d), Some("bad_signature"), "{url}");
        let Decision::Reject(e) = d else { unreachable!() };
        assert_eq!(e.status(), 403);
    }
}

#[test]
fn expiry_is_judged_against_now() {
    let p = policy(SIGNED);
    let url = signed_url(b"old", "w=100", Some(1_000));
    assert!(matches!(decide(&p, &url, Some(999)), Decision::Forward(_)));
    assert!(matches!(decide(&p, &url, Some(1_000)), Decision::Forward(_)));
    assert_eq!(code(&decide(&p, &url, Some(1_001))), Some("expired"));
    // `exp` is covered by the signature: changing it breaks the signature.
    let moved = url.replace("exp=1000", "exp=9999");
    assert_eq!(code(&decide(&p, &moved, Some(1_001))), Some("bad_signature"));
}

#[test]
fn optional_signatures_are_still_verified_when_present() {
    let p = policy(r#"{"routes":[{"signature":{"keys":["k"]}}]}"#);
    assert!(matches!(decide(&p, "/a.jpg?w=1", None), Decision::Forward(_)));
    assert_eq!(code(&decide(&p, "/a.jpg?w=1&sig=AAAA", None)), Some("bad_signature"));
}

#[test]
fn thumbor_hmac_covers_the_encoded_path() {
    let p = policy(r#"{"routes":[{"dialect":"thumbor","signature":{"keys":["MY_KEY"],"required":true}}]}"#);
    let rest = "300x200/filters:quality(80)/a%20b.jpg";
    let sig = sign::thumbor_sign(b"MY_KEY", rest.as_bytes());
    match decide(&p, &format!("/{sig}/{rest}"), None) {
        Decision::Forward(o) => {
            assert_eq!(o.key, "a b.jpg");
            assert_eq!(o.canonical_path(), "/img/a%20b.jpg?enlarge=1&fit=cover&h=200&q=80&w=300");
        }
        other => panic!("{other:?}"),
    }
    let forged = format!("/{sig}/300x201/filters:quality(80)/a%20b.jpg");
    assert_eq!(code(&decide(&p, &forged, None)), Some("bad_signature"));
    assert_eq!(code(&decide(&p, &format!("/unsafe/{rest}"), None)), Some("bad_signature"));
}

#[test]
fn lossy_translations_follow_the_route_policy() {
    let url = "/a.jpg?w=300&h=300&fit=fill&fill=blur";
    let approx = policy(r#"{"routes":[{"dialect":"imgix"}]}"#);
    match decide(&approx, url, None) {
        Decision::Forward(o) => assert!(o.warnings.iter().any(|w| w.code.as_str() == "lossy")),
        other => panic!("{other:?}"),
    }
    let strict = policy(r#"{"routes":[{"dialect":"imgix","lossy":"reject"}]}"#);
    let d = decide(&strict, url, None);
    assert_eq!(code(&d), Some("unsupported_legacy_feature"));
    let Decision::Reject(e) = d else { unreachable!() };
    assert_eq!(e.status(), 400);
    // A faithful translation passes a strict route.
    assert!(matches!(decide(&strict, "/a.jpg?w=300&fit=max", None), Decision::Forward(_)));
}
