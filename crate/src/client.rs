//! The native command-line peer: `meganet put`, `meganet get`,
//! `meganet publish` (a folder as a site: `publish`) and
//! `meganet providers`, and names (`names`: `publish --name`, `resolve`). A short-lived libp2p peer that dials the node it
//! is pointed at over TCP, and the nodes that node is joined to as it
//! needs them, and speaks the same block protocol and format as browsers,
//! so files move between the two. Every node is one of the transfer
//! engine's holders ([`Remote`]): a put spreads its shards over them, a
//! get asks them which they have. Browsers are holders too, reached
//! through a relayed circuit over every known node at once (the CLI has
//! no WebRTC): a put gives copies to the contributors the bucket search
//! finds, as a browser's put does, and a get asks the file's providers
//! and the browsers its manifest names.

mod bootstrap;
mod names;
mod publish;

pub use names::{load_or_create_key, now_ms, utc};
pub use publish::{site_files, SiteFile, SITE_DOCUMENT_NAME};

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use futures::lock::Mutex;
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::SwarmEvent;
use libp2p::{kad, noise, relay, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::io::AsyncWriteExt;

use crate::format;
use crate::hash::Hash;
use crate::net::block::{self, BlockCodec, BlockRequest, BlockResponse};
use crate::net::contributors;
use crate::net::ticket::Ticket;
use crate::store::Storage;
use crate::transfer::{self, Reach, ShardSink, ShardSource, TransferError};

/// Most browsers one get asks besides the nodes.
const MAX_BROWSERS: usize = 64;
/// Segments fetched ahead of the one being written.
const WINDOW: u64 = 4;
/// How long to wait for the node to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Reports progress: `(bytes done, total)`.
pub type OnProgress<'a> = &'a dyn Fn(u64, u64);

/// The CLI's view of the network: the node it was pointed at and the
/// nodes that node is joined to, each dialed over TCP when first asked.
pub struct Client {
    swarm: Swarm<Behaviour>,
    /// Every node known, the one pointed at first, with its TCP address.
    nodes: Vec<(PeerId, Multiaddr)>,
}

/// What the CLI speaks: blocks, Kademlia as a client (provider lookups)
/// and relayed circuits to browsers.
#[derive(libp2p::swarm::NetworkBehaviour)]
struct Behaviour {
    block: request_response::Behaviour<BlockCodec>,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    relay: relay::client::Behaviour,
}

impl Client {
    /// Reads the node's `/bootstrap.json` at `node_url`, dials its TCP
    /// address, and learns the other nodes it is joined to.
    pub async fn connect(node_url: &str) -> anyhow::Result<Self> {
        Self::connect_as(node_url, libp2p::identity::Keypair::generate_ed25519()).await
    }

    /// [`Client::connect`] with the identity `keypair` (a node's repair
    /// duty uses one its node knows, so its uploads are not charged).
    pub async fn connect_as(
        node_url: &str,
        keypair: libp2p::identity::Keypair,
    ) -> anyhow::Result<Self> {
        Self::from_document(&bootstrap::fetch(node_url).await?, keypair).await
    }

    /// [`Client::connect_as`] with the node's bootstrap document in hand
    /// (the node's own repair duty reads it from the node's status).
    pub async fn from_document(
        doc: &crate::net::Bootstrap,
        keypair: libp2p::identity::Keypair,
    ) -> anyhow::Result<Self> {
        let node: PeerId = doc
            .peer_id
            .parse()
            .context("the node sent an invalid peer id")?;
        let addr = tcp_addr(doc.addrs.iter()).context("the node offers no TCP address")?;
        let mut nodes = vec![(node, addr)];
        for entry in doc.nodes.iter().take(crate::net::MAX_NODES) {
            let (Ok(peer), Some(addr)) = (
                entry.peer_id.parse::<PeerId>(),
                tcp_addr(entry.addrs.iter()),
            ) else {
                continue;
            };
            if nodes.iter().all(|(p, _)| *p != peer) {
                nodes.push((peer, addr));
            }
        }
        let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_relay_client(noise::Config::new, yamux::Config::default)?
            .with_behaviour(|key, relay| {
                let me = key.public().to_peer_id();
                let mut kad = kad::Behaviour::with_config(
                    me,
                    kad::store::MemoryStore::new(me),
                    crate::net::kad_config(),
                );
                kad.set_mode(Some(kad::Mode::Client));
                Behaviour {
                    block: block::behaviour(ProtocolSupport::Outbound),
                    kad,
                    relay,
                }
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let mut client = Self { swarm, nodes };
        for (peer, addr) in client.nodes.clone() {
            client.swarm.behaviour_mut().kad.add_address(&peer, addr);
        }
        client.dial(node).await?;
        Ok(client)
    }

    /// Connects to `peer` unless connected: a node at its TCP address, a
    /// browser through a circuit over every known node at once (its
    /// reservation may be on any of them).
    async fn dial(&mut self, peer: PeerId) -> anyhow::Result<()> {
        if self.swarm.is_connected(&peer) {
            return Ok(());
        }
        let node = self.nodes.iter().find(|(p, _)| *p == peer);
        let addrs: Vec<Multiaddr> = match node {
            Some((_, addr)) => vec![addr.clone()],
            None => self
                .nodes
                .iter()
                .map(|(node, addr)| {
                    addr.clone()
                        .with(Protocol::P2p(*node))
                        .with(Protocol::P2pCircuit)
                })
                .collect(),
        };
        let what = if node.is_some() {
            "the node"
        } else {
            "the peer"
        };
        let addr = addrs
            .first()
            .cloned()
            .context("no node to reach it through")?;
        let opts = DialOpts::peer_id(peer).addresses(addrs).build();
        self.swarm
            .dial(opts)
            .with_context(|| format!("cannot dial {addr}"))?;
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == peer => {
                        return Ok(())
                    }
                    SwarmEvent::OutgoingConnectionError {
                        peer_id: Some(p),
                        error,
                        ..
                    } if p == peer => {
                        bail!("cannot connect to {what} {peer}: {error}")
                    }
                    _ => {}
                }
            }
        })
        .await;
        connected.with_context(|| format!("timed out connecting to {what} {peer}"))?
    }

    /// The peers that announce holding the file whose provider key is
    /// `key`, as the DHT of the node pointed at and its peers knows them.
    pub async fn providers(&mut self, key: Hash) -> anyhow::Result<Vec<PeerId>> {
        self.lookup(kad::RecordKey::new(&key.0)).await
    }

    /// The providers of the DHT key `key`.
    async fn lookup(&mut self, key: kad::RecordKey) -> anyhow::Result<Vec<PeerId>> {
        let id = self.swarm.behaviour_mut().kad.get_providers(key);
        let mut found = std::collections::BTreeSet::new();
        self.query(id, "the provider lookup", |result| {
            if let kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                providers,
                ..
            })) = result
            {
                found.extend(providers);
            }
        })
        .await?;
        Ok(found.into_iter().collect())
    }

    /// Drives the swarm until the Kademlia query `id` has taken its last
    /// step, handing `each` every result it yields on the way; `what` it
    /// is names it when it times out (after `CONNECT_TIMEOUT`).
    async fn query(
        &mut self,
        id: kad::QueryId,
        what: &str,
        mut each: impl FnMut(kad::QueryResult),
    ) -> anyhow::Result<()> {
        let run = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                if let SwarmEvent::Behaviour(BehaviourEvent::Kad(
                    kad::Event::OutboundQueryProgressed {
                        id: q,
                        result,
                        step,
                        ..
                    },
                )) = self.swarm.select_next_some().await
                {
                    if q != id {
                        continue;
                    }
                    each(result);
                    if step.last {
                        return;
                    }
                }
            }
        });
        run.await.with_context(|| format!("{what} timed out"))
    }

    /// Sends `requests` to `to` at once and waits for every answer, in order.
    async fn exchange(
        &mut self,
        to: PeerId,
        requests: Vec<BlockRequest>,
    ) -> anyhow::Result<Vec<BlockResponse>> {
        self.dial(to).await?;
        let ids: Vec<OutboundRequestId> = requests
            .into_iter()
            .map(|r| self.swarm.behaviour_mut().block.send_request(&to, r))
            .collect();
        let mut answers: Vec<Option<BlockResponse>> = vec![None; ids.len()];
        let mut left = ids.len();
        while left > 0 {
            match self.swarm.select_next_some().await {
                SwarmEvent::Behaviour(BehaviourEvent::Block(
                    request_response::Event::Message {
                        message:
                            request_response::Message::Response {
                                request_id,
                                response,
                            },
                        ..
                    },
                )) => {
                    if let Some(i) = ids.iter().position(|id| *id == request_id) {
                        answers[i] = Some(response);
                        left -= 1;
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Block(
                    request_response::Event::OutboundFailure {
                        request_id, error, ..
                    },
                )) if ids.contains(&request_id) => {
                    bail!("block request failed: {error}")
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. }
                    if peer_id == to && !self.swarm.is_connected(&to) =>
                {
                    bail!("{to} closed the connection: {cause:?}")
                }
                _ => {}
            }
        }
        Ok(answers.into_iter().flatten().collect())
    }

    /// Encrypts, encodes and stores `path` as a file of type `mime`;
    /// returns the link.
    pub async fn put(
        &mut self,
        path: &Path,
        mime: &str,
        progress: OnProgress<'_>,
    ) -> anyhow::Result<format::Link> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let input = transfer::Input {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            mime: mime.to_owned(),
            total: file.metadata()?.len(),
        };
        // Blocking reads of 64 KiB are fine here: the swarm is driven only
        // while a request is awaited, on this same task.
        let reader = futures::io::AllowStdIo::new(std::io::BufReader::new(file));
        self.put_reader(reader, &input, progress).await
    }

    /// Encrypts, encodes and stores everything `reader` yields as the file
    /// `input` describes; returns the link.
    pub async fn put_reader(
        &mut self,
        reader: impl futures::io::AsyncRead + Unpin,
        input: &transfer::Input,
        progress: OnProgress<'_>,
    ) -> anyhow::Result<format::Link> {
        let mut sink = Remote::new(self, None);
        let link = transfer::put(
            &mut sink,
            reader,
            input,
            &|p| progress(p.done, p.total),
            None,
        )
        .await?;
        Ok(link)
    }

    /// Fetches the file `link` names into `out` (default: its own name in
    /// the current directory); returns the path written and the shard
    /// bytes each holder sent.
    pub async fn get(
        &mut self,
        link: &str,
        out: Option<&Path>,
        overwrite: bool,
        progress: OnProgress<'_>,
    ) -> anyhow::Result<Fetched> {
        let link: format::Link = link.parse()?;
        let config = transfer::Config {
            window: WINDOW,
            ..transfer::Config::default()
        };
        let source = Remote::new(self, Some(link.provider_key()));
        let mut getter = transfer::Getter::open(source, &link, None, config, None).await?;
        let m = getter.manifest();
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => std::path::PathBuf::from(local_name(&m.name)),
        };
        let refuse = |path: &Path| -> anyhow::Result<()> {
            if !overwrite && path.exists() {
                bail!(
                    "{} exists: not overwriting it (pass --force to)",
                    path.display()
                );
            }
            Ok(())
        };
        refuse(&path)?;
        let size = m.size;
        // Write to a temporary name; rename only once everything verified.
        let partial = path.with_extension("meganet-partial");
        let mut file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let result: anyhow::Result<()> = async {
            while let Some(chunk) = getter.next().await? {
                file.write_all(&chunk).await?;
                progress(getter.progress().done, size);
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        // Checked again: the file may have appeared while fetching.
        if let Err(e) = refuse(&path) {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &path).await?;
        let from = getter.progress().peers;
        Ok(Fetched { path, from })
    }
}

