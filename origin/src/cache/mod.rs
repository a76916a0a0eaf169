//! Cache tiers for transformed variants: L1 memory (`memory`), L2 Redis (`redis`),
//! L3 the store's variant area. A variant's name is a hash of the original's version,
//! the canonical parameters and the pipeline version, so replacing an original can
//! never serve a stale variant: the new version names different entries.

pub mod breaker;
pub mod memory;
pub mod redis;
pub mod versions;

use bytes::Bytes;
use pixgate_policy::Format;
use sha2::{Digest, Sha256};

/// Bumped whenever the pipeline's output for the same input changes, so that variant
/// names and ETags move with it.
pub const PIPELINE_VERSION: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(String),
    #[error("redis timed out")]
    Timeout,
    #[error("redis skipped: circuit open")]
    Open,
    #[error("cached entry is malformed")]
    Malformed,
}

/// A transformed image and what a response needs to describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedVariant {
    pub bytes: Bytes,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

const MAGIC: &[u8; 4] = b"PXV1";

impl CachedVariant {
    /// The blob kept in Redis and the store: magic, format name, size, then the image.
    pub fn to_blob(&self) -> Bytes {
        let name = self.format.as_str().as_bytes();
        let mut out = Vec::with_capacity(4 + 1 + name.len() + 8 + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.bytes);
        Bytes::from(out)
    }

    pub fn from_blob(blob: Bytes) -> Result<CachedVariant, CacheError> {
        let rest = blob.strip_prefix(MAGIC).ok_or(CacheError::Malformed)?;
        let (&n, rest) = rest.split_first().ok_or(CacheError::Malformed)?;
        let n = usize::from(n);
        if rest.len() < n + 8 {
            return Err(CacheError::Malformed);
        }
        let format = std::str::from_utf8(&rest[..n]).ok().and_then(Format::parse).ok_or(CacheError::Malformed)?;
        let word = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let (width, height) = (word(n), word(n + 4));
        let header = 4 + 1 + n + 8;
        Ok(CachedVariant { bytes: blob.slice(header..), format, width, height })
    }
}

/// The variant's name in every tier, and its strong ETag: 128 bits of
/// SHA-256(original version, canonical path, pipeline version), hex.
pub fn variant_name(version: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    for part in [version, "\n", canonical, "\n", PIPELINE_VERSION] {
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(32);
    for &b in &digest[..16] {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trips_and_refuses_garbage() {
        let v = CachedVariant { bytes: Bytes::from_static(b"\xff\xd8img"), format: Format::Webp, width: 7, height: 9 };
        assert_eq!(CachedVariant::from_blob(v.to_blob()).unwrap(), v);
        for bad in [&b""[..], b"PXV1", b"PXV1\x04webp\x01", b"XXXX\x04webp12345678"] {
            assert!(CachedVariant::from_blob(Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn variant_name_moves_with_the_original_version_and_the_parameters() {
        let a = variant_name("v1", "/img/a.jpg?w=10");
        assert_eq!(a.len(), 32);
        assert_eq!(a, variant_name("v1", "/img/a.jpg?w=10"));
        assert_ne!(a, variant_name("v2", "/img/a.jpg?w=10"));
        assert_ne!(a, variant_name("v1", "/img/a.jpg?w=11"));
    }
}
