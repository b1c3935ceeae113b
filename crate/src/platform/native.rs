//! Native side of the platform seam: tokio tasks and timers, key files on disk.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p::identity::Keypair;

use super::IdentityError;

/// Runs a future in the background on the tokio runtime.
pub fn spawn<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(future);
}

/// Threads the encoder seals segments on: one per core, at most 8.
pub fn encode_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// Waits for `duration`.
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Keeps a node's long-lived secrets as files in its data directory.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    dir: PathBuf,
}

impl IdentityStore {
    /// File name of the libp2p identity (protobuf-encoded Ed25519 keypair).
    pub const KEY_FILE: &'static str = "identity.key";

    /// Opens the store in `dir`, creating the directory if needed and
    /// checking that it is writable.
    pub fn open(dir: &Path) -> Result<Self, IdentityError> {
        let io = |e: std::io::Error| IdentityError::Io {
            location: dir.display().to_string(),
            reason: e.to_string(),
        };
        fs::create_dir_all(dir).map_err(io)?;
        // Prove writability now, not at the first save, so a bad directory
        // is reported at startup.
        let probe = dir.join(".write-probe");
        fs::write(&probe, b"ok").map_err(io)?;
        fs::remove_file(&probe).map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Path of a file in the store.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Loads the identity, or creates and saves a new one when none exists.
    /// A present but undecodable key is an error and is never replaced.
    pub fn load_or_create(&self) -> Result<Keypair, IdentityError> {
        let path = self.path(Self::KEY_FILE);
        match self.read(Self::KEY_FILE)? {
            Some(bytes) => {
                Keypair::from_protobuf_encoding(&bytes).map_err(|e| IdentityError::Corrupt {
                    location: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
            None => {
                let key = Keypair::generate_ed25519();
                let bytes = key.to_protobuf_encoding().map_err(|e| IdentityError::Io {
                    location: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                self.write_new(Self::KEY_FILE, &bytes)?;
                Ok(key)
            }
        }
    }

    /// Reads a file, `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, IdentityError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IdentityError::Io {
                location: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes a new secret file atomically (temporary file, then rename),
    /// readable by the owner only. Refuses to replace an existing file.
    pub fn write_new(&self, name: &str, bytes: &[u8]) -> Result<(), IdentityError> {
        let path = self.path(name);
        let io = |e: std::io::Error| IdentityError::Io {
            location: path.display().to_string(),
            reason: e.to_string(),
        };
        let tmp = self.path(&format!(".{name}.tmp"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        // hard_link fails if the target exists: an existing identity is
        // never overwritten, even in a race with another process.
        fs::hard_link(&tmp, &path).map_err(io)?;
        fs::remove_file(&tmp).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "meganet-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn identity_survives_reopen() {
        let dir = temp_dir("reopen");
        let first = IdentityStore::open(&dir).unwrap().load_or_create().unwrap();
        let second = IdentityStore::open(&dir).unwrap().load_or_create().unwrap();
        assert_eq!(first.public().to_peer_id(), second.public().to_peer_id());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_key_is_reported_and_kept() {
        let dir = temp_dir("corrupt");
        let store = IdentityStore::open(&dir).unwrap();
        fs::write(store.path(IdentityStore::KEY_FILE), b"garbage").unwrap();
        let err = store.load_or_create().unwrap_err();
        assert!(matches!(err, IdentityError::Corrupt { .. }), "{err}");
        assert_eq!(
            fs::read(store.path(IdentityStore::KEY_FILE)).unwrap(),
            b"garbage"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = temp_dir("replace");
        let store = IdentityStore::open(&dir).unwrap();
        store.write_new("x", b"one").unwrap();
        assert!(store.write_new("x", b"two").is_err());
        assert_eq!(store.read("x").unwrap().unwrap(), b"one");
        fs::remove_dir_all(&dir).unwrap();
    }
}
