//! Every row of `shared/corpus/user-agents.tsv` (sent with `Accept: */*`) and of
//! `shared/corpus/accept-headers.tsv` (sent without a User-Agent) decides as its webp/avif
//! columns say, through `Policy::decide`. The files are read where they live, beside the
//! repository.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pixgate_policy::negotiate::FormatReason;
use pixgate_policy::{Decision, FilterConfig, Format, Policy, RequestHead};

fn corpus(name: &str) -> String {
    let path = format!("{}/../../shared/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rows(name: &str) -> Vec<Vec<String>> {
    let text = corpus(name);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert!(header.len() >= 6, "{name}: {header:?}");
    lines.filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

fn policy(avif: bool) -> Policy {
    let json = format!(r#"{{"routes":[{{"formats":{{"avif":{avif},"webp":true}}}}]}}"#);
    Policy::new(FilterConfig::from_json(json.as_bytes()).unwrap())
}

fn decide(p: &Policy, accept: &str, ua: Option<&str>) -> (Option<Format>, FormatReason) {
    match p.decide(&RequestHead {
        authority: b"img.example",
        path: b"/img/a.jpg?w=100",
        accept: Some(accept.as_bytes()),
        user_agent: ua.map(str::as_bytes),
        now: None,
    }) {
        Decision::Forward(o) => (o.variant.fmt, o.format_reason),
        other => panic!("{other:?}"),
    }
}

fn yes(s: &str) -> bool {
    match s {
        "yes" => true,
        "no" => false,
        other => panic!("unexpected cell {other:?}"),
    }
}

#[test]
fn every_user_agent_row_decides_as_the_corpus_says() {
    let rows = rows("user-agents.tsv");
    let (with_avif, webp_only) = (policy(true), policy(false));
    let mut failures = Vec::new();
    for r in &rows {
        let (ua, webp, avif) = (&r[0], yes(&r[4]), yes(&r[5]));
        let want = if avif {
            Some(Format::Avif)
        } else if webp {
            Some(Format::Webp)
        } else {
            None
        };
        let got = decide(&with_avif, "*/*", Some(ua));
        let want_webp = webp.then_some(Format::Webp);
        let got_webp = decide(&webp_only, "*/*", Some(ua));
        if got.0 != want || got_webp.0 != want_webp {
            failures.push(format!("{} | {ua}: got {:?}/{:?}", r[1], got.0, got_webp.0));
        }
        if got.0.is_some() {
            assert_eq!(got.1, FormatReason::UserAgent, "{ua}");
        }
    }
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), rows.len(), failures.join("\n"));
    assert_eq!(rows.len(), 304);
}

#[test]
fn every_accept_row_decides_as_the_corpus_says() {
    let rows = rows("accept-headers.tsv");
    let (with_avif, webp_only) = (policy(true), policy(false));
    for r in &rows {
        let (accept, avif, webp) = (&r[0], yes(&r[3]), yes(&r[4]));
        let want = if avif {
            Some(Format::Avif)
        } else if webp {
            Some(Format::Webp)
        } else {
            None
        };
        assert_eq!(decide(&with_avif, accept, None).0, want, "{accept}");
        assert_eq!(decide(&webp_only, accept, None).0, webp.then_some(Format::Webp), "{accept}");
    }
    assert_eq!(rows.len(), 27);
}

#[test]
fn accept_naming_an_image_type_overrides_the_user_agent() {
    // Edge 85–120 says Chromium ≥ 85 but its image Accept has no AVIF: the header wins.
    let edge_accept = "image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Safari/537.36";
    assert_eq!(decide(&policy(true), edge_accept, Some(ua)), (Some(Format::Webp), FormatReason::Accept));
    // An image Accept without modern types keeps the source format even for a capable UA.
    assert_eq!(decide(&policy(true), "image/png,image/*;q=0.8,*/*;q=0.5", Some(ua)).0, None);
}