impl Client {
    /// Audits every holder of the file `link` names: each shard a node or
    /// a browser found through the DHT says it has must be proven with a
    /// random range ([`transfer::check`]).
    /// `access` is a link or a repair capability.
    pub async fn check(&mut self, access: &str) -> anyhow::Result<transfer::Health<PeerId>> {
        let access: format::Access = access.parse()?;
        let source = Remote::new(self, Some(access.provider_key()));
        let mut random = crate::audit::os_random;
        let timeout = transfer::check::AUDIT_TIMEOUT;
        Ok(transfer::check(source, &access, timeout, &mut random).await?)
    }

    /// Renews the leases of every block of the file `access` names on
    /// the nodes this client knows.
    pub async fn renew(&mut self, access: &str) -> anyhow::Result<transfer::Renewal> {
        let access: format::Access = access.parse()?;
        let source = Remote::new(self, None);
        Ok(transfer::renew(source, &access, transfer::check::AUDIT_TIMEOUT).await?)
    }

    /// The nodes this client knows (the one it connected to first).
    pub fn node_ids(&self) -> Vec<PeerId> {
        self.nodes.iter().map(|(p, _)| *p).collect()
    }

    /// Asks the node `node` to keep the file's repair capability.
    pub async fn keep(&mut self, node: PeerId, cap: &format::RepairCap) -> transfer::Result<()> {
        ShardSink::keep(&Remote::new(self, None), node, cap).await
    }

