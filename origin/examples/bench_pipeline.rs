//! Times Pixgate's pipeline in-process on one image and operation, for `cargo xtask bench
//! pipeline`, and prints one JSON object. Single-threaded, like the libvips peer (whose AVIF
//! save alone runs libheif's encoder threads).
//!
//!   bench_pipeline --image FILE --op jpeg|webp|avif|png [--width 400] [--iters 5]
//!                  [--peer FILE]        (the peer's output, to score its DSSIM too)
//!                  [--peer-srgb FILE]   (the peer's colour-managed output, likewise)
//!                  [--avif-speed N]     (libaom speed, as `transform.avif_speed`)

#![allow(unsafe_code)] // one clock_gettime call

use std::time::Instant;

use pixgate_origin::pipeline::{self, quality, Limits};
use pixgate_policy::Variant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Resets the kernel's peak-RSS counter (Linux), so a later read covers only what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `/proc/self/status` field in MiB (`VmRSS`: now; `VmHWM`: peak since the last reset).
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of the whole process so far, in ms, all threads, at the kernel's nanosecond
/// resolution (`CLOCK_PROCESS_CPUTIME_ID`, the clock Python's `process_time` reads for the
/// peer): an encoder's own threads count too.
fn cpu_ms() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    if ok {
        t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
    } else {
        f64::NAN
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let image = arg(&args, "--image").expect("--image FILE");
    let op = arg(&args, "--op").expect("--op jpeg|webp|avif|png");
    let width: u32 = arg(&args, "--width").map_or(400, |w| w.parse().expect("--width N"));
    let iters: usize = arg(&args, "--iters").map_or(5, |n| n.parse().expect("--iters N"));
    let query = match op.as_str() {
        "jpeg" => format!("w={width}&fmt=jpeg&q=80"),
        "webp" => format!("w={width}&fmt=webp&q=80"),
        "avif" => format!("w={width}&fmt=avif&q=55"),
        "png" => format!("w={width}&fmt=png"),
        other => panic!("unknown op {other}"),
    };
    let variant = Variant::from_query(query.as_bytes()).expect("valid query").0;
    let mut limits = Limits::default();
    if let Some(speed) = arg(&args, "--avif-speed") {
        limits.avif_speed = speed.parse().ok().filter(|s| *s <= pipeline::AVIF_SPEED_MAX).expect("--avif-speed 0-9");
    }
    let bytes = std::fs::read(&image).expect("readable image");

    // A 64x64 image of the same format through the same operation first pages in the
    // code and initialises the codecs. The next transform then has almost nothing freed
    // before it to reuse, so its peak above the resident size before it is what one
    // transform of this image needs (the process's own code and runtime excluded).
    let tiny = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(64, 64, image::Rgb([90, 120, 150])));
    let mut small = Vec::new();
    let format = image::guess_format(&bytes).expect("a known image format");
    tiny.write_to(&mut std::io::Cursor::new(&mut small), format).expect("encode the tiny image");
    pipeline::transform(&small, &variant, &limits).expect("transform the tiny image");
    let before = status_mb("VmRSS");
    reset_peak_rss();
    let mut out = pipeline::transform(&bytes, &variant, &limits).expect("transform");
    let peak = (status_mb("VmHWM") - before).max(0.0);
    let (mut samples, mut cpu) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for _ in 0..iters {
        let (t, c) = (Instant::now(), cpu_ms());
        out = pipeline::transform(&bytes, &variant, &limits).expect("transform");
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push(cpu_ms() - c);
    }
    samples.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    let cpu_median = cpu[cpu.len() / 2];

    let mut extra = String::new();
    // Lossy outputs are scored: a faster encode is only fair at equal or better quality.
    if op != "png" {
        // The float reference costs a full-resolution decode: made once, at the output's
        // size, and again only for a peer output of another size.
        let reference = quality::reference_resize(&bytes, out.width, out.height).expect("reference decode");
        let score = |encoded: &[u8]| {
            let img = pipeline::decode_upright(encoded, &limits).expect("decode the output").to_rgb8();
            if img.dimensions() == reference.dimensions() {
                quality::dssim(&img, &reference)
            } else {
                let own = quality::reference_resize(&bytes, img.width(), img.height()).expect("reference decode");
                quality::dssim(&img, &own)
            }
        };
        extra.push_str(&format!(",\"dssim\":{:.6}", score(&out.bytes)));
        for (flag, key) in [("--peer", "peer_dssim"), ("--peer-srgb", "peer_srgb_dssim")] {
            if let Some(peer) = arg(&args, flag) {
                let peer = std::fs::read(peer).expect("peer output");
                extra.push_str(&format!(",\"{key}\":{:.6}", score(&peer)));
            }
        }
    }
    println!(
        "{{\"avif_speed\":{},\"median_ms\":{median:.3},\"min_ms\":{:.3},\"cpu_ms\":{cpu_median:.3},\"bytes\":{},\"width\":{},\"height\":{},\"shrink\":{},\"peak_rss_mb\":{peak:.1},\"decode_ms\":{:.3},\"resize_ms\":{:.3},\"encode_ms\":{:.3}{extra}}}",
        limits.avif_speed,
        samples[0],
        out.bytes.len(),
        out.width,
        out.height,
        out.shrink,
        out.timings.decode.as_secs_f64() * 1000.0,
        out.timings.resize.as_secs_f64() * 1000.0,
        out.timings.encode.as_secs_f64() * 1000.0,
    );
}
