//! Fault drills, run while the load goes on: the origin killed (SIGKILL) in the middle
//! of uploads, Redis killed, the S3 server stopped, Envoy restarted. Each records when
//! the fault came, when the service was back and when requests succeeded again; the
//! origin drill also lists the store and checks every object against what was sent.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use super::client::{self, Req};
use super::driver::{Clock, Tally, Verdict, FAILURE_BACKOFF, REQUEST_TIMEOUT};
use super::mix::{self, Kind, Mix, Planned};
use super::services::{self, Stack, BUCKET};
use crate::proc;
use crate::Result;

/// How long Redis and the S3 server stay down.
pub const OUTAGE: Duration = Duration::from_secs(3);
/// A drill that has not recovered by then has failed.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(90);
const UPLOAD_THREADS: usize = 6;
/// Uploads are sent at about 8 MB/s (64 KiB every 8 ms) so that several are in flight
/// at any moment, at every stage: body, validation, store write.
const UPLOAD_CHUNK: usize = 64 << 10;
const UPLOAD_PAUSE: Duration = Duration::from_millis(8);

#[derive(Debug, Clone)]
pub struct Drill {
    pub name: &'static str,
    pub fault: &'static str,
    pub fault_ms: u64,
    pub restored_ms: Option<u64>,
    pub recovered_ms: Option<u64>,
    /// Named checks beyond recovery (the store listing).
    pub checks: Vec<(String, bool)>,
    pub details: Value,
}

impl Drill {
    fn new(name: &'static str, fault: &'static str, clock: &Clock) -> Drill {
        Drill {
            name,
            fault,
            fault_ms: clock.ms(),
            restored_ms: None,
            recovered_ms: None,
            checks: vec![],
            details: json!({}),
        }
    }

    pub fn recovery_s(&self) -> Option<f64> {
        self.recovered_ms.map(|r| (r - self.fault_ms) as f64 / 1000.0)
    }

    pub fn passed(&self) -> bool {
        self.recovered_ms.is_some() && self.checks.iter().all(|(_, ok)| *ok)
    }

    /// Until when failures are charged to this drill: its recovery, or for ever.
    pub fn window_end_ms(&self) -> u64 {
        self.recovered_ms.unwrap_or(u64::MAX)
    }
}

