//! The disk backend for native nodes: one plain file per shard.
//!
//! ```text
//! <dir>/VERSION                   format version ("1")
//! <dir>/own/<ab>/<64 hex>         own shards (ab: first two hex digits)
//! <dir>/contributed/<ab>/<64 hex> contributed shards
//! <dir>/tmp/                      writes in progress; emptied on open
//! ```
//!
//! The class is the directory and the last use is the file's mtime, so there
//! is no second index that could disagree with the files. A shard is written
//! to `tmp/`, synced, then renamed into place, and the directories it
//! entered (and any it created) are synced too, so an acknowledged shard
//! survives a crash or power loss: a crash leaves either the whole file or
//! nothing visible. Why files rather than an embedded database
//! is in docs/DESIGN.md (9.2). All I/O runs on tokio's blocking pool.

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::index::Meta;
use super::{Class, StoreError, FORMAT_VERSION, MAX_SHARD};
use crate::hash::Hash;

pub(crate) struct Disk {
    root: Arc<PathBuf>,
    counter: Arc<AtomicU64>,
}

const VERSION_FILE: &str = "VERSION";
const TMP: &str = "tmp";

fn class_dir(class: Class) -> &'static str {
    match class {
        Class::Own => "own",
        Class::Contributed => "contributed",
    }
}

fn shard_path(root: &Path, hash: &Hash, class: Class) -> PathBuf {
    let hex = hash.to_hex();
    root.join(class_dir(class)).join(&hex[..2]).join(hex)
}

fn backend(root: &Path, e: io::Error) -> StoreError {
    StoreError::Backend(format!("{}: {e}", root.display()))
}

fn is_full(e: &io::Error) -> bool {
    // ENOSPC, EDQUOT.
    e.kind() == ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28) | Some(122))
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("disk task failed: {e}")))?
}

impl Disk {
    /// Opens or creates the store directory; refuses a newer format.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        let root = dir.to_path_buf();
        let root = blocking(move || {
            prepare(&root)?;
            Ok(root)
        })
        .await?;
        Ok(Self {
            root: Arc::new(root),
            counter: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Scans the shard directories. Files that cannot be shards are left
    /// alone; oversized ones and duplicates across classes are removed.
    pub async fn load(&self) -> Result<Vec<(Hash, Meta)>, StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let mut out = std::collections::BTreeMap::new();
            for class in [Class::Own, Class::Contributed] {
                scan_class(&root, class, &mut out)?;
            }
            Ok(out.into_iter().collect())
        })
        .await
    }

    pub async fn put_batch(&self, items: Vec<(Hash, Meta, Vec<u8>)>) -> Result<(), StoreError> {
        let root = self.root.clone();
        let counter = self.counter.clone();
        let needed: u64 = items.iter().map(|(_, _, b)| b.len() as u64).sum();
        blocking(move || {
            let result = write_batch(&root, &counter, &items);
            result.map_err(|e| {
                if is_full(&e) {
                    StoreError::QuotaExceeded {
                        needed,
                        available: 0,
                    }
                } else {
                    backend(&root, e)
                }
            })
        })
        .await
    }

    pub async fn get(&self, hash: Hash, meta: Meta) -> Result<Option<Vec<u8>>, StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let path = shard_path(&root, &hash, meta.class);
            let mut file = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(backend(&path, e)),
            };
            let len = file.metadata().map_err(|e| backend(&path, e))?.len();
            if len > MAX_SHARD as u64 {
                return Err(StoreError::Corrupt { hash });
            }
            let mut bytes = Vec::with_capacity(len as usize);
            // Bounded even if the file grows behind our back.
            (&mut file)
                .take(MAX_SHARD as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| backend(&path, e))?;
            Ok(Some(bytes))
        })
        .await
    }

    pub async fn delete_batch(&self, items: Vec<(Hash, Meta)>) -> Result<(), StoreError> {
        let root = self.root.clone();
        blocking(move || {
            for (hash, meta) in items {
                let path = shard_path(&root, &hash, meta.class);
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(backend(&path, e)),
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn set_meta(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let path = shard_path(&root, &hash, meta.class);
            let other = match meta.class {
                Class::Own => Class::Contributed,
                Class::Contributed => Class::Own,
            };
            let old = shard_path(&root, &hash, other);
            if !path.exists() && old.exists() {
                create_dirs(&path).map_err(|e| backend(&path, e))?;
                fs::rename(&old, &path).map_err(|e| backend(&old, e))?;
                sync_parents([&old, &path]).map_err(|e| backend(&path, e))?;
            }
            let file = fs::File::options()
                .write(true)
                .open(&path)
                .map_err(|e| backend(&path, e))?;
            file.set_modified(UNIX_EPOCH + Duration::from_millis(meta.last_used))
                .map_err(|e| backend(&path, e))
        })
        .await
    }

    pub async fn tamper(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let path = shard_path(&root, &hash, meta.class);
            let mut bytes = fs::read(&path).map_err(|e| backend(&path, e))?;
            match bytes.first_mut() {
                Some(b) => *b ^= 1,
                None => bytes.push(0),
            }
            fs::write(&path, bytes).map_err(|e| backend(&path, e))
        })
        .await
    }
}

