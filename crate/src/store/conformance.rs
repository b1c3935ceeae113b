//! The conformance suite every backend must pass: plain async functions, run
//! natively for memory and disk (`store/tests` below, tokio) and in headless
//! Chromium for IndexedDB (`crate/tests/web_store.rs`). Not part of the API.
//!
//! `open(quota)` must return a fresh, empty store each time it is called.

use std::future::Future;

use super::{Class, Entry, Shard, Store, StoreError, MAX_BATCH, MAX_QUERY, MAX_SHARD};
use crate::hash::Hash;

/// Deterministic bytes of length `len`, different for each `seed`.
pub fn shard(len: usize, seed: u8) -> Shard {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect();
    Shard::new(bytes)
}

/// Runs every case, each on a fresh store.
pub async fn run_all<F, Fut>(mut open: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Store>,
{
    boundary_sizes(open(1 << 40).await).await;
    bad_shard_spoils_its_batch(open(1 << 40).await).await;
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
        let s = shard(len, i as u8);
        store.put(s.clone(), Class::Own).await.unwrap();
        assert_eq!(store.get(s.hash()).await.unwrap(), s.bytes(), "size {len}");
        total += len as u64;
    }
    assert!(matches!(
        store.put(shard(MAX_SHARD + 1, 0), Class::Own).await,
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

/// A shard with the wrong hash cannot be made (see `Shard::check`), so the
/// bad shard here is one too large: nothing of its batch is stored.
pub async fn bad_shard_spoils_its_batch(store: Store) {
    let good = shard(10, 3);
    let bad = shard(MAX_SHARD + 1, 4);
    let err = store
        .put_many(vec![good.clone(), bad.clone()], Class::Contributed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    assert_eq!(
        store.has(&[good.hash(), bad.hash()]).unwrap(),
        vec![false, false]
    );
    assert_eq!(store.usage().total(), 0);
    store.close();
}

pub async fn unknown_and_bounds(store: Store) {
    let known = shard(10, 1).hash();
    let unknown = shard(10, 2).hash();
    store.put(shard(10, 1), Class::Own).await.unwrap();
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
    store.put(shard(10, 1), Class::Own).await.unwrap();
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
    for s in shards.iter().chain(&more) {
        assert_eq!(store.get(s.hash()).await.unwrap(), s.bytes());
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
    let gone = shards[2].hash();
    assert!(store.delete(gone).await.unwrap());
    assert_eq!(store.get(gone).await, Err(StoreError::NotFound(gone)));
    let all: Vec<Entry> = store.list(None, 10);
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|e| e.hash != gone && e.class == Class::Own));
    assert_eq!(store.usage().own, 100 + 101 + 103 + 104);
    // A batch: the ones there go in one transaction, the rest are counted out.
    let batch = [shards[0].hash(), gone, shards[4].hash()];
    assert_eq!(store.delete_many(&batch).await.unwrap(), 2);
    assert_eq!(store.usage().own, 101 + 103);
    assert_eq!(store.list(None, 10).len(), 2);
    let too_many = vec![gone; crate::store::MAX_BATCH + 1];
    assert!(store.delete_many(&too_many).await.is_err());
    store.close();
}

/// Expects a store opened with a 10 KiB quota.
pub async fn quota_and_eviction(store: Store) {
    let a = shard(4096, 1);
    let b = shard(4096, 2);
    let c = shard(4096, 3);
    let own = shard(4096, 4);
    store.put(a.clone(), Class::Contributed).await.unwrap();
    store.put(b.clone(), Class::Contributed).await.unwrap();
    let err = store.put(c, Class::Contributed).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::QuotaExceeded {
            needed: 4096,
            available: 2048
        }
    );
    // Own data is not refused by the contribution quota.
    store.put(own.clone(), Class::Own).await.unwrap();
    let usage = store.usage();
    assert_eq!((usage.own, usage.contributed), (4096, 8192));
    // Reading `a` makes `b` the least recently used.
    store.get(a.hash()).await.unwrap();
    // What a lower quota would evict is known before anything is deleted.
    let planned: Vec<Hash> = store.over_quota(8192).iter().map(|e| e.hash).collect();
    assert_eq!(planned, vec![b.hash()]);
    assert!(store.has(&[b.hash()]).unwrap()[0]);
    let eviction = store.set_quota(8192).await.unwrap();
    let evicted: Vec<Hash> = eviction.evicted.iter().map(|e| e.hash).collect();
    assert_eq!(evicted, vec![b.hash()]);
    assert_eq!(eviction.own_over_quota, 0);
    let eviction = store.set_quota(2048).await.unwrap();
    let evicted: Vec<Hash> = eviction.evicted.iter().map(|e| e.hash).collect();
    assert_eq!(evicted, vec![a.hash()]);
    assert_eq!(eviction.own_over_quota, 2048);
    assert_eq!(
        store.has(&[own.hash(), a.hash(), b.hash()]).unwrap(),
        vec![true, false, false]
    );
    assert_eq!(store.usage().total(), 4096);
    assert_eq!(store.usage().quota, 2048);
    store.close();
}

pub async fn pinning_protects(store: Store) {
    let x = shard(1000, 7);
    store.put(x.clone(), Class::Contributed).await.unwrap();
    store.put(x.clone(), Class::Own).await.unwrap();
    let usage = store.usage();
    assert_eq!((usage.own, usage.contributed), (1000, 0));
    // Storing it again as contributed does not unpin it.
    store.put(x, Class::Contributed).await.unwrap();
    let eviction = store.set_quota(0).await.unwrap();
    assert!(eviction.evicted.is_empty());
    assert_eq!(eviction.own_over_quota, 1000);
    assert_eq!(store.list(None, 10)[0].class, Class::Own);
    store.close();
}

pub async fn corrupt_entry_is_removed(store: Store) {
    let good = shard(5000, 9);
    let (hash, empty) = (good.hash(), shard(0, 0).hash());
    store.put(good.clone(), Class::Own).await.unwrap();
    store.put(shard(0, 0), Class::Own).await.unwrap();
    store.tamper(hash).await.unwrap();
    store.tamper(empty).await.unwrap();
    for h in [hash, empty] {
        assert_eq!(store.get(h).await, Err(StoreError::Corrupt { hash: h }));
        assert_eq!(store.get(h).await, Err(StoreError::NotFound(h)));
    }
    assert_eq!(store.has(&[hash, empty]).unwrap(), vec![false, false]);
    assert_eq!(store.usage().total(), 0);
    // A good copy can be stored again.
    store.put(good.clone(), Class::Own).await.unwrap();
    assert_eq!(store.get(hash).await.unwrap(), good.bytes());
    store.close();
}

/// Expects a store opened with a 10 KiB quota: of four concurrent 4 KiB
/// contributed puts, exactly two fit.
pub async fn concurrent_puts_respect_quota(store: Store) {
    let puts = (0..4).map(|i| {
        let store = store.clone();
        let s = shard(4096, 20 + i);
        async move { store.put(s, Class::Contributed).await }
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
    first.put(own.clone(), Class::Own).await.unwrap();
    first
        .put(contributed.clone(), Class::Contributed)
        .await
        .unwrap();
    let before = first.list(None, 10);
    first.close();
    drop(first);
    let again = open().await.unwrap();
    let usage = again.usage();
    assert_eq!((usage.own, usage.contributed), (3000, 2000));
    assert_eq!(again.list(None, 10), before);
    assert_eq!(again.get(own.hash()).await.unwrap(), own.bytes());
    assert_eq!(
        again.get(contributed.hash()).await.unwrap(),
        contributed.bytes()
    );
    again.close();
}

/// Expects a memory store whose device holds only 8 KiB: a write that does
/// not fit is refused whole and the store stays consistent.
pub async fn storage_full(store: Store) {
    let a = shard(4096, 1);
    store.put(a.clone(), Class::Own).await.unwrap();
    let batch = vec![shard(3000, 2), shard(3000, 3)];
    let err = store.put_many(batch.clone(), Class::Own).await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err}");
    let err = store
        .put_many(batch.clone(), Class::Contributed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded { .. }), "{err}");
    assert_eq!(
        store.has(&[batch[0].hash(), batch[1].hash()]).unwrap(),
        vec![false, false]
    );
    assert_eq!(store.usage().total(), 4096);
    assert_eq!(store.get(a.hash()).await.unwrap(), a.bytes());
    store.close();
}
