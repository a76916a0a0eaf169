//! HTTP routes (warp): a thin shell that translates between HTTP and the service.
//! Every error becomes a status in `OriginError::status_and_code`, and is logged once,
//! in `error_reply`. Every request runs in a request span and ends with one access line.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Buf;
use futures_util::Stream;
use tracing::Instrument;
use warp::http::{HeaderMap, HeaderValue, Method, Response};
use warp::hyper::body::Bytes as BodyBytes;
use warp::Filter;

use pixgate_policy::{Decision, Outcome, RequestHead};

use crate::config::ms;
use crate::error::OriginError;
use crate::metrics::status_class;
use crate::service::{self, Served};
use crate::telemetry::request::{RequestTelemetry, REQUEST_ID_HEADER};
use crate::{upload, State};

type Reply = Response<BodyBytes>;

pub fn routes(state: Arc<State>) -> impl Filter<Extract = (Reply,), Error = Infallible> + Clone {
    // Every response says which build answered (canary rehearsals, smoke tests).
    let version = warp::http::HeaderValue::from_str(&state.config.version).ok();
    let with_state = warp::any().map(move || state.clone());
    // Last in each route's chain, once nothing can reject any more: a request span that
    // is started is always finished.
    let request = |route: &'static str| {
        warp::method().and(warp::path::full()).and(warp::header::headers_cloned()).map(
            move |method: Method, path: warp::path::FullPath, headers: HeaderMap| {
                RequestTelemetry::start(&method, route, path.as_str(), &headers)
            },
        )
    };
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(request("healthz"))
        .map(|req: RequestTelemetry| finish(req, text(200, "ok"), "none"));
    let readyz = warp::path!("readyz").and(warp::get()).and(request("readyz")).and(with_state.clone()).then(
        |req: RequestTelemetry, state| async move {
            let reply = readyz(state).instrument(req.span.clone()).await;
            finish(req, reply, "none")
        },
    );
    let metrics = warp::path!("metrics").and(warp::get()).and(request("metrics")).and(with_state.clone()).then(
        |req: RequestTelemetry, state| async move {
            let reply = metrics(state).instrument(req.span.clone()).await;
            finish(req, reply, "none")
        },
    );
    let originals = warp::path("originals")
        .and(warp::path::tail())
        .and(warp::put().or(warp::delete()).unify().and(warp::method()))
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(request("originals"))
        .and(with_state.clone())
        .then(originals);
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let images = warp::method()
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(with_state)
        .then(image);
    // `images` takes every other method and path, so nothing is left to reject.
    healthz.or(readyz).unify().or(metrics).unify().or(originals).unify().or(images).unify().map(move |mut r: Reply| {
        if let Some(v) = &version {
            r.headers_mut().insert("x-pixgate-version", v.clone());
        }
        r
    })
}

fn text(status: u16, body: &'static str) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(BodyBytes::from_static(body.as_bytes()))
        .unwrap_or_default()
}

fn json(status: u16, body: serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(BodyBytes::from(body.to_string()))
        .unwrap_or_default()
}

