//! Failure of the dependencies, against real servers that these tests start and kill
//! themselves: Redis down means slower, never failing; S3 down means cached variants
//! are still served and misses fail fast with 503/504; both recover when the server
//! is back.

mod common;

use std::time::{Duration, Instant};

use common::services::*;

fn redis_settings(port: u16, root: &std::path::Path) -> Vec<(String, String)> {
    [
        ("PIXGATE_STORE__ROOT", root.display().to_string()),
        ("PIXGATE_CACHE__REDIS__URL", format!("redis://127.0.0.1:{port}")),
        ("PIXGATE_CACHE__REDIS__TIMEOUT_MS", "200".to_owned()),
        ("PIXGATE_CACHE__REDIS__CONNECT_TIMEOUT_MS", "200".to_owned()),
        ("PIXGATE_CACHE__REDIS__BREAKER_FAILURES", "2".to_owned()),
        ("PIXGATE_CACHE__REDIS__BREAKER_COOLDOWN_MS", "500".to_owned()),
        // The L3 tier would hide whether Redis answered.
        ("PIXGATE_STORE__VARIANTS", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Fetches `path` on `fill` (which puts it into Redis), then on `probe` until `probe`
/// reports `hit-redis`; a fresh variant each round, so neither L1 can answer.
fn redis_serves_a_fresh_variant(fill: &TestOrigin, probe: &TestOrigin, round: &mut u32, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        *round += 1;
        let path = format!("/img/r.jpg?w={}", 20 + *round);
        assert_eq!(common::get(&fill.url(&path), &[]).status, 200);
        std::thread::sleep(Duration::from_millis(150));
        let r = common::get(&probe.url(&path), &[]);
        assert_eq!(r.status, 200);
        if r.header("x-pixgate-cache") == Some("hit-redis") {
            return true;
        }
    }
    false
}

#[test]
fn redis_outage_keeps_serving_and_redis_is_used_again_after_restart() {
    let dir = scratch("fault-redis");
    let mut redis = redis(&dir);
    let settings = redis_settings(redis.port, &dir.join("data"));
    let one = TestOrigin::start(&settings);
    let two = TestOrigin::start(&settings);
    assert_eq!(put_original(&one.url("/originals/r.jpg"), &jpeg(400, 300)), 201);
    let mut round = 0;
    assert!(redis_serves_a_fresh_variant(&one, &two, &mut round, Duration::from_secs(10)), "Redis is shared");

    let cached = common::get(&one.url("/img/r.jpg?w=100"), &[]);
    assert_eq!(cached.status, 200);
    redis.kill();
    for i in 0..20 {
        let start = Instant::now();
        let hit = common::get(&one.url("/img/r.jpg?w=100"), &[]);
        assert_eq!(hit.status, 200);
        assert_eq!(hit.header("x-pixgate-cache"), Some("hit-memory"));
        let miss = common::get(&one.url(&format!("/img/r.jpg?w={}", 200 + i)), &[]);
        assert_eq!(miss.status, 200, "computed without Redis: {}", miss.text());
        assert!(start.elapsed() < Duration::from_secs(2), "Redis down must not stall requests");
    }
    assert!(one.server.state.redis.as_ref().unwrap().breaker_open(), "repeated failures open the breaker");
    assert_eq!(common::get(&one.url("/readyz"), &[]).status, 503, "readiness reports Redis down");

    redis.start();
    assert!(
        redis_serves_a_fresh_variant(&one, &two, &mut round, Duration::from_secs(15)),
        "Redis is used again after it restarts"
    );
    assert_eq!(common::get(&one.url("/readyz"), &[]).status, 200);
}

#[test]
fn s3_outage_serves_cached_variants_fails_misses_fast_and_recovers() {
    let dir = scratch("fault-s3");
    let mut s3 = s3_server(&dir);
    let bucket = "pixgate-fault";
    std::fs::create_dir_all(dir.join("s3").join(bucket)).unwrap();
    let mut settings = s3_settings(&format!("http://127.0.0.1:{}", s3.port), bucket);
    settings.extend(
        [
            ("PIXGATE_STORE__TIMEOUT_MS", "1500"),
            ("PIXGATE_STORE__S3__CONNECT_TIMEOUT_MS", "300"),
            ("PIXGATE_STORE__S3__MAX_ATTEMPTS", "2"),
            ("PIXGATE_CACHE__ORIGINAL_TTL_MS", "200"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let o = TestOrigin::start(&settings);
    assert_eq!(put_original(&o.url("/originals/s.jpg"), &jpeg(400, 300)), 201);
    let warm = common::get(&o.url("/img/s.jpg?w=100"), &[]);
    assert_eq!(warm.status, 200, "{}", warm.text());

    s3.kill();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let r = common::get(&o.url("/img/s.jpg?w=100"), &[]);
        assert_eq!(r.status, 200, "a cached variant survives the store outage: {}", r.text());
        assert_eq!(r.body, warm.body);
    }
    for w in [101, 102, 103] {
        let start = Instant::now();
        let r = common::get(&o.url(&format!("/img/s.jpg?w={w}")), &[]);
        let took = start.elapsed();
        assert!(matches!(r.status, 503 | 504), "uncached while S3 is down: {} {}", r.status, r.text());
        assert!(took < Duration::from_secs(2), "failed fast, in {took:?}");
        if r.status == 503 {
            assert!(r.header("retry-after").is_some());
        }
    }
    let r = common::get(&o.url("/img/other.jpg?w=10"), &[]);
    assert!(matches!(r.status, 503 | 504), "an unknown key cannot be checked: {}", r.status);
    assert_eq!(common::get(&o.url("/readyz"), &[]).status, 503);

    s3.start();
    let start = Instant::now();
    loop {
        let r = common::get(&o.url("/img/s.jpg?w=101"), &[]);
        if r.status == 200 {
            assert_eq!(r.image_size(), (101, 76));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no recovery: {} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(common::get(&o.url("/readyz"), &[]).status, 200);
}
