//! Shards by hash for the service worker's gateway (`crate::gateway`). The
//! worker reads what this browser already stores straight from IndexedDB
//! and asks the tab running the peer, where the connections are, for the
//! rest. Each shard is checked against its hash here and again in the
//! worker, which decodes and decrypts.
//!
//! One holder search per file, kept while the worker asks for it: at most
//! [`MAX_FILES`] files, the least recently asked for going first. Requests
//! for one file take turns (they share its holders).
//!
//! Once a request is answered, the shards the worker named to read ahead
//! (its next window, [`transfer::ahead`]) are fetched into the shard cache
//! while the worker decodes this one. A request the read-ahead does not
//! cover (a seek) stops it.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use futures::future::{AbortHandle, Abortable};
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
/// Where a shard may come from.
const REACHES: [Reach; 3] = [Reach::Local, Reach::Partial, Reach::Full];

/// One file's manifest and holders.
struct Session {
    manifest: (Hash, Vec<u8>),
    fetcher: Fetcher<Network>,
}

type Slot = Rc<Mutex<Option<Session>>>;

/// A read-ahead running for one file: the shards it fetches.
struct Ahead {
    hashes: HashSet<Hash>,
    abort: AbortHandle,
}

/// One file the gateway is fetching.
#[derive(Clone, Default)]
struct File {
    session: Slot,
    ahead: Rc<RefCell<Option<Ahead>>>,
}

/// The files the gateway is fetching, most recently asked for first.
#[derive(Clone, Default)]
pub struct Sessions(Rc<RefCell<Vec<(String, File)>>>);

impl Sessions {
    /// The file `link` names, made (empty) when new; the least recently
    /// used beyond [`MAX_FILES`] are dropped, ending their searches.
    fn file(&self, link: &str) -> File {
        let mut all = self.0.borrow_mut();
        let file = match all.iter().position(|(l, _)| l == link) {
            Some(i) => all.remove(i).1,
            None => File::default(),
        };
        all.insert(0, (link.to_owned(), file.clone()));
        let keep = MAX_FILES.min(all.len());
        for (_, dropped) in all.drain(keep..) {
            dropped.stop_ahead();
        }
        file
    }
}

impl Sessions {
    /// Stops the read-ahead for `link`, if one runs.
    pub fn stop_ahead(&self, link: &str) {
        let all = self.0.borrow();
        if let Some((_, file)) = all.iter().find(|(l, _)| l == link) {
            file.stop_ahead();
        }
    }
}

impl File {
    /// Stops the read-ahead unless it fetches every one of `hashes` the
    /// cache lacks (then the request waits for it and finds them there).
    fn yield_ahead(&self, hashes: &[Hash], cache: &ShardCache) {
        let mut ahead = self.ahead.borrow_mut();
        let covers = |a: &Ahead| {
            hashes
                .iter()
                .all(|h| a.hashes.contains(h) || cache.contains(h))
        };
        if ahead.as_ref().is_some_and(|a| !covers(a)) {
            self.stop_ahead_in(&mut ahead);
        }
    }

    fn stop_ahead(&self) {
        self.stop_ahead_in(&mut self.ahead.borrow_mut());
    }

    fn stop_ahead_in(&self, ahead: &mut Option<Ahead>) {
        if let Some(a) = ahead.take() {
            a.abort.abort();
        }
    }

    /// Fetches `hashes` into `cache` in the background, one round over the
    /// holders: whatever it misses the next request asks for itself.
    fn read_ahead(&self, hashes: &[Hash], cache: &ShardCache) {
        let hashes: Vec<Hash> = hashes
            .iter()
            .filter(|h| !cache.contains(h))
            .copied()
            .collect();
        if hashes.is_empty() {
            return;
        }
        let (abort, registration) = AbortHandle::new_pair();
        *self.ahead.borrow_mut() = Some(Ahead {
            hashes: hashes.iter().copied().collect(),
            abort,
        });
        let (session, cache) = (self.session.clone(), cache.clone());
        let fetch = async move {
            let mut session = session.lock().await;
            let Some(session) = &mut *session else { return };
            let mut out = vec![None; hashes.len()];
            let fetched = fetch_checked(session, &cache, &hashes, &mut out).await;
            if let Err(e) = fetched {
                tracing::debug!(error = %e, "reading ahead failed");
            }
        };
        crate::platform::spawn(async move {
            let _ = Abortable::new(fetch, registration).await;
        });
    }
}

/// The shards `hashes` of the file `link` names (its manifest among them
/// if asked), each `None` when no holder had it, each checked against its
/// hash; and the shard bytes each holder has sent for this file so far.
/// Then `ahead` is fetched into the cache in the background.
pub async fn shards(
    blocks: &Blocks,
    cache: &ShardCache,
    sessions: &Sessions,
    link: &str,
    hashes: &[Hash],
    ahead: &[Hash],
) -> transfer::Result<(Vec<Option<Vec<u8>>>, Progress)> {
    for (what, list) in [("shards", hashes), ("shards to read ahead", ahead)] {
        if list.len() > MAX_HASHES {
            return Err(TransferError::InvalidArgument(format!(
                "too many {what} asked for at once: {}, at most {MAX_HASHES}",
                list.len()
            )));
        }
    }
    let parsed: Link = link.parse()?;
    let file = sessions.file(link);
    file.yield_ahead(hashes, cache);
    let mut session = file.session.lock().await;
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
        let mut got = vec![None; wanted.len()];
        let results = fetch_checked(session, cache, &wanted, &mut got).await?;
        for (j, bytes) in got.into_iter().enumerate() {
            if bytes.is_some() {
                out[missing[j]] = bytes;
            }
        }
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
    file.read_ahead(ahead, cache);
    Ok((out, progress))
}

/// One round over the holders for `wanted`: each shard that matches its
/// hash goes into `out` (at its index) and into `cache`.
async fn fetch_checked(
    session: &mut Session,
    cache: &ShardCache,
    wanted: &[Hash],
    out: &mut [Option<Vec<u8>>],
) -> transfer::Result<Vec<Fetched>> {
    session
        .fetcher
        .fetch(wanted, &REACHES, |j, bytes| {
            let expected = wanted[j];
            let actual = Hash::of(&bytes);
            if actual != expected {
                return Ok(Verdict::Bad(format!(
                    "shard does not match its address: expected {expected}, got {actual}"
                )));
            }
            cache.insert(expected, bytes.clone());
            out[j] = Some(bytes);
            Ok(Verdict::Kept)
        })
        .await
}