    /// Stops using the node `node` (it is down): it is neither asked nor
    /// given shards by this client from now on.
    pub fn forget_node(&mut self, node: PeerId) {
        self.nodes.retain(|(p, _)| *p != node);
    }

    /// One repair pass over the file `cap` names ([`transfer::repair`]):
    /// rebuilt shards go to the nodes this client knows and to
    /// contributors, as a put places them.
    pub async fn repair(
        &mut self,
        cap: &format::RepairCap,
        policy: &transfer::Policy,
        memory: &mut transfer::Memory<PeerId>,
        standing: &mut transfer::Standing<PeerId>,
        now_ms: u64,
    ) -> anyhow::Result<transfer::Repaired> {
        let source = Remote::new(self, Some(cap.provider_key()));
        let mut random = crate::audit::os_random;
        let repaired = transfer::repair(source, cap, policy, memory, standing, now_ms, &mut random);
        Ok(repaired.await?)
    }

    /// Whether `node` answers: a HAS of one block (the node is not
    /// otherwise asked anything in this pass).
    pub async fn reach(&mut self, node: PeerId, hash: Hash) -> transfer::Result<()> {
        ShardSource::has(&Remote::new(self, None), node, &[hash])
            .await
            .map(drop)
    }
}

/// The name a fetched file is written under in the current directory:
/// the manifest's name without any directory part, leading dots or
/// control characters, so an uploader's name can neither leave the
/// directory nor make a hidden file (`.bashrc`, `.envrc`);
/// `meganet-download` when nothing is left.
pub fn local_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim_start_matches('.').trim();
    if clean.is_empty() {
        "meganet-download".to_owned()
    } else {
        // At most 255 bytes, the usual limit of a file name.
        let mut bytes = 0;
        clean
            .chars()
            .take_while(|c| {
                bytes += c.len_utf8();
                bytes <= 255
            })
            .collect()
    }
}

