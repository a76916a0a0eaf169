//! The 400 px output for every benchmark photo stays close to a high-precision reference
//! resize (full decode, float Lanczos3): shrink-on-load, crop mapping, orientation and the
//! resampler together must not cost visible quality. A nearest-neighbour "resize" must
//! fail the same threshold, which shows the test can catch a resize bug.

use fast_image_resize as fir;
use pixgate_origin::pipeline::{self, quality, Limits};
use pixgate_policy::Variant;

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-images");

/// DSSIM (1/SSIM − 1) allowed between Pixgate's 400 px PNG and the reference. Measured:
/// 0.0005–0.0025 on most photos, 0.0063 on the 5141 px wide progressive file decoded at 1/4
/// (libvips, at the same scale: 0.0075). Mapping that decode by its size ratio instead of
/// exactly 1/4 (a drift of under a quarter pixel) scored 0.016; a nearest-neighbour resize
/// scores 0.18.
const MAX_DSSIM: f64 = 0.01;

fn images() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(IMAGES)
        .expect("bench images beside the repo")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    v.sort();
    v
}

#[test]
fn resized_output_matches_a_high_precision_reference() {
    let variant = Variant::from_query(b"w=400&fmt=png").unwrap().0;
    let mut worst: f64 = 0.0;
    let paths = images();
    assert!(paths.len() >= 9, "bench images missing");
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let out = pipeline::transform(&bytes, &variant, &Limits::default()).unwrap();
        let ours = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
        let full = image::load_from_memory(&bytes).unwrap();
        let reference = quality::reference_resize(&bytes, out.width, out.height).unwrap();
        let d = quality::dssim(&ours, &reference);
        eprintln!(
            "{}: {}x{} shrink 1/{} dssim {d:.5}",
            path.file_name().unwrap().to_string_lossy(),
            out.width,
            out.height,
            out.shrink
        );
        assert!(d <= MAX_DSSIM, "{}: dssim {d:.5} > {MAX_DSSIM}", path.display());
        worst = worst.max(d);

        if path.file_name().is_some_and(|n| n == "hubble-1000x872.jpg") {
            let src = full.to_rgb8();
            let from =
                fir::images::ImageRef::new(src.width(), src.height(), src.as_raw(), fir::PixelType::U8x3).unwrap();
            let mut to = fir::images::Image::new(out.width, out.height, fir::PixelType::U8x3);
            let opts = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Nearest);
            fir::Resizer::new().resize(&from, &mut to, &opts).unwrap();
            let nearest = image::RgbImage::from_raw(out.width, out.height, to.into_vec()).unwrap();
            let bad = quality::dssim(&nearest, &reference);
            eprintln!("  nearest-neighbour control: dssim {bad:.5}");
            assert!(bad > MAX_DSSIM, "the threshold would not catch a nearest-neighbour resize ({bad:.5})");
        }
    }
    eprintln!("worst dssim {worst:.5} (threshold {MAX_DSSIM})");
}
