//! The disk store: reopening, damage and rewrites; the caps in `caps.rs`.

mod caps;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use libp2p::kad::store::{Error, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use web_time::Instant;

use super::{log, DiskStore, Limits, FILE_NAME};
use crate::temp_dir::TempDir;

/// The record log in `dir`.
fn log_path(dir: &TempDir) -> PathBuf {
    dir.path().join(FILE_NAME)
}

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

fn address(port: u16) -> Multiaddr {
    format!("/ip4/10.0.0.1/tcp/{port}").parse().unwrap()
}

fn key(n: u32) -> RecordKey {
    RecordKey::new(&blake3::hash(&n.to_le_bytes()).as_bytes())
}

fn record(key: RecordKey, provider: PeerId) -> ProviderRecord {
    ProviderRecord {
        key,
        provider,
        expires: Some(Instant::now() + HOUR),
        addresses: vec![address(4001)],
    }
}

fn open(dir: &TempDir, local: PeerId, limits: Limits) -> DiskStore {
    DiskStore::open(local, dir.path(), limits).unwrap()
}

fn file_len(dir: &TempDir) -> u64 {
    std::fs::metadata(log_path(dir)).unwrap().len()
}

/// Runs `f` with tracing output captured, returned as text.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture(Arc::default());
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    (out, text)
}

#[test]
fn records_survive_reopen() {
    let dir = TempDir::new("records");
    let local = PeerId::random();
    let (a, b) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    let mut rec = record(key(1), a);
    rec.addresses.push(address(4002));
    store.add_provider(rec.clone()).unwrap();
    store.add_provider(record(key(1), b)).unwrap();
    store.add_provider(record(key(2), a)).unwrap();
    let own = ProviderRecord::new(key(3), local, Vec::new());
    store.add_provider(own.clone()).unwrap();
    drop(store);

    let store = open(&dir, local, Limits::default());
    assert_eq!(store.provider_records(), 4);
    let got = store.providers(&key(1));
    assert_eq!(got.len(), 2);
    let got_a = got.iter().find(|p| p.provider == a).unwrap();
    assert_eq!(got_a.addresses, rec.addresses);
    let (want, have) = (rec.expires.unwrap(), got_a.expires.unwrap());
    let skew = if want > have {
        want - have
    } else {
        have - want
    };
    assert!(skew < std::time::Duration::from_secs(1), "{skew:?}");
    assert_eq!(store.providers(&key(2)).len(), 1);
    let provided: Vec<_> = store.provided().map(|p| p.into_owned()).collect();
    assert_eq!(provided, vec![own]);
    assert_eq!(provided[0].expires, None);
}

#[test]
fn expired_records_are_gone_after_reopen() {
    let dir = TempDir::new("records");
    let (local, peer) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    let mut old = record(key(1), peer);
    old.expires = Instant::now().checked_sub(std::time::Duration::from_secs(1));
    assert!(old.expires.is_some());
    store.add_provider(old).unwrap();
    store.add_provider(record(key(2), peer)).unwrap();
    // A record with no expiry from another peer: left by an old identity.
    store
        .add_provider(ProviderRecord::new(key(3), peer, Vec::new()))
        .unwrap();
    drop(store);

    let store = open(&dir, local, Limits::default());
    assert!(store.providers(&key(1)).is_empty());
    assert_eq!(store.providers(&key(2)).len(), 1);
    assert!(store.providers(&key(3)).is_empty());
    assert_eq!(store.provider_records(), 1);
}

#[test]
fn remove_provider_persists() {
    let dir = TempDir::new("records");
    let (local, a, b) = (PeerId::random(), PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    store.add_provider(record(key(1), a)).unwrap();
    store.add_provider(record(key(1), b)).unwrap();
    store.remove_provider(&key(1), &a);
    drop(store);

    let store = open(&dir, local, Limits::default());
    let got = store.providers(&key(1));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].provider, b);
}

