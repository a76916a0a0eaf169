//! L2: variants in Redis, shared by replicas, with a TTL and a size cap. Redis is an
//! optimisation, never a dependency: every call is bounded by a timeout, and after
//! repeated failures a circuit breaker skips Redis for a cool-down, so a Redis outage
//! costs at most a few timeouts, not one per request.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::breaker::{Breaker, Transition};
use super::{CacheError, CachedVariant};
use crate::config::RedisConfig;
use crate::metrics::Metrics;

pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    ttl_s: u64,
    max_object_bytes: u64,
    timeout: Duration,
    breaker: Breaker,
    metrics: Arc<Metrics>,
}

impl RedisCache {
    /// Connects lazily: the origin starts (and serves) while Redis is down.
    pub fn new(cfg: &RedisConfig, metrics: Arc<Metrics>) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(cfg.url.as_str()).map_err(|e| CacheError::Redis(e.to_string()))?;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(cfg.connect_timeout_ms)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, mc).map_err(|e| CacheError::Redis(e.to_string()))?;
        Ok(RedisCache {
            conn,
            prefix: cfg.key_prefix.clone(),
            ttl_s: cfg.ttl_s,
            max_object_bytes: cfg.max_object_bytes,
            timeout,
            breaker: Breaker::new(cfg.breaker_failures, Duration::from_millis(cfg.breaker_cooldown_ms)),
            metrics,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}v:{name}", self.prefix)
    }

    /// Runs one Redis call through the breaker and the timeout.
    async fn guarded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, CacheError> {
        if !self.breaker.allow(Instant::now()) {
            return Err(CacheError::Open);
        }
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CacheError::Redis(e.to_string())),
            Err(_) => Err(CacheError::Timeout),
        };
        let t = match &result {
            Ok(_) => self.breaker.success(),
            Err(_) => self.breaker.failure(Instant::now()),
        };
        match t {
            Transition::Opened => {
                tracing::warn!("redis failing: skipping it for the cool-down");
                self.metrics.breaker_transitions.with_label_values(&["open"]).inc();
            }
            Transition::Closed => {
                tracing::info!("redis is back");
                self.metrics.breaker_transitions.with_label_values(&["closed"]).inc();
            }
            Transition::None => {}
        }
        result
    }

    pub async fn get(&self, name: &str) -> Result<Option<CachedVariant>, CacheError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("GET").arg(self.key(name)).clone();
        let raw: Option<Vec<u8>> = self.guarded(async move { cmd.query_async(&mut conn).await }).await?;
        match raw {
            None => Ok(None),
            Some(b) => CachedVariant::from_blob(b.into()).map(Some),
        }
    }

    /// Entries larger than `max_object_bytes` are not stored (Ok).
    pub async fn put(&self, name: &str, v: &CachedVariant) -> Result<(), CacheError> {
        let blob = v.to_blob();
        if blob.len() as u64 > self.max_object_bytes {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("SET").arg(self.key(name)).arg(&blob[..]).arg("EX").arg(self.ttl_s).clone();
        self.guarded(async move { cmd.query_async::<()>(&mut conn).await }).await
    }

    /// Readiness: bypasses the breaker, so a probe always tells the truth.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, redis::cmd("PING").query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(CacheError::Redis(e.to_string())),
            Err(_) => Err(CacheError::Timeout),
        }
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }
}
