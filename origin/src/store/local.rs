//! Originals and variants on local disk: `<root>/originals/<key>`, `<root>/variants/…`.

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::{Object, Store, StoreError, StoreFuture};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    /// Keys are validated by the policy crate (no `..`, no empty segments), so joining
    /// them under `originals/` cannot escape the root.
    fn original_path(&self, key: &str) -> PathBuf {
        self.root.join("originals").join(key)
    }
}

impl Store for LocalStore {
    fn get_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Object>> {
        Box::pin(async move {
            let path = self.original_path(key);
            let meta = match tokio::fs::metadata(&path).await {
                Ok(m) if m.is_file() => m,
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::Io(e.to_string())),
            };
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::Io(e.to_string())),
            };
            let mtime =
                meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            Ok(Some(Object { version: format!("{}-{}", meta.len(), mtime), bytes: Bytes::from(bytes) }))
        })
    }
}
