//! The origin over real HTTP, in-process on a free port with a temporary local store:
//! routes, uploads, caching headers, single-flight and back-pressure.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pixgate_origin::config::Config;
use pixgate_origin::Background;

const TOKEN: &str = "test-upload-token";

struct TestOrigin {
    base: String,
    root: PathBuf,
    server: Background,
}

impl TestOrigin {
    fn start(name: &str, extra: &[(&str, &str)]) -> TestOrigin {
        let root = std::env::temp_dir().join(format!("pixgate-http-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut env = vec![
            ("PIXGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("PIXGATE_STORE__ROOT".to_owned(), root.display().to_string()),
            ("PIXGATE_UPLOAD_TOKENS".to_owned(), TOKEN.to_owned()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let server = Background::start(Config::from_sources("", env).unwrap()).unwrap();
        TestOrigin { base: format!("http://{}", server.addr), root, server }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap_or_default();
    Resp { status, headers, body }
}

fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.call())
}

/// Sends a PUT's head announcing `len` body bytes and none of them, then reads the answer.
fn put_head_only(url: &str, token: &str, len: usize) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn put(url: &str, token: Option<&str>, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().put(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.send(body))
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::new(w, h).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

fn size_of(body: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(body).unwrap();
    (img.width(), img.height())
}

fn stored_originals(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.join("originals")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn originals_in_formats_uploads_refuse_are_still_served() {
    // Uploads take the web formats only, but a store may hold any format the pipeline
    // decodes (written there by other tools): those are transformed, not refused.
    let o = TestOrigin::start("formats", &[]);
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 90]));
    for (name, format) in [("a.bmp", image::ImageFormat::Bmp), ("a.tiff", image::ImageFormat::Tiff)] {
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
        std::fs::create_dir_all(o.root.join("originals")).unwrap();
        std::fs::write(o.root.join("originals").join(name), &bytes).unwrap();
        let r = get(&o.url(&format!("/img/{name}?w=20")), &[]);
        assert_eq!(r.status, 200, "{name}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(size_of(&r.body), (20, 15), "{name}");
    }
}

#[test]
fn upload_then_serve_with_cache_headers_and_304() {
    let o = TestOrigin::start("serve", &[]);
    let r = put(&o.url("/originals/photos/a.jpg"), Some(TOKEN), &jpeg(400, 300), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["width"], 400);

    let first = get(&o.url("/img/photos/a.jpg?w=100"), &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-pixgate-cache"), Some("miss"));
    assert_eq!(first.header("content-type"), Some("image/jpeg"));
    assert_eq!(first.header("cache-control"), Some("public, max-age=3600, stale-while-revalidate=86400"));
    assert!(first.header("server-timing").is_some_and(|t| t.contains("transform;dur=")), "{:?}", first.headers);
    assert_eq!(size_of(&first.body), (100, 75));
    let etag = first.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "strong ETag: {etag}");

    let second = get(&o.url("/img/photos/a.jpg?w=100"), &[]);
    assert_eq!(second.header("x-pixgate-cache"), Some("hit-memory"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("etag"), Some(etag.as_str()));

    let not_modified = get(&o.url("/img/photos/a.jpg?w=100"), &[("if-none-match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());

    let legacy = get(&o.url("/photos/a.jpg?width=100"), &[]);
    assert_eq!(legacy.status, 200);
    assert_eq!(legacy.header("etag"), Some(etag.as_str()), "a legacy URL is the same variant");

    let head = finish(agent().head(o.url("/img/photos/a.jpg?w=100")).call());
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(first.body.len().to_string().as_str()));

    let negotiated = get(&o.url("/img/photos/a.jpg?w=64"), &[("accept", "image/webp,*/*")]);
    assert_eq!(negotiated.header("content-type"), Some("image/webp"));
    assert_eq!(negotiated.header("vary"), Some("Accept"));
}

#[test]
fn replacing_an_original_never_serves_the_old_variant_and_delete_makes_it_unreachable() {
    let o = TestOrigin::start("replace", &[]);
    assert_eq!(put(&o.url("/originals/r.jpg"), Some(TOKEN), &jpeg(400, 200), &[]).status, 201);
    let old = get(&o.url("/img/r.jpg?w=100"), &[]);
    assert_eq!(size_of(&old.body), (100, 50));
    assert_eq!(put(&o.url("/originals/r.jpg"), Some(TOKEN), &jpeg(200, 200), &[]).status, 200);
    let new = get(&o.url("/img/r.jpg?w=100"), &[]);
    assert_eq!(new.status, 200);
    assert_eq!(size_of(&new.body), (100, 100));
    assert_ne!(old.header("etag"), new.header("etag"));

    let del =
        finish(agent().delete(o.url("/originals/r.jpg")).header("authorization", format!("Bearer {TOKEN}")).call());
    assert_eq!(del.status, 204);
    let gone = get(&o.url("/img/r.jpg?w=100"), &[]);
    assert_eq!((gone.status, gone.code()), (404, "not_found".into()));
    let again =
        finish(agent().delete(o.url("/originals/r.jpg")).header("authorization", format!("Bearer {TOKEN}")).call());
    assert_eq!(again.status, 404);
}

#[test]
fn uploads_need_a_valid_token_and_store_nothing_otherwise() {
    let o = TestOrigin::start("auth", &[]);
    let body = jpeg(50, 50);
    let r = put(&o.url("/originals/x.jpg"), None, &body, &[]);
    assert_eq!((r.status, r.code()), (401, "unauthorized".into()));
    let r = put(&o.url("/originals/x.jpg"), Some("wrong-token-123"), &body, &[]);
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    let r = finish(agent().delete(o.url("/originals/x.jpg")).call());
    assert_eq!(r.status, 401);
    assert!(stored_originals(&o.root).is_empty());
    assert_eq!(get(&o.url("/img/x.jpg"), &[]).status, 404);
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body): its status.
fn read_response(r: &mut impl std::io::BufRead) -> u16 {
    let mut status = 0;
    let mut len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "connection closed before a response");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(s) = l.strip_prefix("HTTP/1.1 ") {
            status = s[..3].parse().unwrap();
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    status
}

#[test]
fn a_refused_upload_is_answered_to_a_client_still_sending_and_its_connection_is_reused() {
    use std::io::Write;
    let o = TestOrigin::start("refused-drain", &[]);
    let addr = o.base.strip_prefix("http://").unwrap().to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    // No token: refused before the body is looked at, while the client still sends it.
    let body = jpeg(300, 300);
    write!(s, "PUT /originals/x.jpg HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    for part in body.chunks(4096) {
        s.write_all(part).expect("the origin reads the body it refuses");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(read_response(&mut r), 401);
    write!(s, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r), 200, "the same connection serves the next request");
    assert!(stored_originals(&o.root).is_empty());
}

#[test]
fn bad_uploads_are_refused_before_anything_is_stored() {
    let o = TestOrigin::start(
        "refuse",
        &[("PIXGATE_LIMITS__MAX_SOURCE_BYTES", "100000"), ("PIXGATE_LIMITS__MAX_SOURCE_PIXELS", "250000")],
    );
    let url = o.url("/originals/bad.png");
    // Only the head is sent: the origin must answer from Content-Length alone, without
    // waiting for (or reading) the body.
    let (status, body) = put_head_only(&url, TOKEN, 300_000);
    assert_eq!(status, 413, "refused by Content-Length: {body}");
    assert!(body.contains("payload_too_large"), "{body}");
    let r = put(&url, Some(TOKEN), b"just some text, not an image", &[]);
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type".into()));
    let mut corrupt = b"\x89PNG\r\n\x1a\n".to_vec();
    corrupt.extend_from_slice(&[0xAB; 64]);
    let r = put(&url, Some(TOKEN), &corrupt, &[]);
    assert_eq!((r.status, r.code()), (422, "corrupt_image".into()));
    let r = put(&url, Some(TOKEN), &png(1000, 1000), &[]);
    assert_eq!((r.status, r.code()), (413, "payload_too_large".into()), "too many pixels, from the header");
    let r = put(&url, Some(TOKEN), &png(10, 10), &[("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")]);
    assert_eq!((r.status, r.code()), (400, "bad_digest".into()));
    let r = put(&o.url("/originals/a/../b.png"), Some(TOKEN), &png(10, 10), &[]);
    assert_eq!(r.status, 400);
    assert!(stored_originals(&o.root).is_empty(), "{:?}", stored_originals(&o.root));

    // And with a correct checksum it is accepted.
    use base64::Engine;
    use sha2::Digest;
    let body = png(10, 10);
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    assert_eq!(put(&url, Some(TOKEN), &body, &[("x-amz-checksum-sha256", &sum)]).status, 201);
}

#[test]
fn fifty_concurrent_requests_for_one_uncached_variant_run_one_transform() {
    let o = TestOrigin::start("flight", &[]);
    assert_eq!(put(&o.url("/originals/big.jpg"), Some(TOKEN), &jpeg(1600, 1200), &[]).status, 201);
    // Warm the original's version, so every request reaches the variant lookup at once.
    assert_eq!(get(&o.url("/img/big.jpg?w=10"), &[]).status, 200);
    let before = o.server.state.metrics.transforms_total();
    let url = o.url("/img/big.jpg?w=333&fmt=png");
    let barrier = Arc::new(std::sync::Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                get(&url, &[])
            })
        })
        .collect();
    let responses: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(responses.iter().all(|r| r.status == 200));
    assert_eq!(o.server.state.metrics.transforms_total() - before, 1, "exactly one transform");
    let misses = responses.iter().filter(|r| r.header("x-pixgate-cache") == Some("miss")).count();
    let coalesced = responses.iter().filter(|r| r.header("x-pixgate-cache") == Some("coalesced")).count();
    assert_eq!(misses, 1);
    assert!(coalesced >= 1, "some requests waited for the one transform");
    assert!(responses.windows(2).all(|w| w[0].body == w[1].body));
}

#[test]
fn concurrent_puts_of_one_key_leave_one_complete_original() {
    let o = TestOrigin::start("puts", &[]);
    let bodies: Vec<Vec<u8>> = (0..6).map(|i| jpeg(300 + i * 10, 200)).collect();
    let handles: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|b| {
            let url = o.url("/originals/same.jpg");
            std::thread::spawn(move || put(&url, Some(TOKEN), &b, &[]).status)
        })
        .collect();
    for h in handles {
        assert!(matches!(h.join().unwrap(), 200 | 201));
    }
    let files = stored_originals(&o.root);
    assert_eq!(files.len(), 1, "no temp files: {files:?}");
    let stored = std::fs::read(&files[0]).unwrap();
    assert!(bodies.contains(&stored), "the original is one complete upload");
}

#[test]
fn overload_sheds_with_503_and_retry_after() {
    let o = TestOrigin::start("shed", &[("PIXGATE_TRANSFORM__WORKERS", "1"), ("PIXGATE_TRANSFORM__QUEUE", "0")]);
    assert_eq!(put(&o.url("/originals/s.jpg"), Some(TOKEN), &jpeg(2000, 1500), &[]).status, 201);
    assert_eq!(get(&o.url("/img/s.jpg?w=9"), &[]).status, 200);
    let barrier = Arc::new(std::sync::Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (url, barrier) = (o.url(&format!("/img/s.jpg?w={}&blur=2", 500 + i)), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                get(&url, &[])
            })
        })
        .collect();
    let responses: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let shed: Vec<&Resp> = responses.iter().filter(|r| r.status == 503).collect();
    assert!(responses.iter().all(|r| r.status == 200 || r.status == 503));
    assert!(responses.iter().any(|r| r.status == 200));
    assert!(!shed.is_empty(), "one worker and no queue: concurrent transforms are shed");
    assert_eq!(shed[0].code(), "overloaded");
    assert_eq!(shed[0].header("retry-after"), Some("1"));
}

