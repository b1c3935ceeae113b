//! The node's Kademlia record store, kept on disk so that a restarted node
//! answers provider lookups at once instead of waiting up to a republish
//! interval (`net::PROVIDER_REPUBLISH`) for holders to announce again.
//!
//! [`DiskStore`] answers every lookup from a [`MemoryStore`] and writes
//! each change of a *provider record* to an append-only log,
//! `<dir>/providers.log` (format in `records/log.rs`): an entry per added
//! or updated record (key, provider peer id, addresses, expiry as unix
//! milliseconds) and per removed one. The log is rewritten (to a temp file,
//! then renamed over it) at open and whenever it holds more than about
//! twice the live records; expired records are left out of the rewrite. A
//! log cut short or damaged is read up to the damage, with a warning; it
//! never stops the node from starting.
//!
//! Not persisted: value records (`put_record`), which are name records
//! only (`node/names.rs` checks each before it is stored); they live in
//! memory, capped by [`Limits::max_records`] (65,536) and
//! [`Limits::max_value_bytes`] (1 KiB), and a restarted node learns them
//! again from the nodes it is joined to (hourly replication) or the next
//! publish. Records whose expiry has passed, and records
//! with no expiry whose provider is not this node (left by an earlier
//! identity), are dropped when the log is read.
//!
//! Every size is capped ([`Limits`]), so a peer cannot grow the store
//! without bound: provider keys, providers per key (the first K are kept,
//! as `MemoryStore` does, against Sybil floods), records per provider peer
//! id (a peer announcing a flood of keys is refused past the cap; this
//! node's own records are bounded by the key cap only), addresses per
//! record and bytes per address (extras dropped), key length (refused), and
//! the log's size on disk (new provider records refused while full, with
//! one warning). Writes are synchronous (the `RecordStore` trait is) and
//! flushed per entry; provider records are rare, a few per stored file.
//!
//! Use: `DiskStore::open(peer_id, &data.join("dht"), Limits::default())?`
//! in place of `MemoryStore` in `kad::Behaviour::with_config`, and call
//! [`DiskStore::remove_expired`] now and then (via `kad.store_mut()`).
//! One process per directory: nothing locks the log.

mod limits;
mod log;
#[cfg(test)]
mod tests;
mod write;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p::kad::store::{Error, MemoryStore, MemoryStoreConfig, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::PeerId;
use web_time::Instant;

pub use limits::Limits;
use log::Clock;

/// The log's file name inside the store's directory.
pub const FILE_NAME: &str = "providers.log";
/// Log entries allowed beyond twice the live records before a rewrite, so
/// small logs are not rewritten on every change.
const COMPACT_SLACK: usize = 64;
/// While full, how often expired records are looked for to make room.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// After a failed write, how often rewriting the log is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(60);

/// A Kademlia record store whose provider records survive a restart.
pub struct DiskStore {
    memory: MemoryStore,
    local_id: PeerId,
    limits: Limits,
    path: PathBuf,
    /// `None` until the first rewrite, or after a failed one.
    log: Option<BufWriter<File>>,
    /// Bytes and entries in the log file.
    file_bytes: u64,
    entries: usize,
    /// Keys with provider records (`MemoryStore` cannot list them).
    keys: HashSet<RecordKey>,
    /// Provider records per provider peer id.
    per_provider: HashMap<PeerId, usize>,
    /// Provider records, and the bytes a rewrite would give them.
    live: usize,
    live_bytes: u64,
    /// "Store full" was logged and there has been no room since.
    full: bool,
    /// When a write last failed: the log is then rewritten in place of the
    /// next entry, at most every [`RETRY_EVERY`] (memory holds the changes).
    failed_at: Option<Instant>,
    last_purge: Instant,
}

impl DiskStore {
    /// Opens (creating if needed) the store in `dir` and loads the provider
    /// records the log holds. A damaged log is read up to the damage and
    /// rewritten; only failing to create or write the directory is an error.
    pub fn open(local_id: PeerId, dir: &Path, limits: Limits) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let limits = limits.clamped();
        let memory = MemoryStore::with_config(
            local_id,
            MemoryStoreConfig {
                max_records: limits.max_records,
                // MemoryStore refuses values of `max_value_bytes` and more.
                max_value_bytes: limits.max_value_bytes.saturating_add(1),
                max_providers_per_key: limits.max_providers_per_key,
                max_provided_keys: limits.max_provider_keys,
            },
        );
        let path = dir.join(FILE_NAME);
        let mut store = Self {
            memory,
            local_id,
            limits,
            path,
            log: None,
            file_bytes: 0,
            entries: 0,
            keys: HashSet::new(),
            per_provider: HashMap::new(),
            live: 0,
            live_bytes: 0,
            full: false,
            failed_at: None,
            last_purge: Instant::now(),
        };
        store.load();
        store.compact()?;
        Ok(store)
    }

