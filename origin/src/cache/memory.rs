//! L1: variants in process memory, a `moka` cache bounded by bytes (TinyLFU admission,
//! so a scan of one-off variants does not flush the popular ones).

use std::sync::Arc;

use moka::future::Cache;
use moka::notification::RemovalCause;

use super::CachedVariant;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct MemoryCache {
    cache: Cache<String, Arc<CachedVariant>>,
    max_object_bytes: u64,
}

impl MemoryCache {
    pub fn new(max_bytes: u64, max_object_bytes: u64, metrics: Arc<Metrics>) -> MemoryCache {
        let evictions = metrics.cache_evictions.with_label_values(&["memory"]);
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            // Key and bookkeeping count too, so many tiny variants cannot exceed the budget.
            .weigher(|k: &String, v: &Arc<CachedVariant>| {
                u32::try_from(v.bytes.len() + k.len() + 96).unwrap_or(u32::MAX)
            })
            .eviction_listener(move |_k, _v, cause| {
                if cause == RemovalCause::Size {
                    evictions.inc();
                }
            })
            .build();
        MemoryCache { cache, max_object_bytes }
    }

    pub async fn get(&self, name: &str) -> Option<Arc<CachedVariant>> {
        self.cache.get(name).await
    }

    pub async fn insert(&self, name: String, v: Arc<CachedVariant>) {
        if v.bytes.len() as u64 <= self.max_object_bytes {
            self.cache.insert(name, v).await;
        }
    }

    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Applies pending inserts and evictions (tests; sizes are otherwise lazy).
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use pixgate_policy::Format;

    fn v(n: usize) -> Arc<CachedVariant> {
        Arc::new(CachedVariant { bytes: Bytes::from(vec![0; n]), format: Format::Jpeg, width: 1, height: 1 })
    }

    #[tokio::test]
    async fn stays_within_its_byte_budget_and_skips_huge_objects() {
        let c = MemoryCache::new(100_000, 50_000, Arc::new(Metrics::new()));
        c.insert("huge".into(), v(60_000)).await;
        assert!(c.get("huge").await.is_none());
        for i in 0..50 {
            c.insert(format!("k{i}"), v(10_000)).await;
        }
        c.sync().await;
        assert!(c.weighted_size() <= 100_000, "{}", c.weighted_size());
    }
}
