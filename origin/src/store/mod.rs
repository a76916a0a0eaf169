//! Where originals (and transformed variants, the L3 cache tier) live. Backends sit
//! behind one small trait; every call is bounded by `store.timeout_ms` in `Timed`.

pub mod local;
pub mod s3;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cache::breaker::{Breaker, Transition};
use crate::metrics::Metrics;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached (connection refused, DNS, …).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered, but not as expected (an I/O error, a 5xx, …).
    #[error("store failed: {0}")]
    Backend(String),
    #[error("store timed out")]
    Timeout,
}

impl StoreError {
    /// A bounded label for `pixgate_store_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Backend(_) => "backend",
            StoreError::Timeout => "timeout",
        }
    }
}

/// An original's bytes and the version they belong to.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub version: String,
}

/// The outcome of storing an original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// No original existed under the key before.
    pub created: bool,
    pub version: String,
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Keys are validated by the policy crate before they reach a store; variant names are
/// hex digests.
pub trait Store: Send + Sync {
    /// A bounded label for metrics (`local`, `s3`).
    fn backend(&self) -> &'static str;
    /// The current version of an original, without its bytes; `None` when absent. A
    /// version changes whenever the original is replaced.
    fn head_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;
    /// `Ok(None)` when no original exists under `key`.
    fn get_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Object>>;
    /// Stores atomically: a reader sees the previous object or the new one, never a part.
    fn put_original<'a>(&'a self, key: &'a str, bytes: Bytes) -> StoreFuture<'a, Put>;
    /// `true` when something was deleted.
    fn delete_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool>;
    fn get_variant<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Bytes>>;
    fn put_variant<'a>(&'a self, name: &'a str, bytes: Bytes) -> StoreFuture<'a, ()>;
    /// Readiness: is the store reachable and usable?
    fn check(&self) -> StoreFuture<'_, ()>;
}

/// Wraps a backend with the per-call timeout, a circuit breaker and the store metrics,
/// so backends stay plain. The breaker makes a store outage cheap: after repeated
/// connection failures or timeouts, calls fail at once for a cool-down (cached variants
/// are then served without waiting, misses get a 503 at once), and one probe per
/// cool-down finds out when the store is back.
pub struct Timed {
    inner: Box<dyn Store>,
    timeout: Duration,
    breaker: Breaker,
    metrics: Arc<Metrics>,
}

impl Timed {
    pub fn new(inner: Box<dyn Store>, timeout: Duration, breaker: Breaker, metrics: Arc<Metrics>) -> Timed {
        // Error series exist at zero from the start, so alerts and dashboards see them.
        let backend = inner.backend();
        for op in ["head", "get", "put", "delete", "get_variant", "put_variant", "check"] {
            for kind in ["unavailable", "backend", "timeout", "breaker_open"] {
                metrics.store_errors.with_label_values(&[backend, op, kind]);
            }
        }
        Timed { inner, timeout, breaker, metrics }
    }

    async fn call<T>(&self, op: &'static str, f: StoreFuture<'_, T>) -> Result<T, StoreError> {
        let backend = self.inner.backend();
        if !self.breaker.allow(Instant::now()) {
            self.metrics.store_errors.with_label_values(&[backend, op, "breaker_open"]).inc();
            return Err(StoreError::Unavailable("store failing: circuit open".into()));
        }
        let start = Instant::now();
        let result = match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        };
        // Only failures to reach the store count: an answer, even an error, shows it is up.
        let transition = match &result {
            Err(StoreError::Unavailable(_) | StoreError::Timeout) => self.breaker.failure(Instant::now()),
            _ => self.breaker.success(),
        };
        match transition {
            Transition::Opened => tracing::warn!(backend, "store failing: failing fast for the cool-down"),
            Transition::Closed => tracing::info!(backend, "store is back"),
            Transition::None => {}
        }
        self.metrics.store_duration.with_label_values(&[backend, op]).observe(start.elapsed().as_secs_f64());
        if let Err(e) = &result {
            self.metrics.store_errors.with_label_values(&[backend, op, e.kind()]).inc();
        }
        result
    }

    pub fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    pub async fn head_original(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.call("head", self.inner.head_original(key)).await
    }
    pub async fn get_original(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.call("get", self.inner.get_original(key)).await
    }
    pub async fn put_original(&self, key: &str, bytes: Bytes) -> Result<Put, StoreError> {
        self.call("put", self.inner.put_original(key, bytes)).await
    }
    pub async fn delete_original(&self, key: &str) -> Result<bool, StoreError> {
        self.call("delete", self.inner.delete_original(key)).await
    }
    pub async fn get_variant(&self, name: &str) -> Result<Option<Bytes>, StoreError> {
        self.call("get_variant", self.inner.get_variant(name)).await
    }
    pub async fn put_variant(&self, name: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.call("put_variant", self.inner.put_variant(name, bytes)).await
    }
    pub async fn check(&self) -> Result<(), StoreError> {
        self.call("check", self.inner.check()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store that is down: every call fails to connect, and calls are counted.
    struct Down(Arc<AtomicUsize>);

    impl Store for Down {
        fn backend(&self) -> &'static str {
            "down"
        }
        fn head_original<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<String>> {
            self.refuse()
        }
        fn get_original<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Object>> {
            self.refuse()
        }
        fn put_original<'a>(&'a self, _: &'a str, _: Bytes) -> StoreFuture<'a, Put> {
            self.refuse()
        }
        fn delete_original<'a>(&'a self, _: &'a str) -> StoreFuture<'a, bool> {
            self.refuse()
        }
        fn get_variant<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Bytes>> {
            self.refuse()
        }
        fn put_variant<'a>(&'a self, _: &'a str, _: Bytes) -> StoreFuture<'a, ()> {
            self.refuse()
        }
        fn check(&self) -> StoreFuture<'_, ()> {
            self.refuse()
        }
    }

    impl Down {
        fn refuse<'a, T: Send + 'a>(&'a self) -> StoreFuture<'a, T> {
            Box::pin(async {
                self.0.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Unavailable("connection refused".into()))
            })
        }
    }

    #[tokio::test]
    async fn a_failing_store_is_skipped_after_repeated_failures() {
        let calls = Arc::new(AtomicUsize::new(0));
        let breaker = Breaker::new(3, Duration::from_secs(60));
        let store =
            Timed::new(Box::new(Down(calls.clone())), Duration::from_secs(1), breaker, Arc::new(Metrics::new()));
        for _ in 0..10 {
            assert!(matches!(store.head_original("k").await, Err(StoreError::Unavailable(_))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3, "calls fail at once while the circuit is open");
    }
}
