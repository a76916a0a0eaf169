//! Where originals live. Backends sit behind one small trait.

pub mod local;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O failed: {0}")]
    Io(String),
    #[error("store timed out")]
    Timeout,
}

/// An original's bytes and a version that changes whenever it is replaced.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub version: String,
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

pub trait Store: Send + Sync {
    /// `Ok(None)` when no original exists under `key` (a validated key).
    fn get_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Object>>;
}
