//! The browser peer: a libp2p swarm in the page, as a Rust API that the
//! JavaScript boundary (`crate::wasm::peer`, the `Peer` class) wraps. Every
//! decision is made here; nothing here converts to or from JavaScript
//! objects.

mod blocks;
mod bootstrap;
mod connection;
mod contribute;
mod gate;
mod network;
mod probe;
mod provided;
mod stash;
mod status;
mod swarm;
mod websocket;

/// The IndexedDB store a contributing peer keeps shards in, which the
/// service worker's gateway reads too.
pub use contribute::DB_NAME as CONTRIBUTED_STORE;
pub use contribute::{State as ContributionState, Usage, DEFAULT_QUOTA};
pub use network::{Health, Opened, MAX_HASHES};
pub use probe::MAX_PROBE_BYTES;
pub use status::{Listener, PeerStatus, Status};

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::SinkExt as _;
use libp2p::{Multiaddr, PeerId};

use crate::format::Link;
use crate::hash::Hash;
use crate::platform::IdentityStore;
use crate::policy::{Decision, Signals};
use crate::transfer::{self, OnProgress, Progress, TransferError};

/// How `Peer::start` finds its node and its identity, and whether it is
/// private.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    /// Where the node publishes its addresses; default `/bootstrap.json`.
    pub bootstrap_url: Option<String>,
    /// IndexedDB database holding the identity; default `meganet-identity`.
    pub identity_db: Option<String>,
    /// Private mode: never connect to another browser directly, so none
    /// learns this peer's address; everything goes through nodes' relays.
    pub private: bool,
}

/// A running browser peer.
pub struct Peer {
    peer_id: PeerId,
    status: Rc<RefCell<Status>>,
    blocks: blocks::Blocks,
    commands: futures::channel::mpsc::Sender<connection::Command>,
    streams: libp2p_stream::Control,
    contribution: contribute::Shared,
    /// Uploads still being placed, served from here meanwhile.
    stash: stash::Shared,
    /// The identity's database, which names the stash's.
    identity_db: String,
    /// Shards fetched lately, shared by every get.
    shards: crate::shard_cache::ShardCache,
    /// The files the service worker's gateway is fetching.
    gateway_files: network::Sessions,
    /// The contribution policy's current decision, obeyed when serving.
    gate: gate::SharedGate,
}

impl Peer {
    /// Starts the peer: loads (or creates) its identity, then connects to the
    /// node named by the bootstrap document and keeps reconnecting.
    pub async fn start(options: Options) -> Result<Peer, TransferError> {
        let identity_db = options
            .identity_db
            .unwrap_or_else(|| IdentityStore::DEFAULT_DB.to_owned());
        let store = IdentityStore::new(&identity_db);
        let keypair = store
            .load_or_create()
            .await
            .map_err(|e| TransferError::Internal(e.to_string()))?;
        let peer_id = keypair.public().to_peer_id();
        let paths = if options.private {
            crate::webrtc::Paths::Private
        } else if !crate::platform::has_webrtc() {
            crate::webrtc::Paths::NoWebRtc
        } else {
            crate::webrtc::Paths::Direct
        };
        let status = Rc::new(RefCell::new(Status::new(peer_id, paths)));
        let bootstrap_url = options
            .bootstrap_url
            .unwrap_or_else(|| "/bootstrap.json".to_owned());
        let webrtc = crate::webrtc::Handles::new(paths);
        let (swarm, signaling) = swarm::build(keypair, &webrtc).map_err(TransferError::Internal)?;
        let streams = swarm.behaviour().stream.new_control();
        crate::platform::spawn(signaling.run());
        let (tx, rx) = futures::channel::mpsc::channel(connection::COMMAND_QUEUE);
        let contribution = contribute::Shared::default();
        let gate = gate::SharedGate::default();
        let stash = stash::Shared::default();
        probe::serve(&streams, &contribution, &gate);
        let driver = connection::Driver::new(
            swarm,
            bootstrap_url,
            status.clone(),
            rx,
            contribution.clone(),
            connection::Serve::new(contribution.clone(), stash.clone(), gate.clone()),
            webrtc,
        );
        crate::platform::spawn(driver.run());
        Ok(Peer {
            peer_id,
            blocks: blocks::Blocks::new(tx.clone(), status.clone()),
            status,
            commands: tx,
            streams,
            contribution,
            stash,
            identity_db,
            shards: Default::default(),
            gateway_files: Default::default(),
            gate,
        })
    }

    /// This peer's id.
    pub fn id(&self) -> PeerId {
        self.peer_id
    }

    /// A snapshot: node connection state and every open connection.
    pub fn status(&self) -> PeerStatus {
        self.status.borrow().snapshot()
    }

