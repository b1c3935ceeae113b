//! The provider log's bytes: how one entry is framed and read back.
//!
//! A log is [`MAGIC`] followed by frames. A frame is the body's length
//! (u32 LE), the body, and the first [`CHECKSUM`] bytes of the body's
//! BLAKE3 hash. A body is one of
//!
//! - add: `1`, key (u16 LE length + bytes), provider peer id (u16 LE
//!   length + bytes), expiry (u64 LE unix milliseconds, 0 = never), address
//!   count (u8), each address (u16 LE length + multiaddr bytes);
//! - remove: `2`, key, provider peer id (as above).
//!
//! Reading stops at the first frame that is cut short, longer than
//! [`MAX_FRAME`], or fails its checksum: everything before it is kept. A
//! frame whose checksum holds but whose body does not parse is skipped.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use libp2p::kad::{ProviderRecord, RecordKey};
use libp2p::{Multiaddr, PeerId};
use web_time::{Instant, SystemTime};

/// The first bytes of every provider log (format version 1).
pub const MAGIC: &[u8; 8] = b"MGNPROV1";
/// Largest body accepted on read: far above any entry the caps allow.
pub const MAX_FRAME: usize = 64 * 1024;
/// Checksum bytes after each body.
const CHECKSUM: usize = 4;
/// Bytes around a body: its length and its checksum.
const FRAMING: usize = 4 + CHECKSUM;
const ADD: u8 = 1;
const REMOVE: u8 = 2;

/// One entry read back from a log.
#[derive(Debug)]
pub enum Entry {
    /// A provider record that has not expired yet.
    Add(ProviderRecord),
    /// A provider record withdrawn.
    Remove { key: RecordKey, provider: PeerId },
}

/// What reading a log found, besides the entries.
#[derive(Debug, Default)]
pub struct Report {
    /// Add entries dropped because they had expired.
    pub expired: usize,
    /// Frames whose checksum held but whose body did not parse.
    pub skipped: usize,
    /// Why reading stopped before the end, if it did.
    pub damage: Option<String>,
}

/// One moment on both clocks, so expiry instants (monotonic, meaningless
/// across restarts) can be written as wall-clock time and read back.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    unix_ms: u64,
}

impl Clock {
    pub fn now() -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            instant: Instant::now(),
            unix_ms,
        }
    }

    /// `expires` as unix milliseconds; 0 for never, at least 1 otherwise.
    fn to_unix_ms(self, expires: Option<Instant>) -> u64 {
        let Some(at) = expires else { return 0 };
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let unix = if at >= self.instant {
            self.unix_ms.saturating_add(ms(at - self.instant))
        } else {
            self.unix_ms.saturating_sub(ms(self.instant - at))
        };
        unix.max(1)
    }

    /// Unix milliseconds back as an expiry: `Some(None)` for never,
    /// `None` if already past (or too far ahead to represent).
    fn to_instant(self, unix_ms: u64) -> Option<Option<Instant>> {
        if unix_ms == 0 {
            return Some(None);
        }
        let ahead = unix_ms.checked_sub(self.unix_ms).filter(|&d| d > 0)?;
        self.instant
            .checked_add(Duration::from_millis(ahead))
            .map(Some)
    }
}

/// The frame of an add entry for `record`.
pub fn add_frame(record: &ProviderRecord, clock: Clock) -> Vec<u8> {
    let mut body = Vec::with_capacity(add_len(record));
    body.push(ADD);
    put_bytes(&mut body, record.key.as_ref());
    put_bytes(&mut body, &record.provider.to_bytes());
    body.extend_from_slice(&clock.to_unix_ms(record.expires).to_le_bytes());
    // The store never keeps more than u8::MAX addresses (Limits::clamped).
    let addresses = &record.addresses[..record.addresses.len().min(usize::from(u8::MAX))];
    body.push(addresses.len() as u8);
    for address in addresses {
        put_bytes(&mut body, &address.to_vec());
    }
    frame(body)
}

