//! Grafana dashboard as code. Panels are data (title, unit, queries) so that the
//! dashboard's PromQL can be listed and parsed by `promtool`. `cargo xtask grafana`
//! writes `grafana/dashboards/pixgate.json`; `cargo xtask test` fails when the committed
//! file differs from what this generates.

use serde_json::{json, Value};

use crate::proc::root;
use crate::Result;

pub const DASHBOARD: &str = "grafana/dashboards/pixgate.json";

struct Panel {
    title: &'static str,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
}

struct Row {
    title: &'static str,
    panels: &'static [Panel],
}

const RI: &str = "$__rate_interval";

/// The dashboard, by layer. `$__rate_interval` is Grafana's; promtool checks substitute 5m.
const ROWS: &[Row] = &[
    Row {
        title: "Traffic and errors",
        panels: &[
            Panel {
                title: "Requests by status class",
                unit: "reqps",
                queries: &[("sum by (status_class) (rate(pixgate_http_requests_total[$__rate_interval]))", "{{status_class}}")],
            },
            Panel {
                title: "Error ratio (5xx)",
                unit: "percentunit",
                queries: &[(
                    "sum(rate(pixgate_http_requests_total{status_class=\"5xx\"}[$__rate_interval])) / sum(rate(pixgate_http_requests_total[$__rate_interval]))",
                    "5xx ratio",
                )],
            },
            Panel {
                title: "Requests by output format",
                unit: "reqps",
                queries: &[("sum by (format) (rate(pixgate_http_requests_total[$__rate_interval]))", "{{format}}")],
            },
            Panel {
                title: "In-flight requests",
                unit: "short",
                queries: &[("sum(pixgate_http_in_flight_requests)", "in flight")],
            },
        ],
    },
    Row {
        title: "Latency",
        panels: &[
            Panel {
                title: "p50 / p95 / p99 by cache outcome",
                unit: "s",
                queries: &[
                    ("histogram_quantile(0.5, sum by (le, cache) (rate(pixgate_http_request_duration_seconds_bucket[$__rate_interval])))", "p50 {{cache}}"),
                    ("histogram_quantile(0.95, sum by (le, cache) (rate(pixgate_http_request_duration_seconds_bucket[$__rate_interval])))", "p95 {{cache}}"),
                    ("histogram_quantile(0.99, sum by (le, cache) (rate(pixgate_http_request_duration_seconds_bucket[$__rate_interval])))", "p99 {{cache}}"),
                ],
            },
            Panel {
                title: "Response size p50 / p95",
                unit: "bytes",
                queries: &[
                    ("histogram_quantile(0.5, sum by (le) (rate(pixgate_response_bytes_bucket[$__rate_interval])))", "p50"),
                    ("histogram_quantile(0.95, sum by (le) (rate(pixgate_response_bytes_bucket[$__rate_interval])))", "p95"),
                ],
            },
        ],
    },
    Row {
        title: "Caches",
        panels: &[
            Panel {
                title: "Hit ratio per tier",
                unit: "percentunit",
                queries: &[(
                    "sum by (tier) (rate(pixgate_cache_requests_total{result=\"hit\"}[$__rate_interval])) / sum by (tier) (rate(pixgate_cache_requests_total[$__rate_interval]))",
                    "{{tier}}",
                )],
            },
            Panel {
                title: "Cache errors and evictions",
                unit: "ops",
                queries: &[
                    ("sum by (tier) (rate(pixgate_cache_requests_total{result=\"error\"}[$__rate_interval]))", "errors {{tier}}"),
                    ("sum by (tier) (rate(pixgate_cache_evictions_total[$__rate_interval]))", "evictions {{tier}}"),
                ],
            },
            Panel {
                title: "Cached bytes per tier",
                unit: "bytes",
                queries: &[("sum by (tier) (pixgate_cache_bytes)", "{{tier}}")],
            },
            Panel {
                title: "Coalesced requests (single-flight)",
                unit: "reqps",
                queries: &[("sum(rate(pixgate_coalesced_requests_total[$__rate_interval]))", "coalesced")],
            },
        ],
    },
    Row {
        title: "Pipeline",
        panels: &[
            Panel {
                title: "Stage duration p95 by format",
                unit: "s",
                queries: &[(
                    "histogram_quantile(0.95, sum by (le, stage, format) (rate(pixgate_transform_duration_seconds_bucket[$__rate_interval])))",
                    "{{stage}} {{format}}",
                )],
            },
            Panel {
                title: "EXIF parse time p95",
                unit: "s",
                queries: &[(
                    "histogram_quantile(0.95, sum by (le) (rate(pixgate_exif_parse_duration_seconds_bucket[$__rate_interval])))",
                    "p95",
                )],
            },
            Panel {
                title: "Queue depth and wait",
                unit: "short",
                queries: &[
                    ("sum(pixgate_transform_queue_depth)", "queued"),
                    ("histogram_quantile(0.95, sum by (le) (rate(pixgate_transform_queue_wait_seconds_bucket[$__rate_interval])))", "p95 wait (s)"),
                ],
            },
            Panel {
                title: "Shedding and rejects",
                unit: "ops",
                queries: &[
                    ("sum(rate(pixgate_load_shed_total[$__rate_interval]))", "shed"),
                    ("sum by (reason) (rate(pixgate_rejected_total[$__rate_interval]))", "rejected {{reason}}"),
                ],
            },
            Panel {
                title: "Decoded pixels in flight",
                unit: "short",
                queries: &[("sum(pixgate_decoded_pixels_in_flight)", "pixels")],
            },
        ],
    },
    Row {
        title: "Store and Redis",
        panels: &[
            Panel {
                title: "Store latency p95 by backend and operation",
                unit: "s",
                queries: &[(
                    "histogram_quantile(0.95, sum by (le, backend, op) (rate(pixgate_store_request_duration_seconds_bucket[$__rate_interval])))",
                    "{{backend}} {{op}}",
                )],
            },
            Panel {
                title: "Store errors",
                unit: "ops",
                queries: &[("sum by (backend, op, kind) (rate(pixgate_store_errors_total[$__rate_interval]))", "{{backend}} {{op}} {{kind}}")],
            },
            Panel {
                title: "Redis (L2) lookups",
                unit: "ops",
                queries: &[("sum by (result) (rate(pixgate_cache_requests_total{tier=\"redis\"}[$__rate_interval]))", "{{result}}")],
            },
        ],
    },
    Row {
        title: "Edge (Envoy filter)",
        panels: &[
            Panel {
                title: "Requests by dialect",
                unit: "reqps",
                queries: &[("sum by (dialect) (rate(pixgate_edge_requests_total[$__rate_interval]))", "{{dialect}}")],
            },
            Panel {
                title: "Negotiated formats",
                unit: "reqps",
                queries: &[("sum by (format, reason) (rate(pixgate_edge_format_total[$__rate_interval]))", "{{format}} ({{reason}})")],
            },
            Panel {
                title: "Rejected at the edge",
                unit: "reqps",
                queries: &[("sum by (reason) (rate(pixgate_edge_rejected_total[$__rate_interval]))", "{{reason}}")],
            },
            Panel {
                title: "Dropped parameters and lossy translations",
                unit: "ops",
                queries: &[
                    ("sum(rate(pixgate_edge_dropped_params_total[$__rate_interval]))", "dropped params"),
                    ("sum by (dialect) (rate(pixgate_edge_lossy_total[$__rate_interval]))", "lossy {{dialect}}"),
                ],
            },
        ],
    },
    Row {
        title: "Business value",
        panels: &[
            Panel {
                title: "Bytes saved by conversion",
                unit: "Bps",
                queries: &[("sum(rate(pixgate_bytes_saved_total[$__rate_interval]))", "saved")],
            },
            Panel {
                title: "Format mix",
                unit: "percentunit",
                queries: &[(
                    "sum by (format) (rate(pixgate_http_requests_total[$__rate_interval])) / ignoring(format) group_left sum(rate(pixgate_http_requests_total[$__rate_interval]))",
                    "{{format}}",
                )],
            },
        ],
    },
    Row {
        title: "Process",
        panels: &[
            Panel {
                title: "CPU",
                unit: "percentunit",
                queries: &[("sum by (instance) (rate(process_cpu_seconds_total{job=~\"$job\"}[$__rate_interval]))", "{{instance}}")],
            },
            Panel {
                title: "Resident memory",
                unit: "bytes",
                queries: &[("sum by (instance) (process_resident_memory_bytes{job=~\"$job\"})", "{{instance}}")],
            },
        ],
    },
];

