//! The verified-token cache: a bounded, sharded LRU from the SHA-256 digest of a token's
//! signature to the principal it verified as, with the token's signing input
//! (`header.payload`) to compare.
//!
//! What an entry means, and why serving it is safe, is argued in `docs/architecture.md`
//! ("The token cache"); in short:
//! - only tokens that passed full verification are inserted, and a hit needs both the same
//!   signature digest and the same signing input, byte for byte: the same token. A forged or
//!   altered token never hits (another signature with the same SHA-256 digest is a second
//!   preimage);
//! - each entry is tagged with the JWKS generation read *before* the key lookup that verified
//!   it, and a hit is served only while the key set still serves the key and the generation is
//!   unchanged, so rotation and revocation end it;
//! - `exp`, `nbf`, the scopes and the rate limit are checked on every hit, by the caller.
//!
//! The cache holds no signature, only its digest, so no entry is a credential: a JWT cannot be
//! presented without its signature. The signing input it keeps is the header and claims, which
//! the cached principal holds decoded anyway. Hashing the signature alone, not the whole token,
//! is what makes a hit cheaper: 342 bytes for RS256 instead of the whole token (about 600), 86
//! for ES256.

use std::hash::{BuildHasher, Hash, Hasher};

use aws_lc_rs::digest::{SHA256, digest};
use hashlink::LruCache;
use parking_lot::Mutex;

use crate::principal::Principal;

/// Caches at least this large are split into [`SHARDS`] shards.
const SHARD_THRESHOLD: usize = 256;
/// Shards of a large cache, so threads with different tokens rarely share a lock.
const SHARDS: usize = 16;

/// The SHA-256 digest of a token's signature (its third segment, as sent).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key([u8; 32]);

/// A token as the cache sees it: the digest of its signature and its signing input.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'a> {
    key: Key,
    signing_input: &'a [u8],
}

impl<'a> Lookup<'a> {
    /// `token` split at its last `.`; `None` without one (not a JWS, never cached).
    pub(crate) fn of(token: &'a str) -> Option<Self> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        Some(Self {
            key: Key::of(signature),
            signing_input: signing_input.as_bytes(),
        })
    }
}

impl Key {
    /// The digest of `signature`.
    fn of(signature: &str) -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest(&SHA256, signature.as_bytes()).as_ref());
        Self(key)
    }

    /// Eight bytes of the digest as a number (the digest is uniformly distributed, so any eight
    /// bytes make a good hash; the shard index uses another byte).
    fn word(&self) -> u64 {
        let mut word = [0u8; 8];
        if let Some(bytes) = self.0.get(8..16) {
            word.copy_from_slice(bytes);
        }
        u64::from_le_bytes(word)
    }

    fn shard(&self, shards: usize) -> usize {
        usize::from(self.0.first().copied().unwrap_or(0)) % shards.max(1)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.word());
    }
}

/// Hashing for [`Key`]s: they are already SHA-256 output, so hashing them again (SipHash)
/// would only cost time. Flooding is not a concern: only verified tokens are inserted.
#[derive(Clone, Copy, Default)]
struct DigestState;

impl BuildHasher for DigestState {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than Key::hash feeds this hasher.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A cached verification result.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The principal the token verified as (its claims, kid and algorithm).
    pub(crate) principal: Principal,
    /// The JWKS generation read before the key lookup that verified it.
    pub(crate) generation: u64,
}

/// What the LRU holds per signature digest.
struct Slot {
    entry: Entry,
    /// The verified token's `header.payload`, compared on every hit.
    signing_input: Box<[u8]>,
}

type Shard = Mutex<LruCache<Key, Slot, DigestState>>;

/// The bounded LRU, split into shards of equal share.
pub(crate) struct TokenCache {
    shards: Box<[Shard]>,
    capacity: usize,
}

