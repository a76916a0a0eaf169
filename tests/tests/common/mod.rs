//! Shared helpers for the end-to-end tests. `cargo xtask test` starts the real services
//! and passes their addresses in `PIXGATE_E2E_*` variables.

#![allow(dead_code)]

pub mod services;

use std::time::Duration;

use pixgate_e2e::free_port;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn image_size(&self) -> (u32, u32) {
        let img = image::load_from_memory(&self.body)
            .unwrap_or_else(|e| panic!("body is not an image ({e}): {}", self.text()));
        (img.width(), img.height())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// The address of a service started by `cargo xtask test`. Outside it, the tests cannot
/// run: say how to run them instead of passing vacuously.
pub fn service(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the end-to-end tests with `cargo xtask test`"))
}

pub fn envoy() -> String {
    service("PIXGATE_E2E_ENVOY")
}

pub fn origin() -> String {
    service("PIXGATE_E2E_ORIGIN")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url}: reading body: {e}"));
    Response { status, headers, body }
}

/// Sends `request` verbatim (untrusted bytes included) and reads the response until the
/// server closes the connection.
pub fn raw(base: &str, request: &[u8]) -> Response {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no header end in {buf:?}"));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: buf[split + 4..].to_vec() }
}

/// A GET with arbitrary header bytes.
pub fn raw_get(base: &str, target: &[u8], headers: &[(&str, &[u8])]) -> Response {
    let mut req = Vec::new();
    req.extend_from_slice(b"GET ");
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    raw(base, &req)
}

/// Envoy's Prometheus exposition.
pub fn envoy_prometheus() -> String {
    get(&format!("{}/stats/prometheus", service("PIXGATE_E2E_ADMIN")), &[]).text()
}

/// The value of one sample line (`name{labels} value`) in a Prometheus exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The repository root (this crate's parent).
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// An Envoy of the test's own, started from `envoy/envoy.yaml` after `edit` (ports and
/// the wasm path are pointed at this run first). Killed when dropped.
pub struct OwnEnvoy {
    pub base: String,
    pub admin: String,
    child: std::process::Child,
}

impl OwnEnvoy {
    /// Starts Envoy and waits until it is ready, or returns its exit and log.
    pub fn start(name: &str, edit: impl FnOnce(String) -> String) -> Result<OwnEnvoy, String> {
        let yaml = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
        let origin_port = origin().rsplit(':').next().unwrap().to_owned();
        let (port, admin) = (free_port(), free_port());
        let yaml = yaml
            .replace("port_value: 8080", &format!("port_value: {port}"))
            .replace("port_value: 8081", &format!("port_value: {origin_port}"))
            .replace("port_value: 9901", &format!("port_value: {admin}"))
            .replace("target/wasm32-wasip1/wasm-release/pixgate_filter.wasm", &service("PIXGATE_E2E_WASM"));
        let work = std::path::PathBuf::from(service("PIXGATE_E2E_WORK")).join(name);
        std::fs::create_dir_all(&work).unwrap();
        let cfg = work.join("envoy.yaml");
        std::fs::write(&cfg, edit(yaml)).unwrap();
        let log = work.join("envoy.log");
        let mut child = std::process::Command::new(service("PIXGATE_E2E_ENVOY_BIN"))
            .arg("-c")
            .arg(&cfg)
            .args(["--disable-hot-restart", "--log-level", "warn", "--concurrency", "1"])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(work.join("envoy.err")).unwrap())
            .spawn()
            .unwrap();
        let read_log = || {
            std::fs::read_to_string(&log).unwrap_or_default()
                + &std::fs::read_to_string(work.join("envoy.err")).unwrap_or_default()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Err(format!("Envoy exited ({status}):\n{}", read_log()));
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && ureq::get(&format!("http://127.0.0.1:{admin}/ready")).call().is_ok();
            if ready {
                return Ok(OwnEnvoy {
                    base: format!("http://127.0.0.1:{port}"),
                    admin: format!("http://127.0.0.1:{admin}"),
                    child,
                });
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("Envoy not ready after 60 s:\n{}", read_log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OwnEnvoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows of a TSV file under `../shared/corpus/`, as maps from column name to value.
pub fn corpus_tsv(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let path = repo().join("../shared/corpus").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| header.iter().map(|h| h.to_string()).zip(l.split('\t').map(str::to_owned)).collect())
        .collect()
}
