//! How [`DiskStore`] writes its log: appends, the size cap, and rewrites.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};

use libp2p::kad::store::{Error, RecordStore, Result};
use web_time::Instant;

use super::log::{self, Clock};
use super::{DiskStore, COMPACT_SLACK, PURGE_EVERY, RETRY_EVERY};

impl DiskStore {
    /// Whether `len` more bytes fit in the log, making room if it can:
    /// dropping expired records (at most every [`PURGE_EVERY`]) and
    /// rewriting the log once its dead entries are worth it.
    pub(super) fn make_room(&mut self, len: u64) -> Result<()> {
        let max = self.limits.max_file_bytes;
        if self.file_bytes + len > max {
            if self.last_purge.elapsed() >= PURGE_EVERY {
                self.last_purge = Instant::now();
                self.remove_expired();
            }
            let dead = self
                .file_bytes
                .saturating_sub(log::MAGIC.len() as u64 + self.live_bytes);
            if dead >= (max / 8).max(len) {
                self.rewrite();
            }
        }
        if self.file_bytes + len <= max {
            self.full = false;
            return Ok(());
        }
        if !self.full {
            self.full = true;
            tracing::warn!(
                path = %self.path.display(),
                "DHT record store full: the provider log holds {} of {max} bytes \
                 ({} records); new provider records are refused until old ones expire",
                self.file_bytes,
                self.live
            );
        }
        Err(Error::MaxProvidedKeys)
    }

    /// Appends one frame, rewriting the log instead if a write failed
    /// before, and when dead entries outnumber the live ones.
    pub(super) fn append(&mut self, frame: &[u8]) {
        let Some(file) = self.log.as_mut().filter(|_| self.failed_at.is_none()) else {
            // Memory already holds the change; a rewrite will save it.
            if self.failed_at.is_none_or(|at| at.elapsed() >= RETRY_EVERY) {
                self.rewrite();
            }
            return;
        };
        match file.write_all(frame).and_then(|()| file.flush()) {
            Ok(()) => {
                self.file_bytes += frame.len() as u64;
                self.entries += 1;
                if self.entries > 2 * self.live + COMPACT_SLACK {
                    self.rewrite();
                }
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "DHT provider log write failed: {e}");
                self.failed_at = Some(Instant::now());
            }
        }
    }

    /// [`Self::compact`], logging failure once until it works again.
    fn rewrite(&mut self) {
        match self.compact() {
            Ok(()) if self.failed_at.is_some() => {
                self.failed_at = None;
                tracing::info!(path = %self.path.display(), "DHT provider log writable again");
            }
            Ok(()) => {}
            Err(e) => {
                if self.failed_at.is_none() {
                    tracing::warn!(path = %self.path.display(), "DHT provider log rewrite failed: {e}");
                }
                self.failed_at = Some(Instant::now());
            }
        }
    }

    /// Writes the live, unexpired provider records to a temp file and
    /// renames it over the log.
    pub(super) fn compact(&mut self) -> io::Result<()> {
        self.remove_expired();
        if let Some(old) = self.log.take() {
            // Drop what a failed write left buffered, unwritten.
            let _ = old.into_parts();
        }
        let tmp = self.path.with_extension("log.tmp");
        let clock = Clock::now();
        let mut out = BufWriter::new(File::create(&tmp)?);
        out.write_all(log::MAGIC)?;
        let (mut bytes, mut entries) = (log::MAGIC.len() as u64, 0);
        for key in &self.keys {
            for record in self.memory.providers(key) {
                let frame = log::add_frame(&record, clock);
                out.write_all(&frame)?;
                bytes += frame.len() as u64;
                entries += 1;
            }
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            // Makes the rename durable; not every platform can open a dir.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        let file = OpenOptions::new().append(true).open(&self.path)?;
        self.log = Some(BufWriter::new(file));
        self.file_bytes = bytes;
        self.entries = entries;
        Ok(())
    }
}
