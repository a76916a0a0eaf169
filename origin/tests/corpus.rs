//! Every file of the shared corpus meets its `expected` column (MANIFEST.tsv): valid files
//! decode to their upright size, damaged ones fail with the right typed error, nothing
//! panics, and nothing over the limits gets a pixel buffer. Oriented files must also match
//! their orientation-1 twin pixel for pixel, within JPEG re-encoding noise.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use pixgate_origin::pipeline::{self, Limits, TransformError};
use pixgate_policy::Variant;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/images");

/// Peak resident memory may grow by at most this much while a `reject_by_limits` file is
/// refused: far below what any of those files would need decoded (≥ 268 MP).
const REJECT_MEMORY_BUDGET_MB: u64 = 64;

/// Mean absolute difference (0–255 per channel) allowed between an oriented file and its
/// twin, both reduced to 32×32: the recurser twins are separate JPEG encodes.
const TWIN_TOLERANCE: f64 = 6.0;

/// `decode_ok` files the pipeline's decoders cannot read yet. They must still fail cleanly
/// (a typed 415/422, never a panic); each is listed with the reason, and the test fails
/// if one starts decoding so that this list only ever shrinks.
const KNOWN_GAPS: &[(&str, &str)] = &[];

struct Row {
    file: String,
    expected: String,
    upright: Option<(u32, u32)>,
}

fn manifest() -> Vec<Row> {
    let text =
        std::fs::read_to_string(Path::new(CORPUS).join("MANIFEST.tsv")).expect("corpus manifest beside the repo");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (file, expected, uw, uh) = (col("file"), col("expected"), col("upright_width"), col("upright_height"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[file].to_string(),
                expected: f[expected].to_string(),
                upright: f[uw].parse().ok().zip(f[uh].parse().ok()),
            }
        })
        .collect()
}

/// Resets the kernel's peak-RSS counter so that the next read measures only what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn kind(r: &Result<(u32, u32), TransformError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(TransformError::Unsupported(_)) => "unsupported",
        Err(TransformError::Corrupt(_)) => "corrupt",
        Err(TransformError::TooLarge(_) | TransformError::OutputTooLarge(_)) => "too_large",
        Err(TransformError::Encode(_)) => "internal",
    }
}

/// Decodes upright, and also runs a small transform so every decoder feeds the whole pipeline.
fn run(bytes: &[u8], limits: &Limits) -> Result<(u32, u32), TransformError> {
    let img = pipeline::decode_upright(bytes, limits)?;
    let small = Variant::from_query(b"w=48&h=48&fmt=png").unwrap().0;
    pipeline::transform(bytes, &small, limits)?;
    Ok((img.width(), img.height()))
}

/// The orientation-1 twin of an oriented corpus file, where the corpus has one.
fn twin(file: &str) -> Option<String> {
    let (dir, name) = file.rsplit_once('/')?;
    let t = if let Some(rest) = name.strip_prefix("recurser--") {
        let (stem, _) = rest.rsplit_once('_')?;
        format!("recurser--{stem}_1.jpg")
    } else if name.starts_with("libvips--rotation-") {
        "libvips--rotation-1.jpg".into()
    } else if name.starts_with("pillow--avif-rot") {
        "pillow--avif-rot0mir0.avif".into()
    } else if name == "link-u--kimono.rotate90.avif" || name == "link-u--kimono.mirror-vertical.rotate270.avif" {
        "link-u--kimono.avif".into()
    } else if name == "link-u--kimono.mirror-vertical.rotate270.crop.avif" {
        "link-u--kimono.crop.avif".into()
    } else {
        return None;
    };
    (t != name).then(|| format!("{dir}/{t}"))
}

fn thumb(bytes: &[u8]) -> Vec<u8> {
    let v = Variant::from_query(b"w=32&h=32&fit=fill&fmt=png").unwrap().0;
    let out = pipeline::transform(bytes, &v, &Limits::default()).unwrap();
    image::load_from_memory(&out.bytes).unwrap().to_rgb8().into_raw()
}

#[test]
fn corpus_meets_manifest_expectations() {
    let limits = Limits::default();
    let rows = manifest();
    assert!(rows.len() >= 300, "corpus manifest has {} rows", rows.len());
    let mut counts: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut upright = BTreeMap::new();
    for row in &rows {
        let bytes = std::fs::read(Path::new(CORPUS).join(&row.file)).unwrap();
        reset_peak_rss();
        let before = peak_rss_mb();
        let result = catch_unwind(AssertUnwindSafe(|| run(&bytes, &limits)));
        let grew = peak_rss_mb().saturating_sub(before);
        let Ok(result) = result else {
            failures.push(format!("{}: PANIC", row.file));
            continue;
        };
        let k = kind(&result);
        *counts.entry((row.expected.clone(), k)).or_default() += 1;
        let gap = KNOWN_GAPS.iter().any(|(f, _)| *f == row.file);
        let ok = match row.expected.as_str() {
            "decode_ok" if gap => {
                if result.is_ok() {
                    failures.push(format!("{}: decodes now; remove it from KNOWN_GAPS", row.file));
                }
                matches!(result, Err(TransformError::Unsupported(_) | TransformError::Corrupt(_)))
            }
            "decode_ok" => match (&result, row.upright) {
                (Ok(size), Some(want)) => *size == want,
                (Ok(_), None) => true,
                (Err(_), _) => false,
            },
            "reject" => matches!(result, Err(TransformError::Corrupt(_) | TransformError::TooLarge(_))),
            "reject_by_limits" => {
                if grew > REJECT_MEMORY_BUDGET_MB {
                    failures.push(format!("{}: peak RSS grew {grew} MB while refusing", row.file));
                }
                matches!(result, Err(TransformError::TooLarge(_)))
            }
            "reject_unsupported" => matches!(result, Err(TransformError::Unsupported(_))),
            "either_no_crash" => !matches!(result, Err(TransformError::Encode(_))),
            other => panic!("unknown expectation {other}"),
        };
        if !ok {
            failures.push(format!("{}: expected {}, got {:?}", row.file, row.expected, result));
        }
        if row.expected == "decode_ok" && result.is_ok() {
            upright.insert(row.file.clone(), bytes);
        }
    }

    let mut twins = 0;
    for (file, bytes) in &upright {
        let Some(t) = twin(file) else { continue };
        let Some(twin_bytes) = upright.get(&t) else { continue };
        let (a, b) =
            (pipeline::decode_upright(bytes, &limits).unwrap(), pipeline::decode_upright(twin_bytes, &limits).unwrap());
        if (a.width(), a.height()) != (b.width(), b.height()) {
            continue;
        }
        twins += 1;
        let (ta, tb) = (thumb(bytes), thumb(twin_bytes));
        let diff = ta.iter().zip(&tb).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / ta.len() as f64;
        if diff > TWIN_TOLERANCE {
            failures.push(format!("{file}: differs from its twin {t} by {diff:.1} on average"));
        }
    }

    eprintln!("corpus: {} files; expected/outcome counts:", rows.len());
    for ((expected, outcome), n) in &counts {
        eprintln!("  {expected:<20} {outcome:<12} {n}");
    }
    eprintln!("orientation twins compared: {twins}");
    for (file, why) in KNOWN_GAPS {
        eprintln!("known gap (decode_ok, refused cleanly): {file}: {why}");
    }
    assert!(twins >= 20, "only {twins} orientation twins compared");
    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
}
