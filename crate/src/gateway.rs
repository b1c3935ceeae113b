//! The gateway: this same module, run by the service worker that answers
//! `/meganet/file/...` requests (downloads to disk, `<video>` with seeking).
//!
//! It runs the transfer engine's getter over [`Places`]: the shards this
//! browser already stores, straight from IndexedDB (the store the peer
//! contributes with), then the tab running the peer for the rest, by hash
//! (the tab holds the connections: a worker cannot have an
//! `RTCPeerConnection`). Every shard is checked, decoded and decrypted
//! here; the tab only carries sealed shards, and what reaches the response
//! is plaintext verified in this worker. Window, ranges and retries are
//! the engine's. With each request the worker names the shards its next
//! window will want ([`crate::transfer::ahead`]), which the tab fetches
//! while the worker decodes.

use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::format::{Link, Manifest};
use crate::hash::Hash;
use crate::peer::CONTRIBUTED_STORE;
use crate::store::{Reader, MAX_SHARD};
use crate::transfer::ahead::Layout;
use crate::transfer::{self, Answers, Getter, Reach, ShardSource};

/// Asks the tab running the peer for shards by hash (the first list): one
/// answer per hash, the bytes or `None`; an error fails the request (with
/// the tab's code). The second list is to be read ahead.
pub type AskTab = Box<
    dyn Fn(Vec<Hash>, Vec<Hash>) -> LocalBoxFuture<'static, transfer::Result<Vec<Option<Vec<u8>>>>>,
>;

/// Where the gateway's shards come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// This browser's IndexedDB store.
    Local,
    /// The tab running the peer.
    Tab,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Tab => "tab",
        })
    }
}

/// The local store, then the tab.
pub struct Places {
    local: Option<Reader>,
    tab: AskTab,
    /// The range asked for, until the manifest says where it ends.
    range: Option<(u64, Option<u64>)>,
    /// The file's layout and the segment the range ends before, once the
    /// manifest is open: what to read ahead.
    layout: Option<(Layout, usize)>,
}

impl ShardSource for Places {
    type Holder = Place;

    fn holders(&mut self) -> Vec<(Place, Reach)> {
        let local = self.local.is_some().then_some((Place::Local, Reach::Local));
        local
            .into_iter()
            .chain([(Place::Tab, Reach::Full)])
            .collect()
    }

    async fn fetch(&self, place: Place, hashes: &[Hash]) -> Answers {
        match (place, &self.local) {
            (Place::Local, Some(local)) => match local.get_many(hashes).await {
                Ok(found) => found.into_iter().map(Ok).collect(),
                Err(e) => {
                    // Not fatal: the tab still has every shard.
                    tracing::warn!(error = %e, "reading the local store failed");
                    vec![Ok(None); hashes.len()]
                }
            },
            (Place::Local, None) => vec![Ok(None); hashes.len()],
            (Place::Tab, _) => match (self.tab)(hashes.to_vec(), self.ahead(hashes)).await {
                Ok(mut answer) => {
                    answer.resize(hashes.len(), None);
                    let fits = |b: &Vec<u8>| b.len() <= MAX_SHARD;
                    answer.into_iter().map(|b| Ok(b.filter(fits))).collect()
                }
                Err(e) => vec![Err(e); hashes.len()],
            },
        }
    }

    async fn pause(&self, duration: Duration) {
        crate::platform::sleep(duration).await;
    }

    fn manifest_opened(&mut self, manifest: &Manifest) {
        let params = &manifest.params;
        let end = self.range.and_then(|(_, end)| end).unwrap_or(manifest.size);
        let end = params.segment_count(end.min(manifest.size)) as usize;
        self.layout = Some((Layout::new(manifest), end));
    }
}

impl Places {
    /// What the window after `asked` will want, within the range.
    fn ahead(&self, asked: &[Hash]) -> Vec<Hash> {
        self.layout
            .as_ref()
            .map(|(layout, end)| layout.next_window(asked, *end))
            .unwrap_or_default()
    }
}

/// Opens the file `link` names for `range`, in the service worker: this
/// browser's store first (when `local` and it holds anything), then the
/// tab through `tab`. The sites' origin passes `local: false`: its worker
/// never opens a store, so no site script finds one there.
pub async fn open(
    link: &str,
    range: Option<(u64, Option<u64>)>,
    tab: AskTab,
    local: bool,
) -> transfer::Result<Getter<Places>> {
    // Without the store the tab still has every shard: not fatal. An
    // empty store (a browser that does not contribute) is not read at all.
    let local = match local {
        false => None,
        true => match Reader::open(CONTRIBUTED_STORE).await {
            Ok(reader) if !reader.is_empty().await.unwrap_or(false) => Some(reader),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the local store cannot be read");
                None
            }
        },
    };
    let link: Link = link.parse()?;
    let places = Places {
        local,
        tab,
        range,
        layout: None,
    };
    Getter::open(places, &link, range, transfer::Config::default(), None).await
}

/// Bytes the getter read from this browser's store and from the tab.
pub fn split(progress: &transfer::Progress) -> (u64, u64) {
    let bytes = |place: Place| progress.peers.get(&place.to_string()).copied().unwrap_or(0);
    (bytes(Place::Local), bytes(Place::Tab))
}
