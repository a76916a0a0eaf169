//! Hostile requests through the real Envoy and straight to the origin: traversal in every
//! spelling, signed routes, and an SVG carrying script. (Upload tokens, oversized and
//! slow uploads, and slow readers are pinned at the origin in `origin/tests/http.rs`.)

mod common;

use common::{envoy, get, origin, raw_get, service, OwnEnvoy};

/// Paths that try to leave the store's key space, as sent on the wire (never normalised
/// by the client).
const TRAVERSALS: &[&str] = &[
    "/img/../../etc/passwd?w=10",
    "/img/a/../../etc/passwd?w=10",
    "/img/%2e%2e/%2e%2e/etc/passwd?w=10",
    "/img/%2E%2E/etc/passwd?w=10",
    "/img/.%2e/etc/passwd?w=10",
    "/img/a%2f..%2f..%2fetc%2fpasswd?w=10",
    "/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd?w=10",
    "/img/..%5c..%5cetc%5cpasswd?w=10",
    "/img/a%5cb.jpg?w=10",
    "/img/demo.jpg%00.png?w=10",
    "/img/%00/demo.jpg?w=10",
    "/img/./demo.jpg?w=10",
    "/img//etc/passwd?w=10",
    "/img/%2fetc%2fpasswd?w=10",
    "/%2e%2e/%2e%2e/etc/passwd?width=10",
    "/unsafe/300x200/%2e%2e/%2e%2e/etc/passwd",
    "/unsafe/300x200/..%2f..%2fetc%2fpasswd",
    "/cdn-cgi/image/w=10/%2e%2e/etc/passwd",
];

#[test]
fn traversal_in_every_spelling_is_refused_at_the_edge_and_at_the_origin() {
    for (name, base) in [("edge", envoy()), ("origin", origin())] {
        for path in TRAVERSALS {
            let r = raw_get(&base, path.as_bytes(), &[]);
            assert!((400..500).contains(&r.status) && r.status != 404, "{name} {path}: {} {}", r.status, r.text());
            assert!(!r.header("content-type").is_some_and(|t| t.starts_with("image/")), "{name} {path}");
            if r.header("content-type") == Some("application/json") {
                let code = r.json()["error"]["code"].as_str().unwrap_or_default().to_owned();
                assert!(matches!(code.as_str(), "bad_key" | "bad_param"), "{name} {path}: {code}");
            }
        }
    }
}

const EDGE_KEY: &str = "edge-signing-key";

fn signed(key: &str, query: &str, exp: Option<u64>) -> String {
    let (variant, _) = pixgate_policy::Variant::from_query(query.as_bytes()).unwrap();
    let message = pixgate_policy::sign::message(key, &variant, exp);
    let sig = pixgate_policy::sign::sign(EDGE_KEY.as_bytes(), message.as_bytes());
    let exp = exp.map(|e| format!("&exp={e}")).unwrap_or_default();
    format!("/img/{key}?{query}{exp}&sig={sig}")
}

#[test]
fn a_route_requiring_signatures_refuses_unsigned_tampered_and_expired_urls_at_the_edge() {
    // The shared origin requires no signature: every refusal below is the edge's.
    let envoy = OwnEnvoy::start("signed", |yaml| {
        yaml.replace(
            r#"{ "prefix": "/" }"#,
            &format!(r#"{{ "prefix": "/", "signature": {{ "keys": ["{EDGE_KEY}"], "required": true }} }}"#),
        )
    })
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let good = signed("demo.jpg", "w=40", None);
    let r = get(&format!("{}{good}", envoy.base), &[]);
    assert_eq!((r.status, r.image_size()), (200, (40, 23)), "{good}");
    let exp = now + 3600;
    let later = signed("demo.jpg", "w=41", Some(exp));
    assert_eq!(get(&format!("{}{later}", envoy.base), &[]).status, 200, "{later}");
    let cases = [
        ("/img/demo.jpg?w=40".to_owned(), "bad_signature"),
        ("/demo.jpg?width=40".to_owned(), "bad_signature"),
        (good.replace("w=40", "w=400"), "bad_signature"),
        (good.replace("w=40", "w=40&h=10"), "bad_signature"),
        (later.replace(&format!("exp={exp}"), &format!("exp={}", exp + 3600)), "bad_signature"),
        (later.replace(&format!("exp={exp}&"), ""), "bad_signature"),
        (signed("demo.jpg", "w=42", Some(now - 60)), "expired"),
    ];
    for (url, code) in cases {
        let r = get(&format!("{}{url}", envoy.base), &[]);
        assert_eq!(r.status, 403, "{url}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], code, "{url}");
    }
}

#[test]
fn an_svg_placed_as_an_original_is_never_served_with_an_image_content_type() {
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.domain)</script></svg>"#;
    let dir = std::path::PathBuf::from(service("PIXGATE_E2E_DATA")).join("originals");
    for key in ["hostile.svg", "hostile-svg.jpg"] {
        std::fs::write(dir.join(key), svg).unwrap();
        for base in [envoy(), origin()] {
            for query in ["", "?w=10", "?width=10", "?fmt=png"] {
                let r = get(&format!("{base}/img/{key}{query}"), &[]);
                assert_eq!(r.status, 415, "{base}/img/{key}{query}: {}", r.text());
                assert_eq!(r.header("content-type"), Some("application/json"));
                assert_eq!(r.json()["error"]["code"], "unsupported_media_type");
                assert!(!r.text().contains("<script"));
            }
        }
    }
}
