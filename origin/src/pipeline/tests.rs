use super::*;

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out
}

fn png_rgba(img: &image::RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// A `w`×`h` image whose left half is `left` and right half `right`.
fn halves(w: u32, h: u32, left: [u8; 4], right: [u8; 4]) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, _| image::Rgba(if x < w / 2 { left } else { right }))
}

fn variant(q: &str) -> Variant {
    Variant::from_query(q.as_bytes()).unwrap().0
}

#[test]
fn resizes_and_crops_to_the_planned_size_in_every_output_format() {
    let src = jpeg(400, 225);
    for (q, want, fmt) in [
        ("w=200&h=150&fit=cover", (200, 150), Format::Jpeg),
        ("w=100", (100, 56), Format::Jpeg),
        ("w=100&prog=1", (100, 56), Format::Jpeg),
        ("w=50&fmt=png", (50, 28), Format::Png),
        ("w=50&fmt=webp", (50, 28), Format::Webp),
        ("w=50&fmt=webp&q=100", (50, 28), Format::Webp),
        ("w=50&fmt=avif", (50, 28), Format::Avif),
        ("w=50&fmt=gif", (50, 28), Format::Gif),
        ("w=60&h=60&fit=contain&fmt=png", (60, 60), Format::Png),
        ("w=60&h=60&fit=cover&gravity=smart", (60, 60), Format::Jpeg),
        ("crop=10,10,100,50&w=50&rot=90&flip=h&blur=2", (50, 25), Format::Jpeg),
    ] {
        let out = transform(&src, &variant(q), &Limits::default()).unwrap();
        assert_eq!((out.width, out.height, out.format), (want.0, want.1, fmt), "{q}");
        if fmt != Format::Avif {
            let decoded = image::load_from_memory(&out.bytes).unwrap();
            assert_eq!((decoded.width(), decoded.height()), want, "{q}");
        }
    }
}

#[test]
fn refuses_non_images_and_corrupt_data() {
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    assert!(matches!(transform(svg, &variant(""), &Limits::default()), Err(TransformError::Unsupported(_))));
    let mut truncated = jpeg(64, 64);
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(transform(&truncated, &variant(""), &Limits::default()), Err(TransformError::Corrupt(_))));
}

#[test]
fn refuses_oversized_sources_from_the_header() {
    let src = jpeg(300, 300);
    let limits = Limits { max_pixels: 10_000, ..Limits::default() };
    assert!(matches!(transform(&src, &variant("w=10"), &limits), Err(TransformError::TooLarge(_))));
    let limits = Limits { max_side: 299, ..Limits::default() };
    assert!(matches!(probe(&src, &limits), Err(TransformError::TooLarge(_))));
    let limits = Limits { max_bytes: 100, ..Limits::default() };
    assert!(matches!(probe(&src, &limits), Err(TransformError::TooLarge(_))));
}

#[test]
fn jpeg_shrinks_on_load_but_keeps_twice_the_target_for_the_resampler() {
    let src = jpeg(1600, 1200);
    for (q, shrink) in [("w=100", 8), ("w=200", 4), ("w=300", 2), ("w=401", 1), ("w=400", 2), ("w=800", 1)] {
        let out = transform(&src, &variant(q), &Limits::default()).unwrap();
        assert_eq!(out.shrink, shrink, "{q}");
    }
    // The crop, not the whole image, is what gets resampled.
    let out = transform(&src, &variant("crop=0,0,400,300&w=200"), &Limits::default()).unwrap();
    assert_eq!(out.shrink, 1);
}

#[test]
fn avif_over_the_pixel_budget_becomes_webp_and_says_why() {
    let src = jpeg(400, 300);
    let limits = Limits { avif_max_pixels: 10_000, ..Limits::default() };
    let out = transform(&src, &variant("w=200&fmt=avif"), &limits).unwrap();
    assert_eq!((out.format, out.format_reason), (Format::Webp, Some("avif-pixel-budget")));
    let out = transform(&src, &variant("w=100&fmt=avif"), &limits).unwrap();
    assert_eq!((out.format, out.format_reason), (Format::Avif, None));
}