/// A finished get.
pub struct Fetched {
    /// Where the file was written.
    pub path: std::path::PathBuf,
    /// Shard bytes received from each holder, by peer id.
    pub from: std::collections::BTreeMap<String, u64>,
}

/// The network as the transfer engine's source and sink: every node a
/// partial holder (it holds the shards placement dealt to it), and the
/// browsers a get finds. One request batch at a time goes through the
/// client (the lock).
struct Remote<'a> {
    client: Mutex<&'a mut Client>,
    /// A get's provider key: its providers are looked up when ready.
    key: Option<Hash>,
    /// Holders found besides the nodes (providers, the manifest's hints).
    browsers: Vec<PeerId>,
}

impl<'a> Remote<'a> {
    fn new(client: &'a mut Client, key: Option<Hash>) -> Self {
        Self {
            client: Mutex::new(client),
            key,
            browsers: Vec::new(),
        }
    }

    /// Adds holders that are not nodes, up to [`MAX_BROWSERS`].
    fn found(&mut self, peers: impl IntoIterator<Item = PeerId>) {
        let client = self.client.get_mut();
        for peer in peers {
            let known =
                client.nodes.iter().any(|(p, _)| *p == peer) || self.browsers.contains(&peer);
            if !known && self.browsers.len() < MAX_BROWSERS {
                self.browsers.push(peer);
            }
        }
    }

    async fn exchange(
        &self,
        to: PeerId,
        requests: Vec<BlockRequest>,
    ) -> transfer::Result<Vec<BlockResponse>> {
        let mut client = self.client.lock().await;
        client
            .exchange(to, requests)
            .await
            .map_err(|e| TransferError::Unreachable {
                holder: to.to_string(),
                message: format!("{e:#}"),
            })
    }

    async fn nodes(&self) -> Vec<PeerId> {
        self.client
            .lock()
            .await
            .nodes
            .iter()
            .map(|(p, _)| *p)
            .collect()
    }
}

