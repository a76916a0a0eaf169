//! The S3 store against the real S3 server that `cargo xtask test` starts (it checks
//! SigV4 signatures): originals and variants round-trip, versions move on replacement,
//! and an origin on S3 serves uploads and shares stored variants with another replica.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::services::*;
use pixgate_origin::config::{Config, S3Config};
use pixgate_origin::store::s3::S3Store;
use pixgate_origin::store::Store;

fn s3_config(bucket: &str) -> S3Config {
    let mut c = Config::from_sources("", s3_settings(&service("PIXGATE_E2E_S3"), bucket)).unwrap().store.s3;
    c.bucket = bucket.to_owned();
    c
}

fn bucket(name: &str) -> String {
    format!("pixgate-{name}-{}", std::process::id())
}

async fn store_with_bucket(name: &str) -> S3Store {
    let b = bucket(name);
    let s = S3Store::new(&s3_config(&b), Duration::from_secs(5)).await;
    s.client().create_bucket().bucket(&b).send().await.expect("create bucket");
    s
}

#[test]
fn originals_and_variants_round_trip_through_s3() {
    block_on(async {
        let s = store_with_bucket("roundtrip").await;
        s.check().await.unwrap();
        assert!(s.head_original("a/b.jpg").await.unwrap().is_none());
        assert!(s.get_original("a/b.jpg").await.unwrap().is_none());
        let p1 = s.put_original("a/b.jpg", Bytes::from_static(b"first")).await.unwrap();
        assert!(p1.created);
        let got = s.get_original("a/b.jpg").await.unwrap().unwrap();
        assert_eq!(&got.bytes[..], b"first");
        assert_eq!(got.version, p1.version);
        assert_eq!(s.head_original("a/b.jpg").await.unwrap(), Some(p1.version.clone()));
        let p2 = s.put_original("a/b.jpg", Bytes::from_static(b"second")).await.unwrap();
        assert!(!p2.created);
        assert_ne!(p1.version, p2.version, "a different body is a different version");
        s.put_variant("0123abcd", Bytes::from_static(b"variant")).await.unwrap();
        assert_eq!(&s.get_variant("0123abcd").await.unwrap().unwrap()[..], b"variant");
        assert!(s.get_variant("ffff").await.unwrap().is_none());
        assert!(s.delete_original("a/b.jpg").await.unwrap());
        assert!(!s.delete_original("a/b.jpg").await.unwrap());
        assert!(s.get_original("a/b.jpg").await.unwrap().is_none());
    });
}

#[test]
fn concurrent_puts_to_s3_leave_one_complete_object() {
    block_on(async {
        let s = Arc::new(store_with_bucket("concurrent").await);
        let bodies: Vec<Bytes> = (0..6u8).map(|i| Bytes::from(vec![i; 200_000])).collect();
        let tasks: Vec<_> = bodies
            .iter()
            .cloned()
            .map(|b| {
                let s = s.clone();
                tokio::spawn(async move { s.put_original("same.jpg", b).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let got = s.get_original("same.jpg").await.unwrap().unwrap();
        assert!(bodies.contains(&got.bytes));
    });
}

#[test]
fn wrong_credentials_are_refused_by_the_server() {
    block_on(async {
        let mut c = s3_config(&bucket("creds"));
        c.secret_access_key = "not-the-secret".into();
        let s = S3Store::new(&c, Duration::from_secs(5)).await;
        assert!(s.check().await.is_err());
    });
}

#[test]
fn origin_on_s3_serves_uploads_and_replicas_share_stored_variants() {
    let b = bucket("origin");
    block_on(async {
        let s = S3Store::new(&s3_config(&b), Duration::from_secs(5)).await;
        s.client().create_bucket().bucket(&b).send().await.expect("create bucket");
    });
    let settings = s3_settings(&service("PIXGATE_E2E_S3"), &b);
    let one = TestOrigin::start(&settings);
    let two = TestOrigin::start(&settings);
    assert_eq!(put_original(&one.url("/originals/p.jpg"), &jpeg(320, 240)), 201);
    let r = common::get(&one.url("/img/p.jpg?w=160"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-pixgate-cache"), Some("miss"));
    assert_eq!(r.image_size(), (160, 120));
    assert_eq!(common::get(&one.url("/readyz"), &[]).status, 200);
    // The variant is written to the store in the background; the other replica finds it.
    let mut tier = String::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let r2 = common::get(&two.url("/img/p.jpg?w=160"), &[]);
        assert_eq!(r2.status, 200);
        tier = r2.header("x-pixgate-cache").unwrap_or_default().to_owned();
        if tier == "hit-store" || tier == "hit-memory" {
            break;
        }
    }
    assert!(tier == "hit-store" || tier == "hit-memory", "second replica: {tier}");
    assert_eq!(two.server.state.metrics.transforms_total(), 0, "the second replica never transformed");
}
