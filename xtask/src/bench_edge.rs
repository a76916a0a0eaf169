//! `cargo xtask bench edge`: what the filter costs. The same Envoy build runs in front of
//! the same upstream (nginx answering a 16 KB body from memory) with the Pixgate filter,
//! without it, and with a proxy-wasm filter that does nothing (what hosting any wasm
//! filter costs, so the report can tell the VM's share from Pixgate's); runs are
//! interleaved and medians compared.

use std::process::Command;
use std::time::Duration;

use crate::load::{self, median, Run};
use crate::proc::{self, root, Service};
use crate::stack::{self, Ports};
use crate::{tools, Result};

const BODY_BYTES: usize = 16 * 1024;
const PATH: &str = "/demo.jpg?width=200&height=150&crop=1&utm_source=newsletter";
const ACCEPT: &str = "Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8";

struct Options {
    rounds: u32,
    seconds: u32,
    connections: u32,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut o = Options { rounds: 5, seconds: 5, connections: 16 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let v: u32 = it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--rounds" => o.rounds = v.max(1),
            "--seconds" => o.seconds = v.max(1),
            "--connections" => o.connections = v.max(1),
            other => return Err(format!("unknown flag `{other}` (flags: --rounds --seconds --connections)")),
        }
    }
    tools::ensure_debian_packages(&["nginx", "wrk"])?;
    let wasm = stack::build_wasm()?;
    let noop_wasm = build_noop_wasm()?;
    let envoy_bin = tools::envoy()?;
    let work = root().join("target/bench/edge");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    // Two cores: Envoy (one worker) on CPU 0; the upstream and the load generator on CPU 1.
    let pin_envoy = Some("0");
    let pin_rest = Some("1");

    let upstream_port = proc::free_port()?;
    let _nginx = start_nginx(upstream_port, &work, pin_rest)?;

    let with_ports = Ports { envoy: proc::free_port()?, origin: upstream_port, admin: proc::free_port()? };
    let without_ports = Ports { envoy: proc::free_port()?, origin: upstream_port, admin: proc::free_port()? };
    let noop_ports = Ports { envoy: proc::free_port()?, origin: upstream_port, admin: proc::free_port()? };
    let with_yaml = stack::envoy_config(&with_ports, &wasm)?;
    let without_yaml = without_filter(&stack::envoy_config(&without_ports, &wasm)?)?;
    let noop_yaml = stack::envoy_config(&noop_ports, &noop_wasm)?;
    let with = stack::start_envoy_on(&envoy_bin, &with_yaml, &with_ports, &work, "envoy-with-filter", pin_envoy, 1)?;
    let without =
        stack::start_envoy_on(&envoy_bin, &without_yaml, &without_ports, &work, "envoy-without-filter", pin_envoy, 1)?;
    let noop = stack::start_envoy_on(&envoy_bin, &noop_yaml, &noop_ports, &work, "envoy-noop-wasm", pin_envoy, 1)?;

    let url = |p: &Ports| format!("http://127.0.0.1:{}{PATH}", p.envoy);
    // Warm all three (JIT, connection pools) before measuring.
    for p in [&with_ports, &without_ports, &noop_ports] {
        load::wrk(&url(p), &[ACCEPT], o.connections, 2, pin_rest)?;
    }

    let mut a: Vec<(Run, f64)> = Vec::new();
    let mut b: Vec<(Run, f64)> = Vec::new();
    let mut c: Vec<(Run, f64)> = Vec::new();
    let configs = [(&with, &with_ports), (&without, &without_ports), (&noop, &noop_ports)];
    for round in 0..o.rounds {
        // Rotate which goes first so drift in the machine's load hits all alike.
        for k in 0..configs.len() {
            let which = (k + round as usize) % configs.len();
            let (svc, ports) = configs[which];
            let before = load::cpu_us(svc.pid())?;
            let run = load::wrk(&url(ports), &[ACCEPT], o.connections, o.seconds, pin_rest)?;
            let cpu = load::cpu_us(svc.pid())? - before;
            if run.non_2xx > 0 {
                return Err(format!("{} answered {} non-2xx responses", svc.name, run.non_2xx));
            }
            let per_req = cpu as f64 / run.requests.max(1) as f64;
            eprintln!(
                "round {round} {:<22} {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms  {:.1} µs CPU/req",
                svc.name, run.requests_per_s, run.p50_ms, run.p99_ms, per_req
            );
            [&mut a, &mut b, &mut c][which].push((run, per_req));
        }
    }

    let summarize = |v: &[(Run, f64)]| {
        (
            median(v.iter().map(|r| r.0.requests_per_s).collect()),
            median(v.iter().map(|r| r.0.p50_ms).collect()),
            median(v.iter().map(|r| r.0.p99_ms).collect()),
            median(v.iter().map(|r| r.1).collect()),
        )
    };
    let (a_rps, a_p50, a_p99, a_cpu) = summarize(&a);
    let (b_rps, b_p50, b_p99, b_cpu) = summarize(&b);
    let (c_rps, c_p50, c_p99, c_cpu) = summarize(&c);
    let wasm_bytes = load::file_size(&wasm);
    let version = envoy_version(&envoy_bin);
    let json = format!(
        r#"{{
  "bench": "edge",
  "peer": "Envoy {version} without the filter, same upstream (nginx, {BODY_BYTES} B body)",
  "machine": "{machine}",
  "settings": {{"rounds": {rounds}, "seconds_per_run": {secs}, "connections": {conns}, "path": "{PATH}", "pinning": "envoy on CPU 0 (1 worker); nginx and wrk on CPU 1"}},
  "cases": [
    {{"case": "with_filter", "requests_per_s": {a_rps:.1}, "p50_ms": {a_p50:.3}, "p99_ms": {a_p99:.3}, "cpu_us_per_request": {a_cpu:.2}, "ratio": {ratio:.3}, "ratio_of": "requests/s with the filter ÷ without, higher is better"}},
    {{"case": "without_filter", "requests_per_s": {b_rps:.1}, "p50_ms": {b_p50:.3}, "p99_ms": {b_p99:.3}, "cpu_us_per_request": {b_cpu:.2}, "ratio": 1.0, "ratio_of": "reference"}},
    {{"case": "noop_wasm_filter", "requests_per_s": {c_rps:.1}, "p50_ms": {c_p50:.3}, "p99_ms": {c_p99:.3}, "cpu_us_per_request": {c_cpu:.2}, "ratio": {c_ratio:.3}, "ratio_of": "requests/s with a proxy-wasm filter that does nothing ÷ without, higher is better", "wasm_bytes": {noop_bytes}}}
  ],
  "summary": {{"added_cpu_us_per_request": {added_cpu:.2}, "throughput_ratio": {ratio:.3}, "added_p99_ms": {added_p99:.3}, "wasm_bytes": {wasm_bytes}, "wasm_host_cpu_us_per_request": {host_cpu:.2}, "filter_logic_cpu_us_per_request": {logic_cpu:.2}}}
}}
"#,
        machine = load::machine(),
        rounds = o.rounds,
        secs = o.seconds,
        conns = o.connections,
        ratio = a_rps / b_rps,
        added_cpu = a_cpu - b_cpu,
        added_p99 = a_p99 - b_p99,
        c_ratio = c_rps / b_rps,
        noop_bytes = load::file_size(&noop_wasm),
        host_cpu = c_cpu - b_cpu,
        logic_cpu = a_cpu - c_cpu,
    );
    let path = load::write_report("edge", &json)?;
    println!(
        "edge: filter adds {:.2} µs CPU/request ({:.2} hosting any wasm filter + {:.2} Pixgate's logic), \
         throughput ratio {:.3}, p99 +{:.3} ms; wasm {} bytes ({})",
        a_cpu - b_cpu,
        c_cpu - b_cpu,
        a_cpu - c_cpu,
        a_rps / b_rps,
        a_p99 - b_p99,
        wasm_bytes,
        path.display()
    );
    Ok(())
}

