//! The origin's Prometheus metrics. Names are public API (DESIGN.md §7): dashboards and
//! alerts depend on them, so they are all defined here. Labels are bounded sets, never
//! raw paths, keys or user agents. One registry per `State`, so several origins can
//! run in one process (tests).

#[cfg(target_os = "linux")]
mod process;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Latency buckets of DESIGN.md §7 (0.8 s is the latency SLO's threshold).
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0];

/// EXIF parsing takes microseconds: finer buckets below DESIGN.md's, which it keeps so the
/// usual `le` values still answer.
pub const EXIF_BUCKETS: &[f64] =
    &[0.00001, 0.000025, 0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0];

/// `pixgate_rejected_total{reason}` values, created at zero so that rates and alerts see
/// a series before the first rejection.
pub const REJECT_REASONS: &[&str] = &[
    "bad_param",
    "bad_key",
    "too_large",
    "unsupported_legacy_feature",
    "bad_signature",
    "expired",
    "remote_source_disabled",
    "unsupported_media_type",
    "corrupt_image",
    "payload_too_large",
    "auth",
    "bad_digest",
    "bad_request",
    "method_not_allowed",
    "queue_full",
    "queue_timeout",
];

/// Cache tiers and lookup results of `pixgate_cache_requests_total`.
pub const CACHE_TIERS: &[&str] = &["memory", "redis", "store"];
const CACHE_RESULTS: &[&str] = &["hit", "miss", "error"];

