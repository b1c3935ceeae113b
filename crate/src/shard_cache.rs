//! A small in-memory cache of verified shards, shared by every get of a
//! browser peer. A media element asks for overlapping ranges again and again (a
//! seek is often three or four requests a few hundred kilobytes apart);
//! with the cache each shard crosses the network once.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::hash::Hash;

/// Bytes of shards kept.
pub const CACHE_BYTES: usize = 32 << 20;

/// Verified shards by hash, least recently added evicted first.
#[derive(Clone, Default)]
pub struct ShardCache(Rc<RefCell<Inner>>);

#[derive(Default)]
struct Inner {
    shards: HashMap<Hash, Vec<u8>>,
    order: VecDeque<Hash>,
    bytes: usize,
}

impl ShardCache {
    /// A shard fetched before, if still held.
    pub fn get(&self, hash: &Hash) -> Option<Vec<u8>> {
        self.0.borrow().shards.get(hash).cloned()
    }

    /// Whether the shard `hash` is held.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.0.borrow().shards.contains_key(hash)
    }

    /// Keeps a shard that has been verified against `hash`.
    pub fn insert(&self, hash: Hash, bytes: Vec<u8>) {
        let mut inner = self.0.borrow_mut();
        if bytes.len() > CACHE_BYTES || inner.shards.contains_key(&hash) {
            return;
        }
        while inner.bytes + bytes.len() > CACHE_BYTES {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(b) = inner.shards.remove(&old) {
                inner.bytes -= b.len();
            }
        }
        inner.bytes += bytes.len();
        inner.order.push_back(hash);
        inner.shards.insert(hash, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_budget_evicting_the_oldest() {
        let cache = ShardCache::default();
        let shard = CACHE_BYTES / 4;
        for i in 0..6u8 {
            cache.insert(Hash([i; 32]), vec![i; shard]);
        }
        assert!(cache.get(&Hash([0; 32])).is_none());
        assert!(cache.get(&Hash([1; 32])).is_none());
        assert_eq!(cache.get(&Hash([5; 32])), Some(vec![5; shard]));
        assert_eq!(cache.0.borrow().bytes, 4 * shard);
        cache.insert(Hash([9; 32]), vec![0; CACHE_BYTES + 1]);
        assert!(cache.get(&Hash([9; 32])).is_none(), "too large to keep");
    }
}