    /// Calls `listener` whenever the status changes.
    pub fn on_status(&self, listener: Listener) -> Result<(), TransferError> {
        self.status
            .borrow_mut()
            .subscribe(listener)
            .map_err(TransferError::InvalidArgument)
    }

    /// Encodes what `reader` yields and stores it on the network; the link,
    /// once every shard is placed. With `on_link`, the link is given to it
    /// as soon as the file is encoded (into this peer's stash, served from
    /// here until placed).
    pub async fn put(
        &self,
        reader: impl futures::io::AsyncRead + Unpin,
        input: &transfer::Input,
        progress: OnProgress<'_>,
        on_link: Option<&dyn Fn(&Link)>,
    ) -> transfer::Result<Link> {
        let mut sink = network::Uploads {
            blocks: self.blocks.clone(),
        };
        let stash = match on_link {
            Some(_) => Some(stash::open(&self.stash, &self.identity_db).await?),
            None => None,
        };
        let early = stash
            .as_ref()
            .zip(on_link)
            .map(|(stash, on_link)| transfer::Early {
                stash,
                hint: self.peer_id.to_bytes(),
                on_link,
            });
        transfer::put(&mut sink, reader, input, progress, early).await
    }

    /// Opens the file `link` names for the plaintext `range` (whole file
    /// when `None`); reports `connecting` first while the node is not.
    pub async fn get(
        &self,
        link: &str,
        range: Option<(u64, Option<u64>)>,
        progress: OnProgress<'_>,
    ) -> transfer::Result<Opened> {
        if self.status.borrow().node().state != "connected" {
            progress(transfer::Tally::default().progress(transfer::Stage::Connecting, 0, 0));
        }
        network::open(&self.blocks, &self.shards, link, range).await
    }

    /// Shards of the file `link` names, by hash, for the service worker's
    /// gateway, each checked against its hash (`None`: no holder had it);
    /// and the bytes each holder has sent for this file. `ahead` (the
    /// worker's next window) is then fetched in the background.
    pub async fn shards(
        &self,
        link: &str,
        hashes: &[Hash],
        ahead: &[Hash],
    ) -> transfer::Result<(Vec<Option<Vec<u8>>>, Progress)> {
        network::shards(
            &self.blocks,
            &self.shards,
            &self.gateway_files,
            link,
            hashes,
            ahead,
        )
        .await
    }

    /// Stops reading ahead for the file `link` names (see [`Self::shards`]).
    pub fn stop_read_ahead(&self, link: &str) {
        self.gateway_files.stop_ahead(link);
    }

    /// How many of a stored file's shards can be reached now.
    pub async fn health(&self, link: &str) -> transfer::Result<Health> {
        network::health(&self.blocks, link, self.repair_threshold()).await
    }

    /// Renews the leases of every block of the upload `link` names on the
    /// nodes (and asks the other holders this tab reaches what they hold).
    pub async fn renew(&self, link: &str) -> transfer::Result<transfer::Renewal> {
        let link: crate::format::Link = link.parse()?;
        let source = network::Network::new(&self.blocks, &link);
        let access = crate::format::Access::Read(link);
        transfer::renew(source, &access, transfer::check::AUDIT_TIMEOUT).await
    }

    /// The threshold the node's repair uses, or the default before the
    /// node said.
    fn repair_threshold(&self) -> usize {
        let said = self.status.borrow().node().repair_threshold;
        said.unwrap_or(transfer::repair::DEFAULT_THRESHOLD)
    }

    /// Repairs one of this browser's uploads, when the contribution policy
    /// allows background work now (idle, charging, unmetered); refused
    /// otherwise, with the policy's reason.
    pub async fn repair(&self, link: &str) -> transfer::Result<transfer::Repaired> {
        let allowed = self.gate.borrow().decision().map(|d| d.run_background_work);
        if allowed != Some(true) {
            return Err(TransferError::Refused {
                holder: "this browser".into(),
                message: "repair waits for an idle, charging, unmetered time".into(),
            });
        }
        network::repair(&self.blocks, link, self.repair_threshold()).await
    }

