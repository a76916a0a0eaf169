//! `cargo xtask up | test`: the two commands that set everything up.

mod bench_edge;
mod bench_pipeline;
mod bench_serve;
mod dashboard;
mod demo;
mod fuzz;
mod grafana;
mod load;
mod proc;
mod soak;
mod stack;
mod test;
mod tools;
mod up;
mod validate;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  up     build the filter and origin, install Envoy, start the stack on embedded defaults
         flags: --port 8080 --origin-port 8081 --admin-port 9901 --data-dir ./data
  test   format check, clippy (native and wasm32-wasip1), wasm build, unit and integration
         tests, then end-to-end tests through a real Envoy (with Redis and an S3 server);
         `test --e2e [FILTER]` runs only the end-to-end stage
  bench edge       Envoy with vs without the filter (target/bench/edge.json)
  bench pipeline   the image pipeline against libvips in-process (target/bench/pipeline.json)
  bench serve      cache hits of the origin, directly and through Envoy, against nginx (target/bench/serve.json)
  fuzz --seconds N [TARGET]
                   run the cargo-fuzz targets (decide, planner, decode, upload) on nightly for
                   N seconds each, seeded from ../shared/corpus; prints executions per target
  soak --minutes N Envoy + filter + origin + Redis + S3 server under a realistic mixed load for N minutes
                   (default 10), with fault drills: origin SIGKILL during uploads, Redis killed, S3 server
                   stopped, Envoy restarted (target/bench/soak.json; fails on unexpected errors, RSS growth
                   or a drill that does not recover); flag: --connections 32
  grafana          regenerate grafana/dashboards/pixgate.json and grafana/alerts/prometheusrule.yaml";

pub type Result<T> = std::result::Result<T, String>;

fn bench(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("edge") => bench_edge::run(&args[1..]),
        Some("pipeline") => bench_pipeline::run(args),
        Some("serve") => bench_serve::run(&args[1..]),
        other => Err(format!("unknown benchmark {other:?} (benchmarks: edge, pipeline, serve)")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("grafana") => grafana::write(),
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
