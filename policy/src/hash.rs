//! Stable identifiers for canonical URLs.

/// A stable identifier of a canonical URL (64-bit FNV-1a, hex), for consistent-hash
/// routing on `x-pixgate-variant`: same variant, same replica, warm L1 cache. Not a
/// security boundary; the origin's cache keys use SHA-256.
pub fn variant_id(canonical: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in canonical.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 16];
    for (i, d) in id.iter_mut().enumerate() {
        *d = HEX[((h >> (60 - 4 * i)) & 15) as usize];
    }
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_id_is_stable_and_distinguishes_urls() {
        assert_eq!(variant_id("/img/a.jpg?w=1"), variant_id("/img/a.jpg?w=1"));
        assert_ne!(variant_id("/img/a.jpg?w=1"), variant_id("/img/a.jpg?w=2"));
        assert_eq!(variant_id("").len(), 16);
    }
}
