//! Serving a variant, independent of HTTP: the original's version, then L1 memory,
//! then (single-flight) L2 Redis, L3 stored variants, and finally a transform on the
//! bounded pool. Cache writes below L1 happen in the background, off the response path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pixgate_policy::Outcome;
use tracing::field::Empty;
use tracing::Instrument;

use crate::cache::versions::Lookup;
use crate::cache::{variant_name, CachedVariant};
use crate::config::ms;
use crate::error::OriginError;
use crate::pipeline;
use crate::singleflight::Role;
use crate::store::StoreError;
use crate::State;

/// Where a response came from (`X-Pixgate-Cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Redis,
    Store,
    Miss,
    Coalesced,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "hit-memory",
            Tier::Redis => "hit-redis",
            Tier::Store => "hit-store",
            Tier::Miss => "miss",
            Tier::Coalesced => "coalesced",
        }
    }
}

/// Time spent per stage, for `Server-Timing`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub fetch: Option<Duration>,
    pub queue: Option<Duration>,
    pub transform: Option<Duration>,
    /// The pipeline's own stages, within `transform`.
    pub decode: Option<Duration>,
    pub resize: Option<Duration>,
    pub encode: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Served {
    pub variant: Arc<CachedVariant>,
    /// The variant's name, also its strong ETag.
    pub name: String,
    pub tier: Tier,
    pub timings: Timings,
}

/// The shared result of one single-flight computation.
pub type Flight = Result<(Arc<CachedVariant>, Tier, Timings), Arc<OriginError>>;

/// A variant's name, known before fetching anything.
#[derive(Debug)]
pub struct Resolved {
    /// The variant's name, also its strong ETag.
    pub name: String,
    /// Set when the store failed and a remembered version was used: only memory can
    /// answer then, and a miss fails at once instead of calling the failing store again.
    pub store_failing: Option<StoreError>,
}

/// The variant's name (ETag) without fetching it: enough to answer `If-None-Match`.
pub async fn resolve(state: &State, outcome: &Outcome) -> Result<Resolved, OriginError> {
    let (version, store_failing) = original_version(state, &outcome.key).await?;
    let version = version.ok_or(OriginError::NotFound)?;
    Ok(Resolved { name: variant_name(&version, &outcome.canonical_path()), store_failing })
}

pub async fn serve(state: &Arc<State>, outcome: &Outcome, resolved: Resolved) -> Result<Served, Arc<OriginError>> {
    let m = &state.metrics;
    let Resolved { name, store_failing } = resolved;
    let span = tracing::info_span!("cache.memory", pixgate.cache.result = Empty);
    let hit = state.memory.get(&name).instrument(span.clone()).await;
    span.record("pixgate.cache.result", if hit.is_some() { "hit" } else { "miss" });
    drop(span);
    if let Some(v) = hit {
        m.cache_requests.with_label_values(&["memory", "hit"]).inc();
        return Ok(Served { variant: v, name, tier: Tier::Memory, timings: Timings::default() });
    }
    m.cache_requests.with_label_values(&["memory", "miss"]).inc();
    if let Some(e) = store_failing {
        return Err(Arc::new(e.into()));
    }
    let (flight, role) = state.flights.run(&name, || compute(state.clone(), outcome.clone(), name.clone())).await;
    let (variant, tier, timings) = flight?;
    let tier = if role == Role::Follower {
        m.coalesced.inc();
        Tier::Coalesced
    } else {
        tier
    };
    Ok(Served { variant, name, tier, timings })
}

/// The original's version: remembered briefly, else asked of the store; while the
/// store fails, a remembered version keeps cached variants reachable (and the store's
/// error comes along).
async fn original_version(state: &State, key: &str) -> Result<(Option<String>, Option<StoreError>), OriginError> {
    let stale = match state.versions.lookup(key).await {
        Lookup::Fresh(v) => return Ok((v, None)),
        Lookup::Stale(v) => v,
        Lookup::Unknown => None,
    };
    match state.store.head_original(key).instrument(tracing::info_span!("store.head")).await {
        Ok(v) => {
            state.versions.remember(key, v.clone()).await;
            Ok((v, None))
        }
        Err(e) => match stale {
            Some(v) => {
                tracing::debug!(error = %e, "store failing: using the last known version of an original");
                Ok((Some(v), Some(e)))
            }
            None => Err(e.into()),
        },
    }
}

async fn compute(state: Arc<State>, outcome: Outcome, name: String) -> Flight {
    compute_inner(&state, &outcome, &name).await.map_err(Arc::new)
}

