//! `cargo xtask bench pipeline`: Pixgate's image pipeline against libvips, both
//! in-process and single-threaded, interleaved per case so that machine noise hits both.
//!
//! Knob (environment): `PIXGATE_BENCH_AVIF_SPEED`, Pixgate's libaom speed (0–9) instead of
//! the origin's default, as `transform.avif_speed` would set it (libvips' default is 5).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::proc::{self, root};
use crate::{stack, tools, Result};

/// Debian packages the libvips peer needs (pyvips binds libvips through cffi).
const PEER_PACKAGES: &[&str] = &["libvips-dev", "python3-venv", "python3-pip"];
const WIDTH: u32 = 400;
/// Rounds per case; each runs both sides with `ITERS` timed iterations after a warm-up.
const ROUNDS: usize = 3;
const ITERS: usize = 5;

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("pipeline") => pipeline(),
        _ => Err("usage: cargo xtask bench pipeline".into()),
    }
}

struct Case {
    image: String,
    op: &'static str,
    pixgate_ms: f64,
    libvips_ms: f64,
    /// CPU time of all threads per transform: libvips' AVIF save runs libheif's default of
    /// several encoder threads, so its wall time is not one core's work.
    pixgate_cpu_ms: f64,
    libvips_cpu_ms: f64,
    pixgate_bytes: u64,
    libvips_bytes: u64,
    rss_mb: f64,
    /// Pixgate's DSSIM, for lossy outputs.
    dssim: Option<f64>,
    /// libvips' output, scored (lossy outputs).
    peer: Option<Peer>,
    /// libvips' colour-managed output, where its plain output has other colours: see
    /// `write_peer_output`.
    srgb: Option<Peer>,
}

/// A libvips output Pixgate's is judged against.
#[derive(Clone, Copy)]
struct Peer {
    bytes: u64,
    /// Metadata within `bytes` (see `metadata_bytes`).
    metadata_bytes: u64,
    dssim: f64,
}

impl Peer {
    /// What the byte budget is judged on: Pixgate writes no metadata.
    fn image_bytes(&self) -> u64 {
        self.bytes - self.metadata_bytes
    }
}

impl Case {
    /// The libvips output quality is judged against: the colour-managed one where there is
    /// one, since only that shows the same picture as Pixgate's (which is always sRGB).
    fn judged_peer(&self) -> Option<Peer> {
        self.srgb.or(self.peer)
    }
}

/// Bytes of the metadata chunks (ICCP, EXIF, XMP) of a WebP file, headers and padding
/// included; 0 for other formats. libvips 8.14's `webpsave` writes the source's profile,
/// EXIF and XMP despite `strip` (its JPEG, PNG and AVIF savers drop them).
fn metadata_bytes(file: &[u8]) -> u64 {
    if file.len() < 12 || &file[..4] != b"RIFF" || &file[8..12] != b"WEBP" {
        return 0;
    }
    let (mut at, mut sum) = (12, 0);
    while let Some(header) = file.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let chunk = 8 + size + (size & 1);
        if at + chunk > file.len() {
            break;
        }
        if matches!(&header[..4], b"ICCP" | b"EXIF" | b"XMP ") {
            sum += chunk as u64;
        }
        at += chunk;
    }
    sum
}