#[test]
fn service_routes_answer_and_bad_input_is_never_a_5xx() {
    let o = TestOrigin::start("routes", &[]);
    assert_eq!(get(&o.url("/healthz"), &[]).status, 200);
    let ready = get(&o.url("/readyz"), &[]);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["store"], "ok");
    assert_eq!(ready.json()["redis"], "disabled");
    assert_eq!(put(&o.url("/originals/m.jpg"), Some(TOKEN), &jpeg(64, 64), &[]).status, 201);
    for (path, status, code) in [
        ("/img/m.jpg?w=-5", 400, "bad_param"),
        ("/img/m.jpg?w=99999", 400, "too_large"),
        ("/img/%2e%2e/etc/passwd?w=1", 400, "bad_key"),
        ("/img/missing.jpg?w=10", 404, "not_found"),
    ] {
        let r = get(&o.url(path), &[]);
        assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
    }
    let post = finish(agent().post(o.url("/img/m.jpg")).send(&b""[..]));
    assert_eq!(post.status, 405);
    assert_eq!(get(&o.url("/img/m.jpg?w=10"), &[]).status, 200);
    let metrics = get(&o.url("/metrics"), &[]);
    let text = String::from_utf8_lossy(&metrics.body);
    for name in [
        "pixgate_http_requests_total",
        "pixgate_http_request_duration_seconds",
        "pixgate_cache_requests_total",
        "pixgate_transforms_total",
        "pixgate_store_request_duration_seconds",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    assert!(text.contains("status_class=\"4xx\""));
}

