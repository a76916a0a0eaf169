//! Arbitrary bytes as path, query, Accept and User-Agent into `Policy::decide`, under the
//! default route and under routes bound to every dialect: no input may panic, and every
//! forward must plan.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pixgate_policy::{plan, Decision, Dialect, FilterConfig, Policy, RequestHead};

fuzz_target!(|data: &[u8]| {
    // Four fields separated by NUL bytes; missing ones are absent headers.
    let mut parts = data.splitn(4, |&b| b == 0);
    let path = parts.next().unwrap_or(b"");
    let query = parts.next();
    let accept = parts.next();
    let ua = parts.next();
    let mut target = path.to_vec();
    if let Some(q) = query {
        target.push(b'?');
        target.extend_from_slice(q);
    }
    let selector = data.first().copied().unwrap_or(0) as usize % (Dialect::ALL.len() + 1);
    let config = match Dialect::ALL.get(selector) {
        Some(d) => FilterConfig::from_json(
            format!(r#"{{"routes":[{{"dialect":"{}"}}]}}"#, d.as_str()).as_bytes(),
        )
        .unwrap_or_default(),
        None => FilterConfig::default(),
    };
    let policy = Policy::new(config);
    let decision = policy.decide(&RequestHead {
        authority: b"fuzz",
        path: &target,
        accept,
        user_agent: ua,
        now: Some(0),
    });
    if let Decision::Forward(o) = decision {
        let _ = o.canonical_path();
        let p = plan(&o.variant, 1200, 800);
        assert!(p.width >= 1 && p.height >= 1);
    }
});
