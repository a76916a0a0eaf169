//! Every worked example of DIALECTS.md (A1–A14, Q1–Q11, O1–O11, T1–T12, H1–H14, C1–C9) as
//! one table row: the legacy URL goes through `Policy::decide` on a route bound to its
//! dialect, and the canonical parameters and the planned output size are checked.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pixgate_policy::negotiate::FormatReason;
use pixgate_policy::{plan, Decision, Dialect, FilterConfig, Outcome, Policy, RequestHead};

const S: (u32, u32) = (1200, 800);
const P: (u32, u32) = (800, 1200);
const S3: (u32, u32) = (300, 200);
const E: (u32, u32) = (400, 300);
const CF: (u32, u32) = (1080, 720);

struct Case {
    id: &'static str,
    dialect: &'static str,
    url: &'static str,
    source: (u32, u32),
    canonical: &'static str,
    output: (u32, u32),
}

const fn c(
    id: &'static str,
    dialect: &'static str,
    url: &'static str,
    source: (u32, u32),
    canonical: &'static str,
    output: (u32, u32),
) -> Case {
    Case { id, dialect, url, source, canonical, output }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // §1 generic / imgix / Fastly / ImageResizer
    c("A1", "generic", "/a.jpg?width=200&height=150&crop=1&quality=80&format=webp", S, "fit=cover&fmt=webp&h=150&q=80&w=200", (200, 150)),
    c("A2", "generic", "/a.jpg?width=200", S, "w=200", (200, 133)),
    c("A3", "generic", "/a.jpg?width=2000&height=2000", S, "h=2000&w=2000", (1200, 800)),
    c("A4", "generic", "/a.jpg?width=300&height=300&crop=center", S, "fit=cover&h=300&w=300", (300, 300)),
    c("A5", "imgix", "/a.jpg?w=400&h=400&fit=crop&crop=faces,center&auto=format,compress", S, "enlarge=1&fit=cover&fmt=auto&gravity=face&h=400&q=45&w=400", (400, 400)),
    c("A6", "imgix", "/a.jpg?w=2000&h=2000&fit=clip", S, "enlarge=1&h=2000&w=2000", (2000, 1333)),
    c("A7", "imgix", "/a.jpg?w=2000&h=2000&fit=max", S, "h=2000&w=2000", (1200, 800)),
    c("A8", "imgix", "/a.jpg?w=300&h=300&fit=fill&fill=solid&fill-color=ff0000", S, "bg=ff0000&enlarge=1&fit=contain&h=300&w=300", (300, 300)),
    c("A9", "imgix", "/a.jpg?w=400&h=300&fit=fillmax&bg=fff", S3, "bg=ffffff&fit=contain&h=300&w=400", (400, 300)),
    c("A10", "imgix", "/a.jpg?w=400&h=300&fit=min", S3, "fit=cover&h=300&w=400", (267, 200)),
    c("A11", "imgix", "/a.jpg?w=0.5", S, "pct=50", (600, 400)),
    c("A12", "imgix", "/a.jpg?w=300&dpr=2&fm=pjpg&q=60", S, "dpr=2&enlarge=1&fmt=jpeg&prog=1&q=60&w=300", (600, 400)),
    c("A13", "fastly", "/a.jpg?width=300&height=300&fit=cover", S, "fit=outside&h=300&w=300", (450, 300)),
    c("A14", "imageresizer", "/a.jpg?width=200&height=150&mode=crop&scale=both", S, "enlarge=1&fit=cover&h=150&w=200", (200, 150)),
    // §2 Qiniu imageView2 (+ the imageMogr2 chain example)
    c("Q1", "qiniu", "/a.jpg?imageView2/1/w/200/h/200", S, "fit=cover&h=200&w=200", (200, 200)),
    c("Q2", "qiniu", "/a.jpg?imageView2/2/w/200", S, "w=200", (200, 133)),
    c("Q3", "qiniu", "/a.jpg?imageView2/2/h/200", S, "h=200", (300, 200)),
    c("Q4", "qiniu", "/a.jpg?imageView2/0/w/400/h/300", S, "l=400&s=300", (400, 267)),
    c("Q4/P", "qiniu", "/a.jpg?imageView2/0/w/400/h/300", P, "l=400&s=300", (267, 400)),
    c("Q5", "qiniu", "/a.jpg?imageView2/3/w/400/h/300", S, "fit=outside&h=300&w=400", (450, 300)),
    c("Q6", "qiniu", "/a.jpg?imageView2/4/w/400/h/300", S, "fit=outside&l=400&s=300", (450, 300)),
    c("Q6/P", "qiniu", "/a.jpg?imageView2/4/w/400/h/300", P, "fit=outside&l=400&s=300", (300, 450)),
    c("Q7", "qiniu", "/a.jpg?imageView2/5/w/400/h/300", S, "fit=cover&l=400&s=300", (400, 300)),
    c("Q7/P", "qiniu", "/a.jpg?imageView2/5/w/400/h/300", P, "fit=cover&l=400&s=300", (300, 400)),
    c("Q8", "qiniu", "/a.jpg?imageView2/1/w/200", S, "fit=cover&h=200&w=200", (200, 200)),
    c("Q9", "qiniu", "/a.jpg?imageView2/2/w/600", S3, "w=600", (300, 200)),
    c("Q10", "qiniu", "/a.jpg?imageView2/1/w/200/h/200/format/webp/q/55", S, "fit=cover&fmt=webp&h=200&q=55&w=200", (200, 200)),
    c("Q11", "qiniu", "/a.jpg?imageView2/2/w/400/q/85!", S, "q=85&w=400", (400, 267)),
    c("Q-mogr2", "qiniu", "/a.jpg?imageMogr2/auto-orient/thumbnail/!50p/gravity/Center/crop/300x300/format/webp/quality/80", S, "fmt=webp&pct=50&post_crop=center:300x300&q=80", (300, 300)),
    // §3 Aliyun x-oss-process
    c("O1", "aliyun", "/a.jpg?x-oss-process=image/resize,h_100,w_300,m_lfit", E, "h=100&lim=orig&w=300", (133, 100)),
    c("O2", "aliyun", "/a.jpg?x-oss-process=image/resize,m_fixed,h_100,w_100", E, "fit=fill&h=100&lim=orig&w=100", (100, 100)),
    c("O3", "aliyun", "/a.jpg?x-oss-process=image/resize,m_fill,h_100,w_100", E, "fit=cover&h=100&lim=orig&w=100", (100, 100)),
    c("O4", "aliyun", "/a.jpg?x-oss-process=image/resize,m_pad,h_100,w_100,color_FF0000", E, "bg=ff0000&fit=contain&h=100&lim=orig&w=100", (100, 100)),
    c("O5", "aliyun", "/a.jpg?x-oss-process=image/resize,p_50", E, "pct=50", (200, 150)),
    c("O6", "aliyun", "/a.jpg?x-oss-process=image/resize,m_mfit,w_500,h_300", (600, 400), "fit=outside&h=300&lim=orig&w=500", (500, 333)),
    // DIALECTS.md writes the canonical of O7 as `w=800` "(enlarge 0, lim=orig)": `lim=orig`
    // is part of the key, as in O1–O4.
    c("O7", "aliyun", "/a.jpg?x-oss-process=image/resize,w_800", E, "lim=orig&w=800", (400, 300)),
    c("O8", "aliyun", "/a.jpg?x-oss-process=image/resize,w_800,limit_0", E, "enlarge=1&w=800", (800, 600)),
    c("O9", "aliyun", "/a.jpg?x-oss-process=image/resize,l_200", S, "l=200&lim=orig", (200, 133)),
    c("O9/P", "aliyun", "/a.jpg?x-oss-process=image/resize,l_200", P, "l=200&lim=orig", (133, 200)),
    c("O10", "aliyun", "/a.jpg?x-oss-process=image/resize,m_fill,w_100", S, "fit=cover&h=100&lim=orig&w=100", (100, 100)),
    c("O11", "aliyun", "/a.jpg?x-oss-process=image/resize,m_lfit,w_200,h_150/quality,q_80/format,webp", S, "fmt=webp&h=150&lim=orig&q=80&w=200", (200, 133)),
    // §4 Tencent imageMogr2/thumbnail
    c("T1", "tencent", "/a.jpg?imageMogr2/thumbnail/!50p", S, "pct=50", (600, 400)),
    c("T2", "tencent", "/a.jpg?imageMogr2/thumbnail/!50px", S, "pctw=50", (600, 800)),
    c("T3", "tencent", "/a.jpg?imageMogr2/thumbnail/400x", S, "enlarge=1&w=400", (400, 267)),
    c("T4", "tencent", "/a.jpg?imageMogr2/thumbnail/x400", S, "enlarge=1&h=400", (600, 400)),
    c("T5", "tencent", "/a.jpg?imageMogr2/thumbnail/400x400", S, "enlarge=1&h=400&w=400", (400, 267)),
    c("T6", "tencent", "/a.jpg?imageMogr2/thumbnail/!400x400r", S, "enlarge=1&fit=outside&h=400&w=400", (600, 400)),
    c("T7", "tencent", "/a.jpg?imageMogr2/thumbnail/400x400!", S, "enlarge=1&fit=fill&h=400&w=400", (400, 400)),
    c("T8", "tencent", "/a.jpg?imageMogr2/thumbnail/2000x2000%3E", S, "h=2000&w=2000", (1200, 800)),
    c("T9", "tencent", "/a.jpg?imageMogr2/thumbnail/2000x2000", S, "enlarge=1&h=2000&w=2000", (2000, 1333)),
    c("T10", "tencent", "/a.jpg?imageMogr2/thumbnail/2000x2000%3C", S, "enlarge=1&h=2000&reduce=0&w=2000", (2000, 1333)),
    c("T10/small", "tencent", "/a.jpg?imageMogr2/thumbnail/400x400%3C", S, "enlarge=1&h=400&reduce=0&w=400", (1200, 800)),
    c("T11", "tencent", "/a.jpg?imageMogr2/thumbnail/100000@", S, "area=100000", (387, 258)),
    c("T12", "tencent", "/a.jpg?imageMogr2/thumbnail/400x400/pad/1/color/I0ZGMDAwMA", S, "bg=ff0000&enlarge=1&fit=contain&h=400&w=400", (400, 400)),
    // §5 thumbor
    c("H1", "thumbor", "/unsafe/300x200/a.jpg", S, "enlarge=1&fit=cover&h=200&w=300", (300, 200)),
    c("H2", "thumbor", "/unsafe/300x300/a.jpg", S, "enlarge=1&fit=cover&h=300&w=300", (300, 300)),
    c("H3", "thumbor", "/unsafe/fit-in/300x300/a.jpg", S, "h=300&w=300", (300, 200)),
    c("H4", "thumbor", "/unsafe/fit-in/2000x2000/a.jpg", S, "h=2000&w=2000", (1200, 800)),
    c("H5", "thumbor", "/unsafe/fit-in/2000x2000/filters:upscale()/a.jpg", S, "enlarge=1&h=2000&w=2000", (2000, 1333)),
    c("H6", "thumbor", "/unsafe/full-fit-in/300x300/a.jpg", S, "enlarge=1&fit=outside&h=300&w=300", (450, 300)),
    c("H7", "thumbor", "/unsafe/adaptive-fit-in/300x400/a.jpg", S, "l=400&s=300", (400, 267)),
    c("H8", "thumbor", "/unsafe/300x0/a.jpg", S, "enlarge=1&w=300", (300, 200)),
    c("H9", "thumbor", "/unsafe/300x300/left/top/a.jpg", S, "enlarge=1&fit=cover&gravity=northwest&h=300&w=300", (300, 300)),
    c("H10", "thumbor", "/unsafe/300x300/smart/a.jpg", S, "enlarge=1&fit=cover&gravity=smart&h=300&w=300", (300, 300)),
    c("H11", "thumbor", "/unsafe/fit-in/300x300/filters:fill(white):format(webp):quality(80)/a.jpg", S, "bg=ffffff&fit=contain&fmt=webp&h=300&q=80&w=300", (300, 300)),
    c("H12", "thumbor", "/unsafe/10x20:610x420/300x200/a.jpg", S, "crop=10,20,600,400&enlarge=1&fit=cover&h=200&w=300", (300, 200)),
    c("H13", "thumbor", "/unsafe/600x400/filters:no_upscale()/s.jpg", S3, "fit=cover&h=400&w=600", (300, 200)),
    c("H14", "thumbor", "/unsafe/-300x200/a.jpg", S, "enlarge=1&fit=cover&flip=h&h=200&w=300", (300, 200)),
    // §6 Cloudflare
    c("C1", "cloudflare", "/cdn-cgi/image/width=80,quality=75/uploads/avatar1.jpg", S, "q=75&w=80", (80, 53)),
    c("C2", "cloudflare", "/cdn-cgi/image/width=500,height=500,fit=scale-down/p.jpg", CF, "h=500&w=500", (500, 333)),
    c("C3", "cloudflare", "/cdn-cgi/image/fit=cover,width=500,height=500/p.jpg", CF, "enlarge=1&fit=cover&h=500&w=500", (500, 500)),
    c("C4", "cloudflare", "/cdn-cgi/image/fit=crop,width=1296,height=1296/p.jpg", CF, "fit=cover&h=1296&lim=orig&w=1296", (1080, 720)),
    c("C5", "cloudflare", "/cdn-cgi/image/fit=aspect-crop,width=1920,height=1120/p.jpg", (612, 613), "fit=cover&h=1120&w=1920", (612, 357)),
    c("C6", "cloudflare", "/cdn-cgi/image/fit=pad,width=1080,height=1080,background=%23000000/p.jpg", CF, "bg=000000&enlarge=1&fit=contain&h=1080&w=1080", (1080, 1080)),
    c("C7", "cloudflare", "/cdn-cgi/image/fit=contain,width=2000/p.jpg", CF, "enlarge=1&w=2000", (2000, 1333)),
    c("C8", "cloudflare", "/cdn-cgi/image/fit=squeeze,width=1080,height=540/p.jpg", CF, "fit=fill&h=540&w=1080", (1080, 540)),
    c("C9", "cloudflare", "/cdn-cgi/image/w=300,h=200,g=face,dpr=2,f=auto/a.jpg", S, "dpr=2&fmt=auto&h=200&w=300", (600, 400)),
];

