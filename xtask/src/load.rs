//! Load generation and measurement helpers shared by the benchmarks: `wrk` runs, CPU
//! time of a process from /proc, medians, the machine's description.

use std::path::Path;
use std::process::Command;

use crate::Result;

/// One `wrk` run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub requests: u64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
}

/// Runs `wrk --latency` against `url`, pinned to `cpus` (a `taskset -c` list) when given.
pub fn wrk(url: &str, headers: &[&str], connections: u32, seconds: u32, cpus: Option<&str>) -> Result<Run> {
    let mut cmd = match cpus {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.args(["-c", c, "wrk"]);
            t
        }
        None => Command::new("wrk"),
    };
    cmd.args(["-t", "1", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(url);
    let out = cmd.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    parse_wrk(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Run> {
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut rps = None;
    let mut non_2xx = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("50%") => p50 = words.next().and_then(duration_ms),
            Some("99%") => p99 = words.next().and_then(duration_ms),
            Some("Requests/sec:") => rps = words.next().and_then(|v| v.parse().ok()),
            Some("Non-2xx") => non_2xx = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0),
            Some(n) if line.contains("requests in") => requests = n.parse().ok(),
            _ => {}
        }
    }
    Some(Run { requests: requests?, requests_per_s: rps?, p50_ms: p50?, p99_ms: p99?, non_2xx })
}

/// wrk prints `812.00us`, `1.23ms`, `2.01s`.
fn duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map(|i| s.split_at(i))?;
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

/// User + system CPU time of a process and its threads, in microseconds.
pub fn cpu_us(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(ticks * 1_000_000 / clock_ticks())
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `"<nproc>, <CPU model>"` for benchmark reports.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus}, {model}")
}

pub fn write_report(name: &str, json: &str) -> Result<std::path::PathBuf> {
    let dir = crate::proc::root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

pub fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n  Latency Distribution\n     50%  412.00us\n     75%  1.02ms\n     90%  1.50ms\n     99%    2.10ms\n  51234 requests in 5.00s, 800.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  10246.80\nTransfer/sec:    160.00MB\n";
        let r = parse_wrk(text).unwrap();
        assert_eq!(r.requests, 51234);
        assert!((r.p50_ms - 0.412).abs() < 1e-9);
        assert!((r.p99_ms - 2.1).abs() < 1e-9);
        assert!((r.requests_per_s - 10246.8).abs() < 1e-9);
        assert_eq!(r.non_2xx, 3);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
