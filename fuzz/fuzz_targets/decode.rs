//! Format sniffing, header parsing and decoding under limits: arbitrary bytes through the
//! origin's pipeline (`probe`, then `transform` to one of a few variants). No input may
//! panic, exceed the limits, or fail as if it were the server's fault (an encoder
//! error is a 500); an accepted source gives the size its plan promised.

#![no_main]

mod limits;

use libfuzzer_sys::fuzz_target;
use limits::LIMITS;
use pixgate_origin::pipeline::{probe, transform, TransformError};
use pixgate_policy::{plan, Variant};

const VARIANTS: &[&str] = &[
    "w=64",
    "w=48&h=48&fit=cover&fmt=png",
    "w=40&h=30&fit=contain&bg=ff000080&fmt=webp",
    "pct=10&rot=90&flip=h&fmt=jpeg",
    "crop=1,1,30,30&w=32&fmt=jpeg&q=50",
    "w=24&blur=2&fmt=gif",
    "l=64&fmt=png",
    "w=32&h=32&fit=cover&gravity=smart&fmt=jpeg",
    "w=300&h=300&lim=orig",
    "s=16&rot=270&fmt=webp&q=10",
    "w=16&fmt=avif",
    "w=64&h=64&fit=fill&enlarge=1&fmt=png",
    "post_crop=southeast:8x8&w=40&fmt=png",
    "w=20&h=20&fit=outside&enlarge=1&fmt=jpeg&prog=1",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let header = match probe(bytes, &LIMITS) {
        Ok(h) => h,
        Err(TransformError::Encode(e)) => panic!("probing reported a server error: {e}"),
        Err(_) => return,
    };
    assert!(header.stored_width <= LIMITS.max_side && header.stored_height <= LIMITS.max_side);
    assert!(u64::from(header.stored_width) * u64::from(header.stored_height) <= LIMITS.max_pixels);
    let query = VARIANTS[usize::from(selector) % VARIANTS.len()];
    let (variant, _) = Variant::from_query(query.as_bytes()).expect("fixed variants parse");
    match transform(bytes, &variant, &LIMITS) {
        Ok(out) => {
            assert!(!out.bytes.is_empty());
            if !out.passthrough {
                let p = plan(&variant, header.width, header.height);
                assert_eq!((out.width, out.height), (p.width, p.height), "{query}");
            }
        }
        Err(TransformError::Encode(e)) => panic!("a bad source became a server error: {e}"),
        Err(_) => {}
    }
});