impl Remote<'_> {
    /// One PUT of `bytes` (hash `hash`) to `holder`, with `ticket` if any.
    async fn put(
        &self,
        holder: PeerId,
        hash: Hash,
        bytes: &[u8],
        ticket: Option<Ticket>,
    ) -> transfer::Result<()> {
        let put = BlockRequest::Put {
            block: bytes.to_vec(),
            ticket,
        };
        let answer = self.exchange(holder, vec![put]).await?;
        match answer.into_iter().next() {
            Some(BlockResponse::Stored(h)) if h == hash => Ok(()),
            Some(other) => Err(TransferError::unexpected(&holder, "PUT", other)),
            None => Err(TransferError::unexpected(
                &holder,
                "PUT",
                BlockResponse::NotFound(hash),
            )),
        }
    }

    /// `node`'s placement ticket for the shard `hash` of `len` bytes.
    async fn ticket(&self, node: PeerId, hash: Hash, len: usize) -> transfer::Result<Ticket> {
        let size = u32::try_from(len).unwrap_or(u32::MAX);
        let ask = BlockRequest::Ticket { shard: hash, size };
        match self.exchange(node, vec![ask]).await?.into_iter().next() {
            Some(BlockResponse::Ticket(ticket)) => Ok(ticket),
            Some(other) => Err(TransferError::unexpected(&node, "TICKET", other)),
            None => Err(TransferError::unexpected(
                &node,
                "TICKET",
                BlockResponse::NotFound(hash),
            )),
        }
    }

    /// One HAS or RENEW to `holder`: a flag for each of its `n` hashes.
    async fn flags(
        &self,
        holder: PeerId,
        request: BlockRequest,
        n: usize,
        what: &str,
    ) -> transfer::Result<(Vec<bool>, Storage)> {
        let answer = self.exchange(holder, vec![request]).await?;
        match answer.into_iter().next() {
            Some(BlockResponse::Have { flags, storage }) if flags.len() == n => {
                Ok((flags, storage))
            }
            Some(other) => Err(TransferError::unexpected(&holder, what, other)),
            None => Err(TransferError::unexpected(
                &holder,
                what,
                BlockResponse::have(vec![]),
            )),
        }
    }
}

impl ShardSource for Remote<'_> {
    type Holder = PeerId;

    async fn ready(&mut self) -> transfer::Result<()> {
        if let Some(key) = self.key {
            match self.client.get_mut().providers(key).await {
                Ok(peers) => self.found(peers),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "no provider lookup"),
            }
        }
        Ok(())
    }

    fn manifest_opened(&mut self, manifest: &format::Manifest) {
        self.found(crate::net::hinted_peers(manifest));
    }

    fn holders(&mut self) -> Vec<(PeerId, Reach)> {
        let client = self.client.get_mut();
        let nodes = client.nodes.iter().map(|(p, _)| *p);
        nodes
            .chain(self.browsers.iter().copied())
            .map(|p| (p, Reach::Partial))
            .collect()
    }

    async fn has(&self, holder: PeerId, hashes: &[Hash]) -> transfer::Result<Vec<bool>> {
        let asked = self.flags(
            holder,
            BlockRequest::Has(hashes.to_vec()),
            hashes.len(),
            "HAS",
        );
        Ok(asked.await?.0)
    }

    async fn fetch(&self, holder: PeerId, hashes: &[Hash]) -> transfer::Answers {
        let requests = hashes.iter().map(|h| BlockRequest::Get(*h)).collect();
        match self.exchange(holder, requests).await {
            Ok(answers) => answers
                .into_iter()
                .map(|a| block_answer(holder, a))
                .collect(),
            Err(e) => vec![Err(e); hashes.len()],
        }
    }
}

impl transfer::Auditor for Remote<'_> {
    async fn audit(
        &self,
        holder: PeerId,
        hash: Hash,
        range: crate::audit::ChunkRange,
    ) -> transfer::Result<Option<Vec<u8>>> {
        let answer = self
            .exchange(holder, vec![BlockRequest::Audit { hash, range }])
            .await?;
        match answer.into_iter().next() {
            Some(BlockResponse::Proof(proof)) => Ok(Some(proof)),
            Some(BlockResponse::NotFound(_)) => Ok(None),
            Some(other) => Err(TransferError::unexpected(&holder, "AUDIT", other)),
            None => Ok(None),
        }
    }
    async fn renew(&self, holder: PeerId, hashes: &[Hash]) -> transfer::Result<Vec<bool>> {
        let asked = self.flags(
            holder,
            BlockRequest::Renew(hashes.to_vec()),
            hashes.len(),
            "RENEW",
        );
        Ok(asked.await?.0)
    }
}

/// A GET's answer as the engine takes it.
fn block_answer(from: PeerId, answer: BlockResponse) -> transfer::Result<Option<Vec<u8>>> {
    match answer {
        BlockResponse::Block(bytes) => Ok(Some(bytes)),
        BlockResponse::NotFound(_) => Ok(None),
        other => Err(TransferError::unexpected(&from, "GET", other)),
    }
}

