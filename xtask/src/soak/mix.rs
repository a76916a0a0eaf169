//! The soak's traffic: what each request kind looks like, how often it comes, and which
//! statuses it may get. Requests whose answer depends on the image (hostile originals,
//! hostile URLs) are answered once before the load starts; that answer, which must be in
//! the kind's allowed set, is then the only expected one: the same request must always
//! get the same status.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::client::{self, Req};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Hit,
    Revalidate,
    Miss,
    Dialect,
    Negotiated,
    HostileImage,
    HostileUrl,
    NotFound,
    Upload,
    HostileUpload,
    UnauthorizedUpload,
    /// Slow uploads of large originals, sent only during the origin-kill drill.
    DrillUpload,
}

/// Relative frequencies of the kinds (a CDN's view of an image origin: mostly hits).
const WEIGHTS: [(Kind, u32); 11] = [
    (Kind::Hit, 30),
    (Kind::Revalidate, 5),
    (Kind::Miss, 8),
    (Kind::Dialect, 16),
    (Kind::Negotiated, 14),
    (Kind::HostileImage, 7),
    (Kind::HostileUrl, 7),
    (Kind::NotFound, 3),
    (Kind::Upload, 4),
    (Kind::HostileUpload, 3),
    (Kind::UnauthorizedUpload, 2),
];

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Hit,
        Kind::Revalidate,
        Kind::Miss,
        Kind::Dialect,
        Kind::Negotiated,
        Kind::HostileImage,
        Kind::HostileUrl,
        Kind::NotFound,
        Kind::Upload,
        Kind::HostileUpload,
        Kind::UnauthorizedUpload,
        Kind::DrillUpload,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hit => "hit",
            Kind::Revalidate => "revalidate",
            Kind::Miss => "miss",
            Kind::Dialect => "legacy-dialect",
            Kind::Negotiated => "negotiated-format",
            Kind::HostileImage => "hostile-image",
            Kind::HostileUrl => "hostile-url",
            Kind::NotFound => "not-found",
            Kind::Upload => "upload",
            Kind::HostileUpload => "hostile-upload",
            Kind::UnauthorizedUpload => "unauthorized-upload",
            Kind::DrillUpload => "drill-upload",
        }
    }

    /// Uploads go straight to the origin, as an uploader service inside the mesh does:
    /// the gateway does not expose `/originals`.
    pub fn direct(self) -> bool {
        matches!(self, Kind::Upload | Kind::HostileUpload | Kind::UnauthorizedUpload | Kind::DrillUpload)
    }

    /// Statuses a calibrated request of this kind may have; anything else (5xx above
    /// all) fails the soak before the load starts.
    pub fn allowed(self) -> &'static [u16] {
        match self {
            Kind::Hit | Kind::Miss | Kind::Dialect | Kind::Negotiated => &[200],
            Kind::Revalidate => &[304],
            Kind::HostileImage => &[200, 400, 413, 415, 422],
            Kind::HostileUrl => &[200, 400, 403, 404, 405, 413, 414, 431],
            Kind::NotFound => &[404],
            Kind::Upload | Kind::DrillUpload => &[200, 201],
            Kind::HostileUpload => &[200, 201, 400, 413, 415, 422],
            Kind::UnauthorizedUpload => &[401, 403],
        }
    }
}

/// A request with the statuses it may get.
#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: Kind,
    pub req: Req,
    pub expect: Vec<u16>,
}

/// xorshift64*: the driver needs cheap, reproducible choices, not cryptography.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Every request the driver can make, prepared (and calibrated) before the load.
pub struct Mix {
    pub hits: Vec<Planned>,
    pub revalidations: Vec<Planned>,
    pub dialects: Vec<Planned>,
    pub negotiated_paths: Vec<String>,
    pub accepts: Vec<Vec<u8>>,
    pub user_agents: Vec<Vec<u8>>,
    pub hostile_images: Vec<Planned>,
    pub hostile_urls: Vec<Planned>,
    pub hostile_uploads: Vec<Planned>,
    pub miss_keys: Vec<String>,
    pub upload_bodies: Vec<Arc<[u8]>>,
    pub token: String,
    counter: AtomicU64,
}

