//! Format negotiation through the real Envoy with header values from the corpus.

mod common;

use common::{corpus_tsv, envoy, get};

fn negotiated(accept: &str, ua: &str) -> common::Response {
    let r = get(&format!("{}/demo.jpg?width=64", envoy()), &[("accept", accept), ("user-agent", ua)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("vary").is_some_and(|v| v.contains("Accept")), "a negotiating route varies on Accept");
    r
}

#[test]
fn accept_listing_avif_gets_avif() {
    let rows = corpus_tsv("accept-headers.tsv");
    let row = rows.iter().find(|r| r["lists_avif"] == "yes" && r["context"] == "<img>").unwrap();
    let r = negotiated(&row["accept"], "Mozilla/5.0");
    assert_eq!(r.header("content-type"), Some("image/avif"), "{}", row["accept"]);
}

#[test]
fn accept_listing_only_webp_gets_webp() {
    for row in corpus_tsv("accept-headers.tsv").iter().filter(|r| r["lists_avif"] == "no" && r["lists_webp"] == "yes") {
        let r = negotiated(&row["accept"], "Mozilla/5.0");
        assert_eq!(r.header("content-type"), Some("image/webp"), "{}", row["accept"]);
    }
}

#[test]
fn wildcard_accept_falls_back_to_the_user_agent() {
    let rows = corpus_tsv("user-agents.tsv");
    let webp_only = rows.iter().find(|r| r["webp"] == "yes" && r["avif"] == "no").unwrap();
    let r = negotiated("*/*", &webp_only["ua"]);
    assert_eq!(r.header("content-type"), Some("image/webp"), "{}", webp_only["ua"]);
    let neither = rows.iter().find(|r| r["webp"] == "no" && r["avif"] == "no").unwrap();
    let r = negotiated("*/*", &neither["ua"]);
    assert_eq!(r.header("content-type"), Some("image/jpeg"), "{}", neither["ua"]);
}

#[test]
fn accept_without_modern_formats_keeps_the_source_format() {
    let rows = corpus_tsv("accept-headers.tsv");
    let row = rows.iter().find(|r| r["lists_avif"] == "no" && r["lists_webp"] == "no" && r["accept"] != "*/*").unwrap();
    let r = negotiated(&row["accept"], "curl/8.0");
    assert_eq!(r.header("content-type"), Some("image/jpeg"), "{}", row["accept"]);
}

#[test]
fn explicit_format_wins_over_accept() {
    let r = get(&format!("{}/demo.jpg?width=64&format=png", envoy()), &[("accept", "image/avif,image/webp,*/*")]);
    assert_eq!(r.header("content-type"), Some("image/png"));
}
