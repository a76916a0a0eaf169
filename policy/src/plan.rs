//! The geometry planner: from a variant and the upright source size to every size the
//! pipeline needs, in the fixed order of DESIGN.md §3. Pure, so sizes are tested without
//! images; the origin executes plans and never re-derives geometry.

use crate::error::{ErrorCode, PolicyError};
use crate::variant::{Fit, Flip, Gravity, PostCrop, Rect, Variant, MAX_AREA, MAX_DIM};

/// Padding canvas for `fit=contain`: the resized image is placed at (`x`, `y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pad {
    pub width: u32,
    pub height: u32,
    pub x: u32,
    pub y: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `lim=orig` fired: serve the original bytes unchanged.
    pub passthrough: bool,
    /// Clockwise rotation after auto-orientation.
    pub rot: u16,
    pub flip: Option<Flip>,
    /// Region taken before resizing, in rotated coordinates (clamped to the image).
    pub crop: Option<Rect>,
    /// Size the (cropped) image is resampled to; equal to its size when nothing scales.
    pub resize: (u32, u32),
    pub pad: Option<Pad>,
    /// Region taken after resizing and padding, in those coordinates: cover's crop, then
    /// the variant's own `post_crop`, composed into one rectangle.
    pub post_crop: Option<Rect>,
    /// Anchor of `post_crop`; `smart`/`face` let the executor move the window along the
    /// overflowing axis (its size stays as planned).
    pub gravity: Gravity,
    pub blur: Option<u32>,
    pub bg: Option<[u8; 4]>,
    pub width: u32,
    pub height: u32,
}

/// Plans `variant` for an upright source of `src_w`×`src_h` pixels.
pub fn plan(v: &Variant, src_w: u32, src_h: u32) -> Plan {
    let mut p = plan_resize(v, src_w, src_h);
    if p.passthrough {
        return p;
    }
    if let Some(pc) = v.post_crop {
        let (ow, oh) = (p.width, p.height);
        let r = match pc {
            PostCrop::Rect(r) => clamp_rect(r, ow, oh),
            PostCrop::Anchored { gravity, w, h } => {
                let (w, h) = (w.min(ow), h.min(oh));
                let (x, y) = anchor(gravity, ow - w, oh - h, (w, h), (ow, oh));
                Some(Rect { x, y, w, h })
            }
        };
        // A window entirely outside the image leaves it as it is.
        if let Some(r) = r {
            p.post_crop = Some(match p.post_crop {
                Some(prev) => Rect { x: prev.x + r.x, y: prev.y + r.y, w: r.w, h: r.h },
                None => r,
            });
            (p.width, p.height) = (r.w, r.h);
            if let PostCrop::Anchored { gravity, .. } = pc {
                p.gravity = gravity;
            }
        }
    }
    p
}

/// Refuses a plan whose output or intermediate canvases exceed the output limits: a side
/// above [`MAX_DIM`], or a resampled or padded image above [`MAX_AREA`] pixels. Only the
/// source's size reveals these (`pct=1000&enlarge=1`, or `fit=outside` on a sliver), so
/// the edge cannot refuse them; the origin does before allocating anything.
pub fn check_output(p: &Plan) -> Result<(), PolicyError> {
    if p.passthrough {
        return Ok(());
    }
    if p.width > MAX_DIM || p.height > MAX_DIM {
        return Err(PolicyError::new(
            ErrorCode::TooLarge,
            format!("the output would be {}×{} px, above the maximum side of {MAX_DIM} px", p.width, p.height),
        ));
    }
    let canvases = [Some(p.resize), p.pad.map(|d| (d.width, d.height))];
    if let Some((w, h)) =
        canvases.into_iter().flatten().find(|&(w, h)| u64::from(w) * u64::from(h) > u64::from(MAX_AREA))
    {
        return Err(PolicyError::new(
            ErrorCode::TooLarge,
            format!("the image would be resampled to {w}×{h} px, above {MAX_AREA} pixels"),
        ));
    }
    Ok(())
}

