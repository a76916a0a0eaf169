//! The load: closed-loop threads, one keep-alive connection each, sending requests of
//! the mix as fast as they are answered, and classifying every answer against what its
//! kind expects. Failures keep their start and end times, so that the report can charge
//! those that overlap a fault drill to the drill.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::{self, Reply};
use super::mix::{Kind, Mix, Planned, Rng};

/// Every request is bounded by this, above Envoy's 30 s route timeout: a request that
/// reaches it was hanging.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
pub const FAILURE_BACKOFF: Duration = Duration::from_millis(20);

/// Milliseconds since the load started.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    pub fn ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

#[derive(Debug, Default, Clone)]
pub struct KindStats {
    pub requests: u64,
    /// Answered with a status the kind expects.
    pub ok: u64,
    /// Explicit load shedding: 503 `overloaded` with `Retry-After`.
    pub shed: u64,
    pub failed: u64,
    /// Status (or transport failure class) → count.
    pub outcomes: BTreeMap<String, u64>,
    pub latencies_us: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub start_ms: u64,
    pub end_ms: u64,
    pub kind: Kind,
    pub class: String,
    pub path: String,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub kinds: BTreeMap<Kind, KindStats>,
    pub failures: Vec<Failure>,
    /// Requests completed in each second of the run.
    pub per_second: Vec<u32>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        for (k, s) in other.kinds {
            let mine = self.kinds.entry(k).or_default();
            mine.requests += s.requests;
            mine.ok += s.ok;
            mine.shed += s.shed;
            mine.failed += s.failed;
            for (o, n) in s.outcomes {
                *mine.outcomes.entry(o).or_default() += n;
            }
            mine.latencies_us.extend(s.latencies_us);
        }
        self.failures.extend(other.failures);
        if self.per_second.len() < other.per_second.len() {
            self.per_second.resize(other.per_second.len(), 0);
        }
        for (i, n) in other.per_second.into_iter().enumerate() {
            self.per_second[i] += n;
        }
    }

    /// Classifies one answer and records it.
    pub fn record(&mut self, p: &Planned, start_ms: u64, end_ms: u64, result: &Result<Reply, String>) -> Verdict {
        let s = self.kinds.entry(p.kind).or_default();
        s.requests += 1;
        s.latencies_us.push(((end_ms - start_ms) * 1000).min(u64::from(u32::MAX)) as u32);
        let (outcome, verdict) = judge(p, result);
        *s.outcomes.entry(outcome.clone()).or_default() += 1;
        match &verdict {
            Verdict::Ok => s.ok += 1,
            Verdict::Shed => s.shed += 1,
            Verdict::Failed => {
                s.failed += 1;
                self.failures.push(Failure {
                    start_ms,
                    end_ms,
                    kind: p.kind,
                    class: outcome,
                    path: p.req.path.clone(),
                });
            }
        }
        let sec = (end_ms / 1000) as usize;
        if self.per_second.len() <= sec {
            self.per_second.resize(sec + 1, 0);
        }
        self.per_second[sec] += 1;
        verdict
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Shed,
    Failed,
}

/// `(outcome, verdict)`: the outcome is `"200"`, `"503 overloaded"`, `"connect_refused"`…
pub fn judge(p: &Planned, result: &Result<Reply, String>) -> (String, Verdict) {
    match result {
        Err(class) => (class.clone(), Verdict::Failed),
        Ok(r) => {
            let outcome = match &r.code {
                Some(code) => format!("{} {code}", r.status),
                None => r.status.to_string(),
            };
            let verdict = if p.expect.contains(&r.status) {
                Verdict::Ok
            } else if r.status == 503 && r.code.as_deref() == Some("overloaded") {
                Verdict::Shed
            } else {
                Verdict::Failed
            };
            (outcome, verdict)
        }
    }
}

/// Where requests go: image requests through Envoy, uploads to the origin.
#[derive(Debug, Clone)]
pub struct Bases {
    pub envoy: String,
    pub origin: String,
}

impl Bases {
    pub fn of(&self, kind: Kind) -> &str {
        if kind.direct() {
            &self.origin
        } else {
            &self.envoy
        }
    }
}

pub struct Driver {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

impl Driver {
    /// `connections` threads sending the mix until [`Driver::finish`]: to Envoy, and
    /// uploads to the origin.
    pub fn start(mix: Arc<Mix>, bases: Bases, connections: usize, clock: Clock) -> Driver {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..connections)
            .map(|i| {
                let (mix, bases, stop) = (mix.clone(), bases.clone(), stop.clone());
                std::thread::spawn(move || {
                    // One connection to each: the keep-alive pattern of a real client.
                    let (edge, origin) = (client::agent(REQUEST_TIMEOUT), client::agent(REQUEST_TIMEOUT));
                    let mut rng = Rng::new(i as u64 + 1);
                    let mut tally = Tally::default();
                    while !stop.load(Ordering::Relaxed) {
                        let p = mix.pick(&mut rng);
                        let start = clock.ms();
                        let result = if p.kind.direct() {
                            client::send(&origin, &bases.origin, &p.req, None)
                        } else {
                            client::send(&edge, &bases.envoy, &p.req, None)
                        };
                        if tally.record(&p, start, clock.ms(), &result) == Verdict::Failed {
                            // A client backs off a little instead of spinning on failures.
                            std::thread::sleep(FAILURE_BACKOFF);
                        }
                    }
                    tally
                })
            })
            .collect();
        Driver { stop, threads }
    }

    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for t in self.threads {
            if let Ok(tally) = t.join() {
                total.merge(tally);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::client::Req;

    fn planned(expect: &[u16]) -> Planned {
        Planned { kind: Kind::Hit, req: Req::get("/x"), expect: expect.to_vec() }
    }

    fn reply(status: u16, code: Option<&str>) -> Result<Reply, String> {
        Ok(Reply { status, code: code.map(str::to_owned), etag: None })
    }

    #[test]
    fn only_explicit_shedding_is_forgiven() {
        let p = planned(&[200]);
        assert_eq!(judge(&p, &reply(200, None)).1, Verdict::Ok);
        assert_eq!(judge(&p, &reply(503, Some("overloaded"))).1, Verdict::Shed);
        // Envoy's own 503 (no upstream) and a store outage are failures.
        assert_eq!(judge(&p, &reply(503, None)), ("503".into(), Verdict::Failed));
        assert_eq!(judge(&p, &reply(503, Some("store_unavailable"))).1, Verdict::Failed);
        assert_eq!(judge(&p, &Err("timeout".into())), ("timeout".into(), Verdict::Failed));
    }

    #[test]
    fn failures_keep_their_time_span_and_tallies_merge() {
        let p = planned(&[200]);
        let mut a = Tally::default();
        a.record(&p, 100, 1500, &reply(502, Some("store_unavailable")));
        let mut b = Tally::default();
        b.record(&p, 10, 20, &reply(200, None));
        a.merge(b);
        let s = &a.kinds[&Kind::Hit];
        assert_eq!((s.requests, s.ok, s.failed), (2, 1, 1));
        assert_eq!((a.failures[0].start_ms, a.failures[0].end_ms), (100, 1500));
        assert_eq!(a.per_second, vec![1, 1]);
    }
}