impl ShardSink for Remote<'_> {
    type Holder = PeerId;

    async fn ready(&mut self) -> transfer::Result<()> {
        Ok(())
    }

    async fn nodes(&mut self) -> Vec<PeerId> {
        Remote::nodes(self).await
    }

    async fn contributors(&mut self, anchor: Hash) -> Vec<(PeerId, Storage)> {
        let client = &self.client;
        let found = contributors::search(&anchor, |key| async move {
            let mut client = client.lock().await;
            client.lookup(key).await.unwrap_or_default()
        })
        .await;
        let nodes = Remote::nodes(self).await;
        let this = &*self;
        let asks = found
            .into_iter()
            .filter(|p| !nodes.contains(p))
            .map(|peer| async move {
                // An empty HAS says how it keeps what it holds.
                let asked = this.flags(peer, BlockRequest::Has(vec![]), 0, "HAS");
                let storage = asked.await.map_or(Storage::Evictable, |(_, s)| s);
                (peer, storage)
            });
        futures::future::join_all(asks).await
    }

    /// Browsers are named in the manifest (put.rs leaves the nodes out).
    fn hint(&self, holder: PeerId) -> Option<Vec<u8>> {
        Some(holder.to_bytes())
    }

    async fn store(&self, holder: PeerId, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        self.put(holder, hash, bytes, None).await
    }

    /// With a placement ticket from the first node.
    async fn store_copy(&self, holder: PeerId, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        let Some(node) = Remote::nodes(self).await.first().copied() else {
            return Err(TransferError::NotConnected(
                "no node to sign a placement ticket".into(),
            ));
        };
        let ticket = self.ticket(node, hash, bytes.len()).await?;
        self.put(holder, hash, bytes, Some(ticket)).await
    }

    async fn announce(&self, holders: &[PeerId], key: Hash) {
        for holder in holders {
            let answer = self
                .exchange(*holder, vec![BlockRequest::Provide(key)])
                .await;
            if !matches!(answer.as_deref(), Ok([BlockResponse::Stored(k)]) if *k == key) {
                tracing::warn!(%holder, "a node will not announce the file");
            }
        }
    }

    async fn keep(&self, holder: PeerId, cap: &format::RepairCap) -> transfer::Result<()> {
        let answer = self
            .exchange(holder, vec![BlockRequest::Keep(cap.clone())])
            .await?;
        match answer.into_iter().next() {
            Some(BlockResponse::Stored(h)) if h == cap.manifest => Ok(()),
            Some(other) => Err(TransferError::unexpected(&holder, "KEEP", other)),
            None => Err(TransferError::unexpected(
                &holder,
                "KEEP",
                BlockResponse::NotFound(cap.manifest),
            )),
        }
    }
}

/// The first plain TCP address (no WebSocket) among `addrs`.
fn tcp_addr<'a>(addrs: impl Iterator<Item = &'a String>) -> Option<Multiaddr> {
    addrs.filter_map(|a| a.parse::<Multiaddr>().ok()).find(|a| {
        let p: Vec<_> = a.iter().collect();
        matches!(p.get(1), Some(Protocol::Tcp(_)))
            && !a.iter().any(|x| matches!(x, Protocol::Ws(_)))
    })
}

/// A media type for `path`'s extension ([`format::type_for_name`]);
/// empty when unknown (the browser then offers the file as a download
/// only).
pub fn guess_type(path: &Path) -> &'static str {
    path.file_name()
        .map(|n| format::type_for_name(&n.to_string_lossy()))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::{guess_type, local_name};
    use std::path::Path;

    #[test]
    fn a_fetched_name_stays_in_the_directory_and_is_never_hidden() {
        assert_eq!(local_name("report.pdf"), "report.pdf");
        assert_eq!(local_name("../../etc/passwd"), "passwd");
        assert_eq!(local_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(local_name("/abs/path/x.bin"), "x.bin");
        assert_eq!(local_name(".bashrc"), "bashrc");
        assert_eq!(local_name("dir/..."), "meganet-download");
        assert_eq!(local_name(".."), "meganet-download");
        assert_eq!(local_name(""), "meganet-download");
        assert_eq!(local_name("a\u{0}b\nc"), "abc");
        assert_eq!(local_name(&"x".repeat(1000)).len(), 255);
        assert_eq!(local_name(&"é".repeat(200)).len(), 254);
    }

    #[test]
    fn a_type_from_the_file_name_not_its_folders() {
        assert_eq!(guess_type(Path::new("a.html/long.WAV")), "audio/wav");
        assert_eq!(guess_type(Path::new("site.css/notes")), "");
    }
}