fn plan_resize(v: &Variant, src_w: u32, src_h: u32) -> Plan {
    let (src_w, src_h) = (src_w.max(1), src_h.max(1));
    let (rw, rh) = if v.rot == 90 || v.rot == 270 { (src_h, src_w) } else { (src_w, src_h) };
    let crop = v.crop.and_then(|c| clamp_rect(c, rw, rh));
    let (cw, ch) = crop.map_or((rw, rh), |c| (c.w, c.h));

    let mut p = Plan {
        passthrough: false,
        rot: v.rot,
        flip: v.flip,
        crop,
        resize: (cw, ch),
        pad: None,
        post_crop: None,
        gravity: v.gravity,
        blur: v.blur,
        bg: v.bg,
        width: cw,
        height: ch,
    };
    let passthrough = |src_w, src_h| Plan {
        passthrough: true,
        rot: 0,
        flip: None,
        crop: None,
        resize: (src_w, src_h),
        pad: None,
        post_crop: None,
        gravity: Gravity::Center,
        blur: None,
        bg: None,
        width: src_w,
        height: src_h,
    };

    // Enlarge-only (`reduce=0`): a size below the source's keeps the source's.
    let keep_up = |size: (u32, u32)| -> (u32, u32) {
        if !v.reduce && (size.0 < cw || size.1 < ch) {
            (cw, ch)
        } else {
            size
        }
    };

    if v.pct.is_some() || v.pctw.is_some() || v.pcth.is_some() {
        let (pw, ph) = match v.pct {
            Some(p) => (p, p),
            None => (v.pctw.unwrap_or(100), v.pcth.unwrap_or(100)),
        };
        if (pw > 100 || ph > 100) && v.lim_orig {
            return passthrough(src_w, src_h);
        }
        let cap = |p: u32| if v.enlarge { p } else { p.min(100) };
        p.resize = keep_up((scale(cw, cap(pw), 100), scale(ch, cap(ph), 100)));
        (p.width, p.height) = p.resize;
        return p;
    }

    if let Some(area) = v.area {
        let f = (f64::from(area) / (f64::from(cw) * f64::from(ch))).sqrt();
        if f > 1.0 && v.lim_orig {
            return passthrough(src_w, src_h);
        }
        let f = if v.enlarge { f } else { f.min(1.0) };
        let sz = |x: u32| ((f64::from(x) * f + 0.5).floor() as u32).max(1);
        p.resize = keep_up((sz(cw), sz(ch)));
        (p.width, p.height) = p.resize;
        return p;
    }

    // The box, in output pixels, with dpr applied. `l`/`s` follow the image's orientation.
    let dpr = |x: u32| scale(x, v.dpr, 100);
    let (bw, bh) = if v.l.is_some() || v.s.is_some() {
        let (l, s) = (v.l.map(dpr), v.s.map(dpr));
        if cw >= ch {
            (l, s)
        } else {
            (s, l)
        }
    } else {
        (v.w.map(dpr), v.h.map(dpr))
    };

    let (bw, bh) = match (bw, bh) {
        (None, None) => return p,
        (Some(bw), None) => {
            if bw > cw && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            let bw = if v.enlarge { bw } else { bw.min(cw) };
            p.resize = keep_up((bw, scale(ch, bw, cw)));
            (p.width, p.height) = p.resize;
            return p;
        }
        (None, Some(bh)) => {
            if bh > ch && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            let bh = if v.enlarge { bh } else { bh.min(ch) };
            p.resize = keep_up((scale(cw, bh, ch), bh));
            (p.width, p.height) = p.resize;
            return p;
        }
        (Some(bw), Some(bh)) => (bw, bh),
    };

    // Width-limited when bw/cw <= bh/ch.
    let width_limited = u64::from(bw) * u64::from(ch) <= u64::from(bh) * u64::from(cw);
    let inside_size = if width_limited { (bw, scale(ch, bw, cw)) } else { (scale(cw, bh, ch), bh) };
    let outside_size = if width_limited { (scale(cw, bh, ch).max(bw), bh) } else { (bw, scale(ch, bw, cw).max(bh)) };
    let inside_enlarges = inside_size.0 > cw || inside_size.1 > ch;
    let outside_enlarges = outside_size.0 > cw || outside_size.1 > ch;

    match v.fit {
        Fit::Inside | Fit::Contain => {
            if inside_enlarges && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            p.resize = keep_up(if inside_enlarges && !v.enlarge { (cw, ch) } else { inside_size });
            (p.width, p.height) = p.resize;
            if v.fit == Fit::Contain {
                let (x, y) = anchor(v.gravity, bw - p.resize.0.min(bw), bh - p.resize.1.min(bh), p.resize, (bw, bh));
                p.pad = Some(Pad { width: bw, height: bh, x, y });
                (p.width, p.height) = (bw, bh);
            }
        }
        Fit::Outside => {
            if outside_enlarges && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            p.resize = keep_up(if outside_enlarges && !v.enlarge { (cw, ch) } else { outside_size });
            (p.width, p.height) = p.resize;
        }
        Fit::Cover => {
            if outside_enlarges && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            let (box_w, box_h, resized) = if outside_enlarges && !v.enlarge {
                // Keep the box's aspect, shrink the box until it fits the source.
                let (bw2, bh2) = shrink_box(bw, bh, cw, ch);
                (bw2, bh2, (cw, ch))
            } else {
                (bw, bh, outside_size)
            };
            p.resize = resized;
            let (x, y) = anchor(v.gravity, resized.0 - box_w, resized.1 - box_h, (box_w, box_h), resized);
            if (box_w, box_h) != resized {
                p.post_crop = Some(Rect { x, y, w: box_w, h: box_h });
            }
            (p.width, p.height) = (box_w, box_h);
        }
        Fit::Fill => {
            let enlarges = bw > cw || bh > ch;
            if enlarges && v.lim_orig {
                return passthrough(src_w, src_h);
            }
            p.resize = if enlarges && !v.enlarge { shrink_box(bw, bh, cw, ch) } else { (bw, bh) };
            (p.width, p.height) = p.resize;
        }
    }
    p
}

