//! `cargo xtask bench serve`: cache-hit throughput and latency of the origin, directly
//! and through Envoy with the filter, against nginx serving the same bytes as a static
//! file on the same machine. Load from `wrk` on loopback; the cases are interleaved
//! round by round so that drift of the shared machine hits them alike; each run is
//! bounded in time. Writes `target/bench/serve.json` and prints a table.
//!
//! Knobs (environment): `PIXGATE_BENCH_SECONDS` per run (default 5),
//! `PIXGATE_BENCH_ROUNDS` (default 3), `PIXGATE_BENCH_CONNECTIONS` (default 32).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::proc::{self, root, Service};
use crate::stack::{self, Ports};
use crate::{demo, tools, Result};

const PATH: &str = "/img/demo.jpg?w=400";

struct Case {
    name: &'static str,
    port: u16,
    rps: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        return Err(format!("`cargo xtask bench serve` takes no arguments (got `{a}`)"));
    }
    let seconds = env_num("PIXGATE_BENCH_SECONDS", 5).clamp(1, 60);
    let rounds = env_num("PIXGATE_BENCH_ROUNDS", 3).clamp(1, 10);
    let connections = env_num("PIXGATE_BENCH_CONNECTIONS", 32).clamp(1, 512);
    tools::ensure_debian_packages(&["nginx", "wrk"])?;
    let wasm = stack::build_wasm()?;
    let origin_bin = stack::build_origin_release(&[])?;
    let envoy_bin = tools::envoy()?;

    let work = root().join("target/bench/serve-work");
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    demo::write_demo(&data)?;

    let ports = Ports { envoy: proc::free_port()?, origin: proc::free_port()?, admin: proc::free_port()? };
    let origin = stack::start_origin(&origin_bin, ports.origin, &data, &[("PIXGATE_LOG", "warn".to_owned())], &work)?;
    let envoy = stack::start_envoy(&envoy_bin, &stack::envoy_config(&ports, &wasm)?, &ports, &work, "envoy")?;

    // Warm L1 and take the exact bytes nginx will serve.
    let (status, headers, body) = http_get(ports.origin, PATH).ok_or("origin did not answer the warm-up request")?;
    if status != 200 {
        return Err(format!("origin answered {status} to {PATH}"));
    }
    let (status, headers2, _) = http_get(ports.origin, PATH).ok_or("origin did not answer")?;
    let tier = header(&headers2, "x-pixgate-cache");
    if status != 200 || tier != Some("hit-memory") {
        return Err(format!("expected an L1 hit, got {status} {tier:?}"));
    }
    let etag = header(&headers, "etag").unwrap_or("\"x\"").to_owned();
    let statics = work.join("static/img");
    std::fs::create_dir_all(&statics).map_err(|e| e.to_string())?;
    std::fs::write(statics.join("demo.jpg"), &body).map_err(|e| e.to_string())?;
    let nginx_port = proc::free_port()?;
    let nginx = start_nginx(&work, nginx_port)?;
    let (status, _, nbody) = http_get(nginx_port, PATH).ok_or("nginx did not answer")?;
    if status != 200 || nbody != body {
        return Err(format!("nginx answered {status} with {} bytes", nbody.len()));
    }
    let (status, _, ebody) = http_get(ports.envoy, PATH).ok_or("envoy did not answer")?;
    if status != 200 || ebody != body {
        return Err(format!("envoy answered {status} with {} bytes", ebody.len()));
    }

    let mut cases = [
        Case { name: "nginx-static", port: nginx_port, rps: vec![], p50: vec![], p99: vec![] },
        Case { name: "origin-l1-hit", port: ports.origin, rps: vec![], p50: vec![], p99: vec![] },
        Case { name: "envoy-filter-origin-l1-hit", port: ports.envoy, rps: vec![], p50: vec![], p99: vec![] },
    ];
    eprintln!(
        "xtask: bench serve: {} bytes per response, {rounds} rounds × {} cases × {seconds}s, {connections} connections",
        body.len(),
        cases.len()
    );
    for round in 0..rounds {
        for c in cases.iter_mut() {
            let (rps, p50, p99) = wrk(c.port, seconds, connections)?;
            eprintln!(
                "xtask:   round {} {:<28} {rps:>10.0} req/s  p50 {p50:.3} ms  p99 {p99:.3} ms",
                round + 1,
                c.name
            );
            c.rps.push(rps);
            c.p50.push(p50);
            c.p99.push(p99);
        }
    }
    drop((nginx, envoy, origin));

    let nginx_rps = median(&cases[0].rps);
    let mut out_cases = Vec::new();
    println!("\n{:<28} {:>12} {:>9} {:>9} {:>8}", "case", "requests/s", "p50 ms", "p99 ms", "ratio");
    for c in &cases {
        let rps = median(&c.rps);
        let ratio = rps / nginx_rps;
        println!("{:<28} {:>12.0} {:>9.3} {:>9.3} {:>8.2}", c.name, rps, median(&c.p50), median(&c.p99), ratio);
        out_cases.push(format!(
            "{{\"case\":\"{}\",\"requests_per_s\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"rounds\":{},\"ratio\":{:.3},\"ratio_of\":\"requests/s ÷ nginx, higher is better\"}}",
            c.name,
            rps,
            median(&c.p50),
            median(&c.p99),
            c.rps.len(),
            ratio
        ));
    }
    let origin_ratio = median(&cases[1].rps) / nginx_rps;
    let envoy_ratio = median(&cases[2].rps) / nginx_rps;
    println!("\norigin L1 ÷ nginx = {origin_ratio:.2} (target ≥ 0.5); Envoy + filter ÷ nginx = {envoy_ratio:.2}");
    let report = format!(
        "{{\"bench\":\"serve\",\"peer\":\"{} static\",\"machine\":\"{}\",\"setup\":{{\"path\":\"{}\",\"body_bytes\":{},\"etag\":{},\"seconds_per_run\":{seconds},\"connections\":{connections},\"load\":\"wrk on loopback, same machine\"}},\"cases\":[{}],\"summary\":{{\"origin_l1_vs_nginx_ratio\":{origin_ratio:.3},\"envoy_l1_vs_nginx_ratio\":{envoy_ratio:.3}}}}}\n",
        nginx_version(),
        machine(),
        PATH,
        body.len(),
        json_string(&etag),
        out_cases.join(",")
    );
    let path = root().join("target/bench/serve.json");
    std::fs::write(&path, report).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return 0.0;
    }
    s[s.len() / 2]
}

