//! Shared helpers for the end-to-end tests. `cargo xtask test` starts the real services
//! and passes their addresses in `PIXGATE_E2E_*` variables.

#![allow(dead_code)]

use std::time::Duration;

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
