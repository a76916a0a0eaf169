//! `cargo xtask fuzz --seconds N [TARGET]`: runs the cargo-fuzz targets in `fuzz/` on
//! nightly, each for N seconds, from corpora seeded out of `../shared/corpus` (kept under
//! `target/fuzz-corpus`, never in the repository), and reports executions per target.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::proc::{self, root};
use crate::Result;

pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Every target in `fuzz/fuzz_targets`, in the order they run.
const TARGETS: &[&str] = &["decide", "planner", "decode", "upload"];
/// Targets that need the fuzz crate's `origin` feature (the origin and its codecs).
const ORIGIN_TARGETS: &[&str] = &["decode", "upload"];

/// libFuzzer's own limits: a larger RSS or a single allocation above it, or one input
/// running longer than the timeout, is reported as a crash (memory or time bombs).
const RSS_LIMIT_MB: u32 = 2048;
const INPUT_TIMEOUT_S: u32 = 60;

const USAGE: &str = "usage: cargo xtask fuzz --seconds N [decide|planner|decode|upload]";

pub fn run(args: &[String]) -> Result<()> {
    let (seconds, only) = match args {
        [flag, n] if flag == "--seconds" => (n, None),
        [flag, n, t] if flag == "--seconds" => (n, Some(t.as_str())),
        _ => return Err(USAGE.into()),
    };
    let seconds: u64 = seconds.parse().map_err(|_| format!("--seconds takes a number of seconds\n{USAGE}"))?;
    let targets: Vec<&str> = match only {
        None => TARGETS.to_vec(),
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(t) => return Err(format!("unknown fuzz target `{t}`\n{USAGE}")),
    };
    ensure_cargo_fuzz()?;
    if targets.iter().any(|t| ORIGIN_TARGETS.contains(t)) {
        crate::tools::ensure_build_packages()?;
    }
    let corpus_root = root().join("target/fuzz-corpus");
    let logs = root().join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for target in targets {
        let corpus = corpus_root.join(target);
        let seeds = seed(target, &corpus)?;
        eprintln!("xtask: fuzz {target}: {seeds} seeds in {}", corpus.display());
        results.push(run_target(target, &corpus, seconds, &logs.join(format!("{target}.log")))?);
    }
    println!("{:<10} {:>14} {:>9} {:>12} {:>9}", "target", "executions", "seconds", "exec/s", "corpus");
    for r in &results {
        println!(
            "{:<10} {:>14} {:>9} {:>12} {:>9}",
            r.target,
            r.executions,
            r.seconds,
            r.executions / r.seconds.max(1),
            r.corpus
        );
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let ok = proc::cargo_nightly()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Ok(());
    }
    proc::run(proc::cargo().args(["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION, "--locked"]))
}

struct Outcome {
    target: String,
    executions: u64,
    seconds: u64,
    corpus: u64,
}

fn run_target(target: &str, corpus: &Path, seconds: u64, log: &Path) -> Result<Outcome> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = proc::cargo_nightly();
    cmd.args(["fuzz", "run"]);
    if ORIGIN_TARGETS.contains(&target) {
        cmd.args(["--features", "origin"]);
    } else {
        // The policy is safe Rust without C code: AddressSanitizer would find nothing
        // there and would cost most of the executions.
        cmd.args(["--sanitizer", "none"]);
    }
    cmd.arg(target)
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg("-print_final_stats=1")
        .stdout(out)
        .stderr(err);
    eprintln!("xtask: $ {}  (log: {})", proc::describe(&cmd), log.display());
    let started = Instant::now();
    let status = cmd.status().map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    let elapsed = started.elapsed().as_secs();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "fuzz target `{target}` failed ({status}); reproducer under fuzz/artifacts/{target}/\n{}",
            proc::tail(log, 40)
        ));
    }
    let stat = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim_start_matches(':').trim().parse().ok()))
    };
    let executions = stat("stat::number_of_executed_units").ok_or_else(|| {
        format!("no execution count in {} (did libFuzzer run?)\n{}", log.display(), proc::tail(log, 20))
    })?;
    let corpus_files = std::fs::read_dir(corpus).map(|d| d.count() as u64).unwrap_or(0);
    Ok(Outcome { target: target.into(), executions, seconds: elapsed.min(seconds.max(1)), corpus: corpus_files })
}