/// Polls `probe` every 100 ms until it holds: the time it first did.
fn wait_until(clock: &Clock, mut probe: impl FnMut() -> bool) -> Option<u64> {
    let deadline = std::time::Instant::now() + RECOVERY_LIMIT;
    while std::time::Instant::now() < deadline {
        if probe() {
            return Some(clock.ms());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn status_of(base: &str, req: &Req) -> Option<u16> {
    // A fresh connection per probe: a pooled one may be to a process that is gone.
    client::send(&client::agent(Duration::from_secs(10)), base, req, None).ok().map(|r| r.status)
}

/// A variant nobody asked for yet: it needs the store, the pipeline and the whole path.
fn fresh_miss(stack: &Stack, mix: &Mix, key: &str) -> bool {
    let n = mix.next_id();
    let path = format!("/img/{key}?w={}&h=16&fit=fill&q={}", 16 + n % 2000, 1 + (n / 2000) % 100);
    status_of(&stack.envoy_url(), &Req::get(path)) == Some(200)
}

fn origin_ready(stack: &Stack) -> bool {
    proc::http_status(stack.ports.origin, "/readyz") == Some(200)
}

/// (a) SIGKILL of the origin while uploads are in flight, then a restart; the store is
/// listed and every object compared with what was sent.
pub fn origin_kill(stack: &mut Stack, mix: &Arc<Mix>, bodies: &[Arc<[u8]>], clock: &Clock) -> Result<(Drill, Tally)> {
    let storm = Storm::start(stack.origin_url(), bodies, mix.clone(), *clock);
    // Kill when uploads are really in flight, after some have gone through.
    let waited = std::time::Instant::now();
    while !(storm.in_flight.load(Ordering::Relaxed) >= 3 && storm.done.load(Ordering::Relaxed) >= 3)
        && waited.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let in_flight = storm.in_flight.load(Ordering::Relaxed);
    let mut d = Drill::new("origin-kill", "SIGKILL of the origin during concurrent uploads, then a restart", clock);
    stack.kill_origin();
    stack.start_origin()?;
    d.restored_ms = Some(clock.ms());
    let probe_key = mix.miss_keys[0].clone();
    d.recovered_ms = wait_until(clock, || fresh_miss(stack, mix, &probe_key) && origin_ready(stack));
    // Uploads go on for a moment after recovery: they must succeed again too.
    std::thread::sleep(Duration::from_secs(2));
    let (tally, sent) = storm.finish();
    let store = verify_store(&stack.s3_root, &sent);
    let acked: Vec<&Sent> = sent.iter().filter(|s| matches!(s.status, Some(200 | 201))).collect();
    // Acknowledged uploads are served.
    let served = acked
        .iter()
        .rev()
        .take(5)
        .filter(|s| status_of(&stack.envoy_url(), &Req::get(format!("/img/{}?w=32", s.key))) == Some(200))
        .count();
    d.checks = vec![
        ("uploads were in flight at the kill".into(), in_flight > 0),
        ("no partial object in the store".into(), store.partial.is_empty()),
        ("no object the uploads did not send".into(), store.unknown.is_empty()),
        ("every acknowledged upload is stored complete".into(), store.missing_acked.is_empty()),
        ("no temporary file left in the store".into(), store.temp_files.is_empty()),
        ("acknowledged uploads are served".into(), served == acked.len().min(5)),
    ];
    d.details = json!({
        "uploads_in_flight_at_kill": in_flight,
        "uploads_sent": sent.len(),
        "uploads_acknowledged": acked.len(),
        "uploads_failed": sent.iter().filter(|s| !matches!(s.status, Some(200 | 201))).count(),
        "store_root": stack.s3_root.display().to_string(),
        "objects_listed": store.listed,
        "objects_complete": store.complete,
        "partial_objects": store.partial,
        "unknown_objects": store.unknown,
        "acknowledged_but_missing": store.missing_acked,
        "temp_files": store.temp_files,
    });
    Ok((d, tally))
}

/// (b) Redis killed, down for [`OUTAGE`], restarted empty: recovered when the origin is
/// ready and writes to Redis again.
pub fn redis_kill(stack: &mut Stack, clock: &Clock) -> Result<Drill> {
    let mut d = Drill::new("redis-kill", "SIGKILL of Redis, restarted (empty) after 3 s", clock);
    stack.kill_redis();
    std::thread::sleep(OUTAGE);
    stack.start_redis()?;
    d.restored_ms = Some(clock.ms());
    let port = stack.redis_port();
    d.recovered_ms = wait_until(clock, || origin_ready(stack) && services::redis_dbsize(port).unwrap_or(0) > 0);
    d.details = json!({ "redis_keys_after_recovery": services::redis_dbsize(port) });
    Ok(d)
}

/// (c) The S3 server stopped, down for [`OUTAGE`], restarted: recovered when a variant
/// that needs the store is served again.
pub fn s3_stop(stack: &mut Stack, mix: &Mix, clock: &Clock) -> Result<Drill> {
    let mut d = Drill::new("s3-stop", "S3 server stopped (SIGTERM), restarted after 3 s", clock);
    stack.stop_s3();
    std::thread::sleep(OUTAGE);
    stack.start_s3()?;
    d.restored_ms = Some(clock.ms());
    let key = mix.miss_keys[0].clone();
    d.recovered_ms = wait_until(clock, || fresh_miss(stack, mix, &key) && origin_ready(stack));
    Ok(d)
}

/// (d) Envoy stopped and started again on the same ports.
pub fn envoy_restart(stack: &mut Stack, mix: &Mix, clock: &Clock) -> Result<Drill> {
    let mut d = Drill::new("envoy-restart", "Envoy stopped (SIGTERM) and started again", clock);
    stack.stop_envoy();
    stack.start_envoy()?;
    d.restored_ms = Some(clock.ms());
    let hit = mix.hits[0].req.clone();
    d.recovered_ms = wait_until(clock, || status_of(&stack.envoy_url(), &hit) == Some(200));
    Ok(d)
}

/// One upload of the drill: what was sent, and the answer (`None`: no answer).
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: String,
    pub sha256: String,
    pub status: Option<u16>,
}

/// Threads uploading large originals slowly, each to a key of its own.
struct Storm {
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicU32>,
    done: Arc<AtomicU32>,
    sent: Arc<Mutex<Vec<Sent>>>,
    threads: Vec<JoinHandle<Tally>>,
}

impl Storm {
    fn start(base: String, bodies: &[Arc<[u8]>], mix: Arc<Mix>, clock: Clock) -> Storm {
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicU32::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let bodies: Arc<Vec<Body>> = Arc::new(
            bodies
                .iter()
                .map(|b| Body {
                    bytes: b.clone(),
                    sha256_hex: client::sha256_hex(b),
                    sha256_b64: client::sha256_base64(b),
                })
                .collect(),
        );
        let threads = (0..UPLOAD_THREADS)
            .map(|_| {
                let (stop, in_flight, done, sent) = (stop.clone(), in_flight.clone(), done.clone(), sent.clone());
                let (base, bodies, mix) = (base.clone(), bodies.clone(), mix.clone());
                std::thread::spawn(move || {
                    let agent = client::agent(REQUEST_TIMEOUT);
                    let mut tally = Tally::default();
                    while !stop.load(Ordering::Relaxed) {
                        let n = mix.next_id();
                        let Body { bytes: body, sha256_hex: hex, sha256_b64: b64 } =
                            &bodies[(n % bodies.len() as u64) as usize];
                        let key = format!("soak/drill/{n}.img");
                        let req =
                            mix::upload(&key, body.clone(), &mix.token).header("x-amz-checksum-sha256", b64.clone());
                        let index = {
                            let mut v = sent.lock().unwrap_or_else(|e| e.into_inner());
                            v.push(Sent { key, sha256: hex.clone(), status: None });
                            v.len() - 1
                        };
                        let mut reader = Throttled { data: body.clone(), pos: 0 };
                        in_flight.fetch_add(1, Ordering::Relaxed);
                        let start = clock.ms();
                        let result = client::send(&agent, &base, &Req { body: None, ..req.clone() }, Some(&mut reader));
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        if let Ok(r) = &result {
                            done.fetch_add(1, Ordering::Relaxed);
                            sent.lock().unwrap_or_else(|e| e.into_inner())[index].status = Some(r.status);
                        }
                        let planned =
                            Planned { kind: Kind::DrillUpload, req, expect: Kind::DrillUpload.allowed().to_vec() };
                        if tally.record(&planned, start, clock.ms(), &result) == Verdict::Failed {
                            std::thread::sleep(FAILURE_BACKOFF);
                        }
                    }
                    tally
                })
            })
            .collect();
        Storm { stop, in_flight, done, sent, threads }
    }

    fn finish(self) -> (Tally, Vec<Sent>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for t in self.threads {
            if let Ok(tally) = t.join() {
                total.merge(tally);
            }
        }
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (total, sent)
    }
}

/// An upload body with its digests, computed once.
struct Body {
    bytes: Arc<[u8]>,
    sha256_hex: String,
    sha256_b64: String,
}

/// A body that trickles out, as from a client on a slow link.
struct Throttled {
    data: Arc<[u8]>,
    pos: usize,
}

impl Read for Throttled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(UPLOAD_CHUNK).min(self.data.len() - self.pos);
        if n == 0 {
            return Ok(0);
        }
        std::thread::sleep(UPLOAD_PAUSE);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Debug, Default)]
