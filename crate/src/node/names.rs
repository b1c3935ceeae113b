//! Which DHT values a node keeps: name records only (docs/FORMAT.md,
//! "Names"). Kademlia runs with record filtering (`StoreInserts::FilterBoth`)
//! and the swarm asks [`decide`] about every inbound PUT_VALUE: a record is
//! stored only if it verifies (size, encoding, signature, not signed in
//! the future), belongs under the key it was put at (the key derived from
//! its own public key), and is newer (a higher sequence number) than the
//! record this node holds for that key. Anything else is refused with one
//! warning naming why; a replica of the very record held (nodes replicate
//! what they hold every hour) is no news and is dropped quietly.
//!
//! Name records are answered from memory (`records.rs`: value records are
//! not in the provider log), capped at [`MAX_NAME_RECORDS`], and each one
//! kept is also written to disk ([`save`]: `<data>/dht/names/<hex key>`,
//! the record's bytes, replaced atomically), so a node restarted alone
//! still answers for every name ([`load`] checks each file again as if it
//! were put anew, and leaves out, with a warning, one that no longer
//! passes). When the cap is reached a record for a key not yet held is
//! refused (with a warning) while updates of held names still go through.

use std::path::Path;

use libp2p::kad::{Record, RecordKey};

use crate::format::{NameRecord, MAX_NAME_RECORD};

/// The folder, under the node's DHT directory, that keeps name records.
pub const DIR: &str = "names";

/// Keeps `value`, the record accepted for `key`, in `dir`.
pub fn save(dir: &Path, key: &RecordKey, value: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    super::files::write_atomic(&dir.join(shown(key)), value)
}

/// The records kept in `dir` that still pass [`decide`] (at most
/// [`MAX_NAME_RECORDS`]); anything else there is left out with a warning.
pub fn load(dir: &Path, now_ms: u64) -> Vec<Record> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for entry in listing.flatten() {
        if records.len() == MAX_NAME_RECORDS {
            tracing::warn!(dir = %dir.display(), "more name records on disk than the cap: the rest are left out");
            break;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue;
        }
        let key = match hex::decode(&name) {
            Ok(bytes) if bytes.len() == 32 => RecordKey::new(&bytes),
            _ => {
                tracing::warn!(file = %name, "not a name record's file name: left out");
                continue;
            }
        };
        let value = match std::fs::metadata(entry.path()) {
            Ok(meta) if meta.len() <= MAX_NAME_RECORD as u64 => std::fs::read(entry.path()),
            Ok(_) => Err(std::io::Error::other("over the size of a name record")),
            Err(e) => Err(e),
        };
        match value.map(|v| (decide(&key, &v, None, now_ms), v)) {
            Ok((Decision::Store { .. }, value)) => records.push(Record {
                key,
                value,
                publisher: None,
                expires: None,
            }),
            Ok((Decision::Refuse(why), _)) => {
                tracing::warn!(file = %name, "a name record on disk is left out: {why}")
            }
            Ok((Decision::Same, _)) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot read a name record"),
        }
    }
    records
}

/// Name records one node keeps (memory: at most about 1 KiB each).
pub const MAX_NAME_RECORDS: usize = 65_536;

/// What to do with a record put at this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Keep it: valid and newer than what is held.
    Store { sequence: u64 },
    /// The record held already, byte for byte: nothing to do.
    Same,
    /// Refuse it; the reason completes "refused a name record for <key>: ".
    Refuse(String),
}

/// Decides about `value` put at `key`, given the value held for that key
/// (if any) and the time (unix milliseconds).
pub fn decide(key: &RecordKey, value: &[u8], held: Option<&[u8]>, now_ms: u64) -> Decision {
    if held == Some(value) {
        return Decision::Same;
    }
    if value.len() > MAX_NAME_RECORD {
        return Decision::Refuse(format!(
            "it is {} bytes, over the cap of {MAX_NAME_RECORD}",
            value.len()
        ));
    }
    let record = match NameRecord::verify(value, now_ms) {
        Ok(record) => record,
        Err(crate::format::FormatError::BadName { reason }) => {
            return Decision::Refuse(reason.to_string())
        }
        Err(other) => return Decision::Refuse(other.to_string()),
    };
    if key.as_ref() != record.dht_key().0.as_slice() {
        return Decision::Refuse(format!(
            "its public key {} belongs under another DHT key",
            record.publisher.short()
        ));
    }
    // What is held passed these checks when it was stored; the clock is
    // not asked again (it was not in the future then).
    if let Some(held) = held.and_then(|h| NameRecord::verify(h, u64::MAX).ok()) {
        if record.sequence <= held.sequence {
            return Decision::Refuse(format!(
                "its version {} is not newer than the version {} held",
                record.sequence, held.sequence
            ));
        }
    }
    Decision::Store {
        sequence: record.sequence,
    }
}

