//! Typed configuration: a TOML file, then `PIXGATE_*` environment overrides
//! (`[cache.redis] url` → `PIXGATE_CACHE__REDIS__URL`), parsed and validated once at
//! start-up. The environment is passed in, so tests can fake it. Durations are
//! milliseconds (`*_ms`), sizes bytes, so every value is one plain number.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("{field}: {why}"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub transform: TransformConfig,
    #[serde(default)]
    pub upload: UploadConfig,
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Sent as `X-Pixgate-Version` on every response, so canary and stable replicas can
    /// be told apart from outside (canary rehearsals, smoke tests).
    #[serde(default = "default_version")]
    pub version: String,
}

/// The URL policy the origin applies to requests that did not pass the filter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The filter's plugin configuration (`envoy/filter-config.json`), so that legacy URLs
    /// that bypass the filter (FAIL_OPEN, direct access) get the same route profiles.
    /// Absent: one default route, dialect sniffed from the URL's shape.
    #[serde(default)]
    pub filter_config: Option<PathBuf>,
    /// Parsed from `filter_config` at load time.
    #[serde(skip)]
    pub parsed: pixgate_policy::FilterConfig,
}

/// Trace export. Logs always go to stdout as JSON lines (`PIXGATE_LOG` filters them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Base URL of an OTLP/HTTP collector (`http://127.0.0.1:4318`); spans are posted to
    /// `<endpoint>/v1/traces` as protobuf. Empty: no exporter and no background work.
    pub otlp_endpoint: String,
    /// `service.name` of the origin's spans.
    pub service_name: String,
    /// Bound on one export request.
    pub export_timeout_ms: u64,
    /// Share of new traces (requests without a sampled `traceparent`) that are recorded;
    /// requests from Envoy follow Envoy's decision (its `random_sampling`).
    pub sample_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: String::new(),
            service_name: "pixgate-origin".into(),
            export_timeout_ms: 2_000,
            sample_ratio: 1.0,
        }
    }
}

