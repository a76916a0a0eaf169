//! Builds and starts Pixgate's stack: the origin and Envoy with the filter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{self, root, Service};
use crate::tools;
use crate::Result;

pub const WASM: &str = "target/wasm32-wasip1/wasm-release/pixgate_filter.wasm";
pub const ENVOY_CONFIG: &str = "envoy/envoy.yaml";

#[derive(Debug, Clone)]
pub struct Ports {
    pub envoy: u16,
    pub origin: u16,
    pub admin: u16,
}

pub fn build_wasm() -> Result<PathBuf> {
    tools::ensure_wasm_target()?;
    proc::run(proc::cargo().args([
        "build",
        "-p",
        "pixgate-filter",
        "--target",
        tools::WASM_TARGET,
        "--profile",
        "wasm-release",
    ]))?;
    Ok(root().join(WASM))
}

pub fn build_origin() -> Result<PathBuf> {
    tools::ensure_build_packages()?;
    proc::run(proc::cargo().args(["build", "-p", "pixgate-origin", "--bin", "pixgate-origin"]))?;
    Ok(root().join("target/debug/pixgate-origin"))
}

/// The optimised origin that benchmarks and the soak measure, with `extra` targets of its
/// package (`--example NAME`) built beside it.
pub fn build_origin_release(extra: &[&str]) -> Result<PathBuf> {
    tools::ensure_build_packages()?;
    proc::run(
        proc::cargo().args(["build", "--release", "-p", "pixgate-origin", "--bin", "pixgate-origin"]).args(extra),
    )?;
    Ok(root().join("target/release/pixgate-origin"))
}

/// `envoy/envoy.yaml` with its ports and wasm path pointed at this run.
pub fn envoy_config(ports: &Ports, wasm: &Path) -> Result<String> {
    let text = std::fs::read_to_string(root().join(ENVOY_CONFIG)).map_err(|e| format!("{ENVOY_CONFIG}: {e}"))?;
    let out = text
        .replace("port_value: 8080", &format!("port_value: {}", ports.envoy))
        .replace("port_value: 8081", &format!("port_value: {}", ports.origin))
        .replace("port_value: 9901", &format!("port_value: {}", ports.admin))
        .replace(WASM, &wasm.to_string_lossy());
    Ok(out)
}

/// Where `envoy/envoy.yaml` sends Envoy's traces: the usual local OTLP/HTTP collector.
const COLLECTOR_IN_CONFIG: (&str, u16) = ("127.0.0.1", 4318);

/// Points Envoy's trace export (the `otel_collector` cluster and its URI) at the collector
/// of `endpoint`, an `http://IP:PORT` base URL: the same one the origin exports to.
pub fn with_collector(yaml: &str, endpoint: &str) -> Result<String> {
    let bad = || format!("--otlp-endpoint: `{endpoint}` is not http://IP:PORT");
    let authority = endpoint.strip_prefix("http://").ok_or_else(bad)?.trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    let host = if host == "localhost" { "127.0.0.1" } else { host };
    // The cluster is STATIC: it takes an address, not a name to resolve.
    host.parse::<std::net::IpAddr>().map_err(|_| bad())?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let (old_host, old_port) = COLLECTOR_IN_CONFIG;
    Ok(yaml.replace(&format!("uri: http://{old_host}:{old_port}/"), &format!("uri: http://{host}:{port}/")).replace(
        &format!("address: {old_host}, port_value: {old_port}"),
        &format!("address: {host}, port_value: {port}"),
    ))
}

pub fn start_origin(
    bin: &Path,
    port: u16,
    data_dir: &Path,
    extra_env: &[(&str, String)],
    logs: &Path,
) -> Result<Service> {
    let mut cmd = Command::new(bin);
    cmd.current_dir(root())
        .env("PIXGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("PIXGATE_STORE__ROOT", data_dir)
        // The same route profiles as the filter, for legacy URLs that bypass it.
        .env("PIXGATE_POLICY__FILTER_CONFIG", root().join("envoy/filter-config.json"));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut svc = Service::spawn("origin", &mut cmd, logs)?;
    svc.wait_ready(Duration::from_secs(30), || proc::http_status(port, "/healthz") == Some(200))?;
    Ok(svc)
}

/// Starts Envoy on `config_yaml` (written under `work`), waiting until it is LIVE.
pub fn start_envoy(envoy: &Path, config_yaml: &str, ports: &Ports, work: &Path, name: &str) -> Result<Service> {
    start_envoy_on(envoy, config_yaml, ports, work, name, None, 2)
}

/// As [`start_envoy`], with `workers` worker threads, pinned to `cpus` (a `taskset -c`
/// list) when given: benchmarks keep Envoy off the load generator's core.
pub fn start_envoy_on(
    envoy: &Path,
    config_yaml: &str,
    ports: &Ports,
    work: &Path,
    name: &str,
    cpus: Option<&str>,
    workers: u32,
) -> Result<Service> {
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let cfg = work.join(format!("{name}.yaml"));
    std::fs::write(&cfg, config_yaml).map_err(|e| format!("{}: {e}", cfg.display()))?;
    let mut cmd = match cpus {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.args(["-c", c]).arg(envoy);
            t
        }
        None => Command::new(envoy),
    };
    cmd.current_dir(root()).arg("-c").arg(&cfg);
    cmd.args(["--disable-hot-restart", "--log-level", "warn", "--concurrency", &workers.to_string()]);
    let mut svc = Service::spawn(name, &mut cmd, work)?;
    let (admin, port) = (ports.admin, ports.envoy);
    svc.wait_ready(Duration::from_secs(60), || {
        proc::http_status(admin, "/ready") == Some(200) && proc::tcp_open(port)
    })?;
    Ok(svc)
}

/// redis-server on `port` (loopback, no persistence), ready when its port opens.
pub fn start_redis(bin: &Path, port: u16, log_dir: &Path) -> Result<Service> {
    let mut cmd = Command::new(bin);
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"]);
    let mut svc = Service::spawn("redis", &mut cmd, log_dir)?;
    svc.wait_ready(Duration::from_secs(20), || proc::tcp_open(port))?;
    Ok(svc)
}

/// The s3s-fs S3 server on `port`, serving buckets from `root` with the test credentials.
pub fn start_s3(bin: &Path, port: u16, root: &Path, log_dir: &Path) -> Result<Service> {
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", crate::test::S3_ACCESS_KEY, "--secret-key", crate::test::S3_SECRET_KEY])
        .arg(root);
    let mut svc = Service::spawn("s3s-fs", &mut cmd, log_dir)?;
    svc.wait_ready(Duration::from_secs(20), || proc::tcp_open(port))?;
    Ok(svc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_endpoint_rewrites_the_cluster_and_the_uri() {
        let yaml = std::fs::read_to_string(root().join(ENVOY_CONFIG)).unwrap();
        let out = with_collector(&yaml, "http://localhost:14318").unwrap();
        assert!(out.contains("uri: http://127.0.0.1:14318/v1/traces"));
        assert!(out.contains("address: 127.0.0.1, port_value: 14318"));
        assert!(!out.contains(":4318/") && !out.contains("port_value: 4318 }"));
        for bad in ["https://127.0.0.1:4318", "http://collector:4318", "http://127.0.0.1"] {
            assert!(with_collector(&yaml, bad).is_err(), "{bad}");
        }
    }
}