impl Mix {
    pub fn new(token: &str) -> Mix {
        Mix {
            hits: Vec::new(),
            revalidations: Vec::new(),
            dialects: Vec::new(),
            negotiated_paths: Vec::new(),
            accepts: Vec::new(),
            user_agents: Vec::new(),
            hostile_images: Vec::new(),
            hostile_urls: Vec::new(),
            hostile_uploads: Vec::new(),
            miss_keys: Vec::new(),
            upload_bodies: Vec::new(),
            token: token.to_owned(),
            counter: AtomicU64::new(0),
        }
    }

    /// A process-wide sequence number: unique miss sizes and upload keys.
    pub fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub fn pick(&self, rng: &mut Rng) -> Planned {
        let total: u32 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut roll = (rng.next() % u64::from(total)) as u32;
        let mut kind = Kind::Hit;
        for (k, w) in WEIGHTS {
            if roll < w {
                kind = k;
                break;
            }
            roll -= w;
        }
        self.make(kind, rng)
    }

    fn make(&self, kind: Kind, rng: &mut Rng) -> Planned {
        let roll = rng.next();
        let fixed = |v: &[Planned]| rng_pick_clone(v, roll);
        match kind {
            Kind::Hit => fixed(&self.hits),
            Kind::Revalidate => fixed(&self.revalidations),
            Kind::Dialect => fixed(&self.dialects),
            Kind::HostileImage => fixed(&self.hostile_images),
            Kind::HostileUrl => fixed(&self.hostile_urls),
            Kind::HostileUpload => fixed(&self.hostile_uploads),
            Kind::DrillUpload => unreachable!("drill uploads are sent by the drill"),
            Kind::Miss => {
                // Unique (key, w, q) for the length of any soak: always a real miss.
                let n = self.next_id();
                let keys = self.miss_keys.len() as u64;
                let key = &self.miss_keys[(n % keys) as usize];
                let round = n / keys;
                let (w, q) = (24 + round % 1200, 40 + (round / 1200) % 55);
                plan(Kind::Miss, Req::get(format!("/img/{key}?w={w}&q={q}")))
            }
            Kind::Negotiated => {
                let mut req = Req::get(rng.pick(&self.negotiated_paths).clone());
                // Browsers send Accept; native clients often only a User-Agent.
                if rng.below(4) != 0 {
                    req = req.header("accept", rng.pick(&self.accepts).clone());
                }
                if rng.below(4) != 0 {
                    req = req.header("user-agent", rng.pick(&self.user_agents).clone());
                }
                plan(Kind::Negotiated, req)
            }
            Kind::NotFound => {
                let n = self.next_id();
                plan(Kind::NotFound, Req::get(format!("/img/soak/absent/{n}.jpg?w=100")))
            }
            Kind::Upload => {
                // A few dozen keys, so uploads both create (201) and replace (200).
                let n = self.next_id();
                let body = rng.pick(&self.upload_bodies).clone();
                let mut req = upload(&format!("soak/uploads/{}.img", n % 40), body.clone(), &self.token);
                if rng.below(2) == 0 {
                    req = req.header("x-amz-checksum-sha256", client::sha256_base64(&body));
                }
                plan(Kind::Upload, req)
            }
            Kind::UnauthorizedUpload => {
                let body = rng.pick(&self.upload_bodies).clone();
                let mut req =
                    Req { put: true, path: "/originals/soak/denied.img".into(), headers: vec![], body: Some(body) };
                if rng.below(2) == 0 {
                    req = req.header("authorization", "Bearer not-the-token-at-all");
                    Planned { kind, req, expect: vec![403] }
                } else {
                    Planned { kind, req, expect: vec![401] }
                }
            }
        }
    }
}

fn rng_pick_clone(v: &[Planned], roll: u64) -> Planned {
    v[(roll % v.len().max(1) as u64) as usize].clone()
}

fn plan(kind: Kind, req: Req) -> Planned {
    let expect = kind.allowed().to_vec();
    Planned { kind, req, expect }
}