/// `x * num / den`, rounded half up, at least 1.
fn scale(x: u32, num: u32, den: u32) -> u32 {
    let den = u64::from(den.max(1));
    let v = (2 * u64::from(x) * u64::from(num) + den) / (2 * den);
    u32::try_from(v).unwrap_or(u32::MAX).max(1)
}

/// The largest box of `bw`:`bh` aspect that fits in `cw`×`ch`.
fn shrink_box(bw: u32, bh: u32, cw: u32, ch: u32) -> (u32, u32) {
    if u64::from(cw) * u64::from(bh) <= u64::from(ch) * u64::from(bw) {
        (cw.min(bw), scale(bh, cw, bw).min(ch))
    } else {
        (scale(bw, ch, bh).min(cw), ch.min(bh))
    }
}

/// Offset of a `window` inside `outer` given the slack on each axis.
fn anchor(g: Gravity, slack_x: u32, slack_y: u32, window: (u32, u32), outer: (u32, u32)) -> (u32, u32) {
    let start = |_slack: u32| 0u32;
    let mid = |slack: u32| slack / 2;
    let end = |slack: u32| slack;
    match g {
        Gravity::Center | Gravity::Smart | Gravity::Face => (mid(slack_x), mid(slack_y)),
        Gravity::North => (mid(slack_x), start(slack_y)),
        Gravity::South => (mid(slack_x), end(slack_y)),
        Gravity::East => (end(slack_x), mid(slack_y)),
        Gravity::West => (start(slack_x), mid(slack_y)),
        Gravity::NorthEast => (end(slack_x), start(slack_y)),
        Gravity::NorthWest => (start(slack_x), start(slack_y)),
        Gravity::SouthEast => (end(slack_x), end(slack_y)),
        Gravity::SouthWest => (start(slack_x), end(slack_y)),
        Gravity::Focal { x, y } => {
            // Centre the window on the focal point, clamped inside.
            let fx = scale(outer.0, u32::from(x), 10_000).saturating_sub(window.0 / 2);
            let fy = scale(outer.1, u32::from(y), 10_000).saturating_sub(window.1 / 2);
            (fx.min(slack_x), fy.min(slack_y))
        }
    }
}

