//! The geometry planner on every well-formed variant and any source size: no panic, and
//! every plan is one the executor can carry out within bounded memory (regions inside
//! their images, no empty image, no canvas beyond the output limits).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixgate_policy::plan::{check_output, Plan};
use pixgate_policy::variant::{Rect, MAX_AREA, MAX_DIM};
use pixgate_policy::{plan, Variant};

const NAMES: &[&str] = &[
    "w",
    "h",
    "l",
    "s",
    "pct",
    "pctw",
    "pcth",
    "area",
    "dpr",
    "fit",
    "enlarge",
    "lim",
    "gravity",
    "crop",
    "rot",
    "flip",
    "reduce",
    "post_crop",
    "bg",
    "blur",
];
const FITS: &[&str] = &["inside", "cover", "contain", "fill", "outside"];
const GRAVITIES: &[&str] =
    &["center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest", "smart"];

/// Bytes in, numbers out; zeros once the input runs dry.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u32 {
        u32::from(self.u8()) << 8 | u32::from(self.u8())
    }
    /// Mostly small numbers, sometimes anything up to a few times `MAX_DIM`.
    fn dim(&mut self) -> u32 {
        match self.u8() % 4 {
            0 => u32::from(self.u8()),
            1 => self.u16() % (MAX_DIM + 2),
            2 => self.u16() % 20_000,
            _ => self.u16() * 4 % 40_000,
        }
    }
}

fn value(name: &str, b: &mut Bytes) -> String {
    match name {
        "fit" => FITS[usize::from(b.u8()) % FITS.len()].to_owned(),
        "gravity" => match b.u8() % 12 {
            10 => format!("fp:0.{},0.{}", b.u8() % 100, b.u8() % 100),
            i => GRAVITIES.get(usize::from(i)).unwrap_or(&"center").to_string(),
        },
        "enlarge" | "reduce" => (b.u8() % 2).to_string(),
        "lim" => "orig".to_owned(),
        "rot" => (u32::from(b.u8() % 4) * 90).to_string(),
        "flip" => ["h", "v", "hv"][usize::from(b.u8() % 3)].to_owned(),
        "dpr" => format!("{}.{:02}", 1 + b.u8() % 4, b.u8() % 100),
        "pct" | "pctw" | "pcth" => (b.u16() % 1_001).to_string(),
        "area" => (b.u16() * b.u16() % (MAX_AREA + 1)).to_string(),
        "crop" => format!("{},{},{},{}", b.dim(), b.dim(), b.dim(), b.dim()),
        "post_crop" => match b.u8() % 2 {
            0 => format!("{},{},{},{}", b.dim(), b.dim(), b.dim(), b.dim()),
            _ => format!("{}:{}x{}", GRAVITIES[usize::from(b.u8()) % GRAVITIES.len()], b.dim(), b.dim()),
        },
        "bg" => format!("{:02x}{:02x}{:02x}{:02x}", b.u8(), b.u8(), b.u8(), b.u8()),
        "blur" => (1 + b.u16() % 100).to_string(),
        _ => b.dim().to_string(),
    }
}

fn inside(r: Rect, w: u32, h: u32) -> bool {
    r.w >= 1
        && r.h >= 1
        && u64::from(r.x) + u64::from(r.w) <= u64::from(w)
        && u64::from(r.y) + u64::from(r.h) <= u64::from(h)
}

/// What the executor assumes of a plan it runs.
fn assert_executable(p: &Plan, src_w: u32, src_h: u32) {
    assert!(p.width >= 1 && p.height >= 1, "{p:?}");
    if p.passthrough {
        assert_eq!((p.width, p.height), (src_w, src_h));
        return;
    }
    let (rw, rh) = if p.rot % 180 == 90 { (src_h, src_w) } else { (src_w, src_h) };
    if let Some(c) = p.crop {
        assert!(inside(c, rw, rh), "crop {c:?} outside {rw}x{rh}: {p:?}");
    }
    assert!(p.resize.0 >= 1 && p.resize.1 >= 1, "{p:?}");
    let (mut cw, mut ch) = p.resize;
    if let Some(pad) = p.pad {
        assert!(u64::from(pad.x) + u64::from(cw) <= u64::from(pad.width.max(cw)), "{p:?}");
        (cw, ch) = (pad.width, pad.height);
    }
    match p.post_crop {
        Some(r) => {
            assert!(inside(r, cw, ch), "post_crop {r:?} outside {cw}x{ch}: {p:?}");
            assert_eq!((p.width, p.height), (r.w, r.h));
        }
        None => assert_eq!((p.width, p.height), (cw, ch), "{p:?}"),
    }
    // A plan that passes the output check allocates bounded canvases.
    if check_output(p).is_ok() {
        assert!(p.width <= MAX_DIM && p.height <= MAX_DIM, "{p:?}");
        for (w, h) in [Some(p.resize), p.pad.map(|d| (d.width, d.height))].into_iter().flatten() {
            assert!(u64::from(w) * u64::from(h) <= u64::from(MAX_AREA), "{p:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let src_w = 1 + b.u16() % 16_384;
    let src_h = 1 + b.u16() % 16_384;
    let mut query = String::new();
    for _ in 0..1 + b.u8() % 6 {
        let name = NAMES[usize::from(b.u8()) % NAMES.len()];
        let v = value(name, &mut b);
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&v);
    }
    let Ok((variant, _)) = Variant::from_query(query.as_bytes()) else { return };
    let p = plan(&variant, src_w, src_h);
    assert_executable(&p, src_w, src_h);
    // The canonical form plans the same.
    let (again, _) = Variant::from_query(variant.to_query().as_bytes()).expect("canonical query parses");
    assert_eq!(plan(&again, src_w, src_h), p, "{query}");
});