/// The do-nothing filter of `wasm-filter/noop`.
fn build_noop_wasm() -> Result<std::path::PathBuf> {
    proc::run(proc::cargo().args([
        "build",
        "-p",
        "pixgate-noop-filter",
        "--target",
        tools::WASM_TARGET,
        "--profile",
        "wasm-release",
    ]))?;
    Ok(root().join("target/wasm32-wasip1/wasm-release/pixgate_noop_filter.wasm"))
}

/// The same configuration without the Pixgate filter block.
fn without_filter(yaml: &str) -> Result<String> {
    let start = yaml.find("                  - name: pixgate\n").ok_or("filter block not found in envoy.yaml")?;
    let end =
        yaml.find("                  - name: envoy.filters.http.router").ok_or("router not found in envoy.yaml")?;
    Ok(format!("{}{}", &yaml[..start], &yaml[end..]))
}

fn start_nginx(port: u16, work: &std::path::Path, cpus: Option<&str>) -> Result<Service> {
    let www = work.join("www");
    std::fs::create_dir_all(&www).map_err(|e| e.to_string())?;
    let body: Vec<u8> = (0..BODY_BYTES).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(www.join("body.bin"), body).map_err(|e| e.to_string())?;
    let conf = work.join("nginx.conf");
    let w = work.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 1;\npid {w}/nginx.pid;\nerror_log {w}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  open_file_cache max=16;\n  client_body_temp_path {w}/tmp;\n  proxy_temp_path {w}/tmp;\n  fastcgi_temp_path {w}/tmp;\n  uwsgi_temp_path {w}/tmp;\n  scgi_temp_path {w}/tmp;\n\
             server {{\n    listen 127.0.0.1:{port};\n    keepalive_requests 1000000;\n    location / {{ root {www}; default_type image/jpeg; rewrite ^ /body.bin break; }}\n  }}\n}}\n",
            www = www.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", cpus.unwrap_or("0-1"), "nginx", "-c"]).arg(&conf).args(["-e", &format!("{w}/nginx-error.log")]);
    let mut svc = Service::spawn("nginx", &mut cmd, work)?;
    svc.wait_ready(Duration::from_secs(20), || proc::http_status(port, "/x") == Some(200))?;
    Ok(svc)
}

fn envoy_version(bin: &std::path::Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            // "<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
            let t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.split("version:").nth(1)?.split('/').nth(1).map(str::to_owned)
        })
        .unwrap_or_else(|| tools::ENVOY_VERSION.into())
}