fn pipeline() -> Result<()> {
    let shared = root().join("../shared");
    let images_dir = shared.join("bench-images");
    let peer_script = shared.join("bench/vips_peer.py");
    tools::ensure_debian_packages(PEER_PACKAGES)?;
    let python = pyvips_venv()?;
    let vips_version = output(
        Command::new(&python)
            .args(["-c", "import pyvips; print(pyvips.version(0), pyvips.version(1), pyvips.version(2), sep='.')"]),
    )?;

    let avif_speed = match std::env::var("PIXGATE_BENCH_AVIF_SPEED") {
        Ok(v) => Some(v.parse::<u8>().ok().filter(|s| *s <= 9).ok_or("PIXGATE_BENCH_AVIF_SPEED: 0 to 9")?),
        Err(_) => None,
    };
    stack::build_origin_release(&["--example", "bench_pipeline"])?;
    let bench_bin = root().join("target/release/examples/bench_pipeline");
    let work = root().join("target/bench");
    let one = work.join("one");
    std::fs::create_dir_all(&one).map_err(|e| e.to_string())?;

    let names = image_names(&images_dir)?;

    let mut cases = Vec::new();
    // As the bench binary reports it: the origin's default unless the knob is set.
    let mut speed_used = 0.0;
    for name in &names {
        let ops: &[&'static str] = if name.ends_with(".png") { &["png"] } else { &["jpeg", "webp", "avif"] };
        // The peer script takes a folder: give it one holding only this image.
        for entry in std::fs::read_dir(&one).map_err(|e| e.to_string())?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        std::os::unix::fs::symlink(images_dir.join(name), one.join(name)).map_err(|e| e.to_string())?;
        for &op in ops {
            let peer_out = work.join(format!("peer.{op}"));
            let peer_srgb = work.join(format!("peer-srgb.{op}"));
            let _ = std::fs::remove_file(&peer_srgb);
            let lossy = op != "png";
            if lossy {
                write_peer_output(&python, &peer_script, &images_dir.join(name), op, &peer_out, &peer_srgb)?;
            }
            let srgb_file = std::fs::read(&peer_srgb).ok();
            let (mut ours, mut theirs, mut ours_cpu) = (Vec::new(), Vec::new(), Vec::new());
            let mut last = String::new();
            let mut peer_bytes = 0;
            for _ in 0..ROUNDS {
                let mut cmd = Command::new(&bench_bin);
                cmd.arg("--image").arg(images_dir.join(name)).args(["--op", op, "--iters", &ITERS.to_string()]);
                cmd.args(["--width", &WIDTH.to_string()]);
                if let Some(speed) = avif_speed {
                    cmd.args(["--avif-speed", &speed.to_string()]);
                }
                if lossy {
                    cmd.arg("--peer").arg(&peer_out);
                }
                if srgb_file.is_some() {
                    cmd.arg("--peer-srgb").arg(&peer_srgb);
                }
                last = output(&mut cmd)?;
                ours.push(number(&last, "median_ms")?);
                ours_cpu.push(number(&last, "cpu_ms")?);
                let json = work.join("peer.json");
                let mut peer = Command::new(&python);
                peer.arg(&peer_script).arg("--images").arg(&one).args(["--ops", op, "--iters", &ITERS.to_string()]);
                peer.args(["--width", &WIDTH.to_string()]).arg("--json").arg(&json).env("VIPS_CONCURRENCY", "1");
                output(&mut peer)?;
                let text = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
                theirs.push(number(&text, "median_ms")?);
                peer_bytes = number(&text, "bytes")? as u64;
            }
            let peer = |file: &[u8], key: &str| {
                Ok::<_, String>(Peer {
                    bytes: file.len() as u64,
                    metadata_bytes: metadata_bytes(file),
                    dssim: number(&last, key)?,
                })
            };
            let peer_file = if lossy { std::fs::read(&peer_out).map_err(|e| e.to_string())? } else { Vec::new() };
            let case = Case {
                image: name.clone(),
                op,
                pixgate_ms: median(&mut ours),
                libvips_ms: median(&mut theirs),
                pixgate_cpu_ms: median(&mut ours_cpu),
                libvips_cpu_ms: peer_cpu_ms(&python, &peer_script, &images_dir.join(name), op)?,
                pixgate_bytes: number(&last, "bytes")? as u64,
                libvips_bytes: peer_bytes,
                rss_mb: number(&last, "peak_rss_mb")?,
                dssim: lossy.then(|| number(&last, "dssim")).transpose()?,
                peer: lossy.then(|| peer(&peer_file, "peer_dssim")).transpose()?,
                srgb: srgb_file.map(|f| peer(&f, "peer_srgb_dssim")).transpose()?,
            };
            speed_used = number(&last, "avif_speed")?;
            eprintln!("{name}/{op}: pixgate {:.1} ms, libvips {:.1} ms", case.pixgate_ms, case.libvips_ms);
            cases.push(case);
        }
    }
    let report = render(&cases, &vips_version, speed_used);
    std::fs::write(work.join("pipeline.json"), &report).map_err(|e| e.to_string())?;
    print_table(&cases);
    eprintln!("xtask: wrote {}", work.join("pipeline.json").display());
    Ok(())
}

/// The JPEG and PNG files of `../shared/bench-images` (`dir`), sorted by name.
pub fn image_names(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".jpg") || n.ends_with(".png"))
        .collect();
    names.sort();
    Ok(names)
}