fn default_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: Backend,
    /// Root of the local store.
    pub root: PathBuf,
    /// Bound on every store call (get, put, head, delete).
    pub timeout_ms: u64,
    /// Also keep transformed variants in the store (the L3 cache tier).
    pub variants: bool,
    /// Consecutive connection failures or timeouts after which store calls fail at
    /// once…
    pub breaker_failures: u32,
    /// …for this long, before one probe is let through.
    pub breaker_cooldown_ms: u64,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    /// Prepended to every object name (`<prefix>originals/<key>`, `<prefix>variants/<hash>`).
    pub prefix: String,
    pub region: String,
    /// Endpoint override (`http://127.0.0.1:9000`) for S3-compatible servers; empty: AWS.
    pub endpoint: String,
    /// Path-style addressing (`<endpoint>/<bucket>/<object>`), which most S3-compatible
    /// servers need.
    pub path_style: bool,
    /// Static credentials; both empty: the standard chain (environment, profile, IMDS…).
    pub access_key_id: String,
    pub secret_access_key: String,
    pub connect_timeout_ms: u64,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// How long an original's version is trusted before the store is asked again. The
    /// version is part of every variant key, so this bounds how long another replica
    /// may serve the previous original after a replacement.
    pub original_ttl_ms: u64,
    /// How long a known version may still be used while the store fails, so that
    /// cached variants keep being served during a store outage.
    pub original_stale_ms: u64,
    pub memory: MemoryCacheConfig,
    pub redis: RedisConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryCacheConfig {
    /// Capacity of the L1 cache, weighted by variant bytes.
    pub max_bytes: u64,
    /// Larger variants skip L1 so one huge image cannot flush it.
    pub max_object_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port/db`; empty: no Redis tier.
    pub url: String,
    pub key_prefix: String,
    pub ttl_s: u64,
    pub max_object_bytes: u64,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Consecutive failures that open the circuit breaker…
    pub breaker_failures: u32,
    /// …and how long Redis is then skipped before one probe is let through.
    pub breaker_cooldown_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub cache_control: String,
    /// Bound on a whole image request (fetch, queue, transform).
    pub request_timeout_ms: u64,
    /// How long a client may take to send a request head (and an idle keep-alive
    /// connection may wait for its next one) before the connection is closed.
    pub header_read_timeout_ms: u64,
    /// `Retry-After` seconds on 503.
    pub retry_after_s: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_source_bytes: u64,
    pub max_source_pixels: u64,
    pub max_source_side: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// Transforms running at once; 0: one per core.
    pub workers: usize,
    /// Requests that may wait for a worker; beyond it, 503 with `Retry-After`.
    pub queue: usize,
    /// How long a request may wait in the queue.
    pub queue_timeout_ms: u64,
    /// Sum of decoded source pixels admitted at once (a memory budget).
    pub pixel_budget: u64,
    /// Bound on one transform.
    pub timeout_ms: u64,
    /// libaom speed for AVIF output, 0 (slowest, smallest) – 9; 5 is libvips' default.
    pub avif_speed: u8,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// Bearer tokens allowed to PUT and DELETE originals; none: uploads are refused.
    pub tokens: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// After SIGTERM, how long in-flight requests may take before the process exits.
    pub deadline_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Local,
            root: PathBuf::from("./data"),
            timeout_ms: 2_000,
            variants: true,
            breaker_failures: 3,
            breaker_cooldown_ms: 1_000,
            s3: S3Config::default(),
        }
    }
}
impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            prefix: String::new(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            path_style: false,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            connect_timeout_ms: 1_000,
            max_attempts: 2,
        }
    }
}
impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            original_ttl_ms: 1_000,
            original_stale_ms: 3_600_000,
            memory: MemoryCacheConfig::default(),
            redis: RedisConfig::default(),
        }
    }
}
impl Default for MemoryCacheConfig {
    fn default() -> Self {
        MemoryCacheConfig { max_bytes: 256 << 20, max_object_bytes: 16 << 20 }
    }
}
impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: String::new(),
            key_prefix: "pixgate:".into(),
            ttl_s: 86_400,
            max_object_bytes: 4 << 20,
            timeout_ms: 250,
            connect_timeout_ms: 500,
            breaker_failures: 3,
            breaker_cooldown_ms: 5_000,
        }
    }
}
impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cache_control: "public, max-age=3600, stale-while-revalidate=86400".into(),
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 10_000,
            retry_after_s: 1,
        }
    }
}
impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { max_source_bytes: 50 << 20, max_source_pixels: 50_000_000, max_source_side: 16_384 }
    }
}
impl Default for TransformConfig {
    fn default() -> Self {
        TransformConfig {
            workers: 0,
            queue: 64,
            queue_timeout_ms: 5_000,
            pixel_budget: 200_000_000,
            timeout_ms: 20_000,
            avif_speed: crate::pipeline::AVIF_SPEED,
        }
    }
}
impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { deadline_ms: 10_000 }
    }
}

pub const ENV_PREFIX: &str = "PIXGATE_";
/// Comma-separated upload tokens: easier to set from a secret than a TOML array.
pub const ENV_UPLOAD_TOKENS: &str = "PIXGATE_UPLOAD_TOKENS";

/// `PIXGATE_*` variables that are not settings (the log filter, the test harness's).
fn is_not_a_setting(name: &str) -> bool {
    name == "PIXGATE_LOG" || name.starts_with("PIXGATE_E2E_") || name.starts_with("PIXGATE_BENCH_")
}

impl Config {
    /// Loads `file` (if any), applies overrides from `env`, validates.
    pub fn load(file: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?
            }
            None => String::new(),
        };
        Config::from_sources(&text, env)
    }

    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            toml_text.parse().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        for (name, value) in env {
            if is_not_a_setting(&name) {
                continue;
            }
            let Some(path) = name.strip_prefix(ENV_PREFIX) else { continue };
            let parts: Vec<String> = if name == ENV_UPLOAD_TOKENS {
                vec!["upload".into(), "tokens".into()]
            } else {
                path.split("__").map(str::to_ascii_lowercase).collect()
            };
            let value = if parts == ["upload", "tokens"] { token_list(&value) } else { env_value(&value) };
            set_path(&mut table, &parts, value).map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        let mut cfg: Config =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        if self.version.is_empty() || !self.version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid(
                "version: must be non-empty visible ASCII (it is sent as a header)".into(),
            ));
        }
        if let Some(path) = &self.policy.filter_config {
            let bytes = std::fs::read(path)
                .map_err(|e| ConfigError::Invalid(format!("policy.filter_config: {}: {e}", path.display())))?;
            self.policy.parsed = pixgate_policy::FilterConfig::from_json(&bytes)
                .map_err(|e| ConfigError::Invalid(format!("policy.filter_config: {}: {e}", path.display())))?;
        }
        let positive = [
            ("limits.max_source_bytes", self.limits.max_source_bytes),
            ("limits.max_source_pixels", self.limits.max_source_pixels),
            ("limits.max_source_side", u64::from(self.limits.max_source_side)),
            ("store.timeout_ms", self.store.timeout_ms),
            ("store.breaker_failures", u64::from(self.store.breaker_failures)),
            ("cache.original_ttl_ms", self.cache.original_ttl_ms),
            ("cache.memory.max_bytes", self.cache.memory.max_bytes),
            ("cache.redis.ttl_s", self.cache.redis.ttl_s),
            ("cache.redis.timeout_ms", self.cache.redis.timeout_ms),
            ("cache.redis.connect_timeout_ms", self.cache.redis.connect_timeout_ms),
            ("cache.redis.breaker_failures", u64::from(self.cache.redis.breaker_failures)),
            ("http.request_timeout_ms", self.http.request_timeout_ms),
            ("http.header_read_timeout_ms", self.http.header_read_timeout_ms),
            ("transform.pixel_budget", self.transform.pixel_budget),
            ("transform.timeout_ms", self.transform.timeout_ms),
            ("transform.queue_timeout_ms", self.transform.queue_timeout_ms),
            ("shutdown.deadline_ms", self.shutdown.deadline_ms),
            ("telemetry.export_timeout_ms", self.telemetry.export_timeout_ms),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        if self.transform.avif_speed > crate::pipeline::AVIF_SPEED_MAX {
            return Err(invalid("transform.avif_speed", "must be 0 (slowest) to 9 (fastest)"));
        }
        if self.store.backend == Backend::S3 {
            let s3 = &self.store.s3;
            if s3.bucket.is_empty() {
                return Err(invalid("store.s3.bucket", "required when store.backend is `s3`"));
            }
            let url_like = s3.endpoint.starts_with("http://") || s3.endpoint.starts_with("https://");
            if !s3.endpoint.is_empty() && !url_like {
                return Err(invalid("store.s3.endpoint", format!("`{}` is not an http(s) URL", s3.endpoint)));
            }
            if s3.access_key_id.is_empty() != s3.secret_access_key.is_empty() {
                return Err(invalid("store.s3.access_key_id", "set both the key id and the secret, or neither"));
            }
            if s3.max_attempts == 0 {
                return Err(invalid("store.s3.max_attempts", "must be positive"));
            }
        }
        let url = &self.cache.redis.url;
        if !url.is_empty() && !["redis://", "rediss://", "unix://", "redis+unix://"].iter().any(|p| url.starts_with(p))
        {
            return Err(invalid("cache.redis.url", format!("`{url}` is not a redis:// URL")));
        }
        let otlp = &self.telemetry.otlp_endpoint;
        if !otlp.is_empty() && (!otlp.starts_with("http://") || otlp.parse::<warp::http::Uri>().is_err()) {
            // The exporter is built without TLS: collectors run beside the origin (an agent
            // or sidecar) and are reached over plain HTTP.
            return Err(invalid("telemetry.otlp_endpoint", format!("`{otlp}` is not an http:// URL")));
        }
        if !(0.0..=1.0).contains(&self.telemetry.sample_ratio) {
            return Err(invalid("telemetry.sample_ratio", "must be between 0 and 1"));
        }
        if self.telemetry.service_name.is_empty() {
            return Err(invalid("telemetry.service_name", "must not be empty"));
        }
        if warp::http::HeaderValue::from_str(&self.http.cache_control).is_err() {
            return Err(invalid("http.cache_control", "not a valid header value"));
        }
        for t in &self.upload.tokens {
            if t.len() < 8 || t.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(invalid("upload.tokens", "each token needs at least 8 visible ASCII characters"));
            }
        }
        Ok(())
    }

    pub fn workers(&self) -> usize {
        if self.transform.workers > 0 {
            self.transform.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// An environment value is read as a TOML value when it is one (numbers, booleans,
/// arrays), and as a plain string otherwise.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn token_list(raw: &str) -> toml::Value {
    toml::Value::Array(
        raw.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| toml::Value::String(t.into())).collect(),
    )
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty name".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn version_defaults_to_the_crate_version_and_comes_from_the_environment() {
        let c = Config::from_sources("", env(&[])).unwrap();
        assert_eq!(c.version, env!("CARGO_PKG_VERSION"));
        let c = Config::from_sources("", env(&[("PIXGATE_VERSION", "canary-7")])).unwrap();
        assert_eq!(c.version, "canary-7");
        assert!(Config::from_sources("version = \"a b\"", env(&[])).is_err());
    }

    #[test]
    fn policy_reads_the_filter_configuration_once() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../envoy/filter-config.json");
        let c = Config::from_sources("", env(&[("PIXGATE_POLICY__FILTER_CONFIG", path)])).unwrap();
        assert!(!c.policy.parsed.routes.is_empty());
        let e = Config::from_sources("", env(&[("PIXGATE_POLICY__FILTER_CONFIG", "/nonexistent.json")])).unwrap_err();
        assert!(e.to_string().contains("policy.filter_config"), "{e}");
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::from_sources("", env(&[])).unwrap();
        assert_eq!(c.listen.port(), 8081);
        assert_eq!(c.store.root, PathBuf::from("./data"));
        assert_eq!(c.store.backend, Backend::Local);
        assert_eq!(c.cache.memory.max_bytes, 256 << 20);
        assert!(c.cache.redis.url.is_empty());
        assert!(c.upload.tokens.is_empty());
        assert_eq!(c.http.cache_control, "public, max-age=3600, stale-while-revalidate=86400");
        assert!(c.telemetry.otlp_endpoint.is_empty(), "no trace export unless asked for");
    }

    #[test]
    fn otlp_endpoint_comes_from_the_telemetry_section_or_the_environment() {
        let c = Config::from_sources("[telemetry]\notlp_endpoint = \"http://a:4318\"", env(&[])).unwrap();
        assert_eq!(c.telemetry.otlp_endpoint, "http://a:4318");
        let c =
            Config::from_sources("", env(&[("PIXGATE_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:4318")])).unwrap();
        assert_eq!(c.telemetry.otlp_endpoint, "http://127.0.0.1:4318");
        assert_eq!(c.telemetry.service_name, "pixgate-origin");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = Config::from_sources(
            "listen = \"127.0.0.1:1\"\n[store]\nroot = \"/a\"",
            env(&[
                ("PIXGATE_LISTEN", "127.0.0.1:9"),
                ("PIXGATE_STORE__ROOT", "/b"),
                ("PIXGATE_LIMITS__MAX_SOURCE_SIDE", "100"),
                ("PIXGATE_TRANSFORM__AVIF_SPEED", "5"),
                ("PIXGATE_CACHE__REDIS__URL", "redis://127.0.0.1:6379"),
                ("PIXGATE_STORE__S3__PATH_STYLE", "true"),
                ("PIXGATE_LOG", "debug"),
                ("PIXGATE_E2E_ORIGIN", "http://x"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9);
        assert_eq!(c.store.root, PathBuf::from("/b"));
        assert_eq!(c.limits.max_source_side, 100);
        assert_eq!(c.transform.avif_speed, 5);
        assert_eq!(c.cache.redis.url, "redis://127.0.0.1:6379");
        assert!(c.store.s3.path_style);
    }

    #[test]
    fn upload_tokens_come_comma_separated_from_either_variable() {
        let c = Config::from_sources("", env(&[("PIXGATE_UPLOAD_TOKENS", "token-one-1, token-two-2,")])).unwrap();
        assert_eq!(c.upload.tokens, ["token-one-1", "token-two-2"]);
        let c = Config::from_sources("", env(&[("PIXGATE_UPLOAD__TOKENS", "token-three")])).unwrap();
        assert_eq!(c.upload.tokens, ["token-three"]);
        let c = Config::from_sources("[upload]\ntokens = [\"from-the-file\"]", env(&[])).unwrap();
        assert_eq!(c.upload.tokens, ["from-the-file"]);
    }

    #[test]
    fn invalid_values_are_named() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("", &[("PIXGATE_LIMITS__MAX_SOURCE_SIDE", "lots")], "max_source_side"),
            ("[store]\nbakend = \"s3\"", &[], "bakend"),
            ("", &[("PIXGATE_STORE__BACKEND", "ftp")], "backend"),
            ("", &[("PIXGATE_STORE__BACKEND", "s3")], "store.s3.bucket"),
            ("[store]\nbackend = \"s3\"\n[store.s3]\nbucket = \"b\"\nendpoint = \"ftp://x\"", &[], "store.s3.endpoint"),
            ("", &[("PIXGATE_CACHE__REDIS__URL", "localhost:6379")], "cache.redis.url"),
            ("", &[("PIXGATE_TRANSFORM__PIXEL_BUDGET", "0")], "transform.pixel_budget"),
            ("", &[("PIXGATE_TRANSFORM__AVIF_SPEED", "10")], "transform.avif_speed"),
            ("", &[("PIXGATE_TRANSFORM__AVIF_SPEED", "-1")], "avif_speed"),
            ("", &[("PIXGATE_UPLOAD_TOKENS", "short")], "upload.tokens"),
            ("", &[("PIXGATE_HTTP__CACHE_CONTROL", "a\u{7f}b")], "http.cache_control"),
            ("", &[("PIXGATE_TELEMETRY__OTLP_ENDPOINT", "https://collector:4318")], "telemetry.otlp_endpoint"),
            ("", &[("PIXGATE_TELEMETRY__OTLP_ENDPOINT", "collector:4318")], "telemetry.otlp_endpoint"),
            ("", &[("PIXGATE_TELEMETRY__SAMPLE_RATIO", "1.5")], "telemetry.sample_ratio"),
        ];
        for (file, vars, field) in cases {
            let e = Config::from_sources(file, env(vars)).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
    }
}
