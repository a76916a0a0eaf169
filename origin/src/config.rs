//! Typed configuration: a TOML file, then `PIXGATE_*` environment overrides
//! (`[cache.redis] url` → `PIXGATE_CACHE__REDIS__URL`), parsed and validated once at
//! start-up. The environment is passed in, so tests can fake it.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Sent as `X-Pixgate-Version` on every response, so canary and stable replicas can
    /// be told apart from outside (canary rehearsals, smoke tests).
    #[serde(default = "default_version")]
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Only `local` so far.
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Root of the local store.
    #[serde(default = "default_root")]
    pub root: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_cache_control")]
    pub cache_control: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default = "default_max_source_bytes")]
    pub max_source_bytes: u64,
    #[serde(default = "default_max_source_pixels")]
    pub max_source_pixels: u64,
    #[serde(default = "default_max_source_side")]
    pub max_source_side: u32,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}
fn default_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
fn default_backend() -> String {
    "local".into()
}
fn default_root() -> PathBuf {
    PathBuf::from("./data")
}
fn default_cache_control() -> String {
    "public, max-age=3600, stale-while-revalidate=86400".into()
}
fn default_max_source_bytes() -> u64 {
    50 << 20
}
fn default_max_source_pixels() -> u64 {
    50_000_000
}
fn default_max_source_side() -> u32 {
    16_384
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { backend: default_backend(), root: default_root() }
    }
}
impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { cache_control: default_cache_control() }
    }
}
impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_source_bytes: default_max_source_bytes(),
            max_source_pixels: default_max_source_pixels(),
            max_source_side: default_max_source_side(),
        }
    }
}

pub const ENV_PREFIX: &str = "PIXGATE_";

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
            let Some(path) = name.strip_prefix(ENV_PREFIX) else { continue };
            let parts: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &parts, env_value(&value))
                .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
        }
        let cfg: Config =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.store.backend != "local" {
            return Err(ConfigError::Invalid(format!("store.backend: unknown backend `{}`", self.store.backend)));
        }
        if self.version.is_empty() || !self.version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid(
                "version: must be non-empty visible ASCII (it is sent as a header)".into(),
            ));
        }
        if self.limits.max_source_pixels == 0 || self.limits.max_source_bytes == 0 || self.limits.max_source_side == 0 {
            return Err(ConfigError::Invalid("limits: every limit must be positive".into()));
        }
        Ok(())
    }
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
    fn embedded_defaults() {
        let c = Config::from_sources("", env(&[])).unwrap();
        assert_eq!(c.listen.port(), 8081);
        assert_eq!(c.store.root, PathBuf::from("./data"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = Config::from_sources(
            "listen = \"127.0.0.1:1\"\n[store]\nroot = \"/a\"",
            env(&[
                ("PIXGATE_LISTEN", "127.0.0.1:9"),
                ("PIXGATE_STORE__ROOT", "/b"),
                ("PIXGATE_LIMITS__MAX_SOURCE_SIDE", "100"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9);
        assert_eq!(c.store.root, PathBuf::from("/b"));
        assert_eq!(c.limits.max_source_side, 100);
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
    fn invalid_values_are_named() {
        let e = Config::from_sources("", env(&[("PIXGATE_LIMITS__MAX_SOURCE_SIDE", "lots")])).unwrap_err();
        assert!(e.to_string().contains("max_source_side"), "{e}");
        let e = Config::from_sources("[store]\nbakend = \"s3\"", env(&[])).unwrap_err();
        assert!(e.to_string().contains("bakend"), "{e}");
        let e = Config::from_sources("", env(&[("PIXGATE_STORE__BACKEND", "ftp")])).unwrap_err();
        assert!(e.to_string().contains("store.backend"), "{e}");
    }
}
