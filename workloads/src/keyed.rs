//! Keyed state every implementation shares: pre-hashed keys, so a word is hashed once and then
//! routed, looked up and digested, and a string map looked up by that hash.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A key that carries its hash, computed once by [`crate::hash::key_hash`]. Use it with
/// [`PreHashed`] maps so a lookup does not hash the key again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hashed<K> {
    /// The key's hash.
    pub hash: u64,
    /// The key.
    pub key: K,
}

impl<K> Hash for Hashed<K> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A hasher that passes a pre-computed `u64` through.
#[derive(Default, Clone, Copy, Debug)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys that are not pre-hashed: fold them in.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = crate::hash::mix64(self.0 ^ u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The `BuildHasher` for maps keyed by [`Hashed`].
pub type PreHashed = BuildHasherDefault<PassThrough>;

/// A map from string keys to `V` that is looked up by a pre-computed [`crate::hash::key_hash`]:
/// a key is hashed once per record however many maps it passes through, and a lookup of an
/// existing key allocates nothing.
#[derive(Clone, Debug)]
pub struct StrMap<V> {
    // Keys up to 24 bytes are stored inline: a lookup touches one cache line, not two.
    table: hashbrown::HashTable<(compact_str::CompactString, u64, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        Self { table: hashbrown::HashTable::new() }
    }
}

impl<V> StrMap<V> {
    /// The value of `key` (whose hash is `hash`), inserted by `init` if absent.
    #[inline]
    pub fn get_or_insert_with(&mut self, hash: u64, key: &str, init: impl FnOnce() -> V) -> &mut V {
        let entry = self.table.entry(hash, |e| e.1 == hash && e.0 == key, |e| e.1);
        &mut entry.or_insert_with(|| (key.into(), hash, init())).into_mut().2
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, hash: u64, key: &str) -> Option<&V> {
        self.table.find(hash, |e| e.1 == hash && e.0 == key).map(|e| &e.2)
    }

    /// Every `(key, hash, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, &V)> {
        self.table.iter().map(|e| (e.0.as_str(), e.1, &e.2))
    }

    /// Removes and returns every entry.
    pub fn drain(&mut self) -> impl Iterator<Item = (compact_str::CompactString, u64, V)> + '_ {
        self.table.drain()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl StrMap<u64> {
    /// Takes `n` off `key`'s count, removing the key at zero (so that the map holds only keys
    /// with a count). A key absent or below `n` is a caller's error: debug builds assert it.
    #[inline]
    pub fn subtract(&mut self, hash: u64, key: &str, n: u64) {
        match self.table.find_entry(hash, |e| e.1 == hash && e.0 == key) {
            Ok(mut entry) if entry.get().2 > n => entry.get_mut().2 -= n,
            Ok(entry) => {
                debug_assert_eq!(entry.get().2, n, "{key}: subtracting more than its count");
                entry.remove();
            }
            Err(_) => debug_assert!(n == 0, "{key}: subtracting from a key not counted"),
        }
    }
}

/// A map serialises as its `(key, value)` pairs; reading rehashes each key.
impl<V: serde::Serialize> serde::Serialize for StrMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.table.iter().map(|e| (e.0.as_str(), &e.2)))
    }
}

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for StrMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs: Vec<(compact_str::CompactString, V)> = serde::Deserialize::deserialize(deserializer)?;
        let mut map = Self { table: hashbrown::HashTable::with_capacity(pairs.len()) };
        for (key, value) in pairs {
            let hash = crate::hash::key_hash(&key);
            map.table.insert_unique(hash, (key, hash, value), |e| e.1);
        }
        Ok(map)
    }
}
