//! Format identification from magic bytes, never from a name or a declared content type.

use super::TransformError;

/// The raster formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Tiff,
    Bmp,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Jpeg => "jpeg",
            Source::Png => "png",
            Source::Gif => "gif",
            Source::Webp => "webp",
            Source::Avif => "avif",
            Source::Tiff => "tiff",
            Source::Bmp => "bmp",
        }
    }
}

/// Shorter than any real image header: such input is damaged, not another format.
const MIN_LEN: usize = 12;

/// Identifies the source format. Unknown formats (SVG, HEIC, MP4, …) are `Unsupported`;
/// empty, tiny or damaged-signature input is `Corrupt`.
pub fn sniff(bytes: &[u8]) -> Result<Source, TransformError> {
    if bytes.len() < MIN_LEN {
        return Err(TransformError::Corrupt(format!("{} bytes is too short for an image", bytes.len())));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Source::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Source::Png);
    }
    if bytes.starts_with(b"\x89PNG") {
        // A PNG whose signature was mangled in transit (CR/LF conversion): damaged, not foreign.
        return Err(TransformError::Corrupt("damaged PNG signature".into()));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(Source::Gif);
    }
    if bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(Source::Webp);
    }
    if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        return Ok(Source::Tiff);
    }
    if bytes.starts_with(b"BM") {
        return Ok(Source::Bmp);
    }
    if &bytes[4..8] == b"ftyp" {
        return isobmff(bytes);
    }
    Err(TransformError::Unsupported("not a supported image format".into()))
}

/// ISO-BMFF files share one container: only the brands tell AVIF from HEIC or MP4.
fn isobmff(bytes: &[u8]) -> Result<Source, TransformError> {
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(8, bytes.len());
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    let mut brands = vec![&bytes[8..12]];
    brands.extend(bytes.get(16..end).unwrap_or_default().chunks_exact(4));
    if brands.iter().any(|b| *b == b"avif" || *b == b"avis") {
        return Ok(Source::Avif);
    }
    let heif = brands.iter().any(|b| matches!(*b, b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1"));
    let what = if heif { "HEIF/HEIC images are not supported" } else { "ISO-BMFF video is not an image" };
    Err(TransformError::Unsupported(what.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes_not_names() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.resize(32, 0);
        assert_eq!(sniff(&jpeg).unwrap(), Source::Jpeg);
        let mut avif = b"\0\0\0\x1cftypavif\0\0\0\0mif1miaf".to_vec();
        avif.resize(40, 0);
        assert_eq!(sniff(&avif).unwrap(), Source::Avif);
    }

    #[test]
    fn heic_mp4_and_svg_are_unsupported_and_stubs_are_corrupt() {
        let heic = b"\0\0\0\x1cftypheic\0\0\0\0mif1heicmiaf".to_vec();
        assert!(matches!(sniff(&heic), Err(TransformError::Unsupported(_))));
        let mp4 = b"\0\0\0\x1cftypisom\0\0\x02\0isomiso2mp41".to_vec();
        assert!(matches!(sniff(&mp4), Err(TransformError::Unsupported(_))));
        assert!(matches!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), Err(TransformError::Unsupported(_))));
        assert!(matches!(sniff(b""), Err(TransformError::Corrupt(_))));
        assert!(matches!(sniff(b"\x89PNG\n\n\x1a\n\0\0\0\rIHDR"), Err(TransformError::Corrupt(_))));
    }
}
