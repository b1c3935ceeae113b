//! What the engine needs from wherever shards come from and go to. The
//! tab (browsers and the node over libp2p), the service worker (its own
//! IndexedDB, then the tab) and the CLI (one node) each implement these;
//! the engine decides everything else.

use std::fmt;
use std::future::Future;
use std::hash::Hash as StdHash;
use std::time::Duration;

use super::error::Result;
use crate::format::RepairCap;
use crate::hash::Hash;
use crate::store::Storage;

/// One answer per hash asked: the bytes (unverified), `None` when not
/// held, or why asking failed.
pub type Answers = Vec<Result<Option<Vec<u8>>>>;

/// Names one holder: `node`, a peer id, `local`...
pub trait HolderId: Copy + Eq + Ord + StdHash + fmt::Debug + fmt::Display + 'static {}
impl<T: Copy + Eq + Ord + StdHash + fmt::Debug + fmt::Display + 'static> HolderId for T {}

/// How a holder is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A store on this device: asked first for everything, without a HAS.
    Local,
    /// A peer that may hold some shards: asked with a HAS, then in turn
    /// with the others that have a shard.
    Partial,
    /// Keeps a full copy of what it was given (a node): takes its turn
    /// once the search for holders is over, and is the last resort while
    /// it runs.
    Full,
}

/// Where a get's shards come from. Answers are not trusted: the engine
/// verifies every byte before it uses it. `has` and `fetch` may run
/// concurrently for different holders.
pub trait ShardSource {
    type Holder: HolderId;

    /// Resolves once the source can fetch (its connection is up), or with
    /// an error when it could not be within the source's own bound.
    /// Default: always ready.
    fn ready(&mut self) -> impl Future<Output = Result<()>> {
        async { Ok(()) }
    }

    /// Every holder known now, with how to ask it; holders found since the
    /// last call are included.
    fn holders(&mut self) -> Vec<(Self::Holder, Reach)>;

    /// True while more holders may still be found. Default: a fixed set.
    fn searching(&self) -> bool {
        false
    }

    /// Waits for a new holder, at most `limit` (or until the search ends
    /// when `None`); true when one came. Default: none ever comes.
    fn wait_for_holder(&mut self, _limit: Option<Duration>) -> impl Future<Output = bool> {
        async { false }
    }

    /// Whether a partial holder may come at once (one is connected
    /// already): the first window waits a moment for it only then, and
    /// asks the full holders straight away otherwise. Default: yes.
    fn holder_at_hand(&self) -> bool {
        true
    }

    /// Which of `hashes` the partial holder `holder` says it has, one flag
    /// per hash. Default (sources without partial holders): all of them.
    fn has(
        &self,
        _holder: Self::Holder,
        hashes: &[Hash],
    ) -> impl Future<Output = Result<Vec<bool>>> {
        let all = vec![true; hashes.len()];
        async move { Ok(all) }
    }

    /// Asks `holder` for `hashes`: one answer per hash, in order: the
    /// bytes, `None` when it does not hold that one, or why asking failed.
    fn fetch(&self, holder: Self::Holder, hashes: &[Hash]) -> impl Future<Output = Answers>;

    /// The manifest is open and checked: a source may start looking for
    /// the holders it names.
    fn manifest_opened(&mut self, _manifest: &crate::format::Manifest) {}

    /// Waits `duration` before a retry (the platform's timer; tests may
    /// pass time faster).
    fn pause(&self, duration: Duration) -> impl Future<Output = ()> {
        crate::platform::sleep(duration)
    }

    /// Time on a monotonic clock, to time holders' answers (tests may pass
    /// time faster, as with [`Self::pause`]).
    fn now(&self) -> Duration {
        thread_local! {
            static START: web_time::Instant = web_time::Instant::now();
        }
        START.with(|start| start.elapsed())
    }
}

/// Where a put's shards go.
pub trait ShardSink {
    type Holder: HolderId;

    /// Resolves once the sink can store (its connection is up), or with an
    /// error when it could not be within the sink's own bound.
    fn ready(&mut self) -> impl Future<Output = Result<()>>;

    /// The durable holders (nodes) known now, at least one once
    /// [`ShardSink::ready`] has resolved: each shard must be confirmed by
    /// one of them, the manifest by several.
    fn nodes(&mut self) -> impl Future<Output = Vec<Self::Holder>>;

    /// Holders that take a best-effort copy (contributing browsers), found
    /// once per put, from `anchor` (the file's provider key) on: different
    /// files find different contributors
    /// ([`crate::net::contributors::search`]). Each comes with how it keeps
    /// what it holds: one that may evict it takes fewer copies
    /// ([`super::rotation::weighted`]).
    fn contributors(&mut self, anchor: Hash) -> impl Future<Output = Vec<(Self::Holder, Storage)>>;

    /// Stores `bytes` (whose BLAKE3 hash is `hash`) on `holder`.
    fn store(
        &self,
        holder: Self::Holder,
        hash: Hash,
        bytes: &[u8],
    ) -> impl Future<Output = Result<()>>;

    /// Stores a best-effort copy on `holder`, a contributor: contributing
    /// browsers want a node's placement ticket with each shard
    /// ([`crate::net::ticket`]), which the sink gets first.
    fn store_copy(
        &self,
        holder: Self::Holder,
        hash: Hash,
        bytes: &[u8],
    ) -> impl Future<Output = Result<()>> {
        self.store(holder, hash, bytes)
    }

    /// How the manifest names `holder` as a placement hint (a peer id's
    /// bytes), or `None` for holders fetchers find anyway.
    fn hint(&self, _holder: Self::Holder) -> Option<Vec<u8>> {
        None
    }

    /// Waits `duration` before a retry.
    fn pause(&self, duration: Duration) -> impl Future<Output = ()> {
        crate::platform::sleep(duration)
    }

    /// Asks `holders`, which took shards of the file with `provider_key`,
    /// to announce it. Failures only cost discoverability: logged.
    fn announce(&self, holders: &[Self::Holder], provider_key: Hash) -> impl Future<Output = ()>;

    /// Asks the node `holder` to keep the file's repair capability (and
    /// so to repair it).
    fn keep(&self, holder: Self::Holder, cap: &RepairCap) -> impl Future<Output = Result<()>>;
}
