//! Small, fast, seeded hashing: the source of all generator randomness.
//!
//! Every random choice a generator makes is `mix(seed, stream, index)`, so any event can be
//! regenerated from its coordinates alone (this is what makes the generators offset-addressable).

/// SplitMix64's finaliser: a bijective, well-mixed 64-bit hash.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes a seed, a stream identifier (what the randomness is for) and an index into 64 bits.
#[inline]
pub fn mix3(seed: u64, stream: u64, index: u64) -> u64 {
    mix3_mixed(seed, stream, mix64(index))
}

/// [`mix3`] given `mix64(index)`, for a caller that hashes one index in many streams.
#[inline]
pub fn mix3_mixed(seed: u64, stream: u64, mixed_index: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mixed_index))
}

/// Maps 64 random bits to a float uniform in `[0, 1)`.
#[inline]
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A small deterministic random-number stream, for building pools once (not for the hot path).
#[derive(Clone, Debug)]
pub struct SplitMix {
    state: u64,
}

impl SplitMix {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// A float uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        unit(self.next())
    }

    /// An integer uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// Maps 64 random bits to an integer uniform in `0..n` without a division.
#[inline]
pub fn below(bits: u64, n: u64) -> u64 {
    ((bits as u128 * n as u128) >> 64) as u64
}

/// [`below`] for `n` below 2^32, in 32-bit products (equal to it): a form vector lanes compute
/// (x86's 64-bit lanes multiply 32 by 32 bits into 64, but have no high half of a 64-bit product).
#[inline]
pub fn below32(bits: u64, n: u32) -> u32 {
    let n = u64::from(n);
    // bits * n = hi * n * 2^32 + lo * n; the low product's high half carries into the sum, whose
    // high half is the answer. Neither sum overflows: hi * n + (lo * n >> 32) < 2^64.
    (((bits >> 32) * n + (((bits & 0xffff_ffff) * n) >> 32)) >> 32) as u32
}

/// FxHash of a string: what every engine and the oracles use to pick a key's partition, so the
/// same key lands on the same worker everywhere.
#[inline]
pub fn key_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(key.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [false; 7];
        let mut rng = SplitMix::new(1);
        for _ in 0..1000 {
            let x = rng.below(7);
            assert!(x < 7);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn below_in_32_bit_products_equals_below() {
        let mut rng = SplitMix::new(2);
        let edges = [0, 1, 2, 3, 0xffff_ffff, 1 << 32, (1 << 32) + 1, u64::MAX - 1, u64::MAX];
        let ns = [1, 2, 3, 7, 1000, 1 << 31, u32::MAX - 1, u32::MAX];
        let random = (0..100_000).map(|_| (rng.next(), rng.next() as u32 | 1));
        let cases = edges.iter().flat_map(|&b| ns.iter().map(move |&n| (b, n))).chain(random);
        for (bits, n) in cases {
            assert_eq!(u64::from(below32(bits, n)), below(bits, u64::from(n)), "{bits:#x} below {n}");
        }
    }

    #[test]
    fn unit_is_in_unit_interval() {
        assert_eq!(unit(0), 0.0);
        assert!(unit(u64::MAX) < 1.0);
    }
}