fn start_nginx(work: &Path, port: u16) -> Result<Service> {
    let conf = work.join("nginx.conf");
    let w = work.display();
    // As many workers as cores, like the origin's runtime; logs and temp files in `work`.
    let text = format!(
        "daemon off;\nmaster_process on;\nworker_processes auto;\nuser root;\npid {w}/nginx.pid;\nerror_log {w}/nginx-error.log warn;\n\
events {{ worker_connections 1024; }}\n\
http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n  keepalive_requests 1000000;\n\
  client_body_temp_path {w}/nginx-tmp;\n  proxy_temp_path {w}/nginx-tmp;\n  fastcgi_temp_path {w}/nginx-tmp;\n  uwsgi_temp_path {w}/nginx-tmp;\n  scgi_temp_path {w}/nginx-tmp;\n\
  types {{ image/jpeg jpg; }}\n  server {{\n    listen 127.0.0.1:{port};\n    root {w}/static;\n  }}\n}}\n"
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).is_file()).unwrap_or("nginx");
    let mut svc = Service::spawn("nginx", Command::new(bin).arg("-p").arg(work).arg("-c").arg(&conf), work)?;
    svc.wait_ready(Duration::from_secs(10), || proc::tcp_open(port))?;
    Ok(svc)
}

fn nginx_version() -> String {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).is_file()).unwrap_or("nginx");
    Command::new(bin)
        .arg("-v")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().replace("nginx version: nginx/", "nginx "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "nginx".into())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores}, {cpu}")
}

/// Runs wrk for `seconds` against `port`: requests/s, p50 and p99 in milliseconds.
fn wrk(port: u16, seconds: u64, connections: u64) -> Result<(f64, f64, f64)> {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency", "--timeout", "5s"])
        .arg(format!("http://127.0.0.1:{port}{PATH}"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors on port {port}:\n{text}"));
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let pct = |p: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p).map(str::trim))
            .and_then(parse_duration_ms)
            .ok_or_else(|| format!("no {p} latency in wrk output:\n{text}"))
    };
    Ok((rps, pct("50%")?, pct("99%")?))
}

fn parse_duration_ms(v: &str) -> Option<f64> {
    let (num, mult) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|n| n * mult)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A whole HTTP/1.1 response over a fresh connection (`Connection: close`).
/// Status, headers and body.
type Fetched = (u16, Vec<(String, String)>, Vec<u8>);

fn http_get(port: u16, path: &str) -> Option<Fetched> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))).collect();
    let body = raw[split + 4..].to_vec();
    if header(&headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Some((status, headers, dechunk(&body)?));
    }
    Some((status, headers, body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_durations_parse_to_milliseconds() {
        assert_eq!(parse_duration_ms("250.00us"), Some(0.25));
        assert_eq!(parse_duration_ms("1.50ms"), Some(1.5));
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}
