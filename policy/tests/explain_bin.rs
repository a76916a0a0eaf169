//! The `pixgate-explain` binary: one JSON object per DESIGN.md §9, exit codes.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn run(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pixgate-explain")).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json =
        if stdout.trim().is_empty() { serde_json::Value::Null } else { serde_json::from_str(stdout.trim()).unwrap() };
    (out.status.code().unwrap(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn qiniu_acceptance_example() {
    let (code, v, _) = run(&["--source", "1200x800", "/img/a.jpg?imageView2/1/w/200/h/200"]);
    assert_eq!(code, 0);
    assert_eq!(v["status"], 200);
    assert_eq!(v["dialect"], "qiniu");
    assert_eq!(v["params"]["fit"], "cover");
    assert_eq!(v["output"]["width"], 200);
    assert_eq!(v["output"]["height"], 200);
    for field in ["key", "canonical", "params", "format", "format_reason", "vary", "warnings"] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
}

#[test]
fn params_are_exactly_the_canonical_query() {
    let (_, v, _) = run(&["-H", "Accept: image/avif,image/webp,*/*", "/img/a.jpg?width=300&foo=1"]);
    let canonical = v["canonical"].as_str().unwrap();
    let query = canonical.split_once('?').unwrap().1;
    let params = v["params"].as_object().unwrap();
    let rebuilt: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap())).collect();
    assert_eq!(rebuilt.join("&"), query);
    assert_eq!(v["format"], "avif");
    assert_eq!(v["format_reason"], "accept");
    assert_eq!(v["warnings"][0]["code"], "dropped_param");
}

#[test]
fn user_agent_header_and_profile_are_used() {
    let ua = "User-Agent: Mozilla/5.0 (Android 13; Mobile; rv:107.0) Gecko/107.0 Firefox/107.0";
    let (_, v, _) =
        run(&["-H", "Accept: */*", "-H", ua, "--profile", "fastly", "/a.jpg?width=300&height=300&fit=cover"]);
    assert_eq!(v["dialect"], "fastly");
    assert_eq!(v["params"]["fit"], "outside");
    assert_eq!(v["format"], "avif");
    assert_eq!(v["format_reason"], "user-agent");
}

#[test]
fn rejections_exit_zero_with_an_error_object() {
    let (code, v, _) = run(&["/img/../etc/passwd"]);
    assert_eq!(code, 0);
    assert_eq!(v["status"], 400);
    assert_eq!(v["error"]["code"], "bad_key");
}

#[test]
fn config_and_now_drive_expiry() {
    let dir = std::env::temp_dir().join(format!("pixgate-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, br#"{"routes":[{"signature":{"keys":["k"],"required":true}}]}"#).unwrap();
    let (v, _) = pixgate_policy::Variant::from_query(b"w=10").unwrap();
    let msg = pixgate_policy::sign::message("a.jpg", &v, Some(100));
    let sig = pixgate_policy::sign::sign(b"k", msg.as_bytes());
    let url = format!("/img/a.jpg?w=10&exp=100&sig={sig}");
    let cfg = cfg.to_str().unwrap();
    let (_, ok, _) = run(&["--config", cfg, "--now", "50", &url]);
    assert_eq!(ok["status"], 200, "{ok}");
    let (_, late, _) = run(&["--config", cfg, "--now", "150", &url]);
    assert_eq!(late["status"], 403);
    assert_eq!(late["error"]["code"], "expired");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_two() {
    for args in
        [&[][..], &["--source", "abc", "/a.jpg"], &["--bogus", "/a.jpg"], &["--profile", "cloudinary", "/a.jpg"]]
    {
        let (code, v, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(v.is_null());
        assert!(err.contains("usage"), "{err}");
    }
}
