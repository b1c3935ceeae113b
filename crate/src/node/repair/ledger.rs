//! What the repair duty remembers between passes, on disk beside the
//! capabilities, so a restart forgets none of it:
//!
//! - per file (`<manifest hash>.state.json`): the holders seen and when
//!   (away versus lost), who failed its last audit and when that was
//!   ([`transfer::Memory`]), and which nodes took its capability, when;
//! - every holder's audit record (`standing.json`, [`transfer::Standing`]).
//!
//! Times are Unix milliseconds. A state file that does not parse is
//! started afresh with a warning: the worst it costs is a wait of
//! `--repair-lost-after-secs` before an away holder counts as lost.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use libp2p::PeerId;

use crate::hash::Hash;
use crate::transfer::{Memory, Standing};

/// What the duty remembers of one file.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FileState {
    /// Holders seen, audits, distrust (see [`Memory`]).
    pub memory: Memory<PeerId>,
    /// The nodes that took the capability, and when (Unix ms).
    pub kept: BTreeMap<PeerId, u64>,
}

/// The duty's memory of every file it keeps, and the holders' records.
pub struct Ledger {
    dir: PathBuf,
    files: HashMap<Hash, FileState>,
    standing: Standing<PeerId>,
}

const STANDING_FILE: &str = "standing.json";

impl Ledger {
    /// The ledger in `dir` (the capabilities' directory); file states
    /// are read when first needed.
    pub fn open(dir: &Path) -> Self {
        let standing = read(&dir.join(STANDING_FILE)).unwrap_or_default();
        Self {
            dir: dir.to_owned(),
            files: HashMap::new(),
            standing,
        }
    }

    /// The file `manifest`'s state and the holders' records.
    pub fn file(&mut self, manifest: &Hash) -> (&mut FileState, &mut Standing<PeerId>) {
        let path = self.state_path(manifest);
        let state = self
            .files
            .entry(*manifest)
            .or_insert_with(|| read(&path).unwrap_or_default());
        (state, &mut self.standing)
    }

    /// Holders whose record is no longer trusted.
    pub fn untrusted(&self) -> usize {
        self.standing.values().filter(|r| !r.trusted()).count()
    }

    /// Writes the file `manifest`'s state.
    pub fn save(&self, manifest: &Hash) {
        if let Some(state) = self.files.get(manifest) {
            write(&self.state_path(manifest), state);
        }
    }

    /// Writes the holders' records.
    pub fn save_standing(&self) {
        write(&self.dir.join(STANDING_FILE), &self.standing);
    }

    /// Forgets the file `manifest` (its capability went to its keepers).
    pub fn forget(&mut self, manifest: &Hash) {
        self.files.remove(manifest);
        let _ = std::fs::remove_file(self.state_path(manifest));
    }

    fn state_path(&self, manifest: &Hash) -> PathBuf {
        self.dir.join(format!("{}.state.json", manifest.to_hex()))
    }
}

/// Most bytes a state file may have: a file with 64 holders of 1024
/// shards each stays far below it.
const MAX_STATE_BYTES: u64 = 16 << 20;

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_STATE_BYTES {
        tracing::warn!(path = %path.display(), size, "a repair state file is too large; starting afresh");
        return None;
    }
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text)
        .inspect_err(|e| {
            tracing::warn!(path = %path.display(), error = %e, "a repair state file does not parse; starting afresh")
        })
        .ok()
}

/// Writes `value` to `path` through a temporary file, so a crash leaves
/// the old state or the new, never half of one.
fn write<T: serde::Serialize>(path: &Path, value: &T) {
    let written = serde_json::to_vec(value)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::node::files::write_atomic(path, &bytes));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the repair state");
    }
}

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty directory of its own for one test.
    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meganet-ledger-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_reopened_ledger_remembers_files_and_records_and_forgets_on_request() {
        let dir = temp_dir("reopen");
        let (manifest, node) = (Hash::of(b"a file"), PeerId::random());
        let holder = PeerId::random();
        {
            let mut ledger = Ledger::open(dir.as_path());
            let (state, standing) = ledger.file(&manifest);
            state.kept.insert(node, 42);
            standing.entry(holder).or_default().record_check(0, 3);
            ledger.save(&manifest);
            ledger.save_standing();
        }
        let mut ledger = Ledger::open(dir.as_path());
        assert_eq!(ledger.untrusted(), 1, "the failed holder is remembered");
        assert_eq!(ledger.file(&manifest).0.kept.get(&node), Some(&42));
        ledger.forget(&manifest);
        assert!(Ledger::open(dir.as_path())
            .file(&manifest)
            .0
            .kept
            .is_empty());
    }

    #[test]
    fn a_damaged_state_file_starts_afresh() {
        let dir = temp_dir("damaged");
        let manifest = Hash::of(b"a file");
        let ledger = Ledger::open(dir.as_path());
        std::fs::write(ledger.state_path(&manifest), b"{not json").unwrap();
        std::fs::write(dir.as_path().join(STANDING_FILE), b"[1, 2").unwrap();
        let mut ledger = Ledger::open(dir.as_path());
        assert_eq!(ledger.untrusted(), 0);
        assert!(ledger.file(&manifest).0.kept.is_empty());
    }
}
