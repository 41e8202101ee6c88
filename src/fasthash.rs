//! A fast, non-cryptographic hasher (the Fx hash of rustc) for large indexes: checking and
//! planning 100,000 users is mostly hash lookups by id and key (duplicates, matching,
//! membership), and the standard SipHash costs more than the rest of a lookup. The keys are
//! directory ids and the ids and names the target's own server returns; the worst a hostile
//! server could do with crafted collisions is slow one plan down, so DoS resistance is not
//! worth its price here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A map with room for `n` entries.
pub fn map_with_capacity<K, V>(n: usize) -> FastMap<K, V> {
    HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default())
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The Fx mix leaves high input bits out of the low output bits, and hashbrown picks
    /// buckets by the low bits: ids that differ only near their end ("e000123", "e000124")
    /// would collide. murmur3's finaliser spreads every bit over the whole word.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_strings_and_looks_them_up() {
        let mut m: FastMap<&str, usize> = map_with_capacity(4);
        for (i, k) in ["", "a", "ab", "abcdefgh", "abcdefghi", "e000123"]
            .iter()
            .enumerate()
        {
            m.insert(k, i);
        }
        assert_eq!(m.len(), 6);
        assert_eq!(m.get("abcdefghi"), Some(&4));
        assert_eq!(m.get("e000124"), None);
    }

    #[test]
    fn ids_differing_at_the_end_spread_over_buckets() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<FxHasher>::default();
        let buckets: std::collections::HashSet<u64> = (0..1000)
            .map(|i| b.hash_one(format!("e{i:06}")) & 1023)
            .collect();
        assert!(
            buckets.len() > 500,
            "{} buckets of 1024 used",
            buckets.len()
        );
    }
}
