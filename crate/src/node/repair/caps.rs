//! The repair capabilities a node keeps, one file each in
//! `<data>/repair/` (`<manifest hash>.cap`), loaded at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::format::RepairCap;
use crate::hash::Hash;

/// Most capabilities one node keeps.
pub const MAX_CAPS: usize = 65_536;

/// The capabilities this node keeps, on disk.
#[derive(Debug)]
pub struct Caps {
    dir: PathBuf,
    caps: HashMap<Hash, RepairCap>,
}

/// Shared between the swarm (which takes KEEP) and the duty loop.
pub type SharedCaps = Arc<Mutex<Caps>>;

impl Caps {
    /// Loads every capability in `dir` (created if missing); a file that
    /// does not parse is skipped with a warning.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut caps = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "cap") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            match text.parse::<RepairCap>() {
                Ok(cap) if caps.len() < MAX_CAPS => {
                    caps.insert(cap.manifest, cap);
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping a repair capability")
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            caps,
        })
    }

    /// Keeps `cap` (written to disk before it counts); an error when the
    /// node keeps [`MAX_CAPS`] already or the disk fails.
    pub fn keep(&mut self, cap: &RepairCap) -> Result<(), String> {
        if self.caps.contains_key(&cap.manifest) {
            return Ok(());
        }
        if self.caps.len() >= MAX_CAPS {
            return Err(format!(
                "this node keeps {MAX_CAPS} repair capabilities already"
            ));
        }
        let path = self.path(&cap.manifest);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, cap.to_string())
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot keep the repair capability: {e}"))?;
        self.caps.insert(cap.manifest, cap.clone());
        Ok(())
    }

    /// Forgets the capability of `manifest`.
    pub fn forget(&mut self, manifest: &Hash) {
        if self.caps.remove(manifest).is_some() {
            let _ = std::fs::remove_file(self.path(manifest));
        }
    }

    /// How many it keeps.
    pub fn count(&self) -> usize {
        self.caps.len()
    }

    pub fn all(&self) -> Vec<RepairCap> {
        self.caps.values().cloned().collect()
    }

    fn path(&self, manifest: &Hash) -> PathBuf {
        self.dir.join(format!("{}.cap", manifest.to_hex()))
    }
}