pub struct StoreCheck {
    pub listed: usize,
    pub complete: usize,
    pub partial: Vec<String>,
    pub unknown: Vec<String>,
    pub missing_acked: Vec<String>,
    pub temp_files: Vec<String>,
}

/// Lists the drill's objects in the S3 server's filesystem and compares each with the
/// body sent under its key. Temp files are looked for twice, a second apart: an upload
/// of the ongoing load may own one for a moment, a leftover stays.
pub fn verify_store(s3_root: &Path, sent: &[Sent]) -> StoreCheck {
    let bucket = s3_root.join(BUCKET);
    let dir = bucket.join("originals/soak/drill");
    let by_key: HashMap<&str, &Sent> = sent.iter().map(|s| (s.key.as_str(), s)).collect();
    let mut c = StoreCheck::default();
    for file in files_under(&dir) {
        let Ok(rel) = file.strip_prefix(bucket.join("originals")) else { continue };
        let key = rel.to_string_lossy().into_owned();
        c.listed += 1;
        let Some(s) = by_key.get(key.as_str()) else {
            c.unknown.push(key);
            continue;
        };
        let bytes = std::fs::read(&file).unwrap_or_default();
        if client::sha256_hex(&bytes) == s.sha256 {
            c.complete += 1;
        } else {
            c.partial.push(format!("{key} ({} bytes)", bytes.len()));
        }
    }
    for s in sent.iter().filter(|s| matches!(s.status, Some(200 | 201))) {
        if !bucket.join("originals").join(&s.key).is_file() {
            c.missing_acked.push(s.key.clone());
        }
    }
    let temps = || -> Vec<String> {
        files_under(s3_root)
            .into_iter()
            .filter(|p| is_temp(p))
            .map(|p| p.strip_prefix(s3_root).unwrap_or(&p).display().to_string())
            .collect()
    };
    let first = temps();
    if !first.is_empty() {
        std::thread::sleep(Duration::from_secs(1));
        c.temp_files = temps().into_iter().filter(|t| first.contains(t)).collect();
    }
    c
}