pub fn upload(key: &str, body: Arc<[u8]>, token: &str) -> Req {
    Req { put: true, path: format!("/originals/{key}"), headers: vec![], body: Some(body) }
        .header("authorization", format!("Bearer {token}"))
}

/// One original of the shared test data.
pub struct Original {
    pub key: String,
    pub bytes: Arc<[u8]>,
    /// `decode_ok` in the corpus manifest (or a bench image): a well-formed photo.
    pub good: bool,
}

/// `../shared/bench-images/*` and every file of `../shared/corpus/images/MANIFEST.tsv`.
pub fn originals(shared: &Path) -> Result<Vec<Original>> {
    let mut out = Vec::new();
    let bench = shared.join("bench-images");
    for n in crate::bench_pipeline::image_names(&bench)? {
        let bytes = read(&bench.join(&n))?;
        out.push(Original { key: format!("bench/{n}"), bytes, good: true });
    }
    let images = shared.join("corpus/images");
    let manifest = std::fs::read_to_string(images.join("MANIFEST.tsv")).map_err(|e| format!("MANIFEST.tsv: {e}"))?;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(expected)) = (cols.first(), cols.get(7)) else { continue };
        let bytes = read(&images.join(file))?;
        out.push(Original { key: format!("corpus/{file}"), bytes, good: *expected == "decode_ok" });
    }
    Ok(out)
}

fn read(p: &Path) -> Result<Arc<[u8]>> {
    std::fs::read(p).map(Arc::from).map_err(|e| format!("{}: {e}", p.display()))
}

/// The first column of a TSV file with a header row.
pub fn tsv_column(p: &Path) -> Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(text.lines().skip(1).filter_map(|l| l.split('\t').next()).map(|v| v.as_bytes().to_vec()).collect())
}

/// Accept and User-Agent values no browser sends: they must be parsed without harm.
pub fn hostile_headers() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let accepts = vec![
        b"image/avif;q=abc, image/webp;q=-1, */*;q=2".to_vec(),
        ",".repeat(4000).into_bytes(),
        b"image/avif;q=0, image/webp;q=0.000001".to_vec(),
        vec![0xff, 0xfe, b'/', 0x80],
    ];
    let uas = vec![
        vec![0xc3, 0x28, 0xa0, 0xa1, b' ', b'C', b'h', b'r', b'o', b'm', b'e', b'/', b'9', b'9'],
        "Mozilla/5.0 ".repeat(600).into_bytes(),
        b"Chrome/999999999999999999999999.0 Safari/0".to_vec(),
    ];
    (accepts, uas)
}

/// URLs built to hurt: traversal, broken encodings, out-of-range and malformed values,
/// oversized keys and queries, remote sources, for every dialect's parser.
pub fn hostile_urls(key: &str) -> Vec<String> {
    let long_key = "a".repeat(2000);
    let many: Vec<String> = (0..1000).map(|i| format!("p{i}=1")).collect();
    vec![
        "/img/../../etc/passwd".into(),
        "/img/%2e%2e/%2e%2e/etc/passwd".into(),
        "/img/a/..%2f..%2fsecret.jpg".into(),
        "/img/a%00b.jpg".into(),
        "/img/a%zzb.jpg".into(),
        "/img/%ff%fe.jpg".into(),
        "/img/%252e%252e/x.jpg".into(),
        "/img//double//slash.jpg".into(),
        "/img/".into(),
        format!("/img/{long_key}.jpg"),
        format!("/img/{key}?w=-5"),
        format!("/img/{key}?w=99999"),
        format!("/img/{key}?w=abc"),
        format!("/img/{key}?w=10&fit=bogus"),
        format!("/img/{key}?w=100&dpr=1e9"),
        format!("/img/{key}?crop=0,0,0,0"),
        format!("/img/{key}?w=100&l=100"),
        format!("/img/{key}?q={}", "9".repeat(10_000)),
        format!("/img/{key}?{}", many.join("&")),
        format!("/img/{key}?fmt=bmp"),
        format!("/img/{key}?gravity=fp:2,-1&w=50&h=50&fit=cover"),
        format!("/unsafe/99999x99999/{key}"),
        format!("/unsafe/fit-in/-0x-0/filters:format(asdf)/{key}"),
        "/cdn-cgi/image/width=100/https://evil.example/x.png".into(),
        format!("/cdn-cgi/image/width=abc,fit=nonsense/{key}"),
        format!("/{key}?x-oss-process=image/resize,w_-1,m_weird"),
        format!("/{key}?imageView2/9/w/100"),
        format!("/{key}?imageMogr2/thumbnail/99999999x99999999"),
        format!("/imgix/{key}?w=0.0000001&fm=exe"),
        format!("/fastly/{key}?width=300&height=300&fit=cover&crop=1:1,offset-x999"),
        format!("/resizer/{key}?width=-1&mode=explode"),
    ]
}

