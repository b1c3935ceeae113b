//! The disk store's caps: each refuses, ignores or trims as documented.

use super::*;

#[test]
fn providers_per_key_are_capped() {
    let dir = TempDir::new("records");
    let limits = Limits {
        max_providers_per_key: 2,
        ..Limits::default()
    };
    let local = PeerId::random();
    let mut store = open(&dir, local, limits.clone());
    let peers: Vec<_> = (0..3).map(|_| PeerId::random()).collect();
    for peer in &peers {
        // As MemoryStore: past the cap the record is ignored, not an error.
        store.add_provider(record(key(1), *peer)).unwrap();
    }
    let got: Vec<_> = store
        .providers(&key(1))
        .iter()
        .map(|p| p.provider)
        .collect();
    assert_eq!(got, peers[..2]);
    drop(store);
    assert_eq!(open(&dir, local, limits).providers(&key(1)).len(), 2);
}

#[test]
fn records_per_provider_are_capped() {
    let dir = TempDir::new("records");
    let limits = Limits {
        max_records_per_provider: 2,
        ..Limits::default()
    };
    let (local, flooder) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, limits);
    store.add_provider(record(key(1), flooder)).unwrap();
    store.add_provider(record(key(2), flooder)).unwrap();
    let refused = store.add_provider(record(key(3), flooder));
    assert!(
        matches!(refused, Err(Error::MaxProvidedKeys)),
        "{refused:?}"
    );
    // Updating a record it holds is still allowed, and others are not hit.
    store.add_provider(record(key(1), flooder)).unwrap();
    store
        .add_provider(record(key(3), PeerId::random()))
        .unwrap();
    // This node's own records are bounded by the key cap only.
    for n in 10..15 {
        store
            .add_provider(ProviderRecord::new(key(n), local, Vec::new()))
            .unwrap();
    }
    assert_eq!(store.provided().count(), 5);
    // Room again once one is removed.
    store.remove_provider(&key(2), &flooder);
    store.add_provider(record(key(3), flooder)).unwrap();
}

#[test]
fn provider_keys_are_capped() {
    let dir = TempDir::new("records");
    let limits = Limits {
        max_provider_keys: 2,
        ..Limits::default()
    };
    let mut store = open(&dir, PeerId::random(), limits);
    store
        .add_provider(record(key(1), PeerId::random()))
        .unwrap();
    store
        .add_provider(record(key(2), PeerId::random()))
        .unwrap();
    let refused = store.add_provider(record(key(3), PeerId::random()));
    assert!(
        matches!(refused, Err(Error::MaxProvidedKeys)),
        "{refused:?}"
    );
    store
        .add_provider(record(key(2), PeerId::random()))
        .unwrap();
    assert_eq!(store.provider_records(), 3);
}

#[test]
fn key_length_is_capped() {
    let dir = TempDir::new("records");
    let mut store = open(&dir, PeerId::random(), Limits::default());
    let peer = PeerId::random();
    store
        .add_provider(record(RecordKey::new(&[7u8; 128]), peer))
        .unwrap();
    let refused = store.add_provider(record(RecordKey::new(&[7u8; 129]), peer));
    assert!(matches!(refused, Err(Error::ValueTooLarge)), "{refused:?}");
    let refused = store.put(Record::new(RecordKey::new(&[7u8; 129]), vec![1]));
    assert!(matches!(refused, Err(Error::ValueTooLarge)), "{refused:?}");
    assert_eq!(store.provider_records(), 1);
}

#[test]
fn addresses_are_capped() {
    let dir = TempDir::new("records");
    let (local, peer) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    let mut rec = record(key(1), peer);
    let long: Multiaddr = format!("/dns4/{}/tcp/1", "a".repeat(260)).parse().unwrap();
    assert!(long.len() > 256);
    rec.addresses = vec![long.clone()];
    rec.addresses.extend((1..=10).map(address));
    store.add_provider(rec).unwrap();
    let want: Vec<_> = (1..=8).map(address).collect();
    assert_eq!(store.providers(&key(1))[0].addresses, want);
    drop(store);
    let store = open(&dir, local, Limits::default());
    assert_eq!(store.providers(&key(1))[0].addresses, want);
}

#[test]
fn value_records_are_capped_and_in_memory() {
    let dir = TempDir::new("records");
    let limits = Limits {
        max_records: 2,
        ..Limits::default()
    };
    let local = PeerId::random();
    let mut store = open(&dir, local, limits.clone());
    // Values are name records: at most 1 KiB.
    store.put(Record::new(key(1), vec![0; 1024])).unwrap();
    let refused = store.put(Record::new(key(2), vec![0; 1025]));
    assert!(matches!(refused, Err(Error::ValueTooLarge)), "{refused:?}");
    store.put(Record::new(key(2), vec![1])).unwrap();
    let refused = store.put(Record::new(key(3), vec![1]));
    assert!(matches!(refused, Err(Error::MaxRecords)), "{refused:?}");
    assert_eq!(store.records().count(), 2);
    // A held key can still be updated while full.
    store.put(Record::new(key(2), vec![2])).unwrap();
    drop(store);
    assert_eq!(open(&dir, local, limits).records().count(), 0);
}

#[test]
fn full_disk_refuses_and_logs_once() {
    let dir = TempDir::new("records");
    let one = log::add_len(&record(key(0), PeerId::random())) as u64;
    let limits = Limits {
        max_file_bytes: log::MAGIC.len() as u64 + 5 * one,
        ..Limits::default()
    };
    let local = PeerId::random();
    let mut store = open(&dir, local, limits.clone());
    let peers: Vec<_> = (0..5).map(|_| PeerId::random()).collect();
    let ((), text) = logged(|| {
        for (n, peer) in (0..).zip(&peers) {
            store.add_provider(record(key(n), *peer)).unwrap();
        }
        for n in 10..20 {
            let refused = store.add_provider(record(key(n), PeerId::random()));
            assert!(
                matches!(refused, Err(Error::MaxProvidedKeys)),
                "{refused:?}"
            );
        }
    });
    assert_eq!(text.matches("DHT record store full").count(), 1, "{text}");
    assert_eq!(store.provider_records(), 5);
    assert!(file_len(&dir) <= limits.max_file_bytes);

    // Room again after removals (the rewrite reclaims them), then full again:
    // one more warning.
    let ((), text) = logged(|| {
        store.remove_provider(&key(0), &peers[0]);
        store.remove_provider(&key(1), &peers[1]);
        store
            .add_provider(record(key(20), PeerId::random()))
            .unwrap();
        store
            .add_provider(record(key(21), PeerId::random()))
            .unwrap();
        for n in 30..33 {
            assert!(store
                .add_provider(record(key(n), PeerId::random()))
                .is_err());
        }
    });
    assert_eq!(text.matches("DHT record store full").count(), 1, "{text}");
    drop(store);
    assert_eq!(open(&dir, local, limits).provider_records(), 5);
}
