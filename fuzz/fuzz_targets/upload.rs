//! Upload validation on arbitrary requests: the bearer token, the declared length, the
//! bounded body read, the checksums and the header probe. No input may panic, the body
//! read never holds more than its limit, and an accepted image is within the limits.

#![no_main]

mod limits;

use bytes::Bytes;
use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use limits::LIMITS;
use pixgate_origin::upload::{authorize, check_declared_length, probe, read_limited, verify_checksums, UploadError};
use warp::http::{HeaderMap, HeaderValue};

const TOKENS: &[&str] = &["fuzz-token-1", "fuzz-token-2"];

fuzz_target!(|data: &[u8]| {
    // Authorization, Content-MD5, x-amz-checksum-sha256 and Content-Length, separated by
    // NUL bytes, then the body; the first byte sizes the body's chunks.
    let Some((&chunk, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(5, |&b| b == 0);
    let auth = parts.next().unwrap_or_default();
    let md5 = parts.next();
    let sha = parts.next();
    let length = parts.next();
    let body = parts.next().unwrap_or_default();

    let tokens: Vec<String> = TOKENS.iter().map(|t| t.to_string()).collect();
    let authorized = authorize(Some(auth), &tokens);
    let exact = TOKENS.iter().any(|t| auth == format!("Bearer {t}").as_bytes());
    assert!(!exact || authorized.is_ok(), "a configured token was refused");
    if authorized.is_ok() {
        let token = auth.get(7..).map(<[u8]>::trim_ascii).unwrap_or_default();
        assert!(TOKENS.iter().any(|t| t.as_bytes() == token), "an unknown token was accepted");
    }

    let mut headers = HeaderMap::new();
    for (name, v) in [("content-md5", md5), ("x-amz-checksum-sha256", sha), ("content-length", length)] {
        if let Some(v) = v.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, v);
        }
    }
    let limit = 1 + u64::from(chunk) * 64;
    let _ = check_declared_length(&headers, limit);
    let size = 1 + usize::from(chunk % 16) * 97;
    let stream = futures_util::stream::iter(body.chunks(size).map(|c| Ok::<_, warp::Error>(Bytes::copy_from_slice(c))));
    match read_limited(stream, limit).now_or_never().expect("an in-memory body is ready at once") {
        Ok(read) => assert!(read.len() as u64 <= limit && read[..] == body[..]),
        Err(UploadError::TooLarge(_)) => assert!(body.len() as u64 > limit),
        Err(e) => panic!("reading an in-memory body failed: {e}"),
    }
    let _ = verify_checksums(&headers, body);
    if let Ok(h) = probe(body, &LIMITS) {
        assert!(h.width >= 1 && h.height >= 1);
        assert!(h.width <= LIMITS.max_side && h.height <= LIMITS.max_side);
        assert!(u64::from(h.width) * u64::from(h.height) <= LIMITS.max_pixels);
    }
});