#[test]
fn shutdown_finishes_in_flight_requests_then_stops_accepting() {
    let mut o = TestOrigin::start("shutdown", &[]);
    assert_eq!(put(&o.url("/originals/slow.jpg"), Some(TOKEN), &jpeg(2400, 1600), &[]).status, 201);
    let url = o.url("/img/slow.jpg?w=1200&blur=8");
    let addr = o.base.trim_start_matches("http://").to_owned();
    let in_flight = std::thread::spawn(move || get(&url, &[]));
    std::thread::sleep(Duration::from_millis(150));
    o.server.stop();
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200, "the in-flight request completes");
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer accepting");
}

/// A photo-sized source of noise: its PNG variants are large, so a client that does not
/// read them leaves the response stuck in the socket.
fn noise_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_f491u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(&img).unwrap();
    out
}

/// Sends `head` on a fresh connection and leaves the connection open, unread.
fn send_only(base: &str, head: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s
}

#[test]
fn clients_that_never_read_their_responses_hold_no_transform_worker() {
    let o = TestOrigin::start("unread", &[("PIXGATE_TRANSFORM__WORKERS", "1"), ("PIXGATE_TRANSFORM__QUEUE", "0")]);
    assert_eq!(put(&o.url("/originals/n.jpg"), Some(TOKEN), &noise_jpeg(2400, 1600), &[]).status, 201);
    assert_eq!(get(&o.url("/img/n.jpg?w=8"), &[]).status, 200);
    let host = o.base.trim_start_matches("http://").to_owned();
    let mut stuck = Vec::new();
    for i in 0..3 {
        let before = o.server.state.metrics.transforms_total();
        // ~11 MB of PNG each: more than the socket buffers take, so the write blocks.
        let head = format!("GET /img/n.jpg?fmt=png&w={} HTTP/1.1\r\nHost: {host}\r\n\r\n", 2400 - i);
        stuck.push(send_only(&o.base, &head));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while o.server.state.metrics.transforms_total() == before {
            assert!(std::time::Instant::now() < deadline, "the unread request's transform never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // One worker, no queue: were a stuck response holding the worker, this would be 503.
    let r = get(&o.url("/img/n.jpg?w=300"), &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-pixgate-cache"), Some("miss"));
    drop(stuck);
}

#[test]
fn a_client_trickling_its_request_head_is_disconnected_and_blocks_no_transform() {
    use std::io::{Read, Write};
    let o = TestOrigin::start(
        "trickle",
        &[
            ("PIXGATE_TRANSFORM__WORKERS", "1"),
            ("PIXGATE_TRANSFORM__QUEUE", "0"),
            ("PIXGATE_HTTP__HEADER_READ_TIMEOUT_MS", "500"),
        ],
    );
    assert_eq!(put(&o.url("/originals/t.jpg"), Some(TOKEN), &jpeg(800, 600), &[]).status, 201);
    let mut slow = send_only(&o.base, "GET /img/t.jpg?w=10 HTTP/1.1\r\nHost: x\r\n");
    let started = std::time::Instant::now();
    for i in 0..5 {
        let _ = slow.write_all(b"X-Trickle: 1\r\n");
        let r = get(&o.url(&format!("/img/t.jpg?w={}", 100 + i)), &[]);
        assert_eq!(r.status, 200, "others are served while the head trickles");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The head never completes: the server hangs up once the header-read timeout passes.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "disconnected after {waited:?}");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "{}", String::from_utf8_lossy(&buf));
}

#[test]
fn a_chunked_upload_is_refused_as_soon_as_it_passes_the_size_limit() {
    use std::io::{Read, Write};
    let o = TestOrigin::start("chunked", &[("PIXGATE_LIMITS__MAX_SOURCE_BYTES", "100000")]);
    let host = o.base.trim_start_matches("http://").to_owned();
    let mut s = send_only(
        &o.base,
        &format!(
            "PUT /originals/big.png HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
    );
    // 112 KB, just past the 100 KB limit, and then the body never ends: only an answer
    // given before the end can arrive. No more is sent: bytes the origin leaves unread when
    // it closes would make the kernel reset the connection under the answer.
    for _ in 0..7 {
        let chunk = [format!("{:x}\r\n", 16_000).as_bytes(), &[0u8; 16_000], b"\r\n"].concat();
        if s.write_all(&chunk).is_err() {
            break; // already answered and closed
        }
    }
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    assert!(stored_originals(&o.root).is_empty());
}

const SVG_WITH_SCRIPT: &[u8] =
    br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script><rect width="10" height="10"/></svg>"#;

#[test]
fn an_svg_carrying_script_is_never_stored_or_served_as_an_image() {
    let o = TestOrigin::start("svg", &[]);
    for key in ["evil.svg", "evil.png"] {
        let r = put(&o.url(&format!("/originals/{key}")), Some(TOKEN), SVG_WITH_SCRIPT, &[]);
        assert_eq!((r.status, r.code()), (415, "unsupported_media_type".into()), "{key}");
    }
    assert!(stored_originals(&o.root).is_empty());
    // Placed in the store behind the origin's back, under an image's name or its own.
    std::fs::create_dir_all(o.root.join("originals")).unwrap();
    for key in ["placed.svg", "placed.jpg"] {
        std::fs::write(o.root.join("originals").join(key), SVG_WITH_SCRIPT).unwrap();
        for query in ["", "?w=5", "?fmt=png", "?w=20&lim=orig"] {
            let r = get(&o.url(&format!("/img/{key}{query}")), &[]);
            assert_eq!((r.status, r.code()), (415, "unsupported_media_type".into()), "{key}{query}");
            assert_eq!(r.header("content-type"), Some("application/json"), "{key}{query}");
            assert!(!String::from_utf8_lossy(&r.body).contains("<script"), "{key}{query}");
        }
    }
}

fn signed_origin(name: &str) -> TestOrigin {
    let cfg = std::env::temp_dir().join(format!("pixgate-http-{name}-{}.json", std::process::id()));
    std::fs::write(
        &cfg,
        r#"{"routes":[{"prefix":"/","signature":{"keys":["old-key","signing-key"],"required":true}}]}"#,
    )
    .unwrap();
    TestOrigin::start(name, &[("PIXGATE_POLICY__FILTER_CONFIG", cfg.to_str().unwrap())])
}

fn signed(key: &str, query: &str, exp: Option<u64>) -> String {
    let (variant, _) = pixgate_policy::Variant::from_query(query.as_bytes()).unwrap();
    let message = pixgate_policy::sign::message(key, &variant, exp);
    let sig = pixgate_policy::sign::sign(b"signing-key", message.as_bytes());
    let exp = exp.map(|e| format!("&exp={e}")).unwrap_or_default();
    format!("/img/{key}?{query}{exp}&sig={sig}")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn a_route_requiring_signatures_refuses_unsigned_tampered_and_expired_urls_at_the_origin() {
    let o = signed_origin("signed");
    assert_eq!(put(&o.url("/originals/s.jpg"), Some(TOKEN), &jpeg(300, 200), &[]).status, 201);
    let good = signed("s.jpg", "w=40", None);
    assert_eq!(get(&o.url(&good), &[]).status, 200, "{good}");
    let exp = now() + 3600;
    let later = signed("s.jpg", "w=41", Some(exp));
    assert_eq!(get(&o.url(&later), &[]).status, 200, "{later}");
    let cases = [
        ("/img/s.jpg?w=40".to_owned(), 403, "bad_signature"),
        (good.replace("w=40", "w=400"), 403, "bad_signature"),
        (good.replace("/img/s.jpg", "/img/t.jpg"), 403, "bad_signature"),
        (later.replace(&format!("exp={exp}"), &format!("exp={}", exp + 3600)), 403, "bad_signature"),
        (signed("s.jpg", "w=42", Some(now() - 60)), 403, "expired"),
        (format!("{good}x"), 403, "bad_signature"),
    ];
    for (url, status, code) in cases {
        let r = get(&o.url(&url), &[]);
        assert_eq!((r.status, r.code().as_str()), (status, code), "{url}");
    }
}
