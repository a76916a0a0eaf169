//! What version each original has, remembered for `cache.original_ttl_ms` so that a
//! cache hit costs no store call. Absence is remembered too (404 floods stay cheap).
//! While the store fails, a remembered version may be used for up to
//! `cache.original_stale_ms` so that cached variants keep being served.

use std::time::{Duration, Instant};

use moka::future::Cache;

#[derive(Debug, Clone)]
pub struct Known {
    /// `None`: the store said there is no such original.
    pub version: Option<String>,
    pub at: Instant,
}

#[derive(Clone)]
pub struct Versions {
    cache: Cache<String, Known>,
    fresh: Duration,
}

pub enum Lookup {
    Fresh(Option<String>),
    /// Too old to trust without asking the store, but usable if the store fails.
    Stale(Option<String>),
    Unknown,
}

impl Versions {
    pub fn new(fresh: Duration, stale: Duration) -> Versions {
        let cache = Cache::builder().max_capacity(1_000_000).time_to_live(fresh.max(stale)).build();
        Versions { cache, fresh }
    }

    pub async fn lookup(&self, key: &str) -> Lookup {
        match self.cache.get(key).await {
            Some(k) if k.at.elapsed() < self.fresh => Lookup::Fresh(k.version),
            Some(k) => Lookup::Stale(k.version),
            None => Lookup::Unknown,
        }
    }

    pub async fn remember(&self, key: &str, version: Option<String>) {
        self.cache.insert(key.to_owned(), Known { version, at: Instant::now() }).await;
    }

    pub async fn forget(&self, key: &str) {
        self.cache.invalidate(key).await;
    }
}
