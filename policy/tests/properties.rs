//! Property tests: normalisation is idempotent, the canonical query round-trips, and no
//! input bytes make `Policy::decide` panic.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pixgate_policy::variant::{Flip, PostCrop, Rect};
use pixgate_policy::{Decision, FilterConfig, Fit, Format, Gravity, Policy, RequestHead, Variant};
use proptest::prelude::*;

fn gravity() -> impl Strategy<Value = Gravity> {
    prop_oneof![
        Just(Gravity::Center),
        Just(Gravity::North),
        Just(Gravity::SouthEast),
        Just(Gravity::West),
        Just(Gravity::Smart),
        Just(Gravity::Face),
        (0u16..=10_000, 0u16..=10_000).prop_map(|(x, y)| Gravity::Focal { x, y }),
    ]
}

fn rect() -> impl Strategy<Value = Rect> {
    (0u32..5000, 0u32..5000, 1u32..5000, 1u32..5000).prop_map(|(x, y, w, h)| Rect { x, y, w, h })
}

/// Any variant whose fields are individually valid; `normalize` settles combinations.
fn variant() -> impl Strategy<Value = Variant> {
    let sizing = prop_oneof![
        (proptest::option::of(1u32..=2048), proptest::option::of(1u32..=2048))
            .prop_map(|(w, h)| (w, h, None, None, None, None, None, None)),
        (proptest::option::of(1u32..=2048), proptest::option::of(1u32..=2048))
            .prop_map(|(l, s)| (None, None, l, s, None, None, None, None)),
        (1u32..=1000).prop_map(|p| (None, None, None, None, Some(p), None, None, None)),
        (proptest::option::of(1u32..=1000), proptest::option::of(1u32..=1000))
            .prop_map(|(a, b)| (None, None, None, None, None, a, b, None)),
        (1u32..=10_000_000).prop_map(|a| (None, None, None, None, None, None, None, Some(a))),
    ];
    let fit = prop_oneof![Just(Fit::Inside), Just(Fit::Cover), Just(Fit::Contain), Just(Fit::Fill), Just(Fit::Outside)];
    let fmt = proptest::option::of(prop_oneof![
        Just(Format::Jpeg),
        Just(Format::Png),
        Just(Format::Webp),
        Just(Format::Avif),
        Just(Format::Gif),
        Just(Format::Auto)
    ]);
    let flip = proptest::option::of(prop_oneof![Just(Flip::H), Just(Flip::V), Just(Flip::Hv)]);
    let post = proptest::option::of(prop_oneof![
        rect().prop_map(PostCrop::Rect),
        (gravity(), 1u32..=8192, 1u32..=8192).prop_map(|(g, w, h)| PostCrop::Anchored { gravity: g, w, h }),
    ]);
    (
        sizing,
        (100u32..=200, fit, any::<bool>(), any::<bool>(), gravity()),
        (proptest::option::of(rect()), proptest::option::of(1u8..=100), fmt, any::<bool>()),
        (
            proptest::option::of(any::<[u8; 4]>()),
            prop_oneof![Just(0u16), Just(90), Just(180), Just(270)],
            flip,
            proptest::option::of(30u32..=10_000),
            any::<bool>(),
            post,
        ),
    )
        .prop_map(
            |(
                (w, h, l, s, pct, pctw, pcth, area),
                (dpr, fit, enlarge, lim_orig, gravity),
                (crop, q, fmt, prog),
                (bg, rot, flip, blur, reduce, post_crop),
            )| Variant {
                w,
                h,
                l,
                s,
                pct,
                dpr,
                fit,
                enlarge,
                lim_orig,
                gravity,
                crop,
                q,
                fmt,
                prog,
                bg,
                rot,
                flip,
                blur,
                area,
                pctw,
                pcth,
                reduce,
                post_crop,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalize_is_idempotent(mut v in variant()) {
        if v.normalize().is_ok() {
            let once = v.clone();
            v.normalize().unwrap();
            prop_assert_eq!(v, once);
        }
    }

    #[test]
    fn canonical_query_round_trips(mut v in variant()) {
        if v.normalize().is_ok() {
            let q = v.to_query();
            let (back, warnings) = Variant::from_query(q.as_bytes()).unwrap();
            prop_assert!(warnings.is_empty(), "{q}: {warnings:?}");
            prop_assert_eq!(&back, &v, "{}", q);
            prop_assert_eq!(back.to_query(), q);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        path in proptest::collection::vec(any::<u8>(), 0..200),
        query in proptest::collection::vec(any::<u8>(), 0..200),
        accept in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
        ua in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
    ) {
        let mut target = path.clone();
        target.push(b'?');
        target.extend_from_slice(&query);
        for cfg in [FilterConfig::default(), thumbor_config()] {
            let p = Policy::new(cfg);
            let d = p.decide(&RequestHead {
                authority: b"h",
                path: &target,
                accept: accept.as_deref(),
                user_agent: ua.as_deref(),
                now: Some(0),
            });
            check(&d);
        }
    }

    #[test]
    fn dialect_shaped_noise_never_panics(
        prefix in prop_oneof![
            Just("/unsafe/"), Just("/cdn-cgi/image/"), Just("/a.jpg?imageView2/"),
            Just("/a.jpg?imageMogr2/"), Just("/a.jpg?x-oss-process=image/"), Just("/a.jpg?"),
        ],
        body in "[-0-9a-z_,:=!@%/x().<>&?]{0,60}",
        dialect in 0usize..9,
    ) {
        let url = format!("{prefix}{body}");
        let name = pixgate_policy::Dialect::ALL[dialect].as_str();
        let cfg = FilterConfig::from_json(format!(r#"{{"routes":[{{"dialect":"{name}"}}]}}"#).as_bytes()).unwrap();
        for p in [Policy::new(cfg), Policy::new(FilterConfig::default())] {
            let d = p.decide(&RequestHead { path: url.as_bytes(), ..Default::default() });
            check(&d);
            if let Decision::Forward(o) = &d {
                let pl = pixgate_policy::plan(&o.variant, 1200, 800);
                prop_assert!(pl.width >= 1 && pl.height >= 1);
            }
        }
    }
}

fn thumbor_config() -> FilterConfig {
    FilterConfig::from_json(
        br#"{"routes":[{"dialect":"thumbor","signature":{"keys":["k"]}},{"dialect":"cloudflare"}]}"#,
    )
    .unwrap()
}

/// A decision is a forward whose canonical URL is a fixed point, or a typed rejection
/// with a 4xx status.
fn check(d: &Decision) {
    match d {
        Decision::Forward(o) => {
            let canonical = o.canonical_path();
            let p = Policy::new(FilterConfig::default());
            match p.decide(&RequestHead { path: canonical.as_bytes(), ..Default::default() }) {
                Decision::Forward(again) => assert_eq!(again.canonical_path(), canonical),
                other => panic!("{canonical}: {other:?}"),
            }
        }
        Decision::Reject(e) => assert!((400..500).contains(&e.status()), "{e:?}"),
        Decision::Pass => {}
    }
}