/// Legacy URLs of every dialect, from the worked examples of DIALECTS.md (`{k}` is the
/// original's key). The prefixes `/imgix/`, `/fastly/` and `/resizer/` are bound to
/// their dialects by `envoy/filter-config.json`; the others are sniffed.
pub const DIALECT_TEMPLATES: &[&str] = &[
    "/{k}?width=200&height=150&crop=1&quality=80&format=webp",
    "/{k}?width=300&height=300&crop=center",
    "/{k}?width=300&crop=0,0,800,450",
    "/imgix/{k}?w=400&h=400&fit=crop&crop=faces,center&auto=format,compress",
    "/imgix/{k}?w=0.25",
    "/imgix/{k}?w=300&dpr=2&fm=pjpg&q=60",
    "/fastly/{k}?width=300&height=300&fit=cover",
    "/fastly/{k}?width=320&format=webp",
    "/resizer/{k}?width=200&height=150&mode=crop&scale=both",
    "/resizer/{k}?w=300&h=200&mode=pad&bgcolor=red",
    "/{k}?imageView2/1/w/200/h/200",
    "/{k}?imageView2/0/w/400/h/300",
    "/{k}?imageView2/1/w/200/h/200/format/webp/q/55",
    "/{k}?x-oss-process=image/resize,m_fill,h_100,w_100",
    "/{k}?x-oss-process=image/resize,m_pad,h_100,w_100,color_FF0000",
    "/{k}?x-oss-process=image/resize,m_lfit,w_200,h_150/quality,q_80/format,webp",
    "/{k}?imageMogr2/thumbnail/!50p",
    "/{k}?imageMogr2/thumbnail/400x400!",
    "/{k}?imageMogr2/thumbnail/100000@",
    "/unsafe/300x200/{k}",
    "/unsafe/fit-in/300x300/filters:fill(white):format(webp):quality(80)/{k}",
    "/unsafe/10x20:610x420/300x200/{k}",
    "/cdn-cgi/image/width=80,quality=75/{k}",
    "/cdn-cgi/image/fit=cover,width=500,height=500/{k}",
    "/cdn-cgi/image/w=300,h=200,g=face,dpr=2,f=auto/{k}",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_but_the_drill_uploads_has_a_weight() {
        for k in Kind::ALL.into_iter().filter(|k| *k != Kind::DrillUpload) {
            assert!(WEIGHTS.iter().any(|(w, n)| *w == k && *n > 0), "{}", k.name());
        }
        assert_eq!(WEIGHTS.len(), Kind::ALL.len() - 1);
    }

    #[test]
    fn misses_are_unique_for_a_long_soak() {
        let mut mix = Mix::new("token-123456");
        mix.miss_keys = vec!["a.jpg".into(), "b.jpg".into()];
        let mut rng = Rng::new(1);
        let paths: std::collections::HashSet<String> =
            (0..100_000).map(|_| mix.make(Kind::Miss, &mut rng).req.path).collect();
        assert_eq!(paths.len(), 100_000);
    }

    #[test]
    fn every_dialect_appears_in_the_templates() {
        let has = |p: &str| DIALECT_TEMPLATES.iter().any(|t| t.contains(p));
        for marker in [
            "width=",
            "/imgix/",
            "/fastly/",
            "/resizer/",
            "imageView2/",
            "x-oss-process",
            "imageMogr2/",
            "/unsafe/",
            "/cdn-cgi/image/",
        ] {
            assert!(has(marker), "{marker}");
        }
    }
}