#[test]
fn updates_replace_the_record() {
    let dir = TempDir::new("records");
    let (local, peer) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    for port in 1..=3 {
        let mut rec = record(key(1), peer);
        rec.addresses = vec![address(port)];
        store.add_provider(rec).unwrap();
    }
    assert_eq!(store.provider_records(), 1);
    drop(store);

    let store = open(&dir, local, Limits::default());
    assert_eq!(store.provider_records(), 1);
    assert_eq!(store.providers(&key(1))[0].addresses, vec![address(3)]);
}

#[test]
fn truncated_log_keeps_entries_before_the_cut() {
    let dir = TempDir::new("records");
    let (local, peer) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    for n in 0..3 {
        store.add_provider(record(key(n), peer)).unwrap();
    }
    drop(store);
    let len = file_len(&dir);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(log_path(&dir))
        .unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let (store, text) = logged(|| open(&dir, local, Limits::default()));
    assert_eq!(store.provider_records(), 2);
    assert!(!store.providers(&key(0)).is_empty());
    assert!(!store.providers(&key(1)).is_empty());
    assert!(text.contains("DHT provider log damaged"), "{text}");
    assert!(text.contains("kept 2 provider records"), "{text}");
    assert!(
        text.contains(&log_path(&dir).display().to_string()),
        "{text}"
    );
    // The damaged tail was rewritten away: new entries are read back.
    let mut store = store;
    store.add_provider(record(key(9), peer)).unwrap();
    drop(store);
    let (store, text) = logged(|| open(&dir, local, Limits::default()));
    assert_eq!(store.provider_records(), 3);
    assert!(!text.contains("damaged"), "{text}");
}

#[test]
fn garbage_file_reopens_empty() {
    let dir = TempDir::new("records");
    std::fs::create_dir_all(dir.path()).unwrap();
    let garbage: Vec<u8> = (0..5000u32).map(|n| (n * 7919 % 251) as u8).collect();
    std::fs::write(log_path(&dir), &garbage).unwrap();
    let local = PeerId::random();

    let (mut store, text) = logged(|| open(&dir, local, Limits::default()));
    assert_eq!(store.provider_records(), 0);
    assert!(text.contains("DHT provider log damaged"), "{text}");
    assert_eq!(std::fs::read(log_path(&dir)).unwrap(), log::MAGIC);
    store.add_provider(record(key(1), local)).unwrap();
    drop(store);
    assert_eq!(open(&dir, local, Limits::default()).provider_records(), 1);
}

#[test]
fn damaged_entry_stops_reading_there() {
    let dir = TempDir::new("records");
    let (local, peer) = (PeerId::random(), PeerId::random());
    let mut store = open(&dir, local, Limits::default());
    for n in 0..3 {
        store.add_provider(record(key(n), peer)).unwrap();
    }
    drop(store);
    // Flip a byte inside the last entry: its checksum fails.
    let mut bytes = std::fs::read(log_path(&dir)).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0xff;
    std::fs::write(log_path(&dir), &bytes).unwrap();

    let (store, text) = logged(|| open(&dir, local, Limits::default()));
    assert_eq!(store.provider_records(), 2);
    assert!(text.contains("damaged"), "{text}");
}

#[test]
fn rewrite_keeps_live_records_and_shrinks_the_log() {
    let dir = TempDir::new("records");
    let local = PeerId::random();
    let peers: Vec<_> = (0..200).map(|_| PeerId::random()).collect();
    let mut store = open(&dir, local, Limits::default());
    for (n, peer) in (0..).zip(&peers) {
        store.add_provider(record(key(n), *peer)).unwrap();
    }
    let peak = file_len(&dir);
    for (n, peer) in (0..150).zip(&peers) {
        store.remove_provider(&key(n), peer);
    }
    let after = file_len(&dir);
    assert!(after < peak / 2, "{after} of {peak}");
    assert_eq!(store.provider_records(), 50);
    drop(store);

    let store = open(&dir, local, Limits::default());
    assert_eq!(store.provider_records(), 50);
    for (n, peer) in (150..200).zip(&peers[150..]) {
        assert_eq!(store.providers(&key(n))[0].provider, *peer);
    }
    // Reopening rewrote the log to exactly the live records.
    let one = log::add_len(&record(key(0), peers[0])) as u64;
    assert_eq!(file_len(&dir), log::MAGIC.len() as u64 + 50 * one);
}
