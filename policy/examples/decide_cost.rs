//! Per-request cost of the filter's pure work: `Policy::decide` on a typical legacy URL,
//! plus the canonical path and the variant id it sets; then the same with an `Accept`
//! that names no image type, so that the User-Agent decides. A quick check, not a test:
//! `cargo run --release -p pixgate-policy --example decide_cost [ITERATIONS]`.

use std::hint::black_box;
use std::time::Instant;

use pixgate_policy::{hash, Decision, FilterConfig, Policy, RequestHead};

const PATH: &[u8] = b"/demo.jpg?width=200&height=150&crop=1&utm_source=newsletter";
const ACCEPT: &[u8] = b"image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
const UA: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/124.0.0.0 Safari/537.36";

fn once(policy: &Policy, head: &RequestHead<'_>) -> usize {
    match policy.decide(head) {
        Decision::Forward(o) => {
            let canonical = o.canonical_path();
            hash::variant_id(&canonical).len() + canonical.len()
        }
        _ => 0,
    }
}

/// Nanoseconds per request, best of five rounds: the machine is shared, the minimum is
/// the least disturbed.
fn cost(policy: &Policy, head: &RequestHead<'_>, iters: u32) -> f64 {
    for _ in 0..iters / 10 {
        black_box(once(policy, black_box(head)));
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(once(policy, black_box(head)));
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(iters));
    }
    best
}

fn main() {
    let policy = Policy::new(FilterConfig::default());
    let iters: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let head =
        RequestHead { authority: b"img.example", path: PATH, accept: Some(ACCEPT), user_agent: Some(UA), now: None };
    let ns = cost(&policy, &head, iters);
    println!("decide + canonical_path + variant_id: {ns:.0} ns/request (best of 5 × {iters})");
    let head = RequestHead { accept: Some(b"*/*"), ..head };
    let ns = cost(&policy, &head, iters);
    println!("same, User-Agent decides (Accept: */*): {ns:.0} ns/request");
}
