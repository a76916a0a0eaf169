//! The filter inside a real Envoy: hostile requests, metrics, configuration.

mod common;

use common::{envoy, envoy_prometheus, get, raw_get, repo, sample};

fn assert_vm_alive() {
    let r = get(&format!("{}/demo.jpg?width=16", envoy()), &[]);
    assert_eq!(r.status, 200, "the filter's VM must survive: {}", r.text());
    assert_eq!(r.image_size(), (16, 9));
}

#[test]
fn non_utf8_headers_do_not_crash_the_vm() {
    let r = raw_get(
        &envoy(),
        b"/demo.jpg?width=20",
        &[("user-agent", b"Mozilla/5.0 \xff\xfe\x80 (X11)"), ("accept", b"image/\xc3(;q=\xff, image/webp")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_vm_alive();
}

#[test]
fn a_64_kb_query_is_handled() {
    let junk = "x".repeat(64 * 1024);
    let target = format!("/demo.jpg?width=20&junk={junk}");
    let r = raw_get(&envoy(), target.as_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_vm_alive();
}

#[test]
fn a_thousand_parameters_are_handled() {
    let mut target = String::from("/demo.jpg?width=20");
    for i in 0..1000 {
        target.push_str(&format!("&p{i}={i}"));
    }
    let r = raw_get(&envoy(), target.as_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_vm_alive();
}

#[test]
fn broken_percent_encoding_is_refused_or_served_never_crashes() {
    for target in [&b"/demo.jpg?width=%zz"[..], b"/dem%o.jpg?width=%", b"/%ff%fe.jpg?w=1", b"/demo.jpg?%%%=1&w=1"] {
        let r = raw_get(&envoy(), target, &[]);
        assert!(matches!(r.status, 200 | 400 | 404), "{}: {} {}", String::from_utf8_lossy(target), r.status, r.text());
    }
    assert_vm_alive();
}

#[test]
fn empty_key_is_a_json_400() {
    for target in [&b"/"[..], b"/?width=10", b"/img/?w=1"] {
        let r = raw_get(&envoy(), target, &[]);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(target));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["error"]["code"], "bad_key");
    }
    assert_vm_alive();
}

#[test]
fn junk_parameters_give_the_same_variant_as_the_clean_url() {
    let clean = get(&format!("{}/demo.jpg?width=48", envoy()), &[]);
    let junk = get(&format!("{}/demo.jpg?utm_source=mail&width=48&cachebust=12345&zzz", envoy()), &[]);
    assert_eq!(clean.status, 200);
    assert_eq!(junk.status, 200);
    assert!(clean.header("etag").is_some());
    assert_eq!(clean.header("etag"), junk.header("etag"));
}

#[test]
fn edge_metrics_appear_in_envoy_prometheus_output() {
    get(&format!("{}/demo.jpg?width=30&utm=1", envoy()), &[("accept", "image/webp")]);
    get(&format!("{}/demo.jpg?width=abc", envoy()), &[]);
    let series = [
        "pixgate_edge_requests_total{dialect=\"generic\"}",
        "pixgate_edge_format_total{format=\"webp\",reason=\"accept\"}",
        "pixgate_edge_rejected_total{reason=\"bad_param\"}",
        "pixgate_edge_dropped_params_total{}",
    ];
    // The filter hands its counts to Envoy once a second.
    let counted = |text: &str| series.iter().all(|s| sample(text, s).is_some_and(|v| v >= 1.0));
    let start = std::time::Instant::now();
    let mut text = envoy_prometheus();
    while !counted(&text) && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        text = envoy_prometheus();
    }
    for s in series {
        let v = sample(&text, s).unwrap_or_else(|| panic!("{s} missing from:\n{text}"));
        assert!(v >= 1.0, "{s} = {v}");
    }
    assert!(text.contains("# TYPE pixgate_edge_lossy_total counter"), "lossy counter is defined");
}

/// The JSON embedded in `envoy/envoy.yaml` under `configuration: … value: |`.
fn embedded_plugin_config(yaml: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("\"@type\": type.googleapis.com/google.protobuf.StringValue"));
    lines.next();
    let value = lines.next().expect("value line");
    assert!(value.trim() == "value: |", "unexpected line {value:?}");
    let body: Vec<&str> =
        lines.take_while(|l| l.starts_with("                            ") || l.trim().is_empty()).collect();
    let indent = body.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap();
    body.iter().map(|l| l.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n")
}

#[test]
fn envoy_yaml_embeds_the_canonical_filter_configuration() {
    let yaml = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
    let file = std::fs::read_to_string(repo().join("envoy/filter-config.json")).unwrap();
    let embedded = embedded_plugin_config(&yaml);
    let a: serde_json::Value = serde_json::from_str(&embedded).unwrap();
    let b: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(a, b, "envoy/envoy.yaml and envoy/filter-config.json must carry the same configuration");
    assert_eq!(embedded.trim(), file.trim(), "keep the text identical too, so diffs stay obvious");
}

#[test]
fn envoy_refuses_a_misspelt_filter_configuration() {
    let result = common::OwnEnvoy::start("misspelt", |yaml| yaml.replace("\"debug_headers\"", "\"debug_header\""));
    let log = match result {
        Ok(_) => panic!("Envoy accepted a misspelt filter configuration"),
        Err(log) => log,
    };
    assert!(log.contains("debug_header"), "the log names the offending field:\n{log}");
}

#[test]
fn explain_header_and_debug_headers_when_the_configuration_allows_them() {
    let envoy = common::OwnEnvoy::start("explain", |yaml| {
        yaml.replace("\"debug_headers\": false", "\"debug_headers\": true")
            .replace("\"allow_explain\": false", "\"allow_explain\": true")
    })
    .unwrap();
    let r = get(&format!("{}/img/demo.jpg?imageView2/1/w/200/h/200", envoy.base), &[("x-pixgate-explain", "1")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["dialect"], "qiniu");
    assert_eq!(v["canonical"], "/img/demo.jpg?fit=cover&h=200&w=200");
    assert_eq!(v["params"]["fit"], "cover");

    let r = get(&format!("{}/demo.jpg?width=40", envoy.base), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-pixgate-dialect"), Some("generic"));
    assert_eq!(r.header("x-pixgate-canonical"), Some("/img/demo.jpg?w=40"));
}

#[test]
fn explain_header_is_ignored_where_the_configuration_forbids_it() {
    let r = get(&format!("{}/demo.jpg?width=40", envoy()), &[("x-pixgate-explain", "1")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert!(r.header("x-pixgate-canonical").is_none());
}

#[test]
fn a_rewritten_request_is_routed_by_its_canonical_path() {
    // Only `/img/…` reaches the origin; anything else gets Envoy's own 418. A legacy URL
    // must be routed after the filter's rewrite, not by the path the client sent.
    let envoy = common::OwnEnvoy::start("reroute", |yaml| {
        let from = "                        - match: { prefix: \"/\" }\n                          route:";
        assert!(yaml.contains(from), "route table changed: update this test");
        yaml.replace(
            from,
            "                        - match: { prefix: \"/img/\" }\n                          route: { cluster: origin, timeout: 30s }\n                        - match: { prefix: \"/\" }\n                          direct_response: { status: 418 }\n                        - match: { prefix: \"/never/\" }\n                          route:",
        )
    })
    .unwrap();
    let r = get(&format!("{}/demo.jpg?width=40", envoy.base), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.image_size().0, 40);
}

#[test]
fn vary_names_each_header_once_when_the_origin_sends_it_too() {
    let r =
        get(&format!("{}/demo.jpg?width=32", envoy()), &[("accept", "image/webp,*/*"), ("user-agent", "Mozilla/5.0")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let vary: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()).collect::<Vec<_>>())
        .collect();
    let mut unique = vary.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(vary.len(), unique.len(), "Vary repeats a name: {vary:?}");
    assert!(unique.contains(&"accept".to_owned()), "{vary:?}");
}
