//! The soak's stack, each service restartable on its own port: Redis (L2), s3s-fs (the
//! store), the release origin and Envoy with the filter. Every (re)start logs to a file
//! of its own, so a drill's restart does not overwrite the log of the process it killed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::proc::{self, root, Service};
use crate::stack::{self, Ports};
use crate::test::{S3_ACCESS_KEY, S3_SECRET_KEY};
use crate::Result;

pub const BUCKET: &str = "pixgate-soak";
pub const TOKEN: &str = "soak-upload-token-7f3a";
/// L1 is bounded at this for the soak, so that it fills during the warm-up and a
/// growing RSS afterwards means a leak, not a cache still filling.
pub const L1_BYTES: u64 = 32 << 20;

pub struct Binaries {
    pub redis: PathBuf,
    pub s3: PathBuf,
    pub origin: PathBuf,
    pub envoy: PathBuf,
    pub wasm: PathBuf,
}

pub struct Stack {
    bins: Binaries,
    pub work: PathBuf,
    pub s3_root: PathBuf,
    pub redis_port: u16,
    pub s3_port: u16,
    pub ports: Ports,
    envoy_yaml: String,
    starts: u32,
    redis: Option<Service>,
    s3: Option<Service>,
    origin: Option<Service>,
    envoy: Option<Service>,
    /// PIDs for the RSS sampler; 0 while the process is down.
    pub origin_pid: Arc<AtomicU32>,
    pub envoy_pid: Arc<AtomicU32>,
}

impl Stack {
    pub fn start(bins: Binaries, work: &Path) -> Result<Stack> {
        let s3_root = work.join("s3");
        std::fs::create_dir_all(s3_root.join(BUCKET)).map_err(|e| e.to_string())?;
        let ports = Ports { envoy: proc::free_port()?, origin: proc::free_port()?, admin: proc::free_port()? };
        let envoy_yaml = stack::envoy_config(&ports, &bins.wasm)?;
        let mut s = Stack {
            bins,
            work: work.to_owned(),
            s3_root,
            redis_port: proc::free_port()?,
            s3_port: proc::free_port()?,
            ports,
            envoy_yaml,
            starts: 0,
            redis: None,
            s3: None,
            origin: None,
            envoy: None,
            origin_pid: Arc::new(AtomicU32::new(0)),
            envoy_pid: Arc::new(AtomicU32::new(0)),
        };
        s.start_redis()?;
        s.start_s3()?;
        s.start_origin()?;
        s.start_envoy()?;
        Ok(s)
    }

    pub fn envoy_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.envoy)
    }

    pub fn origin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.origin)
    }

    fn log_dir(&mut self) -> PathBuf {
        self.starts += 1;
        self.work.join(format!("logs/{:02}", self.starts))
    }

    pub fn start_redis(&mut self) -> Result<()> {
        let dir = self.log_dir();
        self.redis = Some(stack::start_redis(&self.bins.redis, self.redis_port, &dir)?);
        Ok(())
    }

    pub fn start_s3(&mut self) -> Result<()> {
        let dir = self.log_dir();
        self.s3 = Some(stack::start_s3(&self.bins.s3, self.s3_port, &self.s3_root, &dir)?);
        Ok(())
    }

    pub fn start_origin(&mut self) -> Result<()> {
        let dir = self.log_dir();
        let env = [
            ("PIXGATE_LOG", "warn".to_owned()),
            // As in istio/base/deployment.yaml: the allocator setting the origin is run with.
            ("MALLOC_ARENA_MAX", "2".to_owned()),
            ("PIXGATE_STORE__BACKEND", "s3".to_owned()),
            ("PIXGATE_STORE__S3__ENDPOINT", format!("http://127.0.0.1:{}", self.s3_port)),
            ("PIXGATE_STORE__S3__BUCKET", BUCKET.to_owned()),
            ("PIXGATE_STORE__S3__PATH_STYLE", "true".to_owned()),
            ("PIXGATE_STORE__S3__ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
            ("PIXGATE_STORE__S3__SECRET_ACCESS_KEY", S3_SECRET_KEY.to_owned()),
            ("PIXGATE_CACHE__REDIS__URL", format!("redis://127.0.0.1:{}", self.redis_port)),
            ("PIXGATE_CACHE__MEMORY__MAX_BYTES", L1_BYTES.to_string()),
            ("PIXGATE_UPLOAD_TOKENS", TOKEN.to_owned()),
        ];
        let data = self.work.join("origin-data");
        let svc = stack::start_origin(&self.bins.origin, self.ports.origin, &data, &env, &dir)?;
        self.origin_pid.store(svc.pid(), Ordering::Relaxed);
        self.origin = Some(svc);
        Ok(())
    }

    pub fn start_envoy(&mut self) -> Result<()> {
        let dir = self.log_dir();
        let svc = stack::start_envoy(&self.bins.envoy, &self.envoy_yaml, &self.ports, &dir, "envoy")?;
        self.envoy_pid.store(svc.pid(), Ordering::Relaxed);
        self.envoy = Some(svc);
        Ok(())
    }

    pub fn kill_origin(&mut self) {
        self.origin_pid.store(0, Ordering::Relaxed);
        if let Some(mut s) = self.origin.take() {
            s.kill();
        }
    }

    pub fn kill_redis(&mut self) {
        if let Some(mut s) = self.redis.take() {
            s.kill();
        }
    }

    pub fn stop_s3(&mut self) {
        if let Some(mut s) = self.s3.take() {
            s.stop();
        }
    }

    pub fn stop_envoy(&mut self) {
        self.envoy_pid.store(0, Ordering::Relaxed);
        if let Some(mut s) = self.envoy.take() {
            s.stop();
        }
    }

    /// Fails with the log's tail of any service that died on its own.
    pub fn check_alive(&mut self) -> Result<()> {
        for s in [&mut self.redis, &mut self.s3, &mut self.origin, &mut self.envoy].into_iter().flatten() {
            s.check_alive()?;
        }
        Ok(())
    }

    pub fn origin_log(&self) -> Option<PathBuf> {
        self.origin.as_ref().map(|s| s.log.clone())
    }

    pub fn redis_port(&self) -> u16 {
        self.redis_port
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Front to back, so nothing logs errors about a dependency stopped first.
        drop(self.envoy.take());
        drop(self.origin.take());
        drop(self.s3.take());
        drop(self.redis.take());
    }
}

/// Keys in Redis (`DBSIZE`), through a bare RESP exchange; `None` when unreachable.
pub fn redis_dbsize(port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    line.strip_prefix(':')?.trim_end().parse().ok()
}

/// The workspace's shared test data (`../shared` beside the repository).
pub fn shared() -> PathBuf {
    root().join("../shared")
}
