//! `cargo xtask up | test`: the two commands that set everything up.

mod bench_serve;
mod demo;
mod proc;
mod stack;
mod test;
mod tools;
mod up;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  up     build the filter and origin, install Envoy, start the stack on embedded defaults
         flags: --port 8080 --origin-port 8081 --admin-port 9901 --data-dir ./data
  test   format check, clippy (native and wasm32-wasip1), wasm build, unit and integration
         tests, then end-to-end tests through a real Envoy (with Redis and an S3 server)
  bench serve
         cache-hit requests/s and latency of the origin, directly and through Envoy,
         against nginx serving the same bytes; writes target/bench/serve.json";

pub type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") if args.get(1).map(String::as_str) == Some("serve") => bench_serve::run(&args[2..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return if args.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
