//! Per-request telemetry: the request id (`x-request-id`, generated when absent), the
//! request span joined to the caller's trace (W3C `traceparent`), the trace id, and the
//! one access line logged when the response is ready.

use std::fmt::Display;
use std::time::Instant;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use warp::http::{HeaderMap, Method};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longer or odd request ids are replaced: they are copied into every log line and back
/// into the response.
const MAX_REQUEST_ID: usize = 128;

/// One request's ids and span, from its start to its access line.
pub struct RequestTelemetry {
    pub request_id: String,
    /// 32 lowercase hex digits: the trace this request belongs to.
    pub trace_id: String,
    /// The request span; the work of the request runs inside it.
    pub span: tracing::Span,
    method: Method,
    route: &'static str,
    start: Instant,
}

impl RequestTelemetry {
    pub fn start(method: &Method, route: &'static str, path: &str, headers: &HeaderMap) -> RequestTelemetry {
        let request_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_request_id(v))
            .map_or_else(new_request_id, str::to_owned);
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = %method,
            http.route = route,
            url.path = path,
            http.response.status_code = Empty,
            pixgate.cache = Empty,
            pixgate.request_id = %request_id,
        );
        let parent_trace = parent.span().span_context().trace_id();
        // Fails only when traces are off (no OpenTelemetry layer): the ids below still
        // come from the caller's `traceparent`.
        let _ = span.set_parent(parent);
        let own_trace = span.context().span().span_context().trace_id();
        let trace_id = [own_trace, parent_trace]
            .into_iter()
            .find(|t| *t != TraceId::INVALID)
            .unwrap_or_else(|| RandomIdGenerator::default().new_trace_id());
        RequestTelemetry {
            request_id,
            trace_id: trace_id.to_string(),
            span,
            method: method.clone(),
            route,
            start: Instant::now(),
        }
    }

    /// Logs an error once, where it became `status`: server faults at `error`, the
    /// client's mistakes at `debug` (the access line already shows their status).
    pub fn error(&self, status: u16, code: &str, error: &dyn Display) {
        let (request_id, trace_id) = (self.request_id.as_str(), self.trace_id.as_str());
        if status >= 500 {
            tracing::error!(parent: &self.span, request_id, trace_id, status, code, error = %error, "request failed");
        } else {
            tracing::debug!(parent: &self.span, request_id, trace_id, status, code, error = %error, "request refused");
        }
    }

    /// Closes the request span and writes the request's one access line.
    pub fn finish(self, status: u16, cache: &str) {
        // Whole microseconds: `1.234`, not float noise like `0.016758000000000002`.
        let duration_ms = self.start.elapsed().as_micros() as f64 / 1000.0;
        self.span.record("http.response.status_code", status);
        self.span.record("pixgate.cache", cache);
        if status >= 500 {
            self.span.record("otel.status_code", "error");
        }
        drop(self.span);
        tracing::info!(
            request_id = self.request_id.as_str(),
            trace_id = self.trace_id.as_str(),
            method = %self.method,
            route = self.route,
            status,
            duration_ms,
            cache,
            "request"
        );
    }
}

fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic())
}

/// A random UUID (version 4), the form Envoy generates.
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = RandomIdGenerator::default().new_trace_id().to_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut id = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(x >> 4)]));
        id.push(char::from(HEX[usize::from(x & 15)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (warp::http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[test]
    fn request_id_is_taken_from_the_header_or_generated() {
        let r = RequestTelemetry::start(&Method::GET, "img", "/img/a", &headers(&[("x-request-id", "abc-123")]));
        assert_eq!(r.request_id, "abc-123");
        let r = RequestTelemetry::start(&Method::GET, "img", "/img/a", &headers(&[]));
        assert_eq!(r.request_id.len(), 36);
        assert_eq!(&r.request_id[14..15], "4", "a version 4 UUID: {}", r.request_id);
        let long = "x".repeat(MAX_REQUEST_ID + 1);
        let r = RequestTelemetry::start(&Method::GET, "img", "/img/a", &headers(&[("x-request-id", &long)]));
        assert_ne!(r.request_id, long);
    }

    #[test]
    fn trace_id_comes_from_traceparent_even_without_an_exporter() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let r = RequestTelemetry::start(&Method::GET, "img", "/img/a", &headers(&[("traceparent", tp)]));
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        let r = RequestTelemetry::start(&Method::GET, "img", "/img/a", &headers(&[("traceparent", "garbage")]));
        assert_eq!(r.trace_id.len(), 32);
        assert_ne!(r.trace_id, TraceId::INVALID.to_string());
    }
}