/// Records the outcome on the request span, writes the access line, and returns the
/// reply with the request id (so a client can quote it).
fn finish(req: RequestTelemetry, mut reply: Reply, cache: &str) -> Reply {
    if let Ok(v) = HeaderValue::from_str(&req.request_id) {
        reply.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    req.finish(reply.status().as_u16(), cache);
    reply
}

fn error_reply(e: &OriginError, state: &State, req: &RequestTelemetry) -> Reply {
    let (status, code) = e.status_and_code();
    req.error(status, code, e);
    if let Some(reason) = e.rejected_reason() {
        state.metrics.reject(reason);
    }
    let mut b = Response::builder().status(status).header("content-type", "application/json");
    if e.retry_after() {
        b = b.header("retry-after", state.config.http.retry_after_s);
    }
    if matches!(e, OriginError::MethodNotAllowed) {
        b = b.header("allow", "GET, HEAD");
    }
    b.body(BodyBytes::from(e.to_json())).unwrap_or_default()
}

/// Counts a request in flight for as long as it lives, cancelled or not.
struct InFlight(Arc<State>);

impl InFlight {
    fn new(state: &Arc<State>) -> InFlight {
        state.metrics.http_in_flight.inc();
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.metrics.http_in_flight.dec();
    }
}

fn record(state: &State, route: &str, reply: &Reply, cache: &str, format: &str, start: Instant) {
    let m = &state.metrics;
    m.http_requests.with_label_values(&[route, status_class(reply.status().as_u16()), format]).inc();
    m.http_duration.with_label_values(&[route, cache]).observe(start.elapsed().as_secs_f64());
    m.response_bytes.observe(reply.body().len() as f64);
}

async fn readyz(state: Arc<State>) -> Reply {
    let bound = ms(state.config.store.timeout_ms).min(Duration::from_secs(2));
    let store = async {
        match tokio::time::timeout(bound, state.store.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let redis = async {
        match &state.redis {
            None => Ok("disabled"),
            Some(r) => match tokio::time::timeout(bound, r.ping()).await {
                Ok(Ok(())) => Ok("ok"),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            },
        }
    };
    let (store, redis) = tokio::join!(store, redis);
    let ready = store.is_ok() && redis.is_ok();
    let show = |r: Result<&str, String>| r.map(str::to_owned).unwrap_or_else(|e| format!("error: {e}"));
    json(
        if ready { 200 } else { 503 },
        serde_json::json!({
            "ready": ready,
            "store": show(store.map(|()| "ok")),
            "redis": show(redis),
        }),
    )
}

async fn metrics(state: Arc<State>) -> Reply {
    state.metrics.cache_bytes.with_label_values(&["memory"]).set(state.memory.weighted_size() as i64);
    Response::builder()
        .status(200)
        .header("content-type", "text/plain; version=0.0.4")
        .body(BodyBytes::from(state.metrics.render()))
        .unwrap_or_default()
}

async fn originals<S, B>(
    tail: warp::path::Tail,
    method: Method,
    headers: HeaderMap,
    body: S,
    req: RequestTelemetry,
    state: Arc<State>,
) -> Reply
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let start = Instant::now();
    let _in_flight = InFlight::new(&state);
    let mut body = std::pin::pin!(body);
    let result = if method == Method::PUT {
        put_original(tail.as_str(), &headers, body.as_mut(), &state).instrument(req.span.clone()).await
    } else {
        delete_original(tail.as_str(), &headers, &state).instrument(req.span.clone()).await
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            let mut reply = error_reply(&e, &state, &req);
            // An oversized body is never read; a small one refused unread (a bad token)
            // is read and dropped, so that the client, still sending it, gets this answer
            // instead of a reset. A connection whose request body is left unread is closed.
            let oversized = matches!(e, OriginError::Upload(upload::UploadError::TooLarge(_)));
            if oversized || !upload::drain(body.as_mut(), &headers, DRAIN_BYTES, DRAIN_TIME).await {
                reply.headers_mut().insert("connection", warp::http::HeaderValue::from_static("close"));
            }
            reply
        }
    };
    record(&state, "originals", &reply, "none", "none", start);
    finish(req, reply, "none")
}

/// How much of a refused upload's body is read and dropped, and for how long at most.
const DRAIN_BYTES: u64 = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

fn authorize(headers: &HeaderMap, state: &State) -> Result<(), OriginError> {
    upload::authorize(headers.get("authorization").map(|v| v.as_bytes()), &state.config.upload.tokens)?;
    Ok(())
}

async fn put_original<S, B>(raw_key: &str, headers: &HeaderMap, body: S, state: &State) -> Result<Reply, OriginError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    authorize(headers, state)?;
    let key = pixgate_policy::key::parse_key(raw_key.as_bytes())?;
    let limit = state.limits.max_bytes;
    upload::check_declared_length(headers, limit)?;
    let bytes = upload::read_limited(body, limit).await?;
    upload::verify_checksums(headers, &bytes)?;
    let header = upload::probe(&bytes, &state.limits)?;
    let size = bytes.len();
    let put = state.store.put_original(&key, bytes).await?;
    service::original_changed(state, &key, Some(put.version.clone())).await;
    tracing::debug!(key = %key, bytes = size, created = put.created, "original stored");
    Ok(json(
        if put.created { 201 } else { 200 },
        serde_json::json!({
            "key": key,
            "version": put.version,
            "bytes": size,
            "format": header.format.as_str(),
            "width": header.width,
            "height": header.height,
        }),
    ))
}

async fn delete_original(raw_key: &str, headers: &HeaderMap, state: &State) -> Result<Reply, OriginError> {
    authorize(headers, state)?;
    let key = pixgate_policy::key::parse_key(raw_key.as_bytes())?;
    let deleted = state.store.delete_original(&key).await?;
    service::original_changed(state, &key, None).await;
    if !deleted {
        return Err(OriginError::NotFound);
    }
    tracing::debug!(key = %key, "original deleted");
    Ok(Response::builder().status(204).body(BodyBytes::new()).unwrap_or_default())
}

