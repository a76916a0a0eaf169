//! Uploads of originals: who may upload, and what is accepted. Every check runs before
//! anything is stored: the token, the size (from `Content-Length`, then while reading,
//! so an oversized body is never read whole), the magic bytes, the header's dimensions
//! and the optional checksums.

use std::io::Cursor;

use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use md5::Md5;
use pixgate_policy::Format;
use sha2::{Digest, Sha256};
use warp::http::HeaderMap;

use crate::pipeline::{Limits, TransformError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum UploadError {
    #[error("an `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    #[error("this token may not upload")]
    Forbidden,
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0} does not match the body")]
    BadDigest(&'static str),
    #[error("malformed {0} header")]
    MalformedChecksum(&'static str),
    #[error("reading the body failed: {0}")]
    Body(String),
}

/// Checks `Authorization: Bearer <token>` against the configured tokens, comparing
/// digests in constant time so a token cannot be guessed byte by byte.
pub fn authorize(authorization: Option<&[u8]>, tokens: &[String]) -> Result<(), UploadError> {
    let header = authorization.ok_or(UploadError::Unauthorized)?;
    let token = header
        .strip_prefix(b"Bearer ")
        .or_else(|| header.strip_prefix(b"bearer "))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .ok_or(UploadError::Unauthorized)?;
    let given = Sha256::digest(token);
    let mut ok = false;
    for t in tokens {
        let want = Sha256::digest(t.as_bytes());
        let diff = given.iter().zip(want.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        ok |= diff == 0;
    }
    if ok {
        Ok(())
    } else {
        Err(UploadError::Forbidden)
    }
}

/// Refuses by `Content-Length` before reading anything.
pub fn check_declared_length(headers: &HeaderMap, limit: u64) -> Result<(), UploadError> {
    let declared = headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(UploadError::TooLarge(limit)),
        _ => Ok(()),
    }
}

/// Reads the body, stopping as soon as it passes `limit` (chunked uploads have no
/// `Content-Length` to refuse up front).
pub async fn read_limited<S, B>(body: S, limit: u64) -> Result<Bytes, UploadError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
        if (out.len() + chunk.remaining()) as u64 > limit {
            return Err(UploadError::TooLarge(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

/// Reads what is left of a refused body and drops it, when it is small (`limit` bytes,
/// from `Content-Length` or while reading) and comes quickly (`within`). True when the
/// body was read to its end: the connection can then serve another request.
pub async fn drain<S, B>(body: S, headers: &HeaderMap, limit: u64, within: std::time::Duration) -> bool
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let declared = headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return false;
    }
    let read = async {
        let mut body = std::pin::pin!(body);
        let mut total = 0u64;
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { return false };
            total += chunk.remaining() as u64;
            if total > limit {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(within, read).await.unwrap_or(false)
}

/// Verifies `Content-MD5` and `x-amz-checksum-sha256` (both base64) when present.
pub fn verify_checksums(headers: &HeaderMap, body: &[u8]) -> Result<(), UploadError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(v) = headers.get("content-md5") {
        let want = b64.decode(v.as_bytes().trim_ascii()).map_err(|_| UploadError::MalformedChecksum("Content-MD5"))?;
        if want.len() != 16 {
            return Err(UploadError::MalformedChecksum("Content-MD5"));
        }
        if Md5::digest(body)[..] != want[..] {
            return Err(UploadError::BadDigest("Content-MD5"));
        }
    }
    if let Some(v) = headers.get("x-amz-checksum-sha256") {
        let want = b64
            .decode(v.as_bytes().trim_ascii())
            .map_err(|_| UploadError::MalformedChecksum("x-amz-checksum-sha256"))?;
        if want.len() != 32 {
            return Err(UploadError::MalformedChecksum("x-amz-checksum-sha256"));
        }
        if Sha256::digest(body)[..] != want[..] {
            return Err(UploadError::BadDigest("x-amz-checksum-sha256"));
        }
    }
    Ok(())
}

/// What an image header says, read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Magic bytes, then the header's dimensions against the limits, without decoding.
/// (Stands in for `pipeline::probe` until the pipeline exposes one; it uses only the
/// `image` crate so that it does not depend on the pipeline's internals.)
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Header, TransformError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(TransformError::TooLarge(format!("source exceeds {} bytes", limits.max_bytes)));
    }
    let format = match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => Format::Jpeg,
        Ok(image::ImageFormat::Png) => Format::Png,
        Ok(image::ImageFormat::Gif) => Format::Gif,
        Ok(image::ImageFormat::WebP) => Format::Webp,
        _ => return Err(TransformError::Unsupported("not a supported image".into())),
    };
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| TransformError::Corrupt(e.to_string()))?;
    let (width, height) = reader.into_dimensions().map_err(|e| match e {
        image::ImageError::Limits(l) => TransformError::TooLarge(l.to_string()),
        image::ImageError::Unsupported(u) => TransformError::Unsupported(u.to_string()),
        other => TransformError::Corrupt(other.to_string()),
    })?;
    if width == 0 || height == 0 {
        return Err(TransformError::Corrupt("image has no pixels".into()));
    }
    if width.max(height) > limits.max_side {
        return Err(TransformError::TooLarge(format!("{width}×{height} exceeds {} px per side", limits.max_side)));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(TransformError::TooLarge(format!("{width}×{height} exceeds {} pixels", limits.max_pixels)));
    }
    Ok(Header { format, width, height })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::new(w, h);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn bearer_tokens_are_checked() {
        let tokens = vec!["secret-token-1".to_owned()];
        assert!(authorize(Some(b"Bearer secret-token-1"), &tokens).is_ok());
        assert!(matches!(authorize(None, &tokens), Err(UploadError::Unauthorized)));
        assert!(matches!(authorize(Some(b"Basic abc"), &tokens), Err(UploadError::Unauthorized)));
        assert!(matches!(authorize(Some(b"Bearer secret-token-2"), &tokens), Err(UploadError::Forbidden)));
        assert!(matches!(authorize(Some(b"Bearer x"), &[]), Err(UploadError::Forbidden)));
    }

    #[test]
    fn probe_reads_the_header_and_applies_the_limits() {
        let l = Limits::default();
        assert_eq!(probe(&png(30, 20), &l).unwrap(), Header { format: Format::Png, width: 30, height: 20 });
        assert!(matches!(probe(b"GIF89a-nope", &l), Err(TransformError::Corrupt(_))));
        assert!(matches!(probe(b"<svg></svg>", &l), Err(TransformError::Unsupported(_))));
        let small = Limits { max_pixels: 100, ..l };
        assert!(matches!(probe(&png(30, 20), &small), Err(TransformError::TooLarge(_))));
        let narrow = Limits { max_side: 25, ..l };
        assert!(matches!(probe(&png(30, 20), &narrow), Err(TransformError::TooLarge(_))));
    }

    #[test]
    fn checksums_are_verified_when_given() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b"hello";
        let mut h = HeaderMap::new();
        assert!(verify_checksums(&h, body).is_ok());
        h.insert("content-md5", b64.encode(Md5::digest(body)).parse().unwrap());
        h.insert("x-amz-checksum-sha256", b64.encode(Sha256::digest(body)).parse().unwrap());
        assert!(verify_checksums(&h, body).is_ok());
        assert!(matches!(verify_checksums(&h, b"hellO"), Err(UploadError::BadDigest("Content-MD5"))));
        h.insert("content-md5", "!!".parse().unwrap());
        assert!(matches!(verify_checksums(&h, body), Err(UploadError::MalformedChecksum(_))));
    }

    #[tokio::test]
    async fn draining_reads_small_bodies_to_the_end_and_gives_up_on_large_ones() {
        let chunks =
            || -> Vec<Result<Bytes, warp::Error>> { (0..5).map(|_| Ok(Bytes::from(vec![0u8; 100]))).collect() };
        let within = std::time::Duration::from_secs(1);
        let none = HeaderMap::new();
        assert!(drain(futures_util::stream::iter(chunks()), &none, 1000, within).await);
        assert!(!drain(futures_util::stream::iter(chunks()), &none, 499, within).await, "larger than the limit");
        let mut declared = HeaderMap::new();
        declared.insert("content-length", "5000".parse().unwrap());
        // Refused from the header: nothing is awaited (this stream would never end).
        assert!(!drain(futures_util::stream::pending::<Result<Bytes, warp::Error>>(), &declared, 1000, within).await);
        let slow = futures_util::stream::pending::<Result<Bytes, warp::Error>>();
        assert!(!drain(slow, &none, 1000, std::time::Duration::from_millis(50)).await, "a slow body is not waited for");
    }

    #[tokio::test]
    async fn reading_stops_at_the_limit() {
        let chunks: Vec<Result<Bytes, warp::Error>> = (0..10).map(|_| Ok(Bytes::from(vec![0u8; 100]))).collect();
        let r = read_limited(futures_util::stream::iter(chunks), 550).await;
        assert!(matches!(r, Err(UploadError::TooLarge(550))));
        let chunks: Vec<Result<Bytes, warp::Error>> = (0..5).map(|_| Ok(Bytes::from(vec![0u8; 100]))).collect();
        assert_eq!(read_limited(futures_util::stream::iter(chunks), 550).await.unwrap().len(), 500);
    }
}
