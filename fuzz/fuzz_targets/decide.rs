//! Arbitrary bytes as path, query, Accept and User-Agent into `Policy::decide`, under the
//! default route, under routes bound to every dialect and under a route that requires
//! signatures: no input may panic, and every forward must plan.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pixgate_policy::{plan, Decision, Dialect, FilterConfig, Policy, RequestHead};

static POLICIES: OnceLock<Vec<Policy>> = OnceLock::new();

/// The default route, a route bound to each dialect, and a route requiring signatures;
/// built once, as the filter does at configuration time.
fn policies() -> Vec<Policy> {
    let mut configs = vec![FilterConfig::default()];
    for d in Dialect::ALL {
        let json = format!(r#"{{"routes":[{{"dialect":"{}"}}]}}"#, d.as_str());
        configs.push(FilterConfig::from_json(json.as_bytes()).expect("a dialect route parses"));
    }
    let signed = br#"{"routes":[{"signature":{"keys":["k1","k2"],"required":true}}]}"#;
    configs.push(FilterConfig::from_json(signed).expect("a signed route parses"));
    configs.into_iter().map(Policy::new).collect()
}

fuzz_target!(|data: &[u8]| {
    // A route selector, then four fields separated by NUL bytes; missing ones are absent
    // headers.
    let Some((&selector, fields)) = data.split_first() else { return };
    let mut parts = fields.splitn(4, |&b| b == 0);
    let path = parts.next().unwrap_or(b"");
    let query = parts.next();
    let accept = parts.next();
    let ua = parts.next();
    let mut target = path.to_vec();
    if let Some(q) = query {
        target.push(b'?');
        target.extend_from_slice(q);
    }
    let policies = POLICIES.get_or_init(policies);
    let policy = &policies[usize::from(selector) % policies.len()];
    let decision =
        policy.decide(&RequestHead { authority: b"fuzz", path: &target, accept, user_agent: ua, now: Some(0) });
    if let Decision::Forward(o) = decision {
        let _ = o.canonical_path();
        let p = plan(&o.variant, 1200, 800);
        assert!(p.width >= 1 && p.height >= 1);
    }
});
