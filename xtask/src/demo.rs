//! The demo original, drawn by code so that nothing is downloaded.

use std::path::Path;

use crate::Result;

/// Writes a 1600×900 JPEG with gradients and shapes to `<data>/originals/demo.jpg`.
pub fn write_demo(data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("originals");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("demo.jpg");
    if path.is_file() {
        return Ok(());
    }
    let (w, h) = (1600u32, 900u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let mut px = [(255.0 * fx) as u8, (255.0 * fy) as u8, (255.0 * (1.0 - fx)) as u8];
        let (dx, dy) = (x as f32 - 800.0, y as f32 - 450.0);
        if dx * dx + dy * dy < 250.0 * 250.0 {
            px = [250, 210, 40];
        }
        if (100..400).contains(&x) && (100..300).contains(&y) {
            px = [30, 30, 30];
        }
        if (x / 100 + y / 100) % 2 == 0 && y > 750 {
            px = [255, 255, 255];
        }
        image::Rgb(px)
    });
    let tmp = dir.join(".demo.jpg.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Jpeg).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
}
