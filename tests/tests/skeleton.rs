//! A legacy URL answered through the real Envoy: the filter rewrites it, the origin
//! resizes the stored demo original (1600×900) and answers.

mod common;

use common::{envoy, get};

#[test]
fn legacy_crop_url_is_rewritten_and_cropped_to_the_box() {
    let r = get(&format!("{}/demo.jpg?width=200&height=150&crop=1", envoy()), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(r.image_size(), (200, 150));
}

#[test]
fn legacy_width_only_keeps_the_aspect() {
    let r = get(&format!("{}/demo.jpg?width=320", envoy()), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.image_size(), (320, 180));
}

#[test]
fn canonical_url_with_explicit_webp() {
    let r = get(&format!("{}/img/demo.jpg?w=100&fmt=webp", envoy()), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/webp"));
    assert_eq!(r.image_size(), (100, 56));
}

#[test]
fn missing_original_is_a_json_404() {
    let r = get(&format!("{}/nope.jpg?width=10", envoy()), &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"]["code"], "not_found");
}

#[test]
fn bad_parameter_is_refused_at_the_edge_with_json() {
    let r = get(&format!("{}/demo.jpg?width=-5", envoy()), &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"]["code"], "bad_param");
}

#[test]
fn traversal_is_refused_at_the_edge() {
    let r = get(&format!("{}/img/%2e%2e/%2e%2e/etc/passwd?w=10", envoy()), &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "bad_key");
}

#[test]
fn accept_header_negotiates_webp_and_varies() {
    let r = get(&format!("{}/demo.jpg?width=64", envoy()), &[("accept", "image/webp,*/*")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/webp"));
    assert!(r.header("vary").is_some_and(|v| v.contains("Accept")), "{:?}", r.headers);
}

#[test]
fn origin_answers_legacy_urls_itself() {
    let r = get(&format!("{}/demo.jpg?width=200&height=150&crop=1", common::origin()), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.image_size(), (200, 150));
}
