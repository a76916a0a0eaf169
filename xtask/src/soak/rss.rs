//! Resident memory of the origin and Envoy over the run, from `/proc/PID/status`, and
//! the growth rule: RSS must be flat after the warm-up.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::driver::Clock;

pub const PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub t_s: f64,
    pub origin_pid: u32,
    pub origin_kb: Option<u64>,
    pub envoy_pid: u32,
    pub envoy_kb: Option<u64>,
}

impl Sample {
    pub fn origin(&self) -> (u32, Option<u64>) {
        (self.origin_pid, self.origin_kb)
    }

    pub fn envoy(&self) -> (u32, Option<u64>) {
        (self.envoy_pid, self.envoy_kb)
    }
}

/// `VmRSS` of `pid` in KiB; `None` when the process is gone.
pub fn vm_rss_kb(pid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub fn start(clock: Clock, origin: Arc<AtomicU32>, envoy: Arc<AtomicU32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let (o, e) = (origin.load(Ordering::Relaxed), envoy.load(Ordering::Relaxed));
                out.push(Sample {
                    t_s: clock.ms() as f64 / 1000.0,
                    origin_pid: o,
                    origin_kb: vm_rss_kb(o),
                    envoy_pid: e,
                    envoy_kb: vm_rss_kb(e),
                });
                std::thread::sleep(PERIOD);
            }
            out
        });
        Sampler { stop, thread }
    }

    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The growth rule, over the second half of a run of `duration_s`: the median RSS of
/// the last tenth of the run against the median of the tenth that starts at half time,
/// both of the process alive at the end (`of` picks the process: PID and RSS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    pub start_mb: f64,
    pub end_mb: f64,
    pub max_mb: f64,
    pub percent: f64,
}

pub const RULE: &str = "origin RSS growth = (median VmRSS over the last 10 % of the run − median VmRSS over the 10 % \
     starting at half time) ÷ the latter, for the origin process alive at the end, sampled every second; pass < 10 %";

pub fn growth(samples: &[Sample], duration_s: f64, of: impl Fn(&Sample) -> (u32, Option<u64>)) -> Option<Growth> {
    let last_pid = samples.iter().rev().map(&of).find(|(_, kb)| kb.is_some())?.0;
    let tenth = duration_s / 10.0;
    let half = duration_s / 2.0;
    let window = |from: f64, to: f64| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| s.t_s >= from && s.t_s <= to && of(s).0 == last_pid)
            .filter_map(|s| of(s).1.map(|v| v as f64 / 1024.0))
            .collect()
    };
    let start = median(window(half, half + tenth))?;
    let end = median(window(duration_s - tenth, duration_s))?;
    let max = window(half, duration_s).into_iter().fold(0.0, f64::max);
    Some(Growth { start_mb: start, end_mb: end, max_mb: max, percent: (end - start) / start * 100.0 })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rss_mb: impl Fn(f64) -> u64, restart_at: f64) -> Vec<Sample> {
        (0..=100)
            .map(|t| {
                let t = t as f64;
                let pid = if t < restart_at { 1 } else { 2 };
                Sample { t_s: t, origin_pid: pid, origin_kb: Some(rss_mb(t) * 1024), envoy_pid: 0, envoy_kb: None }
            })
            .collect()
    }

    #[test]
    fn flat_memory_after_warm_up_is_no_growth() {
        let s = run(|t| if t < 30.0 { 50 + t as u64 } else { 100 }, 0.0);
        let g = growth(&s, 100.0, Sample::origin).unwrap();
        assert_eq!((g.start_mb, g.end_mb, g.percent), (100.0, 100.0, 0.0));
    }

    #[test]
    fn a_steady_leak_in_the_second_half_shows() {
        let s = run(|t| 100 + t as u64, 0.0);
        let g = growth(&s, 100.0, Sample::origin).unwrap();
        assert!(g.percent > 20.0, "{g:?}");
    }

    #[test]
    fn only_the_process_alive_at_the_end_counts() {
        // A restart at 55 s: the old process's samples in the first window are ignored.
        let s = run(|t| if t < 55.0 { 500 } else { 100 }, 55.0);
        let g = growth(&s, 100.0, Sample::origin).unwrap();
        assert_eq!(g.start_mb, 100.0);
    }

    #[test]
    fn vm_rss_of_this_process_is_read() {
        assert!(vm_rss_kb(std::process::id()).unwrap() > 0);
        assert_eq!(vm_rss_kb(0), None);
    }
}
