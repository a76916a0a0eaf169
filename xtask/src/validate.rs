//! Validates the deployment manifests under `istio/`: the kustomize base and both overlays
//! as rendered by `kubectl kustomize`, and the Argo CD Application. Custom resources are
//! checked against the strict JSON schemas in `../shared/schemas` (unknown fields fail),
//! core kinds with `kubernetes-validate --strict`; then what no schema can say: the
//! WasmPlugin carries the canonical filter configuration, the canary analysis queries
//! metrics Pixgate exports, the Argo resources point at objects that exist, and the origin
//! accepts its ConfigMap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::proc::{self, root, Service};
use crate::{stack, tools, Result};

/// Beside the repository (the steering checkout's shared folder).
const SCHEMAS: &str = "../shared/schemas";
const KUBERNETES_VERSION: &str = "1.33";
/// Kustomizations rendered and validated, by name.
const RENDERINGS: &[(&str, &str)] =
    &[("base", "istio/base"), ("dev", "istio/overlays/dev"), ("prod", "istio/overlays/prod")];
/// Plain manifests outside the kustomizations.
const STANDALONE: &[&str] = &["istio/argocd/application.yaml"];
const FILTER_CONFIG: &str = "envoy/filter-config.json";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Counter,
    Gauge,
    /// Exposed as `_bucket`, `_sum` and `_count` series.
    Histogram,
}

/// DESIGN.md §7's metric names and types. The origin's metrics module will define them
/// in code; this list then gives way to it.
pub const METRICS: &[(&str, Metric)] = &[
    ("pixgate_http_requests_total", Metric::Counter),
    ("pixgate_http_request_duration_seconds", Metric::Histogram),
    ("pixgate_http_in_flight_requests", Metric::Gauge),
    ("pixgate_response_bytes", Metric::Histogram),
    ("pixgate_transform_duration_seconds", Metric::Histogram),
    ("pixgate_exif_parse_duration_seconds", Metric::Histogram),
    ("pixgate_transform_queue_depth", Metric::Gauge),
    ("pixgate_transform_queue_wait_seconds", Metric::Histogram),
    ("pixgate_decoded_pixels_in_flight", Metric::Gauge),
    ("pixgate_rejected_total", Metric::Counter),
    ("pixgate_load_shed_total", Metric::Counter),
    ("pixgate_cache_requests_total", Metric::Counter),
    ("pixgate_cache_bytes", Metric::Gauge),
    ("pixgate_cache_evictions_total", Metric::Counter),
    ("pixgate_coalesced_requests_total", Metric::Counter),
    ("pixgate_store_request_duration_seconds", Metric::Histogram),
    ("pixgate_store_errors_total", Metric::Counter),
    ("pixgate_bytes_saved_total", Metric::Counter),
    ("pixgate_edge_requests_total", Metric::Counter),
    ("pixgate_edge_format_total", Metric::Counter),
    ("pixgate_edge_rejected_total", Metric::Counter),
    ("pixgate_edge_dropped_params_total", Metric::Counter),
    ("pixgate_edge_lossy_total", Metric::Counter),
];

/// Splits a YAML stream into one JSON file per document (check-jsonschema reads one
/// document per file); prints nothing.
const SPLIT_PY: &str = r#"
import json, pathlib, sys, yaml
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
for i, d in enumerate(docs):
    name = "%02d-%s-%s.json" % (i, str(d.get("kind", "unknown")).lower(), d.get("metadata", {}).get("name", "unnamed"))
    (out / name).write_text(json.dumps(d, indent=2))
"#;

struct Doc {
    rendering: String,
    path: PathBuf,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    fn label(&self) -> String {
        format!("{}: {} {}", self.rendering, self.kind(), self.name())
    }
}

pub fn run() -> Result<()> {
    let venv = tools::py_venv()?;
    let schemas = root().join(SCHEMAS);
    let schemas = std::fs::canonicalize(&schemas).unwrap_or(schemas);
    if !schemas.join("jsonschema-strict").is_dir() {
        return Err(format!("{} not found: the shared CRD schemas must sit beside the repository", schemas.display()));
    }
    let out = root().join("target/xtask/validate");
    let _ = std::fs::remove_dir_all(&out);

    let mut docs = Vec::new();
    for (name, dir) in RENDERINGS {
        let yaml = stdout_of(Command::new(venv.join("bin/kubectl")).args(["kustomize", dir]).current_dir(root()))?;
        docs.extend(split(&venv, &yaml, &out.join(name), name)?);
    }
    for file in STANDALONE {
        let yaml = std::fs::read(root().join(file)).map_err(|e| format!("{file}: {e}"))?;
        docs.extend(split(&venv, &yaml, &out.join("standalone"), file)?);
    }

    validate_schemas(&venv, &schemas, &docs)?;
    refuses_misspelt_fields(&venv, &schemas, &docs, &out.join("negative"))?;
    check_plugin_config(&docs)?;
    check_analysis_metrics(&docs)?;
    check_references(&docs)?;
    check_origin_accepts_config(&docs, &out)?;
    eprintln!("xtask: {} manifests valid ({} renderings + standalone files)", docs.len(), RENDERINGS.len());
    Ok(())
}