/// Creates the layout, checks the format version, empties `tmp/`.
fn prepare(root: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(root).map_err(|e| backend(root, e))?;
    let version_path = root.join(VERSION_FILE);
    match fs::read_to_string(&version_path) {
        Ok(text) => {
            let found: u32 = text.trim().parse().map_err(|_| {
                StoreError::Backend(format!(
                    "{}: not a format version: {:?}",
                    version_path.display(),
                    text.chars().take(40).collect::<String>()
                ))
            })?;
            if found > FORMAT_VERSION {
                return Err(StoreError::NewerFormat {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let tmp = root.join("VERSION.tmp");
            fs::write(&tmp, format!("{FORMAT_VERSION}\n")).map_err(|e| backend(&tmp, e))?;
            fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| backend(&tmp, e))?;
            fs::rename(&tmp, &version_path).map_err(|e| backend(&version_path, e))?;
            sync_parents([&version_path]).map_err(|e| backend(&version_path, e))?;
        }
        Err(e) => return Err(backend(&version_path, e)),
    }
    for dir in [class_dir(Class::Own), class_dir(Class::Contributed), TMP] {
        let path = root.join(dir);
        fs::create_dir_all(&path).map_err(|e| backend(&path, e))?;
    }
    sync_dir(root).map_err(|e| backend(root, e))?;
    // Leftovers of writes a crash interrupted: never visible, now gone.
    let tmp = root.join(TMP);
    for entry in fs::read_dir(&tmp).map_err(|e| backend(&tmp, e))? {
        let entry = entry.map_err(|e| backend(&tmp, e))?;
        let _ = fs::remove_file(entry.path());
    }
    Ok(())
}

fn scan_class(
    root: &Path,
    class: Class,
    out: &mut std::collections::BTreeMap<Hash, Meta>,
) -> Result<(), StoreError> {
    let dir = root.join(class_dir(class));
    for fan in fs::read_dir(&dir).map_err(|e| backend(&dir, e))? {
        let fan = fan.map_err(|e| backend(&dir, e))?.path();
        let Ok(files) = fs::read_dir(&fan) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let Some(hash) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<Hash>().ok())
            else {
                continue;
            };
            if shard_path(root, &hash, class) != path {
                continue;
            }
            let Ok(md) = file.metadata() else { continue };
            if md.len() > MAX_SHARD as u64 || out.contains_key(&hash) {
                // Too big to be a shard, or a contributed copy of an own
                // shard (own is scanned first): drop it.
                let _ = fs::remove_file(&path);
                continue;
            }
            let used = md.modified().map(millis).unwrap_or(0);
            out.insert(hash, Meta::new(md.len(), class, used));
        }
    }
    Ok(())
}

fn write_batch(
    root: &Path,
    counter: &AtomicU64,
    items: &[(Hash, Meta, Vec<u8>)],
) -> io::Result<()> {
    let mut staged = Vec::with_capacity(items.len());
    let staging = (|| {
        for (hash, meta, bytes) in items {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let tmp = root.join(TMP).join(format!("{}.{n}", hash.to_hex()));
            staged.push((tmp.clone(), shard_path(root, hash, meta.class)));
            let mut file = fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_data()?;
        }
        Ok(())
    })();
    if let Err(e) = staging {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (i, (tmp, dest)) in staged.iter().enumerate() {
        let placed = create_dirs(dest).and_then(|()| fs::rename(tmp, dest));
        if let Err(e) = placed {
            // All or nothing: take back what this batch already placed.
            for (_, dest) in &staged[..i] {
                let _ = fs::remove_file(dest);
            }
            for (tmp, _) in &staged[i..] {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
    }
    // The renames are durable once the directories holding them are.
    sync_parents(staged.iter().map(|(_, dest)| dest))
}

/// Creates `file`'s directory if it is missing, and syncs the directory
/// that gained it (the fan-out directories are made on first use).
fn create_dirs(file: &Path) -> io::Result<()> {
    let Some(dir) = file.parent() else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    dir.parent().map_or(Ok(()), sync_dir)
}

/// Syncs each distinct directory holding one of `files`.
fn sync_parents<'a>(files: impl IntoIterator<Item = &'a PathBuf>) -> io::Result<()> {
    let mut dirs: Vec<&Path> = files.into_iter().filter_map(|f| f.parent()).collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter().try_for_each(sync_dir)
}

/// Makes a directory's entries durable (`fsync` on the directory).
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
