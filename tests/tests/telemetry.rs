//! Traces and logs. An OTLP/HTTP receiver run by the test collects what a real Envoy and
//! an origin process export: Envoy's span and the origin's spans share one trace, and the
//! origin's request span is a child of Envoy's. The origin writes one JSON line per
//! request, and an error once more, where it became a status.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message;
use serde_json::Value;

use common::services::{free_port, jpeg, put_original, scratch, service};

/// One span as the receiver got it; ids in lowercase hex.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
}

#[derive(Default)]
struct Collected {
    spans: Vec<Received>,
    /// Export requests the receiver could not accept, with why.
    refused: Vec<String>,
    chunked: usize,
}

/// A minimal OTLP/HTTP trace receiver: HTTP/1.1 with keep-alive, bodies sized by
/// `Content-Length` or chunked, `application/x-protobuf` `ExportTraceServiceRequest`s.
struct Receiver {
    port: u16,
    collected: Arc<Mutex<Collected>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let collected = Arc::new(Mutex::new(Collected::default()));
        let sink = collected.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve_connection(conn, &sink));
            }
        });
        Receiver { port, collected }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        self.collected.lock().unwrap()
    }

    /// Waits until `done` holds for the spans received so far.
    fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let spans = self.lock().spans.clone();
            if done(&spans) {
                return spans;
            }
            assert!(start.elapsed() < within, "no {what} after {within:?}; received: {spans:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serve_connection(conn: TcpStream, sink: &Mutex<Collected>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    while let Some((target, headers)) = read_head(&mut reader) {
        let header = |name: &str| headers.get(name).map(String::as_str);
        let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            read_chunked(&mut reader)
        } else {
            let len = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).map(|()| body).ok()
        };
        let Some(body) = body else { return };
        let status = {
            let mut c = sink.lock().unwrap();
            c.chunked += usize::from(chunked);
            match accept(&target, header("content-type"), &body) {
                Ok(spans) => {
                    c.spans.extend(spans);
                    "200 OK"
                }
                Err(why) => {
                    c.refused.push(why);
                    "400 Bad Request"
                }
            }
        };
        let reply = format!("HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// The request line's target and the headers (names lowercased); `None` at the end of
/// the connection.
fn read_head(r: &mut impl BufRead) -> Option<(String, HashMap<String, String>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let target = line.split(' ').nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            return Some((target, headers));
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
}

fn read_chunked(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                line.clear();
                r.read_line(&mut line).ok()?;
                if line.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf).ok()?;
    }
}

fn accept(target: &str, content_type: Option<&str>, body: &[u8]) -> Result<Vec<Received>, String> {
    if target != "/v1/traces" {
        return Err(format!("POST to {target}"));
    }
    if content_type != Some("application/x-protobuf") {
        return Err(format!("content-type {content_type:?}"));
    }
    let req = ExportTraceServiceRequest::decode(body).map_err(|e| format!("not an ExportTraceServiceRequest: {e}"))?;
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            out.push(Received {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent: hex(&span.parent_span_id),
            });
        }
    }
    Ok(out)
}

/// An origin process of this test's own (stdout, its JSON log, kept apart from stderr),
/// stopped with SIGTERM so that it shuts down as in production.
struct OriginProc {
    child: Child,
    port: u16,
    log: PathBuf,
    /// Requests answered while waiting for it to start (each one logs a line).
    probes: usize,
}

impl OriginProc {
    fn start(dir: &Path, settings: &[(&str, String)]) -> OriginProc {
        let port = free_port();
        let log = dir.join("origin.log");
        let mut cmd = Command::new(service("PIXGATE_E2E_ORIGIN_BIN"));
        // Every PIXGATE_* variable is a setting: not this run's PIXGATE_E2E_* addresses.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PIXGATE_")) {
            cmd.env_remove(k);
        }
        cmd.env("PIXGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PIXGATE_STORE__ROOT", dir.join("data"))
            .env("PIXGATE_UPLOAD_TOKENS", common::services::TOKEN);
        for (k, v) in settings {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("origin.err")).unwrap())
            .spawn()
            .unwrap();
        let mut o = OriginProc { child, port, log, probes: 0 };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let start = Instant::now();
        loop {
            if let Some(status) = o.child.try_wait().unwrap() {
                panic!("origin exited ({status}): {}", std::fs::read_to_string(dir.join("origin.err")).unwrap());
            }
            if let Ok(r) = agent.get(&o.url("/healthz")).call() {
                o.probes += 1;
                if r.status() == 200 {
                    return o;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "origin not healthy after 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then waits for the exit: a graceful shutdown, spans flushed.
    fn terminate(&mut self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "origin still running 20 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every line of the log, each of which must be one JSON object.
    fn log_lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"));
                assert!(v.is_object(), "log line is not an object: {l}");
                assert!(v["timestamp"].is_string() && v["level"].is_string(), "no timestamp or level: {l}");
                v
            })
            .collect()
    }
}