/// Writes the seeds a target starts from (once; libFuzzer adds its own finds beside them).
/// Returns how many files the corpus holds.
fn seed(target: &str, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let shared = root().join("../shared/corpus");
    let seeds: Vec<Vec<u8>> = match target {
        "decide" => decide_seeds(&shared)?,
        "planner" => planner_seeds(),
        "decode" => images(&shared)?.into_iter().enumerate().map(|(i, img)| [vec![i as u8], img].concat()).collect(),
        "upload" => images(&shared)?
            .into_iter()
            .enumerate()
            .map(|(i, img)| [vec![i as u8], b"Bearer fuzz-token-1\0\0\0\0".to_vec(), img].concat())
            .collect(),
        _ => Vec::new(),
    };
    for (i, s) in seeds.iter().enumerate() {
        let path = dir.join(format!("seed-{i:04}"));
        if !path.exists() {
            std::fs::write(&path, s).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0))
}

/// Every image of the shared corpus (its manifest and notes aside).
fn images(shared: &Path) -> Result<Vec<Vec<u8>>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![shared.join("images")];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if !matches!(p.extension().and_then(|x| x.to_str()), Some("md" | "tsv")) {
                files.push(p);
            }
        }
    }
    files.sort();
    files.iter().map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))).collect()
}

/// The first column of a TSV file, header row skipped.
fn tsv_column(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().skip(1).filter_map(|l| l.split('\t').next()).map(str::to_owned).collect())
}

/// The worked examples of DIALECTS.md: table rows whose second cell is a backquoted URL
/// (a path, or a query for the default key).
fn dialect_examples(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split('|').nth(2))
        .map(str::trim)
        .filter_map(|c| c.strip_prefix('`')?.strip_suffix('`'))
        .filter(|u| u.starts_with('/') || u.starts_with('?'))
        .map(str::to_owned)
        .collect())
}

/// Selector byte, then path, query, Accept and User-Agent separated by NUL bytes: every
/// dialect example, under every route selector, with the Accept and User-Agent tables.
fn decide_seeds(shared: &Path) -> Result<Vec<Vec<u8>>> {
    let urls = dialect_examples(&shared.join("../DIALECTS.md"))?;
    let accepts = tsv_column(&shared.join("accept-headers.tsv"))?;
    let uas = tsv_column(&shared.join("user-agents.tsv"))?;
    if urls.is_empty() || accepts.is_empty() || uas.is_empty() {
        return Err("no URL examples, Accept headers or User-Agents found under ../shared".into());
    }
    let n = urls.len().max(accepts.len()).max(uas.len()) * 2;
    Ok((0..n)
        .map(|i| {
            let url = &urls[i % urls.len()];
            let url = if url.starts_with('?') { format!("/img/a.jpg{url}") } else { url.clone() };
            let (path, query) = url.split_once('?').map_or((url.as_str(), None), |(p, q)| (p, Some(q)));
            let mut s = vec![i as u8];
            s.extend_from_slice(path.as_bytes());
            s.push(0);
            s.extend_from_slice(query.unwrap_or("").as_bytes());
            s.push(0);
            s.extend_from_slice(accepts[i % accepts.len()].as_bytes());
            s.push(0);
            s.extend_from_slice(uas[i % uas.len()].as_bytes());
            s
        })
        .collect())
}

/// A few structured starting points (source size, then parameter picks); the planner's
/// input is small enough for libFuzzer to explore from there.
fn planner_seeds() -> Vec<Vec<u8>> {
    (0u8..32)
        .map(|i| vec![0x04, 0xb0, 0x03, 0x20, 1 + i % 6, i, 1, i, 0x40, i.wrapping_mul(7), 2, 0, 0x80, 0])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_examples_are_read_from_the_shared_tables() {
        let urls = dialect_examples(&root().join("../shared/DIALECTS.md")).unwrap();
        assert!(urls.len() >= 40, "{}", urls.len());
        assert!(urls.iter().any(|u| u.starts_with("/unsafe/")));
        assert!(urls.iter().any(|u| u.starts_with("?width=")));
    }
}
