//! The soak's verdict and its report (`target/bench/soak.json`, DESIGN §9's shape):
//! failures charged to the drill whose fault window they overlap, the rest unexpected;
//! latency percentiles; RSS growth; each drill's cost.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::drills::Drill;
use super::driver::{Failure, Tally};
use super::mix::Kind;
use super::rss::{self, Growth, Sample};

pub const MAX_RSS_GROWTH_PERCENT: f64 = 10.0;

pub struct Verdict {
    pub pass: bool,
    pub reasons: Vec<String>,
    pub json: Value,
}

/// The drill whose window, from its fault to its recovery, overlaps the request.
fn drill_of(f: &Failure, drills: &[Drill]) -> Option<usize> {
    drills.iter().position(|d| f.end_ms >= d.fault_ms && f.start_ms <= d.window_end_ms())
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn growth_json(g: Option<Growth>) -> Value {
    match g {
        Some(g) => json!({
            "second_half_start_mb": round(g.start_mb, 1),
            "end_mb": round(g.end_mb, 1),
            "second_half_max_mb": round(g.max_mb, 1),
            "growth_percent": round(g.percent, 2),
        }),
        None => Value::Null,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn build(
    machine: String,
    setup: Value,
    tally: &mut Tally,
    drills: &[Drill],
    samples: &[Sample],
    duration_s: f64,
    connections: usize,
    aborted: Option<String>,
) -> Verdict {
    let mut reasons = Vec::new();
    if let Some(why) = aborted {
        reasons.push(format!("the run was cut short: {why}"));
    }

    // Failures: a drill's cost, or unexpected.
    let mut per_drill: Vec<(u64, BTreeMap<String, u64>, u64)> = vec![(0, BTreeMap::new(), 0); drills.len()];
    let mut unexpected: BTreeMap<String, u64> = BTreeMap::new();
    let mut unexpected_by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut drill_by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut examples = Vec::new();
    for f in &tally.failures {
        match drill_of(f, drills) {
            Some(i) => {
                let d = &mut per_drill[i];
                d.0 += 1;
                *d.1.entry(f.class.clone()).or_default() += 1;
                d.2 = d.2.max(f.end_ms - f.start_ms);
                *drill_by_kind.entry(f.kind).or_default() += 1;
            }
            None => {
                *unexpected.entry(format!("{} {}", f.kind.name(), f.class)).or_default() += 1;
                *unexpected_by_kind.entry(f.kind).or_default() += 1;
                if examples.len() < 20 {
                    let path: String = f.path.chars().take(160).collect();
                    examples.push(json!({"at_s": f.start_ms as f64 / 1000.0, "kind": f.kind.name(), "outcome": f.class, "path": path}));
                }
            }
        }
    }
    let unexpected_total: u64 = unexpected.values().sum();
    if unexpected_total > 0 {
        reasons.push(format!("{unexpected_total} unexpected errors: {unexpected:?}"));
    }

    // Request kinds.
    let mut cases = Vec::new();
    let mut all_latencies = Vec::new();
    let (mut requests, mut shed) = (0u64, 0u64);
    for kind in Kind::ALL {
        let Some(s) = tally.kinds.get_mut(&kind) else { continue };
        s.latencies_us.sort_unstable();
        requests += s.requests;
        shed += s.shed;
        all_latencies.extend_from_slice(&s.latencies_us);
        cases.push(json!({
            "case": kind.name(),
            "requests": s.requests,
            "requests_per_s": round(s.requests as f64 / duration_s, 1),
            "expected": s.ok,
            "shed_503": s.shed,
            "failed_during_drills": drill_by_kind.get(&kind).copied().unwrap_or(0),
            "unexpected": unexpected_by_kind.get(&kind).copied().unwrap_or(0),
            "p50_ms": round(percentile_ms(&s.latencies_us, 50.0), 2),
            "p99_ms": round(percentile_ms(&s.latencies_us, 99.0), 2),
            "max_ms": round(percentile_ms(&s.latencies_us, 100.0), 2),
            "outcomes": s.outcomes,
            "ratio": Value::Null,
            "ratio_of": "none: the soak has no peer",
        }));
    }
    all_latencies.sort_unstable();

    // Drills.
    let mut drill_json = Vec::new();
    for (d, (failed, classes, slowest)) in drills.iter().zip(&per_drill) {
        if !d.passed() {
            let failed_checks: Vec<&str> = d.checks.iter().filter(|(_, ok)| !ok).map(|(n, _)| n.as_str()).collect();
            match d.recovered_ms {
                None => reasons.push(format!("drill {} did not recover within the limit", d.name)),
                Some(_) => reasons.push(format!("drill {} failed its checks: {}", d.name, failed_checks.join("; "))),
            }
        }
        drill_json.push(json!({
            "drill": d.name,
            "fault": d.fault,
            "fault_at_s": d.fault_ms as f64 / 1000.0,
            "service_back_after_s": d.restored_ms.map(|r| round((r - d.fault_ms) as f64 / 1000.0, 2)),
            "recovery_s": d.recovery_s().map(|v| round(v, 2)),
            "failed_requests": failed,
            "failed_by_outcome": classes,
            "slowest_failed_request_ms": slowest,
            "checks": d.checks.iter().map(|(n, ok)| json!({"check": n, "ok": ok})).collect::<Vec<_>>(),
            "recovered": d.recovered_ms.is_some(),
            "passed": d.passed(),
            "details": d.details,
        }));
    }

    // Memory.
    let origin = rss::growth(samples, duration_s, Sample::origin);
    let envoy = rss::growth(samples, duration_s, Sample::envoy);
    match origin {
        Some(g) if g.percent >= MAX_RSS_GROWTH_PERCENT => reasons.push(format!(
            "origin RSS grew {:.1} % over the second half (limit {MAX_RSS_GROWTH_PERCENT} %)",
            g.percent
        )),
        None => reasons.push("no RSS samples of the origin in the second half".into()),
        _ => {}
    }

    let timeline: Vec<Value> = tally
        .per_second
        .chunks(10)
        .enumerate()
        .map(|(i, c)| json!({"from_s": i * 10, "requests_per_s": round(f64::from(c.iter().sum::<u32>()) / c.len() as f64, 1)}))
        .collect();
    let rss_series: Vec<Value> = samples
        .iter()
        .map(|s| {
            json!([
                round(s.t_s, 1),
                s.origin_kb.map(|k| round(k as f64 / 1024.0, 1)),
                s.envoy_kb.map(|k| round(k as f64 / 1024.0, 1))
            ])
        })
        .collect();
    let pass = reasons.is_empty();
    let json = json!({
        "bench": "soak",
        "peer": "none",
        "machine": machine,
        "setup": setup,
        "cases": cases,
        "drills": drill_json,
        "summary": {
            "pass": pass,
            "failures": reasons,
            "duration_s": round(duration_s, 1),
            "connections": connections,
            "requests": requests,
            "requests_per_s": round(requests as f64 / duration_s, 1),
            "p50_ms": round(percentile_ms(&all_latencies, 50.0), 2),
            "p99_ms": round(percentile_ms(&all_latencies, 99.0), 2),
            "shed_503": shed,
            "unexpected_errors": unexpected_total,
            "unexpected_by_class": unexpected,
            "unexpected_examples": examples,
            "failed_during_drills": per_drill.iter().map(|d| d.0).sum::<u64>(),
            "drills_recovered": drills.iter().filter(|d| d.recovered_ms.is_some()).count(),
            "drills": drills.len(),
            "origin_rss": growth_json(origin),
            "envoy_rss": growth_json(envoy),
            "rss_rule": rss::RULE,
        },
        "timeline": timeline,
        "rss_mb": {"columns": ["t_s", "origin", "envoy"], "samples": rss_series},
    });
    Verdict { pass, reasons, json }
}

/// A report value as plain text (strings without quotes), for padded columns.
fn t(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The human summary, from the report.
pub fn print(v: &Value) {
    let s = &v["summary"];
    println!(
        "\n{:<20} {:>9} {:>8} {:>9} {:>6} {:>6} {:>9} {:>9}",
        "case", "requests", "req/s", "expected", "shed", "drill", "p50 ms", "p99 ms"
    );
    for c in v["cases"].as_array().into_iter().flatten() {
        let unexpected = c["unexpected"].as_u64().unwrap_or(0);
        println!(
            "{:<20} {:>9} {:>8} {:>9} {:>6} {:>6} {:>9} {:>9}{}",
            t(&c["case"]),
            t(&c["requests"]),
            t(&c["requests_per_s"]),
            t(&c["expected"]),
            t(&c["shed_503"]),
            t(&c["failed_during_drills"]),
            t(&c["p50_ms"]),
            t(&c["p99_ms"]),
            if unexpected > 0 { format!("  UNEXPECTED {unexpected}") } else { String::new() }
        );
    }
    println!(
        "\ntotal {} requests in {} s ({} req/s), p50 {} ms, p99 {} ms; shed {}; unexpected {}",
        s["requests"],
        s["duration_s"],
        s["requests_per_s"],
        s["p50_ms"],
        s["p99_ms"],
        s["shed_503"],
        s["unexpected_errors"]
    );
    if s["unexpected_errors"].as_u64().unwrap_or(0) > 0 {
        println!("unexpected: {}", s["unexpected_by_class"]);
        for e in s["unexpected_examples"].as_array().into_iter().flatten().take(8) {
            println!("  {e}");
        }
    }
    println!("\n{:<14} {:>10} {:>11} {:>7}  failed by outcome", "drill", "fault at s", "recovery s", "failed");
    for d in v["drills"].as_array().into_iter().flatten() {
        println!(
            "{:<14} {:>10} {:>11} {:>7}  {}{}",
            t(&d["drill"]),
            t(&d["fault_at_s"]),
            t(&d["recovery_s"]),
            t(&d["failed_requests"]),
            d["failed_by_outcome"],
            if d["passed"].as_bool() == Some(true) { "" } else { "  FAILED" }
        );
        if let Some(details) = d["details"].as_object().filter(|o| !o.is_empty()) {
            println!("{:<14} {}", "", Value::Object(details.clone()));
        }
    }
    let o = &s["origin_rss"];
    println!(
        "\norigin RSS over the second half: {} MB -> {} MB (max {} MB), growth {} % (limit {MAX_RSS_GROWTH_PERCENT} %)",
        o["second_half_start_mb"], o["end_mb"], o["second_half_max_mb"], o["growth_percent"]
    );
    let e = &s["envoy_rss"];
    println!(
        "envoy RSS over the second half: {} MB -> {} MB, growth {} %",
        e["second_half_start_mb"], e["end_mb"], e["growth_percent"]
    );
    if let Some(fails) = s["failures"].as_array().filter(|f| !f.is_empty()) {
        for f in fails {
            println!("FAIL: {}", t(f));
        }
    }
    println!("soak: {}", if s["pass"].as_bool() == Some(true) { "PASS" } else { "FAIL" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn drill(fault_ms: u64, recovered_ms: Option<u64>) -> Drill {
        Drill { name: "d", fault: "f", fault_ms, restored_ms: None, recovered_ms, checks: vec![], details: json!({}) }
    }

    fn failure(start_ms: u64, end_ms: u64) -> Failure {
        Failure { start_ms, end_ms, kind: Kind::Hit, class: "503".into(), path: "/x".into() }
    }

    #[test]
    fn failures_overlapping_a_drill_window_are_its_cost() {
        let drills = [drill(1000, Some(3000))];
        assert_eq!(drill_of(&failure(900, 1100), &drills), Some(0), "in flight at the fault");
        assert_eq!(drill_of(&failure(2000, 2500), &drills), Some(0));
        assert_eq!(drill_of(&failure(3100, 3200), &drills), None, "after recovery: unexpected");
        assert_eq!(drill_of(&failure(100, 200), &drills), None);
        assert_eq!(drill_of(&failure(9000, 9100), &[drill(1000, None)]), Some(0), "never recovered");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
