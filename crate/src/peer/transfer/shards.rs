//! Shards by hash for the service worker's gateway (`crate::gateway`). The
//! worker reads what this browser already stores straight from IndexedDB
//! and asks the tab running the peer, where the connections are, for the
//! rest. Each shard is checked against its hash here and again in the
//! worker, which decodes and decrypts.
//!
//! One holder search per file, kept while the worker asks for it: at most
//! [`MAX_FILES`] files, the least recently asked for going first. Requests
//! for one file take turns (they share its holders).

use std::cell::RefCell;
use std::rc::Rc;

use futures::lock::Mutex;

use super::holders::{open_file, Holders, Outcome};
use super::Progress;
use crate::format;
use crate::hash::Hash;
use crate::peer::blocks::Blocks;
use crate::shard_cache::ShardCache;

/// Files with a holder search kept open.
const MAX_FILES: usize = 4;
/// The most hashes one request may name (a window of segments is far fewer).
pub const MAX_HASHES: usize = 512;

/// One file's manifest and holders.
struct Session {
    manifest_hash: Hash,
    manifest: Vec<u8>,
    holders: Holders,
}

type Slot = Rc<Mutex<Option<Session>>>;

/// The files the gateway is fetching, most recently asked for first.
#[derive(Clone, Default)]
pub struct Sessions(Rc<RefCell<Vec<(String, Slot)>>>);

impl Sessions {
    /// The slot for `link`, made (empty) when new; the least recently
    /// used beyond [`MAX_FILES`] are dropped, ending their searches.
    fn slot(&self, link: &str) -> Slot {
        let mut all = self.0.borrow_mut();
        let slot = match all.iter().position(|(l, _)| l == link) {
            Some(i) => all.remove(i).1,
            None => Slot::default(),
        };
        all.insert(0, (link.to_owned(), slot.clone()));
        all.truncate(MAX_FILES);
        slot
    }
}

/// The shards `hashes` of the file `link` names (its manifest among them
/// if asked), each `None` when no holder had it; and the shard bytes each
/// holder has sent for this file so far.
pub async fn shards(
    blocks: &Blocks,
    cache: &ShardCache,
    sessions: &Sessions,
    link: &str,
    hashes: &[Hash],
) -> Result<(Vec<Option<Vec<u8>>>, Progress), String> {
    if hashes.len() > MAX_HASHES {
        return Err(format!(
            "too many shards asked for at once: {}, at most {MAX_HASHES}",
            hashes.len()
        ));
    }
    let parsed: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| e.to_string())?;
    let slot = sessions.slot(link);
    let mut session = slot.lock().await;
    if session.is_none() {
        let (_, manifest, holders) = open_file(blocks, &parsed).await?;
        *session = Some(Session {
            manifest_hash: parsed.manifest,
            manifest,
            holders,
        });
    }
    let Some(session) = session.as_mut() else {
        return Err("the file's session closed".into());
    };
    let mut out: Vec<Option<Vec<u8>>> = hashes
        .iter()
        .map(|h| match *h == session.manifest_hash {
            true => Some(session.manifest.clone()),
            false => cache.get(h),
        })
        .collect();
    // Missing shards are asked of every holder reached; while holders are
    // still being reached, each new one is asked for what is still missing.
    loop {
        session.holders.drain_found();
        let missing: Vec<usize> = (0..hashes.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        let wanted: Vec<Hash> = missing.iter().map(|&i| hashes[i]).collect();
        let kept = session
            .holders
            .fetch(&wanted, |j, bytes| {
                let expected = wanted[j];
                let actual = Hash::of(&bytes);
                if actual != expected {
                    return Ok(Outcome::Bad(format!(
                        "shard does not match its address: expected {expected}, got {actual}"
                    )));
                }
                cache.insert(expected, bytes.clone());
                out[missing[j]] = Some(bytes);
                Ok(Outcome::Done)
            })
            .await?;
        if kept.iter().all(|k| *k) || !session.holders.wait_for_next().await {
            break;
        }
    }
    let progress = session.holders.tally.progress("fetching", 0, 0);
    Ok((out, progress))
}
