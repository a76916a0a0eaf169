//! Services of a test's own: an origin (in-process, through the library) and Redis / S3
//! server processes, so that killing them disturbs nobody else.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pixgate_origin::config::Config;
use pixgate_origin::Background;

pub const TOKEN: &str = "e2e-upload-token";

pub use super::service;
pub use pixgate_e2e::free_port;

pub fn wait_port(port: u16, timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(200))
        .is_err()
    {
        assert!(start.elapsed() < timeout, "port {port} not open after {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory under the run's work directory.
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var("PIXGATE_E2E_WORK").map(PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let dir = base.join("scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed when dropped.
pub struct Proc {
    child: Option<Child>,
    cmd: Vec<String>,
    log: PathBuf,
    pub port: u16,
}

impl Proc {
    pub fn spawn(bin: &str, args: &[String], port: u16, log: &Path) -> Proc {
        let mut p = Proc {
            child: None,
            cmd: std::iter::once(bin.to_owned()).chain(args.iter().cloned()).collect(),
            log: log.to_owned(),
            port,
        };
        p.start();
        p
    }

    pub fn start(&mut self) {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(&self.cmd[0])
            .args(&self.cmd[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.cmd[0]));
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(20));
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn redis(dir: &Path) -> Proc {
    let port = free_port();
    let args = ["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"];
    Proc::spawn(&service("PIXGATE_E2E_REDIS_BIN"), &args.map(String::from), port, &dir.join("redis.log"))
}

pub fn s3_server(dir: &Path) -> Proc {
    let port = free_port();
    let root = dir.join("s3");
    std::fs::create_dir_all(&root).unwrap();
    let args = vec![
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--access-key".to_owned(),
        service("PIXGATE_E2E_S3_ACCESS_KEY"),
        "--secret-key".to_owned(),
        service("PIXGATE_E2E_S3_SECRET_KEY"),
        root.display().to_string(),
    ];
    Proc::spawn(&service("PIXGATE_E2E_S3_BIN"), &args, port, &dir.join("s3s-fs.log"))
}

/// Settings for an origin whose originals live in `bucket` on the S3 server at `endpoint`.
pub fn s3_settings(endpoint: &str, bucket: &str) -> Vec<(String, String)> {
    [
        ("PIXGATE_STORE__BACKEND", "s3".to_owned()),
        ("PIXGATE_STORE__S3__ENDPOINT", endpoint.to_owned()),
        ("PIXGATE_STORE__S3__BUCKET", bucket.to_owned()),
        ("PIXGATE_STORE__S3__PATH_STYLE", "true".to_owned()),
        ("PIXGATE_STORE__S3__ACCESS_KEY_ID", service("PIXGATE_E2E_S3_ACCESS_KEY")),
        ("PIXGATE_STORE__S3__SECRET_ACCESS_KEY", service("PIXGATE_E2E_S3_SECRET_KEY")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An origin served in-process on a free port, stopped when dropped.
pub struct TestOrigin {
    pub base: String,
    pub server: Background,
}

impl TestOrigin {
    pub fn start(settings: &[(String, String)]) -> TestOrigin {
        let mut env = vec![
            ("PIXGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("PIXGATE_UPLOAD_TOKENS".to_owned(), TOKEN.to_owned()),
        ];
        env.extend(settings.iter().cloned());
        let server = Background::start(Config::from_sources("", env).unwrap()).unwrap();
        TestOrigin { base: format!("http://{}", server.addr), server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub fn put_original(url: &str, body: &[u8]) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let r = agent.put(url).header("authorization", format!("Bearer {TOKEN}")).send(body).unwrap();
    r.status().as_u16()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 60]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
    out
}

/// Runs `f` on a small runtime (for calling the library's async API from a test).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}
