//! `cargo xtask soak --minutes N`: the whole stack (Envoy + filter, the release origin,
//! Redis, the S3 server) under saturating load from a realistic mix for N minutes, with
//! four fault drills spaced through the run. Every answer is checked against its
//! request's kind; RSS is sampled every second. Writes `target/bench/soak.json`, prints
//! a summary and fails on any unexpected error, on RSS growth of 10 % or more over the
//! second half, or on a drill that does not recover.

mod client;
mod drills;
mod driver;
mod mix;
mod report;
mod rss;
mod seed;
mod services;

use std::sync::Arc;
use std::time::Duration;

use crate::proc::{self, root};
use crate::{load, stack, tools, Result};
use driver::{Bases, Clock, Driver};
use services::{Binaries, Stack};

/// When each drill starts, as a fraction of the run. The two that restart a process
/// whose RSS is judged over the second half (origin, Envoy) come early, so that both have
/// long been warm by half time; Redis and the S3 server fail in the half being judged.
const SCHEDULE: [(f64, &str); 4] =
    [(0.15, "origin-kill"), (0.30, "envoy-restart"), (0.55, "redis-kill"), (0.75, "s3-stop")];

struct Args {
    minutes: f64,
    connections: usize,
}

fn parse(args: &[String]) -> Result<Args> {
    let usage = "usage: cargo xtask soak [--minutes N] [--connections C]";
    let mut a = Args { minutes: 10.0, connections: 32 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{usage}"))?;
        match flag.as_str() {
            "--minutes" => a.minutes = value.parse().map_err(|_| format!("--minutes {value}: not a number"))?,
            "--connections" => {
                a.connections = value.parse().map_err(|_| format!("--connections {value}: not a number"))?
            }
            other => return Err(format!("unknown flag {other}\n{usage}")),
        }
    }
    let in_range = a.minutes > 0.0 && a.minutes <= 24.0 * 60.0 && (1..=512).contains(&a.connections);
    if !in_range {
        return Err(format!("--minutes must be in (0, 1440] and --connections in 1..=512\n{usage}"));
    }
    Ok(a)
}

pub fn run(args: &[String]) -> Result<()> {
    let args = parse(args)?;
    let wasm = stack::build_wasm()?;
    let origin = stack::build_origin_release(&[])?;
    let bins = Binaries { redis: tools::redis_server()?, s3: tools::s3s_fs()?, origin, envoy: tools::envoy()?, wasm };
    let work = root().join("target/bench/soak-work");
    let _ = std::fs::remove_dir_all(&work);
    let mut stack = Stack::start(bins, &work)?;
    let (mix, setup) = seed::prepare(&stack, &services::shared())?;
    let mix = Arc::new(mix);
    let drill_bodies: Vec<Arc<[u8]>> = mix::originals(&services::shared())?
        .into_iter()
        .filter(|o| o.key.starts_with("bench/") && o.bytes.len() > 1_000_000)
        .map(|o| o.bytes)
        .collect();

    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    eprintln!(
        "xtask: soak: {:.1} min, {} connections through Envoy at {}; logs in {}",
        args.minutes,
        args.connections,
        stack.envoy_url(),
        work.display()
    );
    let clock = Clock::start();
    let sampler = rss::Sampler::start(clock, stack.origin_pid.clone(), stack.envoy_pid.clone());
    let bases = Bases { envoy: stack.envoy_url(), origin: stack.origin_url() };
    let load = Driver::start(mix.clone(), bases, args.connections, clock);
    let mut drills = Vec::new();
    let mut extra = driver::Tally::default();
    let mut aborted = None;
    for (at, name) in SCHEDULE {
        if let Err(e) = wait(&mut stack, &clock, duration.mul_f64(at)) {
            aborted = Some(e);
            break;
        }
        eprintln!("xtask: soak: drill {name} at {:.1} s", clock.ms() as f64 / 1000.0);
        let d = match name {
            "origin-kill" => drills::origin_kill(&mut stack, &mix, &drill_bodies, &clock).map(|(d, t)| {
                extra.merge(t);
                d
            }),
            "redis-kill" => drills::redis_kill(&mut stack, &clock),
            "s3-stop" => drills::s3_stop(&mut stack, &mix, &clock),
            _ => drills::envoy_restart(&mut stack, &mix, &clock),
        };
        match d {
            Ok(d) => {
                eprintln!("xtask: soak: drill {name}: recovered in {:?} s", d.recovery_s());
                drills.push(d);
            }
            Err(e) => {
                aborted = Some(format!("drill {name}: {e}"));
                break;
            }
        }
    }
    if aborted.is_none() {
        aborted = wait(&mut stack, &clock, duration).err();
    }
    let mut tally = load.finish();
    let elapsed_s = clock.ms() as f64 / 1000.0;
    let samples = sampler.finish();
    tally.merge(extra);
    if let Some(log) = stack.origin_log() {
        eprintln!("xtask: soak: origin log tail ({}):\n{}", log.display(), proc::tail(&log, 5));
    }
    drop(stack);

    let verdict =
        report::build(load::machine(), setup, &mut tally, &drills, &samples, elapsed_s, args.connections, aborted);
    let text = serde_json::to_string_pretty(&verdict.json).map_err(|e| e.to_string())?;
    let path = load::write_report("soak", &format!("{text}\n"))?;
    report::print(&verdict.json);
    println!("wrote {}", path.display());
    if verdict.pass {
        Ok(())
    } else {
        Err(format!("soak failed:\n  {}", verdict.reasons.join("\n  ")))
    }
}

/// Sleeps until `until` on the run's clock, checking every second that no service
/// died on its own (a crash under load is a failure, not a drill).
fn wait(stack: &mut Stack, clock: &Clock, until: Duration) -> Result<()> {
    loop {
        stack.check_alive()?;
        let now = Duration::from_millis(clock.ms());
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(Duration::from_secs(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_parsed_and_bounded() {
        let a = parse(&args(&["--minutes", "1", "--connections", "8"])).unwrap();
        assert_eq!((a.minutes, a.connections), (1.0, 8));
        assert_eq!(parse(&[]).unwrap().minutes, 10.0);
        assert!(parse(&args(&["--minutes"])).is_err());
        assert!(parse(&args(&["--minutes", "0"])).is_err());
        assert!(parse(&args(&["--hours", "1"])).is_err());
    }

    #[test]
    fn drills_are_spaced_and_measured_processes_restart_before_half_time() {
        assert!(SCHEDULE.windows(2).all(|w| w[0].0 < w[1].0));
        for name in ["origin-kill", "envoy-restart"] {
            assert!(SCHEDULE.iter().any(|&(at, n)| n == name && at < 0.4), "{name}");
        }
    }
}
