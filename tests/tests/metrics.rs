//! The metrics are a public API (DESIGN.md §7): a scripted mix of requests shows in a
//! scrape with exactly the counts it implies, and every metric the Grafana dashboard
//! reads is exported by the running origin or Envoy.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::services::*;

/// One sample of a text exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(exposition: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim_matches(',').to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        out.push((name.to_owned(), labels, value));
    }
    out
}

/// The sum of `name`'s samples whose labels include every pair of `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

fn scrape(origin: &TestOrigin) -> Vec<Sample> {
    let r = common::get(&origin.url("/metrics"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("text/plain")), "text exposition");
    parse(&r.text())
}

fn etag_name(r: &common::Response) -> String {
    r.header("etag").expect("an ETag").trim_matches('"').to_owned()
}

/// Waits until a background fill (Redis, stored variant) has landed.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what} did not happen within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_scripted_mix_shows_in_the_metrics_with_the_counts_it_implies() {
    let dir = scratch("metrics-mix");
    let redis = redis(&dir);
    let data = dir.join("data");
    let settings: Vec<(String, String)> = [
        ("PIXGATE_STORE__ROOT", data.display().to_string()),
        ("PIXGATE_CACHE__REDIS__URL", format!("redis://127.0.0.1:{}", redis.port)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let a = TestOrigin::start(&settings);

    // Uploads: two good originals (one with EXIF orientation), one corrupt file.
    let exif =
        std::fs::read(common::repo().join("../shared/corpus/images/orientation/libvips--rotation-6.jpg")).unwrap();
    assert_eq!(put_original(&a.url("/originals/mix/exif.jpg"), &exif), 201);
    assert_eq!(put_original(&a.url("/originals/mix/big.jpg"), &jpeg(3000, 2000)), 201);
    assert_eq!(put_original(&a.url("/originals/mix/bad.jpg"), b"\xff\xd8\xff\xe0 not a jpeg at all"), 422);

    // Misses: one per output format, then a memory hit of the first.
    for fmt in ["jpeg", "webp", "avif", "png", "gif"] {
        let r = common::get(&a.url(&format!("/img/mix/exif.jpg?w=64&fmt={fmt}")), &[]);
        assert_eq!((r.status, r.header("x-pixgate-cache")), (200, Some("miss")), "{fmt}: {}", r.text());
    }
    let hit = common::get(&a.url("/img/mix/exif.jpg?w=64&fmt=jpeg"), &[]);
    assert_eq!(hit.header("x-pixgate-cache"), Some("hit-memory"));

    // Rejections: a bad parameter and a path that escapes the key space.
    assert_eq!(common::get(&a.url("/img/mix/exif.jpg?w=abc"), &[]).status, 400);
    assert_eq!(
        common::raw(&a.base, b"GET /img/mix/../etc/passwd?w=10 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .status,
        400
    );

    // Eight identical requests at once for a variant nobody has: one transform.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let tiers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (barrier, url) = (barrier.clone(), a.url("/img/mix/big.jpg?w=300"));
                s.spawn(move || {
                    barrier.wait();
                    let r = common::get(&url, &[]);
                    assert_eq!(r.status, 200);
                    r.header("x-pixgate-cache").unwrap_or_default().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |t: &str| tiers.iter().filter(|x| x.as_str() == t).count() as f64;
    assert_eq!(count("miss"), 1.0, "one leader: {tiers:?}");

    // A second origin on the same Redis and store answers from Redis; a third, without
    // Redis, from the stored variant.
    let first = common::get(&a.url("/img/mix/exif.jpg?w=64&fmt=jpeg"), &[]);
    let name = etag_name(&first);
    let redis_cache = a.server.state.redis.as_ref().expect("Redis configured");
    eventually("the Redis fill", || block_on(redis_cache.get(&name)).ok().flatten().is_some());
    eventually("the stored variant", || block_on(a.server.state.store.get_variant(&name)).ok().flatten().is_some());
    let b = TestOrigin::start(&settings);
    let from_redis = common::get(&b.url("/img/mix/exif.jpg?w=64&fmt=jpeg"), &[]);
    assert_eq!(from_redis.header("x-pixgate-cache"), Some("hit-redis"));
    let c = TestOrigin::start(&settings[..1]);
    let from_store = common::get(&c.url("/img/mix/exif.jpg?w=64&fmt=jpeg"), &[]);
    assert_eq!(from_store.header("x-pixgate-cache"), Some("hit-store"));

    let m = scrape(&a);
    let n = |name: &str, labels: &[(&str, &str)]| total(&m, name, labels);
    // Traffic: 3 uploads (2 stored, 1 refused), 5 misses + 2 hits + 8 coalesced/hit, 2 rejects.
    assert_eq!(n("pixgate_http_requests_total", &[("route", "originals"), ("status_class", "2xx")]), 2.0);
    assert_eq!(n("pixgate_http_requests_total", &[("route", "originals"), ("status_class", "4xx")]), 1.0);
    assert_eq!(n("pixgate_http_requests_total", &[("route", "img"), ("status_class", "2xx")]), 15.0);
    assert_eq!(n("pixgate_http_requests_total", &[("route", "img"), ("status_class", "4xx")]), 2.0);
    for fmt in ["webp", "avif", "png", "gif"] {
        assert_eq!(n("pixgate_http_requests_total", &[("route", "img"), ("format", fmt)]), 1.0, "{fmt}");
        assert_eq!(n("pixgate_transforms_total", &[("format", fmt)]), 1.0, "{fmt}");
        for stage in ["decode", "orient", "resize", "encode"] {
            let observed = n("pixgate_transform_duration_seconds_count", &[("stage", stage), ("format", fmt)]);
            assert_eq!(observed, 1.0, "{stage} {fmt}");
        }
    }
    assert_eq!(n("pixgate_http_requests_total", &[("route", "img"), ("format", "jpeg")]), 11.0);
    assert_eq!(n("pixgate_transforms_total", &[("format", "jpeg")]), 2.0);
    assert_eq!(n("pixgate_http_request_duration_seconds_count", &[("route", "img")]), 17.0);
    assert_eq!(n("pixgate_http_request_duration_seconds_count", &[("cache", "miss")]), 6.0);
    assert_eq!(n("pixgate_response_bytes_count", &[]), 20.0);
    // Caches: 6 distinct misses went through every tier; hits never reach Redis.
    let memory_hits = 2.0 + count("hit-memory");
    assert_eq!(n("pixgate_cache_requests_total", &[("tier", "memory"), ("result", "hit")]), memory_hits);
    assert_eq!(n("pixgate_cache_requests_total", &[("tier", "memory"), ("result", "miss")]), 15.0 - memory_hits);
    assert_eq!(n("pixgate_cache_requests_total", &[("tier", "redis"), ("result", "miss")]), 6.0);
    assert_eq!(n("pixgate_cache_requests_total", &[("tier", "store"), ("result", "miss")]), 6.0);
    assert_eq!(n("pixgate_coalesced_requests_total", &[]), count("coalesced"));
    assert_eq!(count("coalesced") + count("hit-memory"), 7.0, "{tiers:?}");
    // Rejections by reason, counted where the error becomes a status.
    assert_eq!(n("pixgate_rejected_total", &[("reason", "corrupt_image")]), 1.0);
    assert_eq!(n("pixgate_rejected_total", &[("reason", "bad_param")]), 1.0);
    assert_eq!(n("pixgate_rejected_total", &[("reason", "bad_key")]), 1.0);
    assert_eq!(n("pixgate_rejected_total", &[]), 3.0);
    assert_eq!(n("pixgate_load_shed_total", &[]), 0.0);
    // Pipeline: EXIF read for the five transforms of the source that has it; six
    // transforms queued; nothing left in flight.
    assert_eq!(n("pixgate_exif_parse_duration_seconds_count", &[]), 5.0);
    assert_eq!(n("pixgate_transform_queue_wait_seconds_count", &[]), 6.0);
    assert_eq!(n("pixgate_decoded_pixels_in_flight", &[]), 0.0);
    assert_eq!(n("pixgate_transform_queue_depth", &[]), 0.0);
    assert_eq!(n("pixgate_http_in_flight_requests", &[]), 0.0);
    assert!(n("pixgate_bytes_saved_total", &[]) > 0.0);
    assert_eq!(n("pixgate_store_request_duration_seconds_count", &[("backend", "local"), ("op", "put")]), 2.0);
    assert_eq!(n("pixgate_store_errors_total", &[]), 0.0);
    // Process metrics of the standard client libraries.
    assert!(n("process_cpu_seconds_total", &[]) > 0.0);
    assert!(n("process_resident_memory_bytes", &[]) > 0.0);

    let mb = scrape(&b);
    assert_eq!(total(&mb, "pixgate_cache_requests_total", &[("tier", "redis"), ("result", "hit")]), 1.0);
    let mc = scrape(&c);
    assert_eq!(total(&mc, "pixgate_cache_requests_total", &[("tier", "store"), ("result", "hit")]), 1.0);
}

/// Metric names a PromQL expression reads (`pixgate_…`, `process_…`, `envoy_…`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &expr[i..];
        if starts_word && ["pixgate_", "process_", "envoy_"].iter().any(|p| rest.starts_with(p)) {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            out.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_metric_the_dashboard_reads_is_exported_after_traffic() {
    // Traffic through the shared stack: dialects, negotiation, a dropped parameter, a
    // lossy legacy feature and a rejection, so that the edge's labelled series exist.
    let envoy = common::envoy();
    for (path, accept) in [
        ("/img/demo.jpg?w=120", "image/avif,image/webp,*/*"),
        ("/img/demo.jpg?width=120&utm_source=x", "image/webp,*/*"),
        ("/img/demo.jpg?imageView2/2/w/120", "*/*"),
        ("/img/demo.jpg?x-oss-process=image/resize,w_120", "*/*"),
        ("/img/demo.jpg?w=abc", "*/*"),
    ] {
        let r = common::get(&format!("{envoy}{path}"), &[("accept", accept)]);
        assert!(r.status == 200 || r.status == 400, "{path}: {} {}", r.status, r.text());
    }
    let mut exported = BTreeSet::new();
    let texts = [common::get(&format!("{}/metrics", common::origin()), &[]).text(), common::envoy_prometheus()];
    for text in &texts {
        exported.extend(text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next()));
    }

    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo().join("grafana/dashboards/pixgate.json")).unwrap())
            .unwrap();
    let mut read = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            read.extend(metric_names(target["expr"].as_str().unwrap_or_default()));
        }
    }
    assert!(read.len() >= 20, "the dashboard reads {read:?}");
    // A histogram's `_bucket`, `_sum` and `_count` series belong to its family's `# TYPE`.
    let in_family =
        |m: &str| ["_bucket", "_sum", "_count"].iter().any(|s| m.strip_suffix(s).is_some_and(|f| exported.contains(f)));
    let missing: Vec<&String> = read.iter().filter(|m| !exported.contains(m.as_str()) && !in_family(m)).collect();
    assert!(missing.is_empty(), "the dashboard reads metrics no scrape exports: {missing:?}");
}
