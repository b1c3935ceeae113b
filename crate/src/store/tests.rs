//! The conformance suite over the memory and disk backends, plus what only
//! the disk has: reopening, format versions, leftovers of a crash.

use super::conformance::{self, shard};
use super::{Class, Config, Store, StoreError};
use crate::temp_dir::TempDir;

#[tokio::test]
async fn memory_conformance() {
    conformance::run_all(|quota| async move { Store::memory(Config { quota }, None) }).await;
    conformance::storage_full(Store::memory(Config { quota: 1 << 40 }, Some(8192))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_conformance() {
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run_all(|quota| {
        let dir = TempDir::new("store");
        let path = dir.path().to_path_buf();
        dirs.lock().unwrap().push(dir);
        async move { Store::open_disk(&path, Config { quota }).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn disk_reopen_keeps_data() {
    let dir = TempDir::new("store");
    let path = dir.path().to_path_buf();
    conformance::reopen_keeps_data(|| {
        let path = path.clone();
        async move { Store::open_disk(&path, Config::default()).await }
    })
    .await;
}

#[tokio::test]
async fn disk_refuses_newer_format_and_keeps_it() {
    let dir = TempDir::new("store");
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join("VERSION"), "7\n").unwrap();
    let err = Store::open_disk(dir.path(), Config::default())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NewerFormat {
            found: 7,
            supported: 1
        }
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("VERSION")).unwrap(),
        "7\n"
    );
    std::fs::write(dir.path().join("VERSION"), "garbage").unwrap();
    let err = Store::open_disk(dir.path(), Config::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
}

#[tokio::test]
async fn disk_recovers_from_an_interrupted_write() {
    let dir = TempDir::new("store");
    let (hash, bytes) = shard(1000, 1).into_parts();
    let store = Store::open_disk(dir.path(), Config::default())
        .await
        .unwrap();
    store.put(shard(1000, 1), Class::Own).await.unwrap();
    drop(store);
    // What a crash mid-batch leaves: a half-written temporary file, a file
    // that is not a shard, and a truncated shard under a valid name.
    let (other, other_bytes) = shard(2000, 2).into_parts();
    std::fs::write(
        dir.path().join("tmp").join("leftover.0"),
        &other_bytes[..10],
    )
    .unwrap();
    let hex = other.to_hex();
    let fan = dir.path().join("contributed").join(&hex[..2]);
    std::fs::create_dir_all(&fan).unwrap();
    std::fs::write(fan.join(&hex), &other_bytes[..10]).unwrap();
    std::fs::write(fan.join("not-a-shard"), b"x").unwrap();
    let store = Store::open_disk(dir.path(), Config::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert_eq!(store.get(hash).await.unwrap(), bytes);
    assert_eq!(
        store.get(other).await,
        Err(StoreError::Corrupt { hash: other })
    );
    assert_eq!(store.usage().total(), 1000);
}
