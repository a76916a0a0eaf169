//! End-to-end tests live in `tests/`; this library holds only what their helper modules
//! and xtask (which starts the services they test) share.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// Ports handed out start here and stay below Linux's ephemeral range (32768–60999).
const FIRST_PORT: u32 = 20_000;
const PORTS: u32 = 12_768;

/// A free loopback port for a service a test starts. Not one the kernel picks for port 0:
/// those come from the ephemeral range, where any outgoing connection made before the
/// service binds (to Redis, to the S3 server) can take it first.
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|e| panic!("{e}"))
}

/// [`free_port`], with an error instead of a panic when every port is taken.
pub fn try_free_port() -> Result<u16, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Different per process, so that concurrent test binaries start apart.
    let start = std::process::id().wrapping_mul(7_919);
    for _ in 0..PORTS {
        // 97 is coprime with PORTS: the sequence visits every port once.
        let n = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(97)) % PORTS;
        let port = (FIRST_PORT + n) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free loopback port in {FIRST_PORT}..{}", FIRST_PORT + PORTS))
}
