//! HTTP routes (warp). Handlers translate between HTTP and the service; every error
//! becomes a status in `OriginError::status_and_code`.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use warp::http::{HeaderMap, Method, Response, StatusCode};
use warp::hyper::body::Bytes as BodyBytes;
use warp::Filter;

use pixgate_policy::{Decision, RequestHead};

use crate::error::OriginError;
use crate::pipeline;
use crate::State;

/// Bumped whenever the pipeline's output for the same input changes, so that variant
/// keys and ETags move with it.
pub const PIPELINE_VERSION: &str = "1";

type Reply = Response<BodyBytes>;

pub fn routes(state: Arc<State>) -> impl Filter<Extract = (Reply,), Error = std::convert::Infallible> + Clone {
    let healthz = warp::path!("healthz").and(warp::get()).map(|| text(200, "ok"));
    let readyz = warp::path!("readyz").and(warp::get()).map(|| text(200, "ready"));
    let state_version = state.config.version.clone();
    let with_state = warp::any().map(move || state.clone());
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let images = warp::method()
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(with_state)
        .then(image);
    // `images` takes every other method and path, so nothing is left to reject.
    let version = warp::http::HeaderValue::from_str(&state_version).ok();
    healthz.or(readyz).unify().or(images).unify().map(move |mut r: Reply| {
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

fn error_reply(e: &OriginError) -> Reply {
    let (status, _) = e.status_and_code();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(BodyBytes::from(e.to_json()))
        .unwrap_or_default()
}

async fn image(
    method: Method,
    path: warp::path::FullPath,
    query: String,
    headers: HeaderMap,
    state: Arc<State>,
) -> Reply {
    if method != Method::GET && method != Method::HEAD {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header("allow", "GET, HEAD")
            .body(BodyBytes::new())
            .unwrap_or_default();
    }
    match serve_image(&method, path.as_str(), &query, &headers, &state).await {
        Ok(r) => r,
        Err(e) => error_reply(&e),
    }
}

async fn serve_image(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    state: &State,
) -> Result<Reply, OriginError> {
    let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let head = RequestHead {
        authority: headers.get("host").map_or(&b""[..], |v| v.as_bytes()),
        path: target.as_bytes(),
        accept: headers.get("accept").map(|v| v.as_bytes()),
        user_agent: headers.get("user-agent").map(|v| v.as_bytes()),
        now: None,
    };
    let outcome = match state.policy.decide(&head) {
        Decision::Forward(o) => o,
        Decision::Reject(e) => return Err(e.into()),
        Decision::Pass => return Err(OriginError::NotFound),
    };
    let original = state.store.get_original(&outcome.key).await?.ok_or(OriginError::NotFound)?;
    let canonical = outcome.canonical_path();
    let etag = etag(&original.version, &canonical);
    let vary = outcome.vary.join(", ");
    let cached = |b: http_builder::Builder| {
        let b = b.header("etag", &etag).header("cache-control", &state.config.http.cache_control);
        if vary.is_empty() {
            b
        } else {
            b.header("vary", &vary)
        }
    };
    if headers.get("if-none-match").is_some_and(|v| etag_matches(v.as_bytes(), &etag)) {
        return Ok(cached(Response::builder().status(304)).body(BodyBytes::new()).unwrap_or_default());
    }
    let limits = state.limits;
    let variant = outcome.variant.clone();
    let source: Bytes = original.bytes.clone();
    let encoded = tokio::task::spawn_blocking(move || pipeline::transform(&source, &variant, &limits))
        .await
        .map_err(|e| pipeline::TransformError::Encode(e.to_string()))??;
    let len = encoded.bytes.len();
    let body = if *method == Method::HEAD { BodyBytes::new() } else { BodyBytes::from(encoded.bytes) };
    Ok(cached(Response::builder().status(200))
        .header("content-type", encoded.format.mime())
        .header("content-length", len)
        .header("x-pixgate-cache", "miss")
        .body(body)
        .unwrap_or_default())
}

mod http_builder {
    pub use warp::http::response::Builder;
}

/// Strong ETag: original version + canonical variant + pipeline version.
fn etag(version: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    for part in [version, "\n", canonical, "\n", PIPELINE_VERSION] {
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn etag_matches(header: &[u8], etag: &str) -> bool {
    header.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || t == etag.as_bytes() || t.strip_prefix(b"W/") == Some(etag.as_bytes())
    })
}