fn stdout_of(cmd: &mut Command) -> Result<Vec<u8>> {
    eprintln!("xtask: $ {}", proc::describe(cmd));
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", proc::describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", proc::describe(cmd), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| format!("cannot run {}: {e}", proc::describe(cmd)))
}

fn split(venv: &Path, yaml: &[u8], dir: &Path, rendering: &str) -> Result<Vec<Doc>> {
    use std::io::Write;
    let mut child = Command::new(venv.join("bin/python"))
        .args(["-c", SPLIT_PY])
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("python: {e}"))?;
    child.stdin.take().ok_or("no stdin")?.write_all(yaml).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{rendering}: the rendered YAML does not parse"));
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Doc { rendering: rendering.to_owned(), path, value })
        })
        .collect()
}

/// Where a document's schema lives: `None` for the core kinds (kubernetes-validate).
fn schema_for(schemas: &Path, doc: &Value) -> Result<Option<PathBuf>> {
    let api = doc["apiVersion"].as_str().ok_or("a document without apiVersion")?;
    let kind = doc["kind"].as_str().ok_or("a document without kind")?.to_ascii_lowercase();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let dir = match group {
        "" | "apps" | "autoscaling" | "policy" => return Ok(None),
        // The only Prometheus-operator schemas at hand are the non-strict ones.
        "monitoring.coreos.com" => "jsonschema",
        _ => "jsonschema-strict",
    };
    let path = schemas.join(dir).join(group).join(format!("{kind}_{version}.json"));
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(format!("no schema for {api} {kind} (looked for {})", path.display()))
    }
}

fn validate_schemas(venv: &Path, schemas: &Path, docs: &[Doc]) -> Result<()> {
    let mut by_schema: BTreeMap<PathBuf, Vec<&Path>> = BTreeMap::new();
    let mut core = Vec::new();
    for d in docs {
        match schema_for(schemas, &d.value).map_err(|e| format!("{}: {e}", d.label()))? {
            Some(schema) => by_schema.entry(schema).or_default().push(&d.path),
            None => core.push(&d.path),
        }
    }
    for (schema, files) in &by_schema {
        proc::run(Command::new(venv.join("bin/check-jsonschema")).arg("--schemafile").arg(schema).args(files))?;
    }
    proc::run(
        Command::new(venv.join("bin/kubernetes-validate"))
            .args(["-k", KUBERNETES_VERSION, "--strict", "--quiet"])
            .args(&core),
    )
}

/// Renames the first `from` key found anywhere in `v` to `to`; false when there is none.
fn rename_key(v: &mut Value, from: &str, to: &str) -> bool {
    match v {
        Value::Object(map) => {
            if let Some(x) = map.remove(from) {
                map.insert(to.to_owned(), x);
                return true;
            }
            map.values_mut().any(|x| rename_key(x, from, to))
        }
        Value::Array(items) => items.iter_mut().any(|x| rename_key(x, from, to)),
        _ => false,
    }
}

