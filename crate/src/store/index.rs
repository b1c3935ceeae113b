//! The store's in-memory index: size, class and recency of every shard, the
//! bytes held per class, and the least-recently-used order of contributed
//! shards. Loaded from the backend when the store opens; changed only after
//! the backend has committed.

use std::collections::{BTreeMap, BTreeSet};

use super::{Class, Entry};
use crate::hash::Hash;

/// What the store keeps about one shard besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub size: u64,
    pub class: Class,
    /// Milliseconds since the Unix epoch (made strictly increasing within a
    /// session, so the order of uses is exact).
    pub last_used: u64,
    /// The `last_used` the backend holds; reads persist recency only when it
    /// is stale, so most reads write nothing.
    pub stored_last_used: u64,
}

// The byte form is for IndexedDB; the disk keeps class and recency in the
// directory and the mtime.
#[cfg_attr(not(wasm_browser), allow(dead_code))]
impl Meta {
    pub fn new(size: u64, class: Class, last_used: u64) -> Self {
        Self {
            size,
            class,
            last_used,
            stored_last_used: last_used,
        }
    }

    /// 17 bytes: size (u64 LE), class (0 own, 1 contributed), last use (u64 LE).
    pub fn encode(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        out[..8].copy_from_slice(&self.size.to_le_bytes());
        out[8] = match self.class {
            Class::Own => 0,
            Class::Contributed => 1,
        };
        out[9..].copy_from_slice(&self.last_used.to_le_bytes());
        out
    }

    /// The inverse of [`Meta::encode`]; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 17] = bytes.try_into().ok()?;
        let size = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        let class = match bytes[8] {
            0 => Class::Own,
            1 => Class::Contributed,
            _ => return None,
        };
        let last_used = u64::from_le_bytes(bytes[9..].try_into().ok()?);
        Some(Self::new(size, class, last_used))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: BTreeMap<Hash, Meta>,
    /// Contributed shards by (last use, hash): the eviction order.
    lru: BTreeSet<(u64, Hash)>,
    own: u64,
    contributed: u64,
    clock: u64,
}

fn wall_clock_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Index {
    pub fn from_entries(entries: Vec<(Hash, Meta)>) -> Self {
        let mut index = Self::default();
        for (hash, meta) in entries {
            index.clock = index.clock.max(meta.last_used);
            index.insert(hash, meta);
        }
        index
    }

    /// A fresh timestamp, later than every one handed out before.
    pub fn now(&mut self) -> u64 {
        self.clock = self.clock.saturating_add(1).max(wall_clock_ms());
        self.clock
    }

    pub fn get(&self, hash: &Hash) -> Option<Meta> {
        self.entries.get(hash).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn own(&self) -> u64 {
        self.own
    }

    pub fn contributed(&self) -> u64 {
        self.contributed
    }

    /// Adds or replaces an entry, keeping the totals right.
    pub fn insert(&mut self, hash: Hash, meta: Meta) {
        self.remove(&hash);
        match meta.class {
            Class::Own => self.own = self.own.saturating_add(meta.size),
            Class::Contributed => {
                self.contributed = self.contributed.saturating_add(meta.size);
                self.lru.insert((meta.last_used, hash));
            }
        }
        self.entries.insert(hash, meta);
    }

    pub fn remove(&mut self, hash: &Hash) -> Option<Meta> {
        let meta = self.entries.remove(hash)?;
        match meta.class {
            Class::Own => self.own = self.own.saturating_sub(meta.size),
            Class::Contributed => {
                self.contributed = self.contributed.saturating_sub(meta.size);
                self.lru.remove(&(meta.last_used, *hash));
            }
        }
        Some(meta)
    }

    /// Marks `hash` as just used. Returns the new meta when the stored
    /// recency is older than `persist_after` ms and should be written back.
    pub fn touch(&mut self, hash: &Hash, persist_after: u64) -> Option<Meta> {
        let now = self.now();
        let mut meta = self.get(hash)?;
        meta.last_used = now;
        let stale = now.saturating_sub(meta.stored_last_used) > persist_after;
        if stale {
            meta.stored_last_used = now;
        }
        self.insert(*hash, meta);
        stale.then_some(meta)
    }

    /// Contributed shards to evict, least recently used first, so that the
    /// total fits under `limit` (or every contributed shard, if own data
    /// alone exceeds it). Does not remove them.
    pub fn lru_victims(&self, limit: u64) -> Vec<(Hash, Meta)> {
        let mut total = self.own.saturating_add(self.contributed);
        let mut out = Vec::new();
        for (_, hash) in &self.lru {
            if total <= limit {
                break;
            }
            if let Some(meta) = self.entries.get(hash) {
                total = total.saturating_sub(meta.size);
                out.push((*hash, *meta));
            }
        }
        out
    }

    pub fn list(&self, after: Option<Hash>, limit: usize) -> Vec<Entry> {
        use std::ops::Bound;
        let start = match after {
            Some(h) => Bound::Excluded(h),
            None => Bound::Unbounded,
        };
        self.entries
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(hash, meta)| Entry {
                hash: *hash,
                size: meta.size,
                class: meta.class,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        Hash([n; 32])
    }

    #[test]
    fn totals_follow_inserts_and_removes() {
        let mut index = Index::default();
        index.insert(h(1), Meta::new(10, Class::Own, 1));
        index.insert(h(2), Meta::new(20, Class::Contributed, 2));
        index.insert(h(2), Meta::new(20, Class::Own, 3));
        assert_eq!((index.own(), index.contributed()), (30, 0));
        index.remove(&h(1));
        index.remove(&h(9));
        assert_eq!((index.own(), index.contributed(), index.len()), (20, 0, 1));
    }

    #[test]
    fn victims_are_least_recently_used_contributed() {
        let mut index = Index::default();
        index.insert(h(1), Meta::new(10, Class::Contributed, 1));
        index.insert(h(2), Meta::new(10, Class::Contributed, 2));
        index.insert(h(3), Meta::new(10, Class::Own, 3));
        index.touch(&h(1), u64::MAX);
        let victims: Vec<Hash> = index.lru_victims(15).into_iter().map(|v| v.0).collect();
        assert_eq!(victims, vec![h(2), h(1)]);
        let victims: Vec<Hash> = index.lru_victims(20).into_iter().map(|v| v.0).collect();
        assert_eq!(victims, vec![h(2)]);
        assert!(index.lru_victims(30).is_empty());
    }

    #[test]
    fn meta_round_trips_and_rejects_garbage() {
        let meta = Meta::new(1 << 20, Class::Contributed, 1_700_000_000_000);
        assert_eq!(Meta::decode(&meta.encode()), Some(meta));
        assert_eq!(Meta::decode(&[0; 16]), None);
        let mut bad = meta.encode();
        bad[8] = 7;
        assert_eq!(Meta::decode(&bad), None);
    }

    #[test]
    fn touch_persists_only_when_stale() {
        let mut index = Index::default();
        let now = index.now();
        index.insert(h(1), Meta::new(1, Class::Contributed, now));
        assert_eq!(index.touch(&h(1), 60_000), None);
        assert!(index.touch(&h(1), 0).is_some());
        assert_eq!(index.touch(&h(9), 0), None);
    }
}