/// Every PromQL expression of the dashboard, as written in it.
pub fn queries() -> Vec<&'static str> {
    ROWS.iter().flat_map(|r| r.panels.iter()).flat_map(|p| p.queries.iter().map(|q| q.0)).collect()
}

/// An expression with Grafana's variables replaced, so that promtool can parse it.
pub fn for_promtool(expr: &str) -> String {
    expr.replace(RI, "5m").replace("$job", ".*")
}

pub fn generate() -> String {
    let ds = json!({"type": "prometheus", "uid": "${datasource}"});
    let mut panels = Vec::new();
    let mut id = 1;
    let mut y = 0;
    for row in ROWS {
        panels.push(json!({"type": "row", "id": id, "title": row.title, "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}));
        id += 1;
        y += 1;
        for (i, p) in row.panels.iter().enumerate() {
            let targets: Vec<Value> = p
                .queries
                .iter()
                .enumerate()
                .map(|(j, (expr, legend))| {
                    json!({"datasource": ds, "expr": expr, "legendFormat": legend, "refId": ((b'A' + j as u8) as char).to_string()})
                })
                .collect();
            panels.push(json!({
                "type": "timeseries", "id": id, "title": p.title, "datasource": ds,
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": y + (i / 2) as u32 * 8},
                "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
                "targets": targets,
            }));
            id += 1;
        }
        y += row.panels.len().div_ceil(2) as u32 * 8;
    }
    let dashboard = json!({
        "title": "Pixgate",
        "uid": "pixgate",
        "description": "Pixgate image delivery: edge filter, origin caches, pipeline, store. Generated by `cargo xtask grafana`.",
        "tags": ["pixgate"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0},
            {"name": "job", "label": "Job", "type": "query", "datasource": ds, "query": "label_values(process_cpu_seconds_total, job)",
             "includeAll": true, "multi": true, "current": {}, "refresh": 2, "hide": 0}
        ]},
        "panels": panels,
    });
    let mut out = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    out.push('\n');
    out
}

/// Part of `cargo xtask grafana`.
pub fn write() -> Result<()> {
    let path = root().join(DASHBOARD);
    std::fs::write(&path, generate()).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_dashboard_is_generated() {
        let committed = std::fs::read_to_string(root().join(DASHBOARD)).unwrap_or_default();
        assert!(committed == generate(), "grafana/dashboards/pixgate.json is stale: run `cargo xtask grafana`");
    }

    #[test]
    fn every_panel_has_a_unique_id_and_queries() {
        let v: Value = serde_json::from_str(&generate()).unwrap();
        let panels = v["panels"].as_array().unwrap();
        let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), panels.len());
        assert!(queries().len() >= 30);
    }
}