#[test]
fn alpha_is_premultiplied_while_resampling_and_flattened_onto_bg_for_jpeg() {
    // Opaque red beside fully transparent green: no green may bleed into the edge.
    let src = halves(64, 8, [255, 0, 0, 255], [0, 255, 0, 0]);
    let out = transform(&png_rgba(&src), &variant("w=16"), &Limits::default()).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgba8();
    for p in img.pixels().filter(|p| p[3] > 16) {
        assert!(p[1] < 8 && p[0] > 240, "colour bled from transparent pixels: {p:?}");
    }
    let out = transform(&png_rgba(&src), &variant("w=16&fmt=jpeg&bg=0000ff"), &Limits::default()).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    let right = img.get_pixel(15, 1);
    assert!(right[2] > 200 && right[1] < 40, "transparent area must show bg: {right:?}");
}

#[test]
fn contain_pads_with_bg() {
    let out = transform(&jpeg(400, 200), &variant("w=100&h=100&fit=contain&bg=ff0000"), &Limits::default()).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (100, 100));
    let corner = img.get_pixel(50, 2);
    assert!(corner[0] > 230 && corner[1] < 30, "{corner:?}");
}

#[test]
fn lim_orig_returns_the_original_bytes() {
    let src = jpeg(100, 80);
    let out = transform(&src, &variant("w=200&lim=orig"), &Limits::default()).unwrap();
    assert!(out.passthrough);
    assert_eq!(out.bytes, src);
}

#[test]
fn adobe_cmyk_without_profile_is_not_inverted() {
    // Adobe stores ink inverted: 255 everywhere means no ink, which is white.
    assert_eq!(color::cmyk_to_rgb(&[255, 255, 255, 255], true, None), vec![255, 255, 255]);
    assert_eq!(color::cmyk_to_rgb(&[0, 0, 0, 0], false, None), vec![255, 255, 255]);
    // Full cyan ink: no red light.
    assert_eq!(color::cmyk_to_rgb(&[0, 255, 255, 255], true, None), vec![0, 255, 255]);
}

#[test]
fn enlarging_a_source_beyond_the_output_limits_is_refused_before_decoding() {
    // 1000×1000 at 1000 % would be a 10000×10000 output, and `outside` on a sliver a
    // 16-million-pixel-wide resample: refused as 400 `too_large`, never allocated.
    let src = jpeg(1000, 1000);
    let r = transform(&src, &variant("pct=1000&enlarge=1"), &Limits::default());
    assert!(matches!(r, Err(TransformError::OutputTooLarge(_))), "{r:?}");
    let sliver = jpeg(4000, 2);
    let r = transform(&sliver, &variant("w=8000&h=8000&fit=outside&enlarge=1"), &Limits::default());
    assert!(matches!(r, Err(TransformError::OutputTooLarge(_))), "{r:?}");
}

#[test]
fn prog_png_is_interlaced_with_the_same_pixels_as_the_plain_png() {
    let src = png_rgba(&image::RgbaImage::from_fn(90, 70, |x, y| image::Rgba([x as u8 * 2, y as u8 * 3, 90, 200])));
    let plain = transform(&src, &variant("w=45&fmt=png"), &Limits::default()).unwrap();
    let interlaced = transform(&src, &variant("w=45&fmt=png&prog=1"), &Limits::default()).unwrap();
    assert_eq!((plain.bytes[28], interlaced.bytes[28]), (0, 1), "IHDR interlace method");
    let decode = |b: &[u8]| image::load_from_memory(b).unwrap().to_rgba8();
    assert_eq!(decode(&plain.bytes), decode(&interlaced.bytes));
}

#[test]
fn a_dct_scaled_decode_maps_exactly_one_over_shrink_of_the_source() {
    // 5141 px at 1/4 decodes to 1286 px, whose last column covers a quarter block.
    assert_eq!(decode_scale(1286, 5141, 4), 0.25);
    assert_eq!(decode_scale(201, 1602, 8), 0.125);
    // Not DCT-scaled (or scaled some other way): the plain ratio.
    assert_eq!(decode_scale(800, 1600, 1), 0.5);
    assert_eq!(decode_scale(640, 640, 1), 1.0);
}