/// A green result means something only if a typo would have turned it red: a misspelt
/// field must fail both validators (the API server would silently drop it).
fn refuses_misspelt_fields(venv: &Path, schemas: &Path, docs: &[Doc], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let cases = [
        ("WasmPlugin", "failStrategy", "failStratgey"),
        ("Deployment", "readOnlyRootFilesystem", "readOnlyRootFileSystem"),
    ];
    for (kind, field, typo) in cases {
        let doc = docs.iter().find(|d| d.kind() == kind).ok_or_else(|| format!("no {kind} to misspell"))?;
        let mut bad = doc.value.clone();
        if !rename_key(&mut bad, field, typo) {
            return Err(format!("{}: no `{field}` to misspell", doc.label()));
        }
        let file = dir.join(format!("{}-{typo}.json", kind.to_ascii_lowercase()));
        std::fs::write(&file, serde_json::to_string_pretty(&bad).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let out = match schema_for(schemas, &bad)? {
            Some(schema) => {
                output(Command::new(venv.join("bin/check-jsonschema")).arg("--schemafile").arg(schema).arg(&file))?
            }
            None => output(
                Command::new(venv.join("bin/kubernetes-validate"))
                    .args(["-k", KUBERNETES_VERSION, "--strict", "--quiet"])
                    .arg(&file),
            )?,
        };
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() || !said.contains(typo) {
            return Err(format!(
                "a {kind} with `{typo}` instead of `{field}` was not refused by name; the validation would miss typos:\n{said}"
            ));
        }
    }
    eprintln!("xtask: misspelt fields are refused (failStratgey, readOnlyRootFileSystem)");
    Ok(())
}

fn check_plugin_config(docs: &[Doc]) -> Result<()> {
    let text = std::fs::read_to_string(root().join(FILTER_CONFIG)).map_err(|e| format!("{FILTER_CONFIG}: {e}"))?;
    let canonical: Value = serde_json::from_str(&text).map_err(|e| format!("{FILTER_CONFIG}: {e}"))?;
    let plugins: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "WasmPlugin").collect();
    if plugins.len() < RENDERINGS.len() {
        return Err(format!("expected a WasmPlugin in every rendering, found {}", plugins.len()));
    }
    for d in plugins {
        if d.value["spec"]["pluginConfig"] != canonical {
            return Err(format!("{}: pluginConfig differs from {FILTER_CONFIG}", d.label()));
        }
        // Same policy as envoy/envoy.yaml's failure_policy (see the comment there).
        if d.value["spec"]["failStrategy"] != "FAIL_OPEN" {
            return Err(format!("{}: failStrategy must be FAIL_OPEN like envoy/envoy.yaml", d.label()));
        }
    }
    Ok(())
}

/// The `pixgate_…` metric names in a PromQL query, in order (label values skipped).
fn metric_names(query: &str) -> Vec<&str> {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = query.as_bytes();
    let mut names = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' && (i == 0 || bytes[i - 1] != b'\\') {
            in_string = !in_string;
            i += 1;
        } else if !in_string && query[i..].starts_with("pixgate_") && (i == 0 || !ident(bytes[i - 1])) {
            let end = i + bytes[i..].iter().take_while(|&&b| ident(b)).count();
            names.push(&query[i..end]);
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// Whether Pixgate exports `name`: a listed metric, or a histogram's series of one.
fn is_known_metric(name: &str) -> bool {
    METRICS.iter().any(|&(m, kind)| {
        m == name
            || kind == Metric::Histogram
                && ["_bucket", "_sum", "_count"].iter().any(|s| name.strip_suffix(s) == Some(m))
    })
}

fn check_analysis_metrics(docs: &[Doc]) -> Result<()> {
    let templates: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "AnalysisTemplate").collect();
    if templates.is_empty() {
        return Err("no AnalysisTemplate in any rendering".into());
    }
    for d in templates {
        let metrics = d.value["spec"]["metrics"].as_array().ok_or_else(|| format!("{}: no metrics", d.label()))?;
        for m in metrics {
            let query = m["provider"]["prometheus"]["query"].as_str().unwrap_or("");
            let names = metric_names(query);
            if names.is_empty() {
                return Err(format!("{}: metric {} queries no pixgate_ metric", d.label(), m["name"]));
            }
            if let Some(bad) = names.iter().find(|n| !is_known_metric(n)) {
                return Err(format!("{}: `{bad}` is not one of DESIGN.md §7's metrics", d.label()));
            }
        }
    }
    Ok(())
}

