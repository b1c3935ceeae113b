//! The lease book on disk: `leases.bin`, a versioned binary snapshot
//! written whole through a temporary file (so a crash leaves the old book
//! or the new), read back with every length checked.
//!
//! Layout (little-endian): the magic `MNLEASE1`, a `u64` count, then per
//! lease the 32-byte hash, `size`, `charged` and `renewed_ms` as `u64`,
//! and a `u8` that is 0 (charged to no one) or 1, followed by the source
//! (`u8` 0 = IP with 16 address bytes, 1 = relayed) and the uploader's
//! peer id (`u8` length, then its bytes).

use std::path::Path;

use libp2p::PeerId;

use super::{Charge, Lease, Leases, Source};
use crate::hash::Hash;

const MAGIC: &[u8; 8] = b"MNLEASE1";
/// The largest book read: about 3 million leases.
const MAX_FILE: u64 = 512 << 20;

impl Leases {
    /// Writes the book to `path`.
    pub fn save(&mut self, path: &Path) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(16 + self.leases.len() * 80);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.leases.len() as u64).to_le_bytes());
        for (hash, lease) in &self.leases {
            out.extend_from_slice(&hash.0);
            for n in [lease.size, lease.charged, lease.renewed_ms] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            match lease.charge {
                None => out.push(0),
                Some(charge) => {
                    out.push(1);
                    match charge.source {
                        Source::Ip(ip) => {
                            out.push(0);
                            out.extend_from_slice(&ip);
                        }
                        Source::Relayed => out.push(1),
                    }
                    let id = charge.uploader.to_bytes();
                    out.push(id.len() as u8);
                    out.extend_from_slice(&id);
                }
            }
        }
        crate::node::files::write_atomic(path, &out)?;
        self.saved();
        Ok(())
    }

    /// Reads the book at `path` into `self`; a missing file is an empty
    /// book, a damaged one an error that says where it broke.
    pub fn load(&mut self, path: &Path) -> Result<(), String> {
        let size = match std::fs::metadata(path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        if size > MAX_FILE {
            return Err(format!("{size} bytes, more than the {MAX_FILE} allowed"));
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        for (hash, lease) in parse(&bytes)? {
            self.insert(hash, lease);
        }
        self.saved();
        Ok(())
    }
}

/// A cursor over the file's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the file ends in the middle of a lease".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

fn parse(bytes: &[u8]) -> Result<Vec<(Hash, Lease)>, String> {
    let mut r = Reader(bytes);
    if r.take(8)? != MAGIC {
        return Err("not a lease book (wrong magic)".to_owned());
    }
    let count = r.u64()?;
    // Each lease takes at least 57 bytes: a count the file cannot hold is
    // refused before anything is allocated for it.
    if count > (bytes.len() / 57) as u64 {
        return Err(format!("{count} leases announced in {} bytes", bytes.len()));
    }
    let mut leases = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let hash = Hash(r.take(32)?.try_into().expect("32 bytes"));
        let (size, charged, renewed_ms) = (r.u64()?, r.u64()?, r.u64()?);
        let charge = match r.u8()? {
            0 => None,
            1 => {
                let source = match r.u8()? {
                    0 => Source::Ip(r.take(16)?.try_into().expect("16 bytes")),
                    1 => Source::Relayed,
                    other => return Err(format!("unknown source kind {other}")),
                };
                let len = usize::from(r.u8()?);
                let uploader = PeerId::from_bytes(r.take(len)?)
                    .map_err(|e| format!("a lease's uploader is not a peer id: {e}"))?;
                Some(Charge { uploader, source })
            }
            other => return Err(format!("unknown charge kind {other}")),
        };
        leases.push((
            hash,
            Lease {
                charged,
                size,
                renewed_ms,
                charge,
            },
        ));
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the last lease", r.0.len()));
    }
    Ok(leases)
}
