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

use super::Network;
use crate::format::Link;
use crate::hash::Hash;
use crate::peer::blocks::Blocks;
use crate::shard_cache::ShardCache;
use crate::transfer::{
    self, Fetched, Fetcher, Progress, Reach, Retries, ShardSource as _, Stage, TransferError,
    Verdict,
};

/// Files with a holder search kept open.
const MAX_FILES: usize = 4;
/// The most hashes one request may name (a window of segments is far fewer).
pub const MAX_HASHES: usize = 512;
/// Longest one request to one holder may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

/// One file's manifest and holders.
struct Session {
    manifest: (Hash, Vec<u8>),
    fetcher: Fetcher<Network>,
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
/// if asked), each `None` when no holder had it, each checked against its
/// hash; and the shard bytes each holder has sent for this file so far.
pub async fn shards(
    blocks: &Blocks,
    cache: &ShardCache,
    sessions: &Sessions,
    link: &str,
    hashes: &[Hash],
) -> transfer::Result<(Vec<Option<Vec<u8>>>, Progress)> {
    if hashes.len() > MAX_HASHES {
        return Err(TransferError::InvalidArgument(format!(
            "too many shards asked for at once: {}, at most {MAX_HASHES}",
            hashes.len()
        )));
    }
    let parsed: Link = link.parse()?;
    let slot = sessions.slot(link);
    let mut session = slot.lock().await;
    let session = match &mut *session {
        Some(session) => session,
        None => {
            let mut source = Network::new(blocks, &parsed);
            source.ready().await?;
            let mut fetcher = Fetcher::new(source, REQUEST_TIMEOUT);
            let (_, blob) = transfer::open_manifest(&mut fetcher, &parsed).await?;
            session.insert(Session {
                manifest: (parsed.manifest, blob),
                fetcher,
            })
        }
    };
    let mut out: Vec<Option<Vec<u8>>> = hashes
        .iter()
        .map(|h| match *h == session.manifest.0 {
            true => Some(session.manifest.1.clone()),
            false => cache.get(h),
        })
        .collect();
    // Missing shards are asked of every holder reached; while holders are
    // still being reached, each new one is asked for what is still missing.
    // A shard whose holder failed is asked again as a get would.
    let config = transfer::Config::default();
    let mut retries = Retries::new(config.retries, config.backoff);
    loop {
        let missing: Vec<usize> = (0..hashes.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        let wanted: Vec<Hash> = missing.iter().map(|&i| hashes[i]).collect();
        let reaches = [Reach::Local, Reach::Partial, Reach::Full];
        let results = session
            .fetcher
            .fetch(&wanted, &reaches, |j, bytes| {
                let expected = wanted[j];
                let actual = Hash::of(&bytes);
                if actual != expected {
                    return Ok(Verdict::Bad(format!(
                        "shard does not match its address: expected {expected}, got {actual}"
                    )));
                }
                cache.insert(expected, bytes.clone());
                out[missing[j]] = Some(bytes);
                Ok(Verdict::Kept)
            })
            .await?;
        let mut retry = false;
        for (hash, result) in wanted.iter().zip(&results) {
            retry |= *result == Fetched::Failed && retries.again(*hash);
        }
        if retry {
            let kept_any = results.contains(&Fetched::Kept);
            if let Some(pause) = retries.pause(kept_any) {
                session.fetcher.source_mut().pause(pause).await;
            }
            continue;
        }
        if !session.fetcher.source_mut().wait_for_holder(None).await {
            break;
        }
    }
    let progress = session.fetcher.tally().progress(Stage::Fetching, 0, 0);
    Ok((out, progress))
}
