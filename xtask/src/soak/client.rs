//! One HTTP exchange of the soak, reduced to what classification needs: the status,
//! the error code of a JSON error body, or the class of a transport failure.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::HeaderValue;

/// Longest response the driver reads; variants and errors are far smaller.
const BODY_LIMIT: u64 = 64 << 20;

/// What a request should get. `body` is sent with PUT; `headers` may hold bytes that
/// are not UTF-8 (hostile User-Agents).
#[derive(Debug, Clone)]
pub struct Req {
    pub put: bool,
    pub path: String,
    pub headers: Vec<(&'static str, Vec<u8>)>,
    pub body: Option<Arc<[u8]>>,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req { put: false, path: path.into(), headers: Vec::new(), body: None }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `error.code` of a JSON error body, when there is one.
    pub code: Option<String>,
    pub etag: Option<String>,
}

/// An HTTP client with one keep-alive connection, bounded in time as a whole.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .max_idle_connections(1)
        .build()
        .into()
}

/// Sends `req` to `base`; `Err` is the class of a transport failure.
pub fn send(agent: &ureq::Agent, base: &str, req: &Req, body: Option<&mut dyn Read>) -> Result<Reply, String> {
    let url = format!("{base}{}", req.path);
    let result = if req.put {
        let mut b = agent.put(&url);
        for (k, v) in &req.headers {
            b = b.header(*k, HeaderValue::from_bytes(v).map_err(|_| "bad_header".to_owned())?);
        }
        match (body, &req.body) {
            (Some(reader), _) => b.send(ureq::SendBody::from_reader(reader)),
            (None, Some(bytes)) => b.send(&bytes[..]),
            (None, None) => b.send_empty(),
        }
    } else {
        let mut b = agent.get(&url);
        for (k, v) in &req.headers {
            b = b.header(*k, HeaderValue::from_bytes(v).map_err(|_| "bad_header".to_owned())?);
        }
        b.call()
    };
    let mut resp = result.map_err(|e| classify(&e))?;
    let status = resp.status().as_u16();
    let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let json = resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = resp.body_mut().with_config().limit(BODY_LIMIT).read_to_vec().map_err(|e| classify(&e))?;
    let code = if json { error_code(&bytes) } else { None };
    Ok(Reply { status, code, etag })
}

fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.get("code")?.as_str().map(str::to_owned)
}

/// A short, stable name for a transport failure (these are error classes in the report).
pub fn classify(e: &ureq::Error) -> String {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) => "timeout".into(),
        ureq::Error::ConnectionFailed => "connect_failed".into(),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => "connect_refused".into(),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => "connection_reset".into(),
            K::TimedOut | K::WouldBlock => "timeout".into(),
            other => format!("io_{other:?}").to_ascii_lowercase(),
        },
        ureq::Error::Protocol(_) => "protocol".into(),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => "bad_request_line".into(),
        ureq::Error::BodyExceedsLimit(_) => "body_too_long".into(),
        _ => "transport".into(),
    }
}

/// Lowercase hex SHA-256, for comparing stored objects with what was sent.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (`x-amz-checksum-sha256`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn sha256_base64(bytes: &[u8]) -> String {
    use sha2::Digest;
    base64(&sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn error_code_is_read_from_the_json_error_object() {
        assert_eq!(error_code(br#"{"error":{"code":"overloaded","message":"x"}}"#).as_deref(), Some("overloaded"));
        assert_eq!(error_code(b"upstream connect error"), None);
    }
}