/// Cross-references that the schemas cannot see, within each rendering.
fn check_references(docs: &[Doc]) -> Result<()> {
    for (rendering, _) in RENDERINGS {
        let here: Vec<&Doc> = docs.iter().filter(|d| d.rendering == *rendering).collect();
        let find = |kind: &str, name: &str| here.iter().copied().find(|d| d.kind() == kind && d.name() == name);
        let need = |kind: &str, name: &str, by: &Doc| {
            find(kind, name).ok_or_else(|| format!("{}: refers to {kind} `{name}`, which is not there", by.label()))
        };
        for d in &here {
            let spec = &d.value["spec"];
            match d.kind() {
                "HorizontalPodAutoscaler" => {
                    need(
                        spec["scaleTargetRef"]["kind"].as_str().unwrap_or(""),
                        spec["scaleTargetRef"]["name"].as_str().unwrap_or(""),
                        d,
                    )?;
                }
                "DestinationRule" => {
                    let hash = &spec["trafficPolicy"]["loadBalancer"]["consistentHash"]["httpHeaderName"];
                    if hash != "x-pixgate-variant" {
                        return Err(format!("{}: must hash on x-pixgate-variant (the filter sets it)", d.label()));
                    }
                }
                "Rollout" => {
                    let istio = &spec["strategy"]["canary"]["trafficRouting"]["istio"];
                    let vs = need("VirtualService", istio["virtualService"]["name"].as_str().unwrap_or(""), d)?;
                    for route in istio["virtualService"]["routes"].as_array().into_iter().flatten() {
                        let named =
                            vs.value["spec"]["http"].as_array().into_iter().flatten().any(|h| h["name"] == *route);
                        if !named {
                            return Err(format!("{}: route {route} is not in the VirtualService", d.label()));
                        }
                    }
                    let dr = need("DestinationRule", istio["destinationRule"]["name"].as_str().unwrap_or(""), d)?;
                    for key in ["stableSubsetName", "canarySubsetName"] {
                        let subset = &istio["destinationRule"][key];
                        if !dr.value["spec"]["subsets"].as_array().into_iter().flatten().any(|s| s["name"] == *subset) {
                            return Err(format!("{}: subset {subset} is not in the DestinationRule", d.label()));
                        }
                    }
                    need(
                        spec["workloadRef"]["kind"].as_str().unwrap_or(""),
                        spec["workloadRef"]["name"].as_str().unwrap_or(""),
                        d,
                    )?;
                    for t in spec["strategy"]["canary"]["analysis"]["templates"].as_array().into_iter().flatten() {
                        need("AnalysisTemplate", t["templateName"].as_str().unwrap_or(""), d)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Every rendering's origin ConfigMap is a configuration the origin starts with: it
/// refuses unknown keys, so this also keeps not-yet-supported settings out.
fn check_origin_accepts_config(docs: &[Doc], out: &Path) -> Result<()> {
    let bin = stack::build_origin()?;
    let store = out.join("store");
    std::fs::create_dir_all(&store).map_err(|e| e.to_string())?;
    for d in docs.iter().filter(|d| d.kind() == "ConfigMap") {
        let Some(toml) = d.value["data"]["origin.toml"].as_str() else { continue };
        let file = out.join(format!("{}-origin.toml", d.rendering));
        std::fs::write(&file, toml).map_err(|e| e.to_string())?;
        let port = proc::free_port()?;
        // The cluster's listen address and store path do not exist here; everything
        // else is read from the file.
        let mut cmd = Command::new(&bin);
        // Only the file and the two overrides below: any PIXGATE_* variable here would
        // be read as a setting too.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PIXGATE_")) {
            cmd.env_remove(k);
        }
        cmd.arg("--config")
            .arg(&file)
            .env("PIXGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PIXGATE_STORE__ROOT", &store);
        let mut origin = Service::spawn(&format!("origin-{}", d.rendering), &mut cmd, out)?;
        origin
            .wait_ready(Duration::from_secs(30), || proc::http_status(port, "/healthz") == Some(200))
            .map_err(|e| format!("{}: the origin refuses its ConfigMap: {e}", d.label()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_found_in_promql_and_histogram_series_are_known() {
        let q = r#"sum(rate(pixgate_http_request_duration_seconds_bucket{x="pixgate_no"}[5m])) / sum(rate(pixgate_http_requests_total[5m]))"#;
        assert_eq!(metric_names(q), ["pixgate_http_request_duration_seconds_bucket", "pixgate_http_requests_total"]);
        assert!(metric_names(q).iter().all(|n| is_known_metric(n)));
    }

    #[test]
    fn a_misspelt_metric_is_unknown() {
        assert!(!is_known_metric("pixgate_http_request_total"));
        assert!(!is_known_metric("pixgate_http_requests_total_bucket"));
    }

    #[test]
    fn rename_key_finds_nested_fields() {
        let mut v = serde_json::json!({"spec": {"a": [{"failStrategy": "FAIL_OPEN"}]}});
        assert!(rename_key(&mut v, "failStrategy", "failStratgey"));
        assert_eq!(v["spec"]["a"][0]["failStratgey"], "FAIL_OPEN");
        assert!(!rename_key(&mut v, "failStrategy", "x"));
    }
}
