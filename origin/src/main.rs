use std::process::ExitCode;
use std::time::Duration;

use pixgate_origin::config::Config;

/// How long exporting the last spans may delay exit (within the shutdown deadline).
const FLUSH_BOUND: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => config_file = args.next(),
            "-h" | "--help" => {
                println!("usage: pixgate-origin [--config FILE]   (settings also from PIXGATE_* variables)");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("pixgate-origin: unknown argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let config = match Config::load(config_file.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pixgate-origin: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match pixgate_origin::telemetry::init(&config.telemetry, &config.version) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pixgate-origin: {e}");
            return ExitCode::from(2);
        }
    };
    let flush_bound = Duration::from_millis(config.shutdown.deadline_ms).min(FLUSH_BOUND);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pixgate-origin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(pixgate_origin::serve(config, shutdown_signal()));
    // After the server, so that the last requests' spans are exported too.
    telemetry.shutdown(flush_bound);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pixgate-origin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
    tracing::info!("shutting down");
}