/// The frame of a remove entry.
pub fn remove_frame(key: &RecordKey, provider: &PeerId) -> Vec<u8> {
    let mut body = vec![REMOVE];
    put_bytes(&mut body, key.as_ref());
    put_bytes(&mut body, &provider.to_bytes());
    frame(body)
}

/// The length of [`add_frame`]'s result, without building it.
pub fn add_len(record: &ProviderRecord) -> usize {
    let addresses: usize = record
        .addresses
        .iter()
        .take(usize::from(u8::MAX))
        .map(|a| 2 + a.len())
        .sum();
    FRAMING
        + 1
        + 2
        + record.key.as_ref().len()
        + 2
        + record.provider.to_bytes().len()
        + 8
        + 1
        + addresses
}

/// The first `max` bytes of the log at `path` (none if it does not exist),
/// and what went wrong reading it, if anything did.
pub fn read_file(path: &Path, max: u64) -> (Vec<u8>, Option<String>) {
    let mut data = Vec::new();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (data, None),
        Err(e) => return (data, Some(format!("cannot open: {e}"))),
    };
    if let Err(e) = file.take(max.saturating_add(1)).read_to_end(&mut data) {
        return (data, Some(format!("read failed: {e}")));
    }
    if data.len() as u64 > max {
        data.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        return (
            data,
            Some("longer than max_file_bytes; the rest was ignored".into()),
        );
    }
    (data, None)
}

/// Reads every entry in `data` (a whole log) into `each`.
pub fn read(data: &[u8], clock: Clock, mut each: impl FnMut(Entry)) -> Report {
    let mut report = Report::default();
    if data.is_empty() {
        return report;
    }
    let Some(mut rest) = data.strip_prefix(MAGIC.as_slice()) else {
        report.damage = Some("not a provider log (unknown header)".into());
        return report;
    };
    while !rest.is_empty() {
        let offset = data.len() - rest.len();
        let Some(body) = next_frame(&mut rest) else {
            report.damage = Some(format!("damaged or cut-short entry at byte {offset}"));
            break;
        };
        match parse(body, clock) {
            Some(Some(entry)) => each(entry),
            Some(None) => report.expired += 1,
            None => report.skipped += 1,
        }
    }
    report
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAMING + body.len());
    // Bodies are bounded by the caps, far below u32::MAX.
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&blake3::hash(&body).as_bytes()[..CHECKSUM]);
    out
}

/// Callers keep every length within u16 (Limits::clamped).
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

/// The next frame's body, if it is whole and its checksum holds.
fn next_frame<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut cursor = Cursor(rest);
    let len = usize::try_from(cursor.u32()?).ok()?;
    if len > MAX_FRAME {
        return None;
    }
    let body = cursor.take(len)?;
    let sum = cursor.take(CHECKSUM)?;
    if blake3::hash(body).as_bytes()[..CHECKSUM] != *sum {
        return None;
    }
    *rest = cursor.0;
    Some(body)
}

/// `None`: the body does not parse; `Some(None)`: an expired record.
fn parse(body: &[u8], clock: Clock) -> Option<Option<Entry>> {
    let mut cursor = Cursor(body);
    let tag = cursor.u8()?;
    let key = RecordKey::new(&cursor.bytes()?);
    let provider = PeerId::from_bytes(cursor.bytes()?).ok()?;
    let entry = match tag {
        ADD => {
            let expires = clock.to_instant(cursor.u64()?);
            let count = cursor.u8()?;
            let mut addresses = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                addresses.push(Multiaddr::try_from(cursor.bytes()?.to_vec()).ok()?);
            }
            expires.map(|expires| {
                Entry::Add(ProviderRecord {
                    key,
                    provider,
                    expires,
                    addresses,
                })
            })
        }
        REMOVE => Some(Entry::Remove { key, provider }),
        _ => return None,
    };
    cursor.0.is_empty().then_some(entry)
}

/// Reads from a byte slice; every read checks the length left.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A u16 LE length, then that many bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(len))
    }
}