impl TokenCache {
    /// A cache of `capacity` entries in all; `None` for 0 (caching off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let shards = if capacity >= SHARD_THRESHOLD {
            SHARDS
        } else {
            1
        };
        let shards = (0..shards)
            .map(|i| {
                // Spread the capacity exactly: the shards' capacities add up to `capacity`.
                let share = capacity / shards + usize::from(i < capacity % shards);
                Mutex::new(LruCache::with_hasher(share, DigestState))
            })
            .collect();
        Some(Self { shards, capacity })
    }

    fn shard(&self, key: &Key) -> Option<&Shard> {
        self.shards.get(key.shard(self.shards.len()))
    }

    /// The entry of exactly this token (its signature's digest found, its signing input equal),
    /// marked most recently used.
    pub(crate) fn get(&self, token: &Lookup<'_>) -> Option<Entry> {
        let mut shard = self.shard(&token.key)?.lock();
        let slot = shard.get(&token.key)?;
        (*slot.signing_input == *token.signing_input).then(|| slot.entry.clone())
    }

    /// Inserts or replaces the entry for `token`, evicting the least recently used if full.
    pub(crate) fn insert(&self, token: &Lookup<'_>, entry: Entry) {
        if let Some(shard) = self.shard(&token.key) {
            let slot = Slot {
                entry,
                signing_input: token.signing_input.into(),
            };
            shard.lock().insert(token.key, slot);
        }
    }

    /// Removes `entry`, found for `token` by [`get`](Self::get), unless another thread has
    /// replaced it since (a fresh verification of the same token stays).
    pub(crate) fn remove(&self, token: &Lookup<'_>, entry: &Entry) {
        if let Some(shard) = self.shard(&token.key) {
            let mut shard = shard.lock();
            if shard
                .peek(&token.key)
                .is_some_and(|slot| slot.entry.principal.same(&entry.principal))
            {
                shard.remove(&token.key);
            }
        }
    }

    /// The configured capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries held now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(generation: u64) -> Entry {
        Entry {
            principal: Principal::anonymous(),
            generation,
        }
    }

    #[test]
    fn capacity_zero_is_off() {
        assert!(TokenCache::new(0).is_none());
    }

    #[test]
    fn capacity_is_exact_and_bounded() {
        for capacity in [1, 3, 255, 256, 1000, 4096] {
            let cache = TokenCache::new(capacity).unwrap();
            let total: usize = cache.shards.iter().map(|s| s.lock().capacity()).sum();
            assert_eq!(total, capacity);
            for i in 0..capacity * 4 {
                let token = format!("h.p.token-{i}");
                cache.insert(&lookup(&token), entry(0));
            }
            assert!(cache.len() <= capacity, "{capacity}: {}", cache.len());
            assert!(cache.len() * 10 >= capacity * 8, "shards fill evenly");
        }
    }

    #[test]
    fn lru_order_in_one_shard() {
        let cache = TokenCache::new(2).unwrap();
        let (a, b, c) = (lookup("h.p.a"), lookup("h.p.b"), lookup("h.p.c"));
        cache.insert(&a, entry(1));
        cache.insert(&b, entry(2));
        assert_eq!(cache.get(&a).map(|e| e.generation), Some(1)); // a is now most recent
        cache.insert(&c, entry(3)); // evicts b
        assert!(cache.get(&b).is_none());
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        // An entry replaced since it was read is not removed for the old one.
        let (old, new) = (cache.get(&a).unwrap(), entry(4));
        cache.insert(&a, new);
        cache.remove(&a, &old);
        assert_eq!(cache.get(&a).map(|e| e.generation), Some(4));
        let current = cache.get(&a).unwrap();
        cache.remove(&a, &current);
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.len(), 1);
    }

    fn lookup(token: &str) -> Lookup<'_> {
        Lookup::of(token).unwrap()
    }

    #[test]
    fn only_the_same_token_hits() {
        let cache = TokenCache::new(8).unwrap();
        cache.insert(&lookup("h.p.sig"), entry(7));
        assert_eq!(cache.get(&lookup("h.p.sig")).map(|e| e.generation), Some(7));
        // The same signature on another signing input: header, payload, or a segment more.
        for other in [
            "h.q.sig",
            "g.p.sig",
            "h.p.x.sig",
            "hp.sig",
            ".sig",
            "h.p.sig2",
            "h.p.si",
        ] {
            assert!(cache.get(&lookup(other)).is_none(), "{other}");
        }
        // A miss on the signature does not disturb the entry.
        assert!(cache.get(&lookup("h.p.sig")).is_some());
        assert!(Lookup::of("no-dot-at-all").is_none());
    }
}
