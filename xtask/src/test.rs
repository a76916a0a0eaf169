//! `cargo xtask test`: every check CI runs, in order, with the real services started
//! on free loopback ports and stopped at the end whatever happens.

use crate::proc::{self, root};
use crate::stack::{self, Ports};
use crate::{demo, grafana, tools, Result};

pub const S3_ACCESS_KEY: &str = "pixgate-test";
pub const S3_SECRET_KEY: &str = "pixgate-test-secret";

/// `cargo xtask test` runs every stage. `cargo xtask test --e2e [FILTER]` runs only the
/// end-to-end stage (services included), optionally only the tests whose names contain
/// FILTER: the quick loop while working on one end-to-end test.
pub fn run(args: &[String]) -> Result<()> {
    let (e2e_only, filter) = match args {
        [] => (false, None),
        [flag] if flag == "--e2e" => (true, None),
        [flag, f] if flag == "--e2e" => (true, Some(f.clone())),
        _ => return Err(format!("usage: cargo xtask test [--e2e [FILTER]] (got `{}`)", args.join(" "))),
    };
    if tools::in_ci() {
        eprintln!("xtask: CI=true: every service is required; nothing is skipped");
    }
    tools::ensure_build_packages()?;
    tools::ensure_wasm_target()?;
    if e2e_only {
        let wasm = stack::build_wasm()?;
        return end_to_end(&wasm, filter.as_deref());
    }

    proc::run(proc::cargo().args(["fmt", "--all", "--check"]))?;
    proc::run(proc::cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    proc::run(proc::cargo().args([
        "clippy",
        "-p",
        "pixgate-policy",
        "-p",
        "pixgate-filter",
        "--target",
        tools::WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;
    let wasm = stack::build_wasm()?;
    // The fuzz targets are run by cargo-fuzz on nightly; here they only have to build.
    proc::run(proc::cargo_nightly().args(["check", "--manifest-path", "fuzz/Cargo.toml"]))?;
    crate::validate::run()?;
    proc::run(proc::cargo().args(["test", "--workspace", "--exclude", "pixgate-e2e"]))?;
    grafana::check()?;
    end_to_end(&wasm, None)
}

fn end_to_end(wasm: &std::path::Path, filter: Option<&str>) -> Result<()> {
    // End to end: real Envoy, Redis and S3 server, each on a free port.
    let envoy_bin = tools::envoy()?;
    let redis_bin = tools::redis_server()?;
    let s3_bin = tools::s3s_fs()?;
    let origin_bin = stack::build_origin()?;

    let work = root().join("target/xtask/test");
    let _ = std::fs::remove_dir_all(&work);
    let data_dir = work.join("data");
    demo::write_demo(&data_dir)?;

    let redis_port = proc::free_port()?;
    let redis = stack::start_redis(&redis_bin, redis_port, &work)?;
    let s3_port = proc::free_port()?;
    let s3 = stack::start_s3(&s3_bin, s3_port, &work.join("s3"), &work)?;

    let ports = Ports { envoy: proc::free_port()?, origin: proc::free_port()?, admin: proc::free_port()? };
    let origin = stack::start_origin(&origin_bin, ports.origin, &data_dir, &[], &work)?;
    let envoy = stack::start_envoy(&envoy_bin, &stack::envoy_config(&ports, wasm)?, &ports, &work, "envoy")?;

    let result = proc::run(
        proc::cargo()
            .args(["test", "-p", "pixgate-e2e"])
            .args(filter)
            .env("PIXGATE_E2E_ENVOY", format!("http://127.0.0.1:{}", ports.envoy))
            .env("PIXGATE_E2E_ORIGIN", format!("http://127.0.0.1:{}", ports.origin))
            .env("PIXGATE_E2E_ADMIN", format!("http://127.0.0.1:{}", ports.admin))
            .env("PIXGATE_E2E_REDIS", format!("redis://127.0.0.1:{redis_port}"))
            .env("PIXGATE_E2E_S3", format!("http://127.0.0.1:{s3_port}"))
            .env("PIXGATE_E2E_S3_ACCESS_KEY", S3_ACCESS_KEY)
            .env("PIXGATE_E2E_S3_SECRET_KEY", S3_SECRET_KEY)
            .env("PIXGATE_E2E_DATA", &data_dir)
            .env("PIXGATE_E2E_ENVOY_BIN", &envoy_bin)
            .env("PIXGATE_E2E_REDIS_BIN", &redis_bin)
            .env("PIXGATE_E2E_S3_BIN", &s3_bin)
            .env("PIXGATE_E2E_ORIGIN_BIN", &origin_bin)
            .env("PIXGATE_E2E_WASM", wasm)
            .env("PIXGATE_E2E_WORK", &work),
    );
    if result.is_err() {
        for svc in [&origin, &envoy] {
            eprintln!("--- {} log (tail) ---\n{}", svc.name, proc::tail(&svc.log, 30));
        }
    }
    drop((envoy, origin, s3, redis));
    result
}