/// s3s-fs writes `.tmp.N.internal.part` beside its root; the origin's local store
/// writes `.%25tmp.*` beside the target.
fn is_temp(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.starts_with(".tmp.") || name.ends_with(".part") || name.starts_with(".%25tmp.")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-soak-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join(BUCKET).join("originals/soak/drill")).unwrap();
        d
    }

    #[test]
    fn the_store_listing_finds_partial_unknown_missing_and_temp_objects() {
        let root = scratch("verify");
        let drill = root.join(BUCKET).join("originals/soak/drill");
        let sent = |key: &str, body: &[u8], status| Sent { key: key.into(), sha256: client::sha256_hex(body), status };
        std::fs::write(drill.join("1.img"), b"complete").unwrap();
        std::fs::write(drill.join("2.img"), b"compl").unwrap();
        std::fs::write(drill.join("9.img"), b"stray").unwrap();
        std::fs::write(root.join(".tmp.7.internal.part"), b"x").unwrap();
        let c = verify_store(
            &root,
            &[
                sent("soak/drill/1.img", b"complete", Some(201)),
                sent("soak/drill/2.img", b"complete", None),
                sent("soak/drill/3.img", b"complete", Some(201)),
                sent("soak/drill/4.img", b"complete", None),
            ],
        );
        assert_eq!((c.listed, c.complete), (3, 1));
        assert_eq!(c.partial, ["soak/drill/2.img (5 bytes)"]);
        assert_eq!(c.unknown, ["soak/drill/9.img"]);
        assert_eq!(c.missing_acked, ["soak/drill/3.img"]);
        assert_eq!(c.temp_files, [".tmp.7.internal.part"]);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_throttled_body_is_read_whole() {
        let data: Arc<[u8]> = Arc::from(vec![7u8; 200_000]);
        let mut r = Throttled { data: data.clone(), pos: 0 };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out[..], data[..]);
    }
}
