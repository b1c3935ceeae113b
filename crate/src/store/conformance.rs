//! The conformance suite every backend must pass: plain async functions, run
//! natively for memory and disk (`store/tests` below, tokio) and in headless
//! Chromium for IndexedDB (`crate/tests/web_store.rs`). Not part of the API.
//!
//! `open(quota)` must return a fresh, empty store each time it is called.

use std::future::Future;

use super::{Class, Entry, Store, StoreError, MAX_BATCH, MAX_QUERY, MAX_SHARD};
use crate::hash::Hash;

/// Deterministic bytes of length `len`, different for each `seed`.
pub fn shard(len: usize, seed: u8) -> (Hash, Vec<u8>) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect();
    (Hash::of(&bytes), bytes)
}

/// Runs every case, each on a fresh store.
pub async fn run_all<F, Fut>(mut open: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Store>,
{
    boundary_sizes(open(1 << 40).await).await;
    wrong_hash_is_refused(open(1 << 40).await).await;
    unknown_and_bounds(open(1 << 40).await).await;
    delete_and_list(open(1 << 40).await).await;
    same_size_batch(open(1 << 40).await).await;
    quota_and_eviction(open(10 << 10).await).await;
    pinning_protects(open(1 << 40).await).await;
    corrupt_entry_is_removed(open(1 << 40).await).await;
    concurrent_puts_respect_quota(open(10 << 10).await).await;
}

pub async fn boundary_sizes(store: Store) {
    let sizes = [
        0,
        1,
        1023,
        1024,
        1025,
        64 << 10,
        1 << 20,
        MAX_SHARD - 1,
        MAX_SHARD,
    ];
    let mut total = 0u64;
    for (i, len) in sizes.into_iter().enumerate() {
        let (hash, bytes) = shard(len, i as u8);
        store.put(hash, bytes.clone(), Class::Own).await.unwrap();
        assert_eq!(store.get(hash).await.unwrap(), bytes, "size {len}");
        total += len as u64;
    }
    let (hash, bytes) = shard(MAX_SHARD + 1, 0);
    assert!(matches!(
        store.put(hash, bytes, Class::Own).await,
        Err(StoreError::TooLarge { .. })
    ));
    let usage = store.usage();
    assert_eq!((usage.own, usage.contributed), (total, 0));
    assert_eq!(usage.entries, sizes.len() as u64);
    let listed = store.list(None, MAX_QUERY);
    assert_eq!(listed.len(), sizes.len());
    assert!(listed.windows(2).all(|w| w[0].hash < w[1].hash));
    store.close();
}

pub async fn wrong_hash_is_refused(store: Store) {
    let (hash, _) = shard(100, 1);
    let (_, other) = shard(100, 2);
    let err = store.put(hash, other, Class::Own).await.unwrap_err();
    assert!(
        matches!(err, StoreError::HashMismatch { expected, .. } if expected == hash),
        "{err}"
    );
    // One bad shard spoils the batch: nothing of it is stored.
    let good = shard(10, 3);
    let bad = (shard(10, 4).0, shard(10, 5).1);
    let err = store
        .put_many(vec![good.clone(), bad], Class::Contributed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }), "{err}");
    assert_eq!(store.has(&[hash, good.0]).unwrap(), vec![false, false]);
    assert_eq!(store.usage().total(), 0);
    store.close();
}

pub async fn unknown_and_bounds(store: Store) {
    let (known, bytes) = shard(10, 1);
    let unknown = shard(10, 2).0;
    store.put(known, bytes, Class::Own).await.unwrap();
    assert_eq!(
        store.get(unknown).await.unwrap_err(),
        StoreError::NotFound(unknown)
    );
    assert!(!store.delete(unknown).await.unwrap());
    assert_eq!(
        store.has(&[unknown, known, unknown]).unwrap(),
        vec![false, true, false]
    );
    let many = vec![known; MAX_QUERY + 1];
    assert!(matches!(store.has(&many), Err(StoreError::TooMany { .. })));
    let batch: Vec<_> = (0..=MAX_BATCH).map(|i| shard(1, i as u8)).collect();
    assert!(matches!(
        store.put_many(batch, Class::Own).await,
        Err(StoreError::TooMany { .. })
    ));
    // Storing the same shard twice counts it once.
    let (hash, bytes) = shard(10, 1);
    store.put(hash, bytes, Class::Own).await.unwrap();
    assert_eq!(store.usage().own, 10);
    store.close();
}

/// Shards of one size in one batch each read back as themselves (the
/// IndexedDB backend reuses one JavaScript array per size while writing).
pub async fn same_size_batch(store: Store) {
    let shards: Vec<_> = (0..6).map(|i| shard(64 << 10, i as u8)).collect();
    store.put_many(shards.clone(), Class::Own).await.unwrap();
    let more: Vec<_> = (6..9).map(|i| shard(64 << 10, i as u8)).collect();
    store.put_many(more.clone(), Class::Own).await.unwrap();
    for (hash, bytes) in shards.iter().chain(&more) {
        assert_eq!(&store.get(*hash).await.unwrap(), bytes);
    }
    store.close();
}

pub async fn delete_and_list(store: Store) {
    let shards: Vec<_> = (0..5).map(|i| shard(100 + i, i as u8)).collect();
    store.put_many(shards.clone(), Class::Own).await.unwrap();
    let first = store.list(None, 2);
    assert_eq!(first.len(), 2);
    let rest = store.list(Some(first[1].hash), 10);
    assert_eq!(rest.len(), 3);
    assert!(first[1].hash < rest[0].hash);
    let gone = shards[2].0;
    assert!(store.delete(gone).await.unwrap());
    assert_eq!(store.get(gone).await, Err(StoreError::NotFound(gone)));
    let all: Vec<Entry> = store.list(None, 10);
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|e| e.hash != gone && e.class == Class::Own));
    assert_eq!(store.usage().own, 100 + 101 + 103 + 104);
    store.close();
}