    /// Connects directly to another browser at its `/webrtc` address.
    pub async fn dial(&self, addr: Multiaddr) -> transfer::Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(connection::Command::Connect { addr, reply })
            .await?;
        let holder = "the dialed peer".to_owned();
        answer
            .await
            .map_err(|_| TransferError::Stopped)?
            .map_err(|message| TransferError::Unreachable { holder, message })
    }

    /// Stores shards for others up to `quota` bytes (`None`: the default),
    /// or stops (what is stored stays until [`Peer::leave`]). Shards a
    /// lower quota evicts go to the peer's node first, as on leaving.
    pub async fn contribute(
        &self,
        enabled: bool,
        quota: Option<u64>,
    ) -> transfer::Result<ContributionState> {
        let quota = quota.unwrap_or(DEFAULT_QUOTA);
        let blocks = &self.blocks;
        let hand_off = |bytes| blocks.put(blocks::Holder::Node, bytes);
        let state = contribute::set(&self.contribution, enabled, quota, hand_off).await?;
        self.gate.borrow_mut().reconsider(self.own());
        self.send(connection::Command::Announce { forget: false })
            .await?;
        Ok(state)
    }

    /// What this peer stores for others now.
    pub fn usage(&self) -> Usage {
        contribute::usage(&self.contribution)
    }

    /// The contribution decision the peer enforces now, or `None` before
    /// the page has reported its signals (then nothing is limited).
    pub fn decision(&self) -> Option<Decision> {
        self.gate.borrow().decision().cloned()
    }

    /// Applies the contribution policy to what the page sees; from now on
    /// new shards are refused while the decision pauses them, and shards
    /// are served at its bandwidth cap.
    pub fn apply_signals(&self, signals: Signals) -> Decision {
        self.gate.borrow_mut().update(signals, self.own())
    }

    /// Stops contributing, hands what it stored for others to its node
    /// (so those files need no repair), and deletes it all.
    pub async fn leave(&self) -> transfer::Result<contribute::HandedOff> {
        let blocks = &self.blocks;
        let hand_off = |bytes| blocks.put(blocks::Holder::Node, bytes);
        let left = contribute::leave(&self.contribution, hand_off).await?;
        self.gate.borrow_mut().reconsider(self.own());
        self.send(connection::Command::Announce { forget: true })
            .await?;
        Ok(left)
    }

    /// The `/webrtc` addresses of up to [`crate::net::contributors::WANTED`]
    /// peers that announced they store for others (excluding this one),
    /// searched from this peer's own bucket on.
    pub async fn contributors(&self) -> transfer::Result<Vec<Multiaddr>> {
        let anchor = crate::hash::Hash::of(&self.id().to_bytes());
        Ok(self.blocks.contributor_addrs(anchor).await)
    }

    /// The `/webrtc` addresses of the peers the DHT lists as holders of
    /// the file `link` names (excluding this one).
    pub async fn providers(&self, link: &str) -> transfer::Result<Vec<Multiaddr>> {
        let link: Link = link.parse()?;
        let key = libp2p::kad::RecordKey::new(&link.provider_key().0);
        self.providers_of(key).await
    }

    /// The newest version of the site the name link `link` points to:
    /// every node's record under the name's DHT key (GET_VALUE through
    /// this peer's node), the newest valid one, opened with the link's
    /// read key.
    pub async fn resolve_name(&self, link: &str) -> transfer::Result<ResolvedName> {
        let name: crate::format::NameLink = link.parse()?;
        let (record, bytes) = self
            .name_record(&name.publisher)
            .await?
            .ok_or(TransferError::NotFound)?;
        let link = record.open(&name.read)?;
        Ok(ResolvedName {
            link,
            version: record.sequence,
            signed_at_ms: record.signed_at_ms,
            record: bytes,
        })
    }

    /// The newest valid record of the name `publisher` the nodes hold,
    /// with its bytes.
    async fn name_record(
        &self,
        publisher: &crate::format::PublisherKey,
    ) -> transfer::Result<Option<(crate::format::NameRecord, Vec<u8>)>> {
        let key = libp2p::kad::RecordKey::new(&publisher.dht_key().0);
        let (reply, answer) = oneshot::channel();
        self.send(connection::Command::Values { key, reply })
            .await?;
        let values = answer
            .await
            .map_err(|_| TransferError::Stopped)?
            .ok_or_else(|| TransferError::NotConnected("no node to ask about the name".into()))?;
        let (newest, refused) = crate::format::NameRecord::newest(publisher, &values, unix_ms());
        if refused > 0 {
            tracing::warn!(refused, "name records that do not verify were ignored");
        }
        Ok(newest)
    }

    /// Points the name `key` at the site `site`: a record one version
    /// above the newest the nodes hold (or 1), signed here, put on every
    /// node of the directory, then read back; the key never leaves this
    /// peer.
    pub async fn publish_name(
        &self,
        key: &crate::format::NameKey,
        site: &str,
    ) -> transfer::Result<ResolvedName> {
        let site: Link = site.parse()?;
        let publisher = key.publisher();
        let newest = self.name_record(&publisher).await?;
        let version = newest.map_or(1, |(r, _)| r.sequence + 1);
        let signed_at_ms = unix_ms();
        let value = key.sign(version, signed_at_ms, &site);
        self.put_name_record(&publisher, &value, version).await?;
        Ok(ResolvedName {
            link: site,
            version,
            signed_at_ms,
            record: value,
        })
    }

    /// Keeps the name record `record` (the bytes [`Self::resolve_name`] and
    /// [`Self::publish_name`] hand out) on the nodes: a browser that opened
    /// or published a name holds its record and puts it back on nodes that
    /// lost it, so a name outlives the nodes that first kept it. Anyone may
    /// do this: the record is signed, and it opens only with the name
    /// link's read key, which is not needed here. Reads the newest record
    /// the nodes hold; puts `record` when they hold none or an older one.
    /// Returns the newer of the two.
    pub async fn republish_name(&self, record: &[u8]) -> transfer::Result<Republished> {
        let ours = crate::format::NameRecord::verify(record, unix_ms())?;
        let held = self.name_record(&ours.publisher).await?;
        if let Some((theirs, bytes)) = held.filter(|(r, _)| r.sequence >= ours.sequence) {
            return Ok(Republished {
                record: bytes,
                version: theirs.sequence,
                signed_at_ms: theirs.signed_at_ms,
                put: false,
            });
        }
        self.put_name_record(&ours.publisher, record, ours.sequence)
            .await?;
        Ok(Republished {
            record: record.to_vec(),
            version: ours.sequence,
            signed_at_ms: ours.signed_at_ms,
            put: true,
        })
    }

    /// Puts `value`, a record of `publisher` at `version`, on our node and
    /// every node of the directory, then reads it back: done only when the
    /// newest record the nodes hold is this one.
    async fn put_name_record(
        &self,
        publisher: &crate::format::PublisherKey,
        value: &[u8],
        version: u64,
    ) -> transfer::Result<()> {
        let (reply, answer) = oneshot::channel();
        let dht_key = libp2p::kad::RecordKey::new(&publisher.dht_key().0);
        self.send(connection::Command::PutValue {
            key: dht_key,
            value: value.to_vec(),
            reply,
        })
        .await?;
        let refused = |message: String| TransferError::Refused {
            holder: "node".into(),
            message,
        };
        answer
            .await
            .map_err(|_| TransferError::Stopped)?
            .map_err(|e| refused(format!("no node took the name record: {e}")))?;
        let held = self.name_record(publisher).await?;
        crate::format::NameRecord::check_published(held.as_ref(), value, version).map_err(refused)
    }

    async fn providers_of(&self, key: libp2p::kad::RecordKey) -> transfer::Result<Vec<Multiaddr>> {
        let (reply, answer) = oneshot::channel();
        self.send(connection::Command::Providers { key, reply })
            .await?;
        answer.await.map_err(|_| TransferError::Stopped)
    }

    /// Sends `data` to `peer`'s echo service; what came back.
    pub async fn echo(&self, peer: PeerId, data: &[u8]) -> transfer::Result<Vec<u8>> {
        probe::echo(&self.streams, peer, data)
            .await
            .map_err(|message| probe_error(peer, message))
    }

    /// Streams `bytes` bytes to `peer`'s sink; the count it confirms.
    pub async fn sink(&self, peer: PeerId, bytes: u64) -> transfer::Result<u64> {
        probe::sink(&self.streams, peer, bytes)
            .await
            .map_err(|message| probe_error(peer, message))
    }

    /// The peer's own side of the contribution policy's inputs.
    fn own(&self) -> gate::Own {
        let usage = contribute::usage(&self.contribution);
        gate::Own {
            opted_in: self.contribution.borrow().is_some(),
            quota_bytes: usage.quota,
            used_bytes: usage.contributed,
        }
    }

    async fn send(&self, command: connection::Command) -> transfer::Result<()> {
        let mut commands = self.commands.clone();
        commands
            .send(command)
            .await
            .map_err(|_| TransferError::Stopped)
    }
}

/// What a name resolves to ([`Peer::resolve_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedName {
    /// The newest version's site link.
    pub link: Link,
    /// Its sequence number.
    pub version: u64,
    /// When the publisher signed it (unix milliseconds).
    pub signed_at_ms: u64,
    /// The signed record: kept by the browser, put back on nodes that lost
    /// it ([`Peer::republish_name`]).
    pub record: Vec<u8>,
}

/// A name record kept on the nodes ([`Peer::republish_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republished {
    /// The newest record: the one given, or a newer one the nodes held.
    pub record: Vec<u8>,
    /// Its sequence number.
    pub version: u64,
    /// When its publisher signed it (unix milliseconds).
    pub signed_at_ms: u64,
    /// True when the nodes held none or an older one, and took this one.
    pub put: bool,
}

/// Now, in unix milliseconds (name records are signed and checked by it).
fn unix_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn probe_error(peer: PeerId, message: String) -> TransferError {
    TransferError::Unreachable {
        holder: peer.to_string(),
        message,
    }
}
