//! `cargo xtask up`: the stack on embedded defaults (local disk, in-memory cache).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::proc::root;
use crate::stack::{self, Ports};
use crate::{demo, tools, Result};

pub fn run(args: &[String]) -> Result<()> {
    let mut ports = Ports { envoy: 8080, origin: 8081, admin: 9901 };
    let mut data_dir = root().join("data");
    let mut otlp_endpoint = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let port = |v: &String| v.parse::<u16>().map_err(|_| format!("{flag}: `{v}` is not a port"));
        match flag.as_str() {
            "--port" => ports.envoy = port(value()?)?,
            "--origin-port" => ports.origin = port(value()?)?,
            "--admin-port" => ports.admin = port(value()?)?,
            "--data-dir" => data_dir = PathBuf::from(value()?),
            "--otlp-endpoint" => otlp_endpoint = Some(value()?.clone()),
            other => {
                return Err(format!(
                    "unknown flag `{other}` (flags: --port --origin-port --admin-port --data-dir --otlp-endpoint)"
                ))
            }
        }
    }

    let wasm = stack::build_wasm()?;
    let origin_bin = stack::build_origin()?;
    let envoy = tools::envoy()?;
    demo::write_demo(&data_dir)?;

    let work = root().join("target/xtask/up");
    // Both export traces to one collector when asked; Envoy's export to the default
    // address fails quietly otherwise.
    let mut envoy_yaml = stack::envoy_config(&ports, &wasm)?;
    let mut origin_env = Vec::new();
    if let Some(endpoint) = &otlp_endpoint {
        envoy_yaml = stack::with_collector(&envoy_yaml, endpoint)?;
        origin_env.push(("PIXGATE_TELEMETRY__OTLP_ENDPOINT", endpoint.clone()));
    }
    let mut origin = stack::start_origin(&origin_bin, ports.origin, &data_dir, &origin_env, &work)?;
    let mut envoy = stack::start_envoy(&envoy, &envoy_yaml, &ports, &work, "envoy")?;

    let base = format!("http://127.0.0.1:{}", ports.envoy);
    println!("\nPixgate is up (logs in {}):", work.display());
    println!("  Envoy + filter  {base}     admin http://127.0.0.1:{}", ports.admin);
    println!("  origin          http://127.0.0.1:{}   store {}", ports.origin, data_dir.display());
    if let Some(endpoint) = &otlp_endpoint {
        println!("  traces          {endpoint}/v1/traces (Envoy and origin)");
    }
    println!("\nTry:");
    println!(
        "  curl -s -o out.jpg -w '%{{http_code}} %{{content_type}}\\n' '{base}/demo.jpg?width=200&height=150&crop=1'"
    );
    println!("  curl -s -o out.webp -w '%{{http_code}} %{{content_type}}\\n' '{base}/img/demo.jpg?w=100&fmt=webp'");
    println!("  curl -s -H 'Accept: image/webp' -D - -o /dev/null '{base}/demo.jpg?width=320'");
    println!("  curl -s '{base}/nope.jpg?width=10'");
    println!("\nCtrl-C stops both.");

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::SeqCst) {
        origin.check_alive()?;
        envoy.check_alive()?;
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("\nstopping…");
    envoy.stop();
    origin.stop();
    Ok(())
}