fn policy_for(dialect: &str) -> Policy {
    let json = format!(r#"{{"routes":[{{"dialect":"{dialect}"}}]}}"#);
    Policy::new(FilterConfig::from_json(json.as_bytes()).unwrap())
}

/// `fmt=auto` is resolved at the edge: the row is sent with an Accept naming WebP and
/// expects `fmt=webp` chosen by Accept.
fn decide(p: &Policy, case: &Case) -> Outcome {
    let auto = case.canonical.contains("fmt=auto");
    let head = RequestHead {
        authority: b"img.example",
        path: case.url.as_bytes(),
        accept: Some(if auto { b"image/webp,*/*" } else { b"*/*" }),
        user_agent: None,
        now: None,
    };
    match p.decide(&head) {
        Decision::Forward(o) => *o,
        other => panic!("{}: {} → {other:?}", case.id, case.url),
    }
}

#[test]
fn every_worked_example_of_dialects_md() {
    for case in CASES {
        let p = policy_for(case.dialect);
        let o = decide(&p, case);
        assert_eq!(o.dialect.as_str(), case.dialect, "{}", case.id);
        let want = case.canonical.replace("fmt=auto", "fmt=webp");
        assert_eq!(o.variant.to_query(), want, "{}: {}", case.id, case.url);
        if case.canonical.contains("fmt=auto") {
            assert_eq!(o.format_reason, FormatReason::Accept, "{}", case.id);
        }
        let pl = plan(&o.variant, case.source.0, case.source.1);
        assert_eq!((pl.width, pl.height), case.output, "{}: {} on {:?}", case.id, case.url, case.source);
    }
    // 71 worked examples, plus the portrait and small-source variants the text gives.
    assert_eq!(CASES.len(), 77);
}

#[test]
fn vendor_shapes_are_sniffed_without_a_route_dialect() {
    let p = Policy::new(FilterConfig::default());
    for case in CASES.iter().filter(|c| c.id != "Q-mogr2").filter(|c| {
        matches!(c.dialect, "qiniu" | "aliyun" | "thumbor" | "cloudflare" | "generic")
            || c.url.contains("fm=")
            || c.url.contains("auto=")
            || c.url.contains("fit=clip")
            || c.url.contains("fit=max")
            || c.url.contains("fit=min")
            || c.url.contains("fit=fillmax")
    }) {
        let o = decide(&p, case);
        assert_eq!(o.dialect.as_str(), case.dialect, "{}", case.id);
    }
    // Tencent rows sniff as Tencent too (the raw query starts with `imageMogr2/`).
    let o = decide(&p, &CASES[CASES.iter().position(|c| c.id == "T5").unwrap()]);
    assert_eq!(o.dialect, Dialect::Tencent);
}

#[test]
fn keys_come_from_the_path_for_path_dialects() {
    let p = policy_for("cloudflare");
    let o = decide(&p, &CASES[CASES.iter().position(|c| c.id == "C1").unwrap()]);
    assert_eq!(o.key, "uploads/avatar1.jpg");
    assert_eq!(o.canonical_path(), "/img/uploads/avatar1.jpg?q=75&w=80");
    let p = policy_for("thumbor");
    let o = decide(&p, &CASES[CASES.iter().position(|c| c.id == "H12").unwrap()]);
    assert_eq!(o.key, "a.jpg");
}

#[test]
fn cloudflare_remote_source_is_refused() {
    // C10: remote sources stay off until a route allow-lists hosts.
    let p = policy_for("cloudflare");
    let d = p.decide(&RequestHead {
        path: b"/cdn-cgi/image/width=100/https://s3.example.com/bucket/image.png",
        ..Default::default()
    });
    let Decision::Reject(e) = d else { panic!("{d:?}") };
    assert_eq!(e.code.as_str(), "remote_source_disabled");
    assert_eq!(e.status(), 400);
}

#[test]
fn aliyun_q_is_relative_and_warned_about() {
    let p = policy_for("aliyun");
    let o = decide(&p, &CASES[CASES.iter().position(|c| c.id == "O11").unwrap()]);
    assert!(o.warnings.iter().any(|w| w.code.as_str() == "lossy"));
}