impl Drop for OriginProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The origin's access lines (`"message": "request"`), checked for their shape.
fn access_lines(lines: &[Value]) -> Vec<&Value> {
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    for l in &access {
        assert_eq!(l["level"], "INFO", "{l}");
        for field in ["request_id", "trace_id", "method", "route", "cache"] {
            assert!(l[field].as_str().is_some_and(|s| !s.is_empty()), "no {field} in {l}");
        }
        let trace_id = l["trace_id"].as_str().unwrap();
        assert!(trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()), "{l}");
        assert!(l["status"].is_u64() && l["duration_ms"].is_number(), "{l}");
    }
    access
}

fn lines_of<'a>(lines: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["request_id"] == request_id).collect()
}

#[test]
fn origin_spans_join_envoys_trace_and_each_request_logs_one_json_line() {
    let receiver = Receiver::start();
    let dir = scratch("telemetry");
    let mut origin = OriginProc::start(
        &dir,
        &[
            ("PIXGATE_TELEMETRY__OTLP_ENDPOINT", receiver.endpoint()),
            ("PIXGATE_CACHE__REDIS__URL", service("PIXGATE_E2E_REDIS")),
            // Its own keys in the shared Redis: the request below must miss every tier.
            ("PIXGATE_CACHE__REDIS__KEY_PREFIX", format!("telemetry-{}:", std::process::id())),
        ],
    );
    assert_eq!(put_original(&origin.url("/originals/t.jpg"), &jpeg(300, 200)), 201);
    let shared_origin_port = common::origin().rsplit(':').next().unwrap().to_owned();
    let envoy = common::OwnEnvoy::start("telemetry", |yaml| {
        yaml.replace(&format!("port_value: {shared_origin_port}"), &format!("port_value: {}", origin.port))
            .replace("127.0.0.1:4318", &format!("127.0.0.1:{}", receiver.port))
            .replace("port_value: 4318", &format!("port_value: {}", receiver.port))
    })
    .unwrap();

    let r = common::get(&format!("{}/img/t.jpg?w=64", envoy.base), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-pixgate-cache"), Some("miss"));
    let request_id = r.header("x-request-id").expect("the origin returns the request id").to_owned();
    let refused = common::get(&origin.url("/img/t.jpg?w=abc"), &[("x-request-id", "log-shape-400")]);
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("x-request-id"), Some("log-shape-400"));
    origin.terminate();

    // The origin flushed its spans on shutdown; Envoy exports on its own timer.
    let spans = receiver.wait_for("trace joining Envoy and the origin", Duration::from_secs(30), |spans| {
        spans.iter().any(|s| s.service == "pixgate-origin" && s.name == "GET img" && s.parent.chars().any(|c| c != '0'))
            && spans.iter().any(|s| s.service == "pixgate-edge")
    });
    let request = spans
        .iter()
        .find(|s| s.service == "pixgate-origin" && s.name == "GET img")
        .unwrap_or_else(|| panic!("no origin request span: {spans:#?}"));
    let edge = spans
        .iter()
        .find(|s| s.service == "pixgate-edge" && s.trace_id == request.trace_id)
        .unwrap_or_else(|| panic!("no Envoy span in trace {}: {spans:#?}", request.trace_id));
    assert_eq!(request.parent, edge.span_id, "the origin's request span is a child of Envoy's span");
    let in_trace: Vec<&Received> =
        spans.iter().filter(|s| s.service == "pixgate-origin" && s.trace_id == request.trace_id).collect();
    let names: BTreeSet<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    for stage in
        ["cache.memory", "cache.redis", "cache.store", "store.fetch", "transform", "decode", "resize", "encode"]
    {
        assert!(names.contains(stage), "no {stage} span in the miss's trace: {names:?}");
    }
    // Each origin span hangs from the request span, the pipeline's (run on the blocking
    // pool) through the transform span.
    let by_id: HashMap<&str, &Received> = in_trace.iter().map(|s| (s.span_id.as_str(), *s)).collect();
    let span = |name: &str| in_trace.iter().find(|s| s.name == name).unwrap();
    for s in &in_trace {
        let mut cur = *s;
        while cur.span_id != request.span_id {
            cur = by_id.get(cur.parent.as_str()).unwrap_or_else(|| panic!("{} is not under the request span", s.name));
        }
    }
    for stage in ["decode", "resize", "encode"] {
        assert_eq!(span(stage).parent, span("transform").span_id, "{stage} runs under the transform span");
    }
    assert!(receiver.lock().refused.is_empty(), "refused exports: {:?}", receiver.lock().refused);

    let lines = origin.log_lines();
    let access = access_lines(&lines);
    let ids: Vec<&str> = access.iter().map(|l| l["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "one access line per request: {ids:?}");
    assert_eq!(access.len(), origin.probes + 3, "health probes, the upload, the image, the refused image: {ids:?}");
    let image = lines_of(&lines, &request_id);
    assert_eq!(image.len(), 1, "{image:?}");
    let image = image[0];
    assert_eq!(image["trace_id"], request.trace_id.as_str(), "the access line names the trace");
    assert_eq!((&image["method"], &image["route"], &image["status"]), (&"GET".into(), &"img".into(), &200.into()));
    assert_eq!(image["cache"], "miss");
    let bad = lines_of(&lines, "log-shape-400");
    assert_eq!(bad.len(), 1, "a client error shows in its access line only: {bad:?}");
    assert_eq!(bad[0]["status"], 400);
}

#[test]
fn a_server_error_is_logged_once_beside_its_access_line() {
    let dir = scratch("telemetry-error");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut settings: Vec<(&str, String)> =
        vec![("PIXGATE_STORE__S3__MAX_ATTEMPTS", "1".into()), ("PIXGATE_STORE__S3__CONNECT_TIMEOUT_MS", "200".into())];
    let s3 = common::services::s3_settings(&closed, "absent");
    settings.extend(s3.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let mut origin = OriginProc::start(&dir, &settings);
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r =
        common::get(&origin.url("/img/a.jpg?w=10"), &[("x-request-id", "store-down"), ("traceparent", traceparent)]);
    assert!(matches!(r.status, 502..=504), "{} {}", r.status, r.text());
    origin.terminate();

    let lines = origin.log_lines();
    access_lines(&lines);
    let mine = lines_of(&lines, "store-down");
    assert_eq!(mine.len(), 2, "an access line and one error line: {mine:?}");
    let access = mine.iter().find(|l| l["message"] == "request").expect("access line");
    let error = mine.iter().find(|l| l["level"] == "ERROR").expect("error line");
    assert_eq!(access["status"], r.status);
    assert_eq!(error["status"], r.status);
    assert!(error["code"].as_str().is_some_and(|c| c.starts_with("store_")), "{error}");
    for l in [access, error] {
        assert_eq!(l["trace_id"], "0af7651916cd43dd8448eb211c80319c", "from traceparent, with export off: {l}");
    }
}

#[test]
fn receiver_decodes_chunked_exports() {
    let receiver = Receiver::start();
    let span = opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "chunked".into(),
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = req.encode_to_vec();
    let (a, b) = body.split_at(body.len() / 2);
    let mut s = TcpStream::connect(("127.0.0.1", receiver.port)).unwrap();
    let head = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).unwrap();
    for chunk in [a, b] {
        s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).unwrap();
        s.write_all(chunk).unwrap();
        s.write_all(b"\r\n").unwrap();
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let mut reply = [0; 12];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"HTTP/1.1 200");
    let spans = receiver.wait_for("the chunked span", Duration::from_secs(5), |s| !s.is_empty());
    assert_eq!((spans[0].name.as_str(), spans[0].trace_id.as_str()), ("chunked", "01".repeat(16).as_str()));
    assert_eq!(receiver.lock().chunked, 1);
}
