//! Logs and traces. Logs are one JSON object per line on stdout, filtered by `PIXGATE_LOG`
//! (default `info`). Traces are the origin's own spans, exported over OTLP/HTTP when
//! `telemetry.otlp_endpoint` is set; when it is not, no OpenTelemetry layer, exporter or
//! thread exists at all. Per-request context (ids, the request span, the access line) is
//! in [`request`].

mod export;
pub mod request;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::{ms, TelemetryConfig};

/// The OTLP/HTTP path for traces, appended to `telemetry.otlp_endpoint` as the
/// `OTEL_EXPORTER_OTLP_ENDPOINT` convention does.
pub const TRACES_PATH: &str = "/v1/traces";

/// Only this crate's spans are exported: dependencies (the S3 SDK, hyper) have their own
/// spans, whose volume would drown the request's.
const TRACED_TARGET: &str = "pixgate_origin";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("trace exporter: {0}")]
    Exporter(String),
    #[error("a logger is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Installed telemetry; [`Telemetry::shutdown`] flushes the spans still buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the global subscriber: JSON logs always, trace export when configured.
pub fn init(cfg: &TelemetryConfig, version: &str) -> Result<Telemetry, TelemetryError> {
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        // Request and trace ids are fields of the lines that need them: no nested span
        // objects on every line.
        .with_current_span(false)
        .with_span_list(false)
        // Events only: the log layer never prints spans, so it must not enable them (and
        // pay for formatting their fields) when no trace layer wants them either.
        .with_filter(
            EnvFilter::try_from_env("PIXGATE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info"))
                // No level of its own: without this hint the combined filter would have
                // none, and every disabled `debug!` in the process would be checked at run
                // time instead of against the global maximum level.
                .and(filter_fn(|meta| meta.is_event()).with_max_level_hint(LevelFilter::TRACE)),
        );
    let provider = if cfg.otlp_endpoint.is_empty() { None } else { Some(provider(cfg, version)?) };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(TRACED_TARGET))
            .with_filter(Targets::new().with_target(TRACED_TARGET, LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    if !cfg.otlp_endpoint.is_empty() {
        tracing::info!(endpoint = %cfg.otlp_endpoint, "exporting traces");
    }
    Ok(Telemetry { provider })
}

fn provider(cfg: &TelemetryConfig, version: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let timeout = ms(cfg.export_timeout_ms);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{}{TRACES_PATH}", cfg.otlp_endpoint.trim_end_matches('/')))
        .with_timeout(timeout)
        .with_http_client(export::BlockingClient::new(timeout))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new("service.version", version.to_owned()))
        .build();
    // The caller's sampling decision (`traceparent`'s flag) wins; new roots are sampled at
    // `sample_ratio`. The batch processor exports from its own thread.
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(cfg.sample_ratio)));
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_sampler(sampler).with_resource(resource).build())
}

impl Telemetry {
    /// Exports the spans still buffered, waiting at most `bound`. Runs after the server
    /// stopped, so the last requests' spans are not lost.
    pub fn shutdown(self, bound: Duration) {
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown_with_timeout(bound) {
                tracing::warn!(error = %e, "flushing traces failed");
            }
        }
    }
}