    /// Provider records held.
    pub fn provider_records(&self) -> usize {
        self.live
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops expired provider records. Kademlia drops them only when it
    /// meets them in a lookup; call this now and then (say each republish
    /// interval) so they stop taking room. The log forgets them at its
    /// next rewrite; reading it skips them meanwhile.
    pub fn remove_expired(&mut self) {
        let now = Instant::now();
        let expired: Vec<(RecordKey, PeerId)> = self
            .keys
            .iter()
            .flat_map(|key| self.memory.providers(key))
            .filter(|record| record.is_expired(now))
            .map(|record| (record.key, record.provider))
            .collect();
        for (key, provider) in expired {
            self.forget(&key, &provider);
        }
    }

    /// Replays the log into memory, warning if it was damaged.
    fn load(&mut self) {
        let (data, damage) = log::read_file(&self.path, self.limits.max_file_bytes);
        let (mut refused, mut stale) = (0, 0);
        let report = log::read(&data, Clock::now(), |entry| match entry {
            log::Entry::Add(record)
                if record.expires.is_none() && record.provider != self.local_id =>
            {
                stale += 1;
            }
            log::Entry::Add(record) => {
                if self.insert(record, false).is_err() {
                    refused += 1;
                }
            }
            log::Entry::Remove { key, provider } => {
                self.forget(&key, &provider);
            }
        });
        let damage = damage.or(report.damage);
        let dropped = refused + stale + report.skipped;
        if let Some(damage) = damage {
            tracing::warn!(
                path = %self.path.display(),
                dropped,
                "DHT provider log damaged ({damage}): kept {} provider records",
                self.live
            );
        } else if dropped > 0 {
            tracing::info!(
                path = %self.path.display(),
                kept = self.live,
                refused,
                stale,
                unreadable = report.skipped,
                "DHT provider log: some entries were not loaded"
            );
        }
    }

    /// Stores `record` in memory (and, if `persist`, in the log) within the
    /// caps. `persist` is false while loading: the log is rewritten after.
    fn insert(&mut self, mut record: ProviderRecord, persist: bool) -> Result<()> {
        let limits = &self.limits;
        if record.key.as_ref().len() > limits.max_key_bytes {
            return Err(Error::ValueTooLarge);
        }
        record
            .addresses
            .retain(|a| a.len() <= limits.max_address_bytes);
        record.addresses.truncate(limits.max_addresses);
        let (count, old) = self.held(&record);
        if old.is_none() {
            if count >= limits.max_providers_per_key {
                return Ok(()); // As MemoryStore: the first K are kept.
            }
            if count == 0 && self.keys.len() >= limits.max_provider_keys {
                return Err(Error::MaxProvidedKeys);
            }
            let held = self.per_provider.get(&record.provider).copied();
            if record.provider != self.local_id
                && held.unwrap_or(0) >= limits.max_records_per_provider
            {
                return Err(Error::MaxProvidedKeys);
            }
        }
        let len = log::add_len(&record) as u64;
        let old = if persist {
            self.make_room(len)?;
            // Making room may have dropped expired records: look again.
            self.held(&record).1
        } else if log::MAGIC.len() as u64 + self.live_bytes - old.unwrap_or(0) + len
            > self.limits.max_file_bytes
        {
            return Err(Error::MaxProvidedKeys);
        } else {
            old
        };
        self.memory.add_provider(record.clone())?;
        if old.is_none() {
            self.live += 1;
            *self.per_provider.entry(record.provider).or_default() += 1;
            self.keys.insert(record.key.clone());
        }
        self.live_bytes = self.live_bytes - old.unwrap_or(0) + len;
        if persist {
            self.append(&log::add_frame(&record, Clock::now()));
        }
        Ok(())
    }

    /// How many providers `record.key` has, and the log bytes of the record
    /// `record.provider` has there already, if any.
    fn held(&self, record: &ProviderRecord) -> (usize, Option<u64>) {
        let existing = self.memory.providers(&record.key);
        let old = existing.iter().find(|p| p.provider == record.provider);
        (existing.len(), old.map(|p| log::add_len(p) as u64))
    }

    /// Removes one provider record from memory; false if there was none.
    fn forget(&mut self, key: &RecordKey, provider: &PeerId) -> bool {
        let existing = self.memory.providers(key);
        let Some(old) = existing.iter().find(|p| &p.provider == provider) else {
            return false;
        };
        self.live_bytes -= log::add_len(old) as u64;
        self.live -= 1;
        self.memory.remove_provider(key, provider);
        if let Some(held) = self.per_provider.get_mut(provider) {
            *held -= 1;
            if *held == 0 {
                self.per_provider.remove(provider);
            }
        }
        if existing.len() == 1 {
            self.keys.remove(key);
        }
        true
    }
}

impl RecordStore for DiskStore {
    type RecordsIter<'a> = <MemoryStore as RecordStore>::RecordsIter<'a>;
    type ProvidedIter<'a> = <MemoryStore as RecordStore>::ProvidedIter<'a>;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.memory.get(k)
    }

    fn put(&mut self, r: Record) -> Result<()> {
        if r.key.as_ref().len() > self.limits.max_key_bytes
            || r.value.len() > self.limits.max_value_bytes
        {
            return Err(Error::ValueTooLarge);
        }
        self.memory.put(r)
    }

    fn remove(&mut self, k: &RecordKey) {
        self.memory.remove(k)
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        self.memory.records()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> Result<()> {
        self.insert(record, true)
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.memory.providers(key)
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.memory.provided()
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        if self.forget(k, p) {
            self.append(&log::remove_frame(k, p));
        }
    }
}