/// A venv under target/tools with PyPI's pyvips, made once.
fn pyvips_venv() -> Result<PathBuf> {
    let venv = root().join("target/tools/pyvips-venv");
    let python = venv.join("bin/python3");
    let has = |p: &Path| Command::new(p).args(["-c", "import pyvips"]).output().is_ok_and(|o| o.status.success());
    if python.is_file() && has(&python) {
        return Ok(python);
    }
    proc::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    proc::run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "pyvips"]))?;
    if !has(&python) {
        return Err("pyvips installed but cannot load libvips".into());
    }
    Ok(python)
}

/// libvips' output for the same lossy case (`vips_peer.py`'s own call), saved to `out`
/// so that the example can score its DSSIM beside Pixgate's. Where that output's colours
/// differ from libvips' own colour-managed output (`export_profile='srgb'`: a source with
/// a non-sRGB profile, left unconverted by `thumbnail` and then stripped of the profile),
/// the colour-managed output is saved to `srgb_out` too.
fn write_peer_output(
    python: &Path,
    peer_script: &Path,
    image: &Path,
    op: &str,
    out: &Path,
    srgb_out: &Path,
) -> Result<()> {
    let script = format!(
        "{import}\
         import pyvips\n\
         from vips_peer import SAVE, once\n\
         open({out:?}, 'wb').write(once({image:?}, {op:?}, {WIDTH}))\n\
         img = pyvips.Image.thumbnail({image:?}, {WIDTH}, height=10_000_000).copy_memory()\n\
         if 'icc-profile-data' in img.get_fields():\n\
         \x20   managed = pyvips.Image.thumbnail({image:?}, {WIDTH}, height=10_000_000, export_profile='srgb').copy_memory()\n\
         \x20   if (managed.cast('float') - img.cast('float')).abs().avg() > 1.0:\n\
         \x20       suffix, opts = SAVE[{op:?}]\n\
         \x20       open({srgb:?}, 'wb').write(managed.write_to_buffer(suffix, **opts))\n",
        import = import_peer(peer_script)?,
        image = image.display().to_string(),
        out = out.display().to_string(),
        srgb = srgb_out.display().to_string(),
    );
    output(Command::new(python).args(["-c", &script]).env("VIPS_CONCURRENCY", "1")).map(|_| ())
}

/// Python lines that make `vips_peer.py` importable, so that the peer's settings and calls
/// are used, never restated.
fn import_peer(peer_script: &Path) -> Result<String> {
    let dir = peer_script.parent().ok_or("peer script has no folder")?;
    Ok(format!("import sys\nsys.path.insert(0, {:?})\n", dir.display().to_string()))
}

/// libvips' CPU time per transform (all threads; median of `ITERS` after a warm-up), timed
/// around the peer script's own `once`, so that the work is exactly what `vips_peer.py` times.
fn peer_cpu_ms(python: &Path, peer_script: &Path, image: &Path, op: &str) -> Result<f64> {
    let script = format!(
        "{import}\
         import statistics, time\n\
         from vips_peer import once\n\
         once({image:?}, {op:?}, {WIDTH})\n\
         s = []\n\
         for _ in range({ITERS}):\n\
         \x20   t = time.process_time()\n\
         \x20   once({image:?}, {op:?}, {WIDTH})\n\
         \x20   s.append((time.process_time() - t) * 1000)\n\
         print('{{\"cpu_ms\":%.3f}}' % statistics.median(s))\n",
        import = import_peer(peer_script)?,
        image = image.display().to_string(),
    );
    let text = output(Command::new(python).args(["-c", &script]).env("VIPS_CONCURRENCY", "1"))?;
    number(&text, "cpu_ms")
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", proc::describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", proc::describe(cmd), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The first number after `"key":` in a flat JSON text (both producers write flat objects).
fn number(json: &str, key: &str) -> Result<f64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat).ok_or_else(|| format!("no `{key}` in {json}"))? + pat.len();
    let rest = json[at..].trim_start();
    let end =
        rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))).unwrap_or(rest.len());
    rest[..end].parse().map_err(|e| format!("`{key}` in {json}: {e}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU");
    format!("{cpus}, {}", model.trim())
}

