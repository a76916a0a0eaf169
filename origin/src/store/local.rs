//! Originals and variants on local disk: `<root>/originals/<key>` and
//! `<root>/variants/<name>`. Writes go to a temp file beside the target, are fsynced and
//! renamed into place, so a reader sees the old object or the new one, never a part.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{Object, Put, Store, StoreError, StoreFuture};

pub struct LocalStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalStore {
    /// Creates `originals/` and `variants/` under `root` when missing.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<LocalStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join("originals"))?;
        std::fs::create_dir_all(root.join("variants"))?;
        Ok(LocalStore { root })
    }

    /// Keys are validated by the policy crate (no `..`, no empty segments), so joining
    /// them under `originals/` cannot escape the root.
    fn original_path(&self, key: &str) -> PathBuf {
        self.root.join("originals").join(key)
    }

    fn variant_path(&self, name: &str) -> PathBuf {
        self.root.join("variants").join(name)
    }
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Backend(e.to_string()))?
}

/// Changes whenever the file is replaced: a rename brings a new inode.
fn version_of(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0u64;
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("{ino:x}-{:x}-{mtime:x}", meta.len())
}

fn read_object(path: &Path) -> Result<Option<Object>, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    // Metadata of the open file, so the version belongs to exactly these bytes even if
    // the path is replaced meanwhile.
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(io_err)?;
    Ok(Some(Object { version: version_of(&meta), bytes: Bytes::from(bytes) }))
}

fn is_absent(e: &std::io::Error) -> bool {
    // A key whose parent is a file (`a/b` when `a` is an original) is simply absent.
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

/// Writes `bytes` to a temp file in `path`'s directory, fsyncs it, renames it over
/// `path` and fsyncs the directory. Returns whether `path` existed before.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // `%25` can never appear in a validated key segment (it is refused as doubly
    // encoded), so no reader can ever ask for a temp file by name.
    let tmp =
        dir.join(format!(".%25tmp.{}.{}.{name}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        let existed = path.is_file();
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(existed)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Store for LocalStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn head_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        let path = self.original_path(key);
        Box::pin(blocking(move || match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(version_of(&m))),
            Ok(_) => Ok(None),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }))
    }

    fn get_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Object>> {
        let path = self.original_path(key);
        Box::pin(blocking(move || read_object(&path)))
    }

    fn put_original<'a>(&'a self, key: &'a str, bytes: Bytes) -> StoreFuture<'a, Put> {
        let path = self.original_path(key);
        Box::pin(blocking(move || {
            let existed = write_atomic(&path, &bytes).map_err(io_err)?;
            let meta = std::fs::metadata(&path).map_err(io_err)?;
            Ok(Put { created: !existed, version: version_of(&meta) })
        }))
    }

    fn delete_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        let path = self.original_path(key);
        Box::pin(blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(io_err(e)),
        }))
    }

    fn get_variant<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        let path = self.variant_path(name);
        Box::pin(blocking(move || Ok(read_object(&path)?.map(|o| o.bytes))))
    }

    fn put_variant<'a>(&'a self, name: &'a str, bytes: Bytes) -> StoreFuture<'a, ()> {
        let path = self.variant_path(name);
        Box::pin(blocking(move || write_atomic(&path, &bytes).map(|_| ()).map_err(io_err)))
    }

    fn check(&self) -> StoreFuture<'_, ()> {
        let dir = self.root.join("originals");
        Box::pin(blocking(move || match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Backend(format!("{} is not a directory", dir.display()))),
            Err(e) => Err(StoreError::Unavailable(format!("{}: {e}", dir.display()))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pixgate-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn put_get_replace_delete_round_trip() {
        let root = temp_root("roundtrip");
        let s = LocalStore::open(&root).unwrap();
        assert!(s.get_original("a/b.jpg").await.unwrap().is_none());
        let p1 = s.put_original("a/b.jpg", Bytes::from_static(b"one")).await.unwrap();
        assert!(p1.created);
        let o = s.get_original("a/b.jpg").await.unwrap().unwrap();
        assert_eq!((&o.bytes[..], &o.version), (&b"one"[..], &p1.version));
        assert_eq!(s.head_original("a/b.jpg").await.unwrap(), Some(p1.version.clone()));
        let p2 = s.put_original("a/b.jpg", Bytes::from_static(b"two")).await.unwrap();
        assert!(!p2.created);
        assert_ne!(p1.version, p2.version, "a replacement must change the version");
        assert!(s.delete_original("a/b.jpg").await.unwrap());
        assert!(!s.delete_original("a/b.jpg").await.unwrap());
        assert!(s.head_original("a/b.jpg").await.unwrap().is_none());
        // A key under a file is absent, not an error.
        s.put_original("f", Bytes::from_static(b"x")).await.unwrap();
        assert!(s.get_original("f/g").await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn variants_live_under_variants_and_leave_no_temp_files() {
        let root = temp_root("variants");
        let s = LocalStore::open(&root).unwrap();
        s.put_variant("abc123", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(&s.get_variant("abc123").await.unwrap().unwrap()[..], b"v");
        assert!(root.join("variants/abc123").is_file());
        let names: Vec<_> = std::fs::read_dir(root.join("variants")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn concurrent_writers_leave_one_complete_object() {
        let root = temp_root("concurrent");
        let s = std::sync::Arc::new(LocalStore::open(&root).unwrap());
        let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 256 * 1024]).collect();
        let mut tasks = Vec::new();
        for b in bodies.clone() {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.put_original("k.jpg", Bytes::from(b)).await.unwrap() }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let got = s.get_original("k.jpg").await.unwrap().unwrap();
        assert!(bodies.iter().any(|b| b[..] == got.bytes[..]), "the object is one writer's complete body");
        let names: Vec<_> =
            std::fs::read_dir(root.join("originals")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temp files left: {names:?}");
        let _ = std::fs::remove_dir_all(root);
    }
}