/// The key as it appears in log lines: hex.
pub fn shown(key: &RecordKey) -> String {
    hex::encode(key.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Link, NameKey, ReadKey};
    use crate::hash::Hash;

    const NOW: u64 = 1_796_601_600_000;

    fn site(n: u8) -> Link {
        Link {
            version: 2,
            manifest: Hash([n; 32]),
            key: crate::format::FileKey([n; 32]),
        }
    }

    fn key_of(name: &NameKey) -> RecordKey {
        RecordKey::new(&name.publisher().dht_key().0)
    }

    fn refused(d: Decision) -> String {
        match d {
            Decision::Refuse(why) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_first_and_a_newer_record_are_stored() {
        let name = NameKey::from_parts([1; 32], ReadKey([2; 32]));
        let key = key_of(&name);
        let one = name.sign(1, NOW, &site(1));
        assert_eq!(
            decide(&key, &one, None, NOW),
            Decision::Store { sequence: 1 }
        );
        let two = name.sign(2, NOW, &site(2));
        assert_eq!(
            decide(&key, &two, Some(&one), NOW),
            Decision::Store { sequence: 2 }
        );
        assert_eq!(decide(&key, &two, Some(&two), NOW), Decision::Same);
    }

    #[test]
    fn a_replayed_older_or_equal_record_is_refused() {
        let name = NameKey::from_parts([1; 32], ReadKey([2; 32]));
        let key = key_of(&name);
        let one = name.sign(1, NOW, &site(1));
        let two = name.sign(2, NOW, &site(2));
        let why = refused(decide(&key, &one, Some(&two), NOW));
        assert!(
            why.contains("version 1 is not newer than the version 2"),
            "{why}"
        );
        // The same sequence pointing elsewhere: refused too.
        let other_two = name.sign(2, NOW, &site(3));
        assert!(refused(decide(&key, &other_two, Some(&two), NOW)).contains("not newer"));
    }

    #[test]
    fn a_forged_record_is_refused() {
        let name = NameKey::from_parts([1; 32], ReadKey([2; 32]));
        let thief = NameKey::from_parts([9; 32], ReadKey([2; 32]));
        let key = key_of(&name);
        let held = name.sign(1, NOW, &site(1));
        // Signed by another key, under this name's key: its own public key
        // belongs elsewhere.
        let other = thief.sign(5, NOW, &site(6));
        let why = refused(decide(&key, &other, Some(&held), NOW));
        assert!(why.contains("belongs under another DHT key"), "{why}");
        // Signed by another key with this name's public key put in.
        let mut forged = other.clone();
        forged[5..37].copy_from_slice(&name.publisher().0);
        let why = refused(decide(&key, &forged, Some(&held), NOW));
        assert_eq!(why, "its signature does not verify");
        // Not a name record at all.
        assert!(refused(decide(&key, b"hello", None, NOW)).contains("bytes"));
    }

    #[test]
    fn an_oversized_or_future_record_is_refused() {
        let name = NameKey::from_parts([1; 32], ReadKey([2; 32]));
        let key = key_of(&name);
        let why = refused(decide(&key, &vec![0; MAX_NAME_RECORD + 1], None, NOW));
        assert!(why.contains("over the cap of 1024"), "{why}");
        let ahead = name.sign(1, NOW + 11 * 60 * 1000, &site(1));
        let why = refused(decide(&key, &ahead, None, NOW));
        assert!(why.contains("signed in the future"), "{why}");
    }
}