fn is_baseline(image: &str) -> bool {
    image.ends_with(".jpg") && !image.contains("progressive")
}

/// Target ratio for a case (pixgate ÷ libvips time).
fn target(c: &Case) -> f64 {
    match c.op {
        "png" => 0.5,
        "avif" => 0.5,
        _ if is_baseline(&c.image) => 0.8,
        _ => 1.0,
    }
}

/// "Equal" DSSIM: within 1 % of libvips' score. Identical encoders on near-identical
/// resizes differ in the fourth decimal; that is not a quality difference anyone sees.
const DSSIM_TOLERANCE: f64 = 0.01;

fn met(c: &Case) -> bool {
    let ratio = c.pixgate_ms / c.libvips_ms;
    let quality = match (c.dssim, c.judged_peer()) {
        (Some(ours), Some(p)) => {
            ours <= p.dssim * (1.0 + DSSIM_TOLERANCE) && c.pixgate_bytes as f64 <= 1.05 * p.image_bytes() as f64
        }
        _ => true,
    };
    ratio <= target(c) && quality
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn render(cases: &[Case], vips_version: &str, avif_speed: f64) -> String {
    let rows: Vec<String> = cases
        .iter()
        .map(|c| {
            let mut dssim = String::new();
            if let (Some(a), Some(p)) = (c.dssim, c.peer) {
                dssim = format!(
                    ",\"pixgate_dssim\":{a:.6},\"libvips_dssim\":{:.6},\"libvips_metadata_bytes\":{}",
                    p.dssim, p.metadata_bytes
                );
            }
            if let Some(p) = c.srgb {
                dssim.push_str(&format!(
                    ",\"libvips_srgb_bytes\":{},\"libvips_srgb_metadata_bytes\":{},\"libvips_srgb_dssim\":{:.6}",
                    p.bytes, p.metadata_bytes, p.dssim
                ));
            }
            format!(
                "{{\"case\":\"{img}/{op}\",\"image\":\"{img}\",\"op\":\"{op}\",\"pixgate_ms\":{:.3},\"libvips_ms\":{:.3},\"ratio\":{:.3},\"ratio_of\":\"time, lower is better\",\"pixgate_cpu_ms\":{:.3},\"libvips_cpu_ms\":{:.3},\"cpu_ratio\":{:.3},\"target_ratio\":{},\"target_met\":{},\"pixgate_bytes\":{},\"libvips_bytes\":{},\"pixgate_peak_rss_mb\":{:.1}{dssim}}}",
                c.pixgate_ms,
                c.libvips_ms,
                c.pixgate_ms / c.libvips_ms,
                c.pixgate_cpu_ms,
                c.libvips_cpu_ms,
                c.pixgate_cpu_ms / c.libvips_cpu_ms,
                target(c),
                met(c),
                c.pixgate_bytes,
                c.libvips_bytes,
                c.rss_mb,
                img = esc(&c.image),
                op = c.op,
            )
        })
        .collect();
    let geo_of = |ratio: &dyn Fn(&Case) -> f64, f: &dyn Fn(&Case) -> bool| {
        let r: Vec<f64> = cases.iter().filter(|c| f(c)).map(|c| ratio(c).ln()).collect();
        if r.is_empty() {
            0.0
        } else {
            (r.iter().sum::<f64>() / r.len() as f64).exp()
        }
    };
    let geo = |f: &dyn Fn(&Case) -> bool| geo_of(&|c| c.pixgate_ms / c.libvips_ms, f);
    let geo_cpu = |f: &dyn Fn(&Case) -> bool| geo_of(&|c| c.pixgate_cpu_ms / c.libvips_cpu_ms, f);
    let rss_baseline =
        cases.iter().filter(|c| is_baseline(&c.image) && c.op == "jpeg").map(|c| c.rss_mb).fold(0.0, f64::max);
    format!(
        "{{\"bench\":\"pipeline\",\"peer\":\"libvips {} thumbnail, in-process\",\"machine\":\"{}\",\"cases\":[\n{}\n],\"summary\":{{\"cases\":{},\"targets_met\":{},\"geomean_ratio\":{:.3},\"geomean_ratio_jpeg\":{:.3},\"geomean_ratio_webp\":{:.3},\"geomean_ratio_avif\":{:.3},\"geomean_ratio_png\":{:.3},\"geomean_cpu_ratio\":{:.3},\"geomean_cpu_ratio_avif\":{:.3},\"cpu_of\":\"CPU time of all threads per transform; targets are judged on ratio (wall time)\",\"max_peak_rss_mb_baseline_jpeg\":{:.1},\"dssim_tolerance\":{DSSIM_TOLERANCE},\"quality_judged_against\":\"libvips' output (libvips_bytes less libvips_metadata_bytes, libvips_dssim); where its colours differ from libvips' own colour-managed output (a non-sRGB profile left unconverted, then stripped), that colour-managed output (libvips_srgb_bytes less libvips_srgb_metadata_bytes, libvips_srgb_dssim)\",\"peak_rss_of\":\"resident memory one transform adds to its process (the first in a fresh process)\",\"pixgate_avif_speed\":{avif_speed},\"width\":{WIDTH},\"rounds\":{ROUNDS},\"iters_per_round\":{ITERS}}}}}\n",
        esc(vips_version),
        esc(&machine()),
        rows.join(",\n"),
        cases.len(),
        cases.iter().filter(|c| met(c)).count(),
        geo(&|_| true),
        geo(&|c| c.op == "jpeg"),
        geo(&|c| c.op == "webp"),
        geo(&|c| c.op == "avif"),
        geo(&|c| c.op == "png"),
        geo_cpu(&|_| true),
        geo_cpu(&|c| c.op == "avif"),
        rss_baseline,
    )
}

fn print_table(cases: &[Case]) {
    println!(
        "{:<42} {:>10} {:>10} {:>6} {:>6} {:>9} {:>9} {:>9} {:>7} {:>17} met",
        "case",
        "pixgate ms",
        "libvips ms",
        "ratio",
        "target",
        "cpu ratio",
        "px bytes",
        "lv bytes",
        "rss MB",
        "dssim px/lv"
    );
    for c in cases {
        // libvips' bytes without the metadata it kept; where quality is judged against its
        // colour-managed output, that one's (*).
        let (lv_bytes, dssim) = match (c.dssim, c.peer, c.srgb) {
            (Some(a), _, Some(p)) => (format!("{}*", p.image_bytes()), format!("{a:.4}/{:.4}*", p.dssim)),
            (Some(a), Some(p), None) => (p.image_bytes().to_string(), format!("{a:.4}/{:.4}", p.dssim)),
            _ => (c.libvips_bytes.to_string(), String::new()),
        };
        println!(
            "{:<42} {:>10.1} {:>10.1} {:>6.2} {:>6.2} {:>9.2} {:>9} {:>9} {:>7.1} {:>17} {}",
            format!("{}/{}", c.image, c.op),
            c.pixgate_ms,
            c.libvips_ms,
            c.pixgate_ms / c.libvips_ms,
            target(c),
            c.pixgate_cpu_ms / c.libvips_cpu_ms,
            c.pixgate_bytes,
            lv_bytes,
            c.rss_mb,
            dssim,
            if met(c) { "yes" } else { "no" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(tag: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut c = tag.to_vec();
        c.extend((payload.len() as u32).to_le_bytes());
        c.extend(payload);
        if payload.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    #[test]
    fn webp_metadata_counts_profile_exif_and_xmp_chunks_with_headers_and_padding() {
        let body = [
            chunk(b"VP8X", &[0; 10]),
            chunk(b"ICCP", &[1; 7]),
            chunk(b"VP8 ", &[2; 100]),
            chunk(b"EXIF", &[3; 6]),
            chunk(b"XMP ", &[4; 3]),
        ]
        .concat();
        let mut file = b"RIFF".to_vec();
        file.extend((body.len() as u32 + 4).to_le_bytes());
        file.extend(b"WEBP");
        file.extend(&body);
        assert_eq!(metadata_bytes(&file), (8 + 8) + (8 + 6) + (8 + 4));
    }

    #[test]
    fn other_formats_and_truncated_files_have_no_metadata_counted() {
        assert_eq!(metadata_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif"), 0);
        assert_eq!(metadata_bytes(b"RIFF\x00\x00\x00\x00WEBPICCP\xff\xff"), 0);
        assert_eq!(metadata_bytes(b"RIFF\x00\x00\x00\x00WEBPICCP\xff\xff\xff\x00abc"), 0, "a chunk past the end");
    }
}