#[test]
fn shrink_on_load_keeps_edges_where_they_are_on_sizes_not_divisible_by_the_block() {
    // A vertical black/white edge at x = 1200 of 1602: at w=100 (1/8 decode, 201 px wide)
    // it belongs at 1200 × 100 / 1602 = 74.9. Stretching the 201 decoded columns over the
    // source put it at 74.7.
    let img =
        image::RgbImage::from_fn(1602, 64, |x, _| if x < 1200 { image::Rgb([0; 3]) } else { image::Rgb([255; 3]) });
    let mut src = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut src, 95).encode_image(&img).unwrap();
    let out = transform(&src, &variant("w=100&fmt=png"), &Limits::default()).unwrap();
    assert_eq!(out.shrink, 8);
    let png = image::load_from_memory(&out.bytes).unwrap().to_luma8();
    let row: Vec<f64> = (0..png.width()).map(|x| f64::from(png.get_pixel(x, 2)[0])).collect();
    // Sub-pixel position of the crossing of mid-grey, between pixel centres (x + 0.5).
    let i = row.windows(2).position(|w| w[0] < 127.5 && w[1] >= 127.5).unwrap();
    let edge = i as f64 + 0.5 + (127.5 - row[i]) / (row[i + 1] - row[i]);
    let want = 1200.0 * 100.0 / 1602.0;
    assert!((edge - want).abs() < 0.12, "edge at {edge:.3}, want {want:.3}");
}

/// Decodes an output back through the pipeline's own decoder, as RGBA at full size.
fn decode_rgba(bytes: &[u8]) -> image::RgbaImage {
    let png = transform(bytes, &variant("fmt=png"), &Limits::default()).unwrap();
    image::load_from_memory(&png.bytes).unwrap().to_rgba8()
}

#[test]
fn avif_keeps_colours_and_alpha_through_a_round_trip() {
    // Left half opaque red, right half transparent green: a channel swap, a lost alpha plane
    // or a wrong YUV matrix shows up at the two sample points.
    let src = halves(64, 48, [220, 30, 30, 255], [30, 200, 30, 0]);
    let out = transform(&png_rgba(&src), &variant("fmt=avif&q=90"), &Limits::default()).unwrap();
    assert_eq!((out.format, out.width, out.height), (Format::Avif, 64, 48));
    let back = decode_rgba(&out.bytes);
    assert_eq!(back.dimensions(), (64, 48));
    let red = back.get_pixel(8, 24).0;
    assert!(red[0] > 200 && red[1] < 50 && red[2] < 50 && red[3] == 255, "{red:?}");
    assert!(back.get_pixel(56, 24).0[3] < 8, "alpha lost: {:?}", back.get_pixel(56, 24));
}

#[test]
fn avif_encodes_odd_and_one_pixel_sizes() {
    // 4:2:0 chroma planes round up; a 1x1 output is a valid request (w=1).
    let src = jpeg(64, 64);
    for (q, want) in
        [("w=1&fmt=avif", (1, 1)), ("w=3&h=5&fit=fill&fmt=avif", (3, 5)), ("w=33&h=17&fit=fill&fmt=avif", (33, 17))]
    {
        let out = transform(&src, &variant(q), &Limits::default()).unwrap();
        assert_eq!(decode_rgba(&out.bytes).dimensions(), want, "{q}");
    }
}

#[test]
fn avif_quality_parameter_is_honoured() {
    let src = jpeg(320, 240);
    let size = |q: &str| transform(&src, &variant(q), &Limits::default()).unwrap().bytes.len();
    let (low, default, high) = (size("fmt=avif&q=20"), size("fmt=avif"), size("fmt=avif&q=95"));
    assert!(low < default && default < high, "q=20 {low} B, default {default} B, q=95 {high} B");
}

#[test]
fn avif_speed_setting_reaches_the_encoder() {
    let src = jpeg(320, 240);
    let encode = |speed| {
        let out = transform(&src, &variant("fmt=avif"), &Limits { avif_speed: speed, ..Limits::default() }).unwrap();
        assert_eq!(decode_rgba(&out.bytes).dimensions(), (320, 240), "speed {speed}");
        out.bytes
    };
    assert_ne!(encode(4), encode(9), "libaom speeds 4 and 9 give the same stream");
}