async fn image(
    method: Method,
    path: warp::path::FullPath,
    query: String,
    headers: HeaderMap,
    state: Arc<State>,
) -> Reply {
    let req = RequestTelemetry::start(&method, "img", path.as_str(), &headers);
    let start = Instant::now();
    let _in_flight = InFlight::new(&state);
    let bound = ms(state.config.http.request_timeout_ms);
    let work = serve_image(&method, path.as_str(), &query, &headers, &state).instrument(req.span.clone());
    let result = match tokio::time::timeout(bound, work).await {
        Ok(r) => r,
        Err(_) => Err(Arc::new(OriginError::RequestTimeout(state.config.http.request_timeout_ms))),
    };
    let (reply, cache, format) = match result {
        Ok(r) => r,
        Err(e) => (error_reply(&e, &state, &req), "none", "none"),
    };
    record(&state, "img", &reply, cache, format, start);
    finish(req, reply, cache)
}

fn decide(path: &str, query: &str, headers: &HeaderMap, state: &State) -> Result<Outcome, OriginError> {
    let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let head = RequestHead {
        authority: headers.get("host").map_or(&b""[..], |v| v.as_bytes()),
        path: target.as_bytes(),
        accept: headers.get("accept").map(|v| v.as_bytes()),
        user_agent: headers.get("user-agent").map(|v| v.as_bytes()),
        now: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs()),
    };
    match state.policy.decide(&head) {
        Decision::Forward(o) => Ok(*o),
        Decision::Reject(e) => Err(e.into()),
        Decision::Pass => Err(OriginError::NotFound),
    }
}

async fn serve_image(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    state: &Arc<State>,
) -> Result<(Reply, &'static str, &'static str), Arc<OriginError>> {
    if method != Method::GET && method != Method::HEAD {
        return Err(Arc::new(OriginError::MethodNotAllowed));
    }
    let outcome = decide(path, query, headers, state)?;
    let resolved = service::resolve(state, &outcome).await?;
    let etag = format!("\"{}\"", resolved.name);
    let vary = outcome.vary.join(", ");
    let common = |b: warp::http::response::Builder| {
        let b = b.header("etag", &etag).header("cache-control", &state.config.http.cache_control);
        if vary.is_empty() {
            b
        } else {
            b.header("vary", &vary)
        }
    };
    if headers.get("if-none-match").is_some_and(|v| etag_matches(v.as_bytes(), &etag)) {
        let reply = common(Response::builder().status(304)).body(BodyBytes::new()).unwrap_or_default();
        return Ok((reply, "not-modified", "none"));
    }
    let served = service::serve(state, &outcome, resolved).await?;
    let Served { variant, tier, timings, .. } = served;
    let body = if method == Method::HEAD { BodyBytes::new() } else { variant.bytes.clone() };
    let reply = common(Response::builder().status(200))
        .header("content-type", variant.format.mime())
        .header("content-length", variant.bytes.len())
        .header("x-pixgate-cache", tier.as_str())
        .header("server-timing", server_timing(tier, &timings))
        .body(body)
        .unwrap_or_default();
    Ok((reply, tier.as_str(), variant.format.as_str()))
}

/// `Server-Timing`: where the time went (milliseconds).
fn server_timing(tier: service::Tier, t: &service::Timings) -> String {
    let mut parts = vec![format!("cache;desc={}", tier.as_str())];
    let stages = [
        ("fetch", t.fetch),
        ("queue", t.queue),
        ("decode", t.decode),
        ("resize", t.resize),
        ("encode", t.encode),
        ("transform", t.transform),
    ];
    for (name, d) in stages {
        if let Some(d) = d {
            parts.push(format!("{name};dur={:.2}", d.as_secs_f64() * 1000.0));
        }
    }
    parts.join(", ")
}

fn etag_matches(header: &[u8], etag: &str) -> bool {
    header.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || t == etag.as_bytes() || t.strip_prefix(b"W/") == Some(etag.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_lists_every_stage_of_a_miss() {
        let ms = |n| Some(std::time::Duration::from_millis(n));
        let t = service::Timings {
            fetch: ms(1),
            queue: ms(2),
            transform: ms(9),
            decode: ms(4),
            resize: ms(3),
            encode: ms(2),
        };
        let h = server_timing(service::Tier::Miss, &t);
        assert_eq!(
            h,
            "cache;desc=miss, fetch;dur=1.00, queue;dur=2.00, decode;dur=4.00, resize;dur=3.00, encode;dur=2.00, transform;dur=9.00"
        );
        assert_eq!(server_timing(service::Tier::Memory, &service::Timings::default()), "cache;desc=hit-memory");
    }

    #[test]
    fn if_none_match_accepts_lists_weak_forms_and_star() {
        assert!(etag_matches(b"\"a\"", "\"a\""));
        assert!(etag_matches(b"\"x\", W/\"a\"", "\"a\""));
        assert!(etag_matches(b"*", "\"a\""));
        assert!(!etag_matches(b"\"b\"", "\"a\""));
    }
}
