//! Deterministic, fast, non-cryptographic hashing: everything synthetic is a pure
//! function of the seed and an object's index, so nothing needs to be stored.

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) const fn h2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b).rotate_left(17))
}

pub(crate) const fn h3(a: u64, b: u64, c: u64) -> u64 {
    h2(h2(a, b), c)
}

pub(crate) const fn h4(a: u64, b: u64, c: u64, d: u64) -> u64 {
    h2(h3(a, b, c), d)
}

/// FNV-1a over the bytes, then mixed with the seed.
pub(crate) fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h2(seed, h)
}

/// A uniform float in [0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Domain-separation tags so that different attributes of the same object are independent.
pub(crate) mod tag {
    pub const BUCKET: u64 = 0x6275_636B;
    pub const MODE: u64 = 1;
    pub const KMS_KEY: u64 = 2;
    pub const SIZE: u64 = 3;
    pub const ETAG: u64 = 4;
    pub const TIME: u64 = 5;
    pub const VERSION_ID: u64 = 6;
    pub const STORAGE: u64 = 7;
    pub const STEP: u64 = 8;
    pub const FAULT: u64 = 9;
    pub const JITTER: u64 = 10;
    pub const KEY_ID: u64 = 11;
    pub const CREATED: u64 = 12;
    pub const REQUEST_ID: u64 = 13;
    pub const PREFIX: u64 = 14;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_values() {
        // These must never change: tests and benchmarks elsewhere depend on determinism.
        assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF);
        assert_ne!(h2(1, 2), h2(2, 1));
        assert!(unit(u64::MAX) < 1.0);
    }
}