fn clamp_rect(r: Rect, w: u32, h: u32) -> Option<Rect> {
    if r.x >= w || r.y >= h {
        return None;
    }
    Some(Rect { x: r.x, y: r.y, w: r.w.min(w - r.x), h: r.h.min(h - r.y) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(q: &str, w: u32, h: u32) -> (u32, u32) {
        let (v, _) = Variant::from_query(q.as_bytes()).unwrap();
        let p = plan(&v, w, h);
        (p.width, p.height)
    }

    #[test]
    fn output_sizes() {
        type Case = (&'static str, (u32, u32), (u32, u32));
        let cases: &[Case] = &[
            ("w=200&h=150&fit=cover", (1600, 900), (200, 150)),
            ("w=320", (1600, 900), (320, 180)),
            ("w=100", (1600, 900), (100, 56)),
            ("w=200&h=200", (1200, 800), (200, 133)),
            ("w=200&h=200&fit=cover", (1200, 800), (200, 200)),
            ("w=200&h=200&fit=contain", (1200, 800), (200, 200)),
            ("w=200&h=200&fit=outside", (1200, 800), (300, 200)),
            ("w=200&h=100&fit=fill", (1200, 800), (200, 100)),
            ("w=2000", (1200, 800), (1200, 800)),
            ("w=2000&enlarge=1", (1200, 800), (2000, 1333)),
            ("w=400&h=400&fit=cover", (100, 50), (50, 50)),
            ("w=400&h=200&fit=fill", (100, 50), (100, 50)),
            ("w=100&dpr=2", (1200, 800), (200, 133)),
            ("l=300", (1200, 800), (300, 200)),
            ("l=300", (800, 1200), (200, 300)),
            ("s=300", (800, 1200), (300, 450)),
            ("pct=50", (1200, 800), (600, 400)),
            ("pct=150", (1200, 800), (1200, 800)),
            ("pct=150&enlarge=1", (1200, 800), (1800, 1200)),
            ("w=100&rot=90", (1200, 800), (100, 150)),
            ("crop=100,100,400,200&w=200", (1200, 800), (200, 100)),
            ("crop=1100,700,400,200", (1200, 800), (100, 100)),
        ];
        for &(q, (sw, sh), want) in cases {
            assert_eq!(out(q, sw, sh), want, "{q} on {sw}x{sh}");
        }
    }

    #[test]
    fn lim_orig_passes_the_original_through_when_it_would_enlarge() {
        let (v, _) = Variant::from_query(b"w=2000&h=2000&fit=cover&lim=orig").unwrap();
        let p = plan(&v, 1200, 800);
        assert!(p.passthrough);
        assert_eq!((p.width, p.height), (1200, 800));
        let (v, _) = Variant::from_query(b"w=200&h=200&fit=cover&lim=orig").unwrap();
        assert!(!plan(&v, 1200, 800).passthrough);
    }

    #[test]
    fn cover_crops_at_gravity() {
        let (v, _) = Variant::from_query(b"w=200&h=200&fit=cover&gravity=east").unwrap();
        let p = plan(&v, 1200, 800);
        assert_eq!(p.resize, (300, 200));
        assert_eq!(p.post_crop, Some(Rect { x: 100, y: 0, w: 200, h: 200 }));
    }

    #[test]
    fn contain_pads_centred() {
        let (v, _) = Variant::from_query(b"w=200&h=200&fit=contain").unwrap();
        let p = plan(&v, 1200, 800);
        assert_eq!(p.resize, (200, 133));
        assert_eq!(p.pad, Some(Pad { width: 200, height: 200, x: 0, y: 33 }));
    }

    #[test]
    fn output_beyond_the_maximum_side_is_refused_once_the_source_size_is_known() {
        let (v, _) = Variant::from_query(b"pct=1000&enlarge=1").unwrap();
        let e = check_output(&plan(&v, 4000, 3000)).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert!(check_output(&plan(&v, 800, 600)).is_ok(), "8000×6000 is within the limits");
    }

    #[test]
    fn outside_and_cover_on_a_sliver_cannot_resample_to_a_giant_canvas() {
        // A 8192×1 source covering an 8192×8192 box would be resampled to 67 108 864×8192.
        for q in ["w=8192&h=8192&fit=outside&enlarge=1", "w=8192&h=8192&fit=cover&enlarge=1"] {
            let (v, _) = Variant::from_query(q.as_bytes()).unwrap();
            let p = plan(&v, 8192, 1);
            assert!(u64::from(p.resize.0) * u64::from(p.resize.1) > u64::from(MAX_AREA), "{q}: {p:?}");
            assert_eq!(check_output(&p).unwrap_err().code, ErrorCode::TooLarge, "{q}");
        }
        let (v, _) = Variant::from_query(b"w=300&h=300&fit=cover&enlarge=1").unwrap();
        assert!(check_output(&plan(&v, 10_000, 100)).is_ok(), "a panorama's 30000×300 resample is fine");
    }

    #[test]
    fn a_passthrough_plan_is_never_refused_for_its_size() {
        let (v, _) = Variant::from_query(b"pct=1000&lim=orig").unwrap();
        assert!(check_output(&plan(&v, 16_000, 16_000)).is_ok());
    }
}