/// Expects a store opened with a 10 KiB quota.
pub async fn quota_and_eviction(store: Store) {
    let a = shard(4096, 1);
    let b = shard(4096, 2);
    let c = shard(4096, 3);
    let own = shard(4096, 4);
    store.put(a.0, a.1, Class::Contributed).await.unwrap();
    store.put(b.0, b.1, Class::Contributed).await.unwrap();
    let err = store.put(c.0, c.1, Class::Contributed).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::QuotaExceeded {
            needed: 4096,
            available: 2048
        }
    );
    // Own data is not refused by the contribution quota.
    store.put(own.0, own.1, Class::Own).await.unwrap();
    let usage = store.usage();
    assert_eq!((usage.own, usage.contributed), (4096, 8192));
    // Reading `a` makes `b` the least recently used.
    store.get(a.0).await.unwrap();
    let eviction = store.set_quota(8192).await.unwrap();
    let evicted: Vec<Hash> = eviction.evicted.iter().map(|e| e.hash).collect();
    assert_eq!(evicted, vec![b.0]);
    assert_eq!(eviction.own_over_quota, 0);
    let eviction = store.set_quota(2048).await.unwrap();
    let evicted: Vec<Hash> = eviction.evicted.iter().map(|e| e.hash).collect();
    assert_eq!(evicted, vec![a.0]);
    assert_eq!(eviction.own_over_quota, 2048);
    assert_eq!(
        store.has(&[own.0, a.0, b.0]).unwrap(),
        vec![true, false, false]
    );
    assert_eq!(store.usage().total(), 4096);
    assert_eq!(store.usage().quota, 2048);
    store.close();
}

pub async fn pinning_protects(store: Store) {
    let x = shard(1000, 7);
    store
        .put(x.0, x.1.clone(), Class::Contributed)
        .await
        .unwrap();
    store.put(x.0, x.1.clone(), Class::Own).await.unwrap();
    let usage = store.usage();
    assert_eq!((usage.own, usage.contributed), (1000, 0));
    // Storing it again as contributed does not unpin it.
    store.put(x.0, x.1, Class::Contributed).await.unwrap();
    let eviction = store.set_quota(0).await.unwrap();
    assert!(eviction.evicted.is_empty());
    assert_eq!(eviction.own_over_quota, 1000);
    assert_eq!(store.list(None, 10)[0].class, Class::Own);
    store.close();
}

pub async fn corrupt_entry_is_removed(store: Store) {
    let (hash, bytes) = shard(5000, 9);
    let (empty, nothing) = shard(0, 0);
    store.put(hash, bytes.clone(), Class::Own).await.unwrap();
    store.put(empty, nothing, Class::Own).await.unwrap();
    store.tamper(hash).await.unwrap();
    store.tamper(empty).await.unwrap();
    for h in [hash, empty] {
        assert_eq!(store.get(h).await, Err(StoreError::Corrupt { hash: h }));
        assert_eq!(store.get(h).await, Err(StoreError::NotFound(h)));
    }
    assert_eq!(store.has(&[hash, empty]).unwrap(), vec![false, false]);
    assert_eq!(store.usage().total(), 0);
    // A good copy can be stored again.
    store.put(hash, bytes.clone(), Class::Own).await.unwrap();
    assert_eq!(store.get(hash).await.unwrap(), bytes);
    store.close();
}

/// Expects a store opened with a 10 KiB quota: of four concurrent 4 KiB
/// contributed puts, exactly two fit.
pub async fn concurrent_puts_respect_quota(store: Store) {
    let puts = (0..4).map(|i| {
        let store = store.clone();
        let (hash, bytes) = shard(4096, 20 + i);
        async move { store.put(hash, bytes, Class::Contributed).await }
    });
    let results = futures::future::join_all(puts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 2, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, StoreError::QuotaExceeded { .. })));
    assert_eq!(store.usage().contributed, 8192);
    store.close();
}

/// `open()` must reopen the same location each time: data, classes and
/// usage survive; the store's first instance is closed before reopening.
pub async fn reopen_keeps_data<F, Fut>(mut open: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Store, StoreError>>,
{
    let own = shard(3000, 1);
    let contributed = shard(2000, 2);
    let first = open().await.unwrap();
    first.put(own.0, own.1.clone(), Class::Own).await.unwrap();
    first
        .put(contributed.0, contributed.1.clone(), Class::Contributed)
        .await
        .unwrap();
    let before = first.list(None, 10);
    first.close();
    drop(first);
    let again = open().await.unwrap();
    let usage = again.usage();
    assert_eq!((usage.own, usage.contributed), (3000, 2000));
    assert_eq!(again.list(None, 10), before);
    assert_eq!(again.get(own.0).await.unwrap(), own.1);
    assert_eq!(again.get(contributed.0).await.unwrap(), contributed.1);
    again.close();
}

/// Expects a memory store whose device holds only 8 KiB: a write that does
/// not fit is refused whole and the store stays consistent.
pub async fn storage_full(store: Store) {
    let a = shard(4096, 1);
    store.put(a.0, a.1.clone(), Class::Own).await.unwrap();
    let batch = vec![shard(3000, 2), shard(3000, 3)];
    let err = store.put_many(batch.clone(), Class::Own).await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err}");
    let err = store
        .put_many(batch.clone(), Class::Contributed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err}");
    assert_eq!(
        store.has(&[batch[0].0, batch[1].0]).unwrap(),
        vec![false, false]
    );
    assert_eq!(store.usage().total(), 4096);
    assert_eq!(store.get(a.0).await.unwrap(), a.1);
    store.close();
}