pub struct Metrics {
    registry: Registry,
    /// `{route, status_class, format}`
    pub http_requests: IntCounterVec,
    /// `{route, cache}`
    pub http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    pub response_bytes: Histogram,
    /// `{tier, result=hit|miss|error}`
    pub cache_requests: IntCounterVec,
    /// `{tier}`
    pub cache_bytes: IntGaugeVec,
    /// `{tier}`
    pub cache_evictions: IntCounterVec,
    pub coalesced: IntCounter,
    /// Transforms actually run (not served from a cache): the single-flight tests count them.
    pub transforms: IntCounterVec,
    /// `{stage, format}`
    pub transform_duration: HistogramVec,
    pub queue_depth: IntGauge,
    pub queue_wait: Histogram,
    pub pixels_in_flight: IntGauge,
    /// `{reason}`
    pub rejected: IntCounterVec,
    pub load_shed: IntCounter,
    /// `{backend, op}`
    pub store_duration: HistogramVec,
    /// `{backend, op, kind}`
    pub store_errors: IntCounterVec,
    pub bytes_saved: IntCounter,
    /// `{state=closed|open}` transitions of the Redis circuit breaker.
    pub breaker_transitions: IntCounterVec,
    pub exif_parse: Histogram,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels).expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn single_histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())).expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let size_buckets: Vec<f64> = (0..12).map(|i| 1024.0 * 4f64.powi(i)).collect();
        // `process_cpu_seconds_total`, `process_resident_memory_bytes`, … (Linux only).
        #[cfg(target_os = "linux")]
        r.register(Box::new(process::ProcessCollector::new())).expect("unique metric");
        let m = Metrics {
            http_requests: counter(
                &r,
                "pixgate_http_requests_total",
                "HTTP requests answered",
                &["route", "status_class", "format"],
            ),
            http_duration: histogram(
                &r,
                "pixgate_http_request_duration_seconds",
                "HTTP request latency",
                &["route", "cache"],
                LATENCY_BUCKETS,
            ),
            http_in_flight: gauge(&r, "pixgate_http_in_flight_requests", "HTTP requests being served"),
            response_bytes: single_histogram(&r, "pixgate_response_bytes", "Response body sizes", &size_buckets),
            cache_requests: counter(
                &r,
                "pixgate_cache_requests_total",
                "Cache lookups by tier and result",
                &["tier", "result"],
            ),
            cache_bytes: {
                let g = IntGaugeVec::new(Opts::new("pixgate_cache_bytes", "Bytes held by a cache tier"), &["tier"])
                    .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            cache_evictions: counter(&r, "pixgate_cache_evictions_total", "Entries evicted by size", &["tier"]),
            coalesced: counter(
                &r,
                "pixgate_coalesced_requests_total",
                "Requests that waited for another request's identical transform",
                &[],
            )
            .with_label_values(&[] as &[&str]),
            transforms: counter(&r, "pixgate_transforms_total", "Transforms run", &["format"]),
            transform_duration: histogram(
                &r,
                "pixgate_transform_duration_seconds",
                "Transform time by stage",
                &["stage", "format"],
                LATENCY_BUCKETS,
            ),
            queue_depth: gauge(&r, "pixgate_transform_queue_depth", "Transforms waiting for a worker"),
            queue_wait: single_histogram(
                &r,
                "pixgate_transform_queue_wait_seconds",
                "Time waited for a worker",
                LATENCY_BUCKETS,
            ),
            pixels_in_flight: gauge(&r, "pixgate_decoded_pixels_in_flight", "Decoded source pixels admitted"),
            rejected: counter(&r, "pixgate_rejected_total", "Requests refused, by reason", &["reason"]),
            load_shed: counter(&r, "pixgate_load_shed_total", "Requests shed with 503", &[])
                .with_label_values(&[] as &[&str]),
            store_duration: histogram(
                &r,
                "pixgate_store_request_duration_seconds",
                "Store call latency",
                &["backend", "op"],
                LATENCY_BUCKETS,
            ),
            store_errors: counter(&r, "pixgate_store_errors_total", "Failed store calls", &["backend", "op", "kind"]),
            bytes_saved: counter(
                &r,
                "pixgate_bytes_saved_total",
                "Original bytes minus variant bytes of transforms",
                &[],
            )
            .with_label_values(&[] as &[&str]),
            breaker_transitions: counter(
                &r,
                "pixgate_redis_breaker_transitions_total",
                "Redis circuit breaker state changes",
                &["state"],
            ),
            exif_parse: single_histogram(
                &r,
                "pixgate_exif_parse_duration_seconds",
                "Time reading a source's orientation",
                EXIF_BUCKETS,
            ),
            registry: r,
        };
        m.preinitialise();
        m
    }

    /// Creates the bounded label sets at zero: a family with no series is missing from a
    /// scrape, and `rate()` over a series that appears mid-window undercounts.
    fn preinitialise(&self) {
        for tier in CACHE_TIERS {
            for result in CACHE_RESULTS {
                self.cache_requests.with_label_values(&[tier, result]);
            }
        }
        for reason in REJECT_REASONS {
            self.rejected.with_label_values(&[reason]);
        }
        for state in ["open", "closed"] {
            self.breaker_transitions.with_label_values(&[state]);
        }
        self.cache_bytes.with_label_values(&["memory"]);
        self.cache_evictions.with_label_values(&["memory"]);
        for class in ["2xx", "4xx", "5xx"] {
            self.http_requests.with_label_values(&["img", class, "none"]);
        }
    }

    /// Counts a refused request under its error code.
    pub fn reject(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Sum of a counter family's samples, for tests and the health of a run.
    pub fn transforms_total(&self) -> u64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == "pixgate_transforms_total")
            .flat_map(|f| f.get_metric().iter().map(|m| m.get_counter().get_value() as u64))
            .sum()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `2xx`, `4xx`…: a bounded label.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_the_contract_metrics() {
        let m = Metrics::new();
        m.http_requests.with_label_values(&["img", "2xx", "jpeg"]).inc();
        m.cache_requests.with_label_values(&["memory", "hit"]).inc();
        m.coalesced.inc();
        m.transforms.with_label_values(&["jpeg"]).inc();
        let text = m.render();
        for name in [
            "pixgate_http_requests_total",
            "pixgate_cache_requests_total",
            "pixgate_coalesced_requests_total",
            "pixgate_http_in_flight_requests",
            "pixgate_transform_queue_depth",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }
        assert_eq!(m.transforms_total(), 1);
    }
}