async fn compute_inner(
    state: &Arc<State>,
    outcome: &Outcome,
    name: &str,
) -> Result<(Arc<CachedVariant>, Tier, Timings), OriginError> {
    let m = &state.metrics;
    if let Some(redis) = &state.redis {
        let span = tracing::info_span!("cache.redis", pixgate.cache.result = Empty);
        let found = redis.get(name).instrument(span.clone()).await;
        span.record("pixgate.cache.result", cache_result(&found));
        drop(span);
        match found {
            Ok(Some(v)) => {
                m.cache_requests.with_label_values(&["redis", "hit"]).inc();
                let v = Arc::new(v);
                state.memory.insert(name.to_owned(), v.clone()).await;
                return Ok((v, Tier::Redis, Timings::default()));
            }
            Ok(None) => m.cache_requests.with_label_values(&["redis", "miss"]).inc(),
            Err(e) => {
                m.cache_requests.with_label_values(&["redis", "error"]).inc();
                tracing::debug!(error = %e, "redis lookup skipped");
            }
        }
    }
    if state.config.store.variants {
        let span = tracing::info_span!("cache.store", pixgate.cache.result = Empty);
        let found = state.store.get_variant(name).instrument(span.clone()).await;
        span.record("pixgate.cache.result", cache_result(&found));
        drop(span);
        match found.map(|b| b.map(CachedVariant::from_blob)) {
            Ok(Some(Ok(v))) => {
                m.cache_requests.with_label_values(&["store", "hit"]).inc();
                let v = Arc::new(v);
                state.memory.insert(name.to_owned(), v.clone()).await;
                fill_redis(state, name, &v);
                return Ok((v, Tier::Store, Timings::default()));
            }
            Ok(_) => m.cache_requests.with_label_values(&["store", "miss"]).inc(),
            Err(e) => {
                m.cache_requests.with_label_values(&["store", "error"]).inc();
                tracing::debug!(error = %e, "stored variant lookup failed");
            }
        }
    }

    let start = Instant::now();
    let original = state.store.get_original(&outcome.key).instrument(tracing::info_span!("store.fetch")).await?;
    let fetch = start.elapsed();
    let Some(original) = original else {
        state.versions.remember(&outcome.key, None).await;
        return Err(OriginError::NotFound);
    };
    // Replaced since its version was read: serve these bytes, but do not file them under
    // a name that belongs to the previous version.
    let cacheable = variant_name(&original.version, &outcome.canonical_path()) == name;
    if !cacheable {
        state.versions.forget(&outcome.key).await;
    }

    // The pipeline's probe: it knows every source format the pipeline decodes (AVIF,
    // TIFF, BMP too), where the upload check accepts only the web formats.
    let header = pipeline::probe(&original.bytes, &state.limits)?;
    let queued = Instant::now();
    let pixels = u64::from(header.stored_width) * u64::from(header.stored_height);
    let permit = state.admission.admit(pixels).instrument(tracing::info_span!("transform.queue")).await?;
    let queue = queued.elapsed();
    let started = Instant::now();
    let (limits, variant, source) = (state.limits, outcome.variant.clone(), original.bytes.clone());
    let encoded = state
        .admission
        .run(permit, ms(state.config.transform.timeout_ms), move || pipeline::transform(&source, &variant, &limits))
        .instrument(tracing::info_span!("transform"))
        .await??;
    let transform = started.elapsed();

    let format = encoded.format;
    m.transforms.with_label_values(&[format.as_str()]).inc();
    m.transform_duration.with_label_values(&["total", format.as_str()]).observe(transform.as_secs_f64());
    let stages = encoded.timings;
    for (stage, d) in
        [("decode", stages.decode), ("orient", stages.orient), ("resize", stages.resize), ("encode", stages.encode)]
    {
        m.transform_duration.with_label_values(&[stage, format.as_str()]).observe(d.as_secs_f64());
    }
    if let Some(d) = stages.exif {
        m.exif_parse.observe(d.as_secs_f64());
    }
    m.bytes_saved.inc_by((original.bytes.len() as u64).saturating_sub(encoded.bytes.len() as u64));
    let v = Arc::new(CachedVariant {
        bytes: Bytes::from(encoded.bytes),
        format,
        width: encoded.width,
        height: encoded.height,
    });
    if cacheable {
        state.memory.insert(name.to_owned(), v.clone()).await;
        fill_redis(state, name, &v);
        if state.config.store.variants {
            let (state, name, blob) = (state.clone(), name.to_owned(), v.to_blob());
            tokio::spawn(async move {
                if let Err(e) = state.store.put_variant(&name, blob).await {
                    tracing::warn!(error = %e, "storing a variant failed");
                }
            });
        }
    }
    let timings = Timings {
        fetch: Some(fetch),
        queue: Some(queue),
        transform: Some(transform),
        decode: Some(stages.decode),
        resize: Some(stages.resize),
        encode: Some(stages.encode),
    };
    Ok((v, Tier::Miss, timings))
}

/// A lookup's outcome as a span attribute.
fn cache_result<T, E>(found: &Result<Option<T>, E>) -> &'static str {
    match found {
        Ok(Some(_)) => "hit",
        Ok(None) => "miss",
        Err(_) => "error",
    }
}

fn fill_redis(state: &Arc<State>, name: &str, v: &Arc<CachedVariant>) {
    if state.redis.is_none() {
        return;
    }
    let (state, name, v) = (state.clone(), name.to_owned(), v.clone());
    tokio::spawn(async move {
        if let Some(redis) = &state.redis {
            if let Err(e) = redis.put(&name, &v).await {
                tracing::debug!(error = %e, "redis fill skipped");
            }
        }
    });
}

/// Forgets what was known of an original after this replica replaced or deleted it.
pub async fn original_changed(state: &State, key: &str, version: Option<String>) {
    state.versions.remember(key, version).await;
}
