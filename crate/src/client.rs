//! The native command-line peer: `meganet put` and `meganet get`. A
//! short-lived libp2p peer that dials a node over TCP and speaks the same
//! block protocol and format as browsers, so files move between the two.
//! The node is the transfer engine's only holder ([`Remote`]).

mod bootstrap;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use futures::lock::Mutex;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, PeerId, Swarm};
use tokio::io::AsyncWriteExt;

use crate::format;
use crate::hash::Hash;
use crate::net::block::{self, BlockCodec, BlockRequest, BlockResponse};
use crate::transfer::{self, Reach, ShardSink, ShardSource, TransferError};

/// Segments fetched ahead of the one being written.
const WINDOW: u64 = 4;
/// How long to wait for the node to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Reports progress: `(bytes done, total)`.
pub type OnProgress<'a> = &'a dyn Fn(u64, u64);

/// A connection to one node.
pub struct Client {
    swarm: Swarm<request_response::Behaviour<BlockCodec>>,
    node: PeerId,
}

impl Client {
    /// Reads the node's `/bootstrap.json` at `node_url` and dials its TCP address.
    pub async fn connect(node_url: &str) -> anyhow::Result<Self> {
        let doc = bootstrap::fetch(node_url).await?;
        let node: PeerId = doc
            .peer_id
            .parse()
            .context("the node sent an invalid peer id")?;
        let addr = doc
            .addrs
            .iter()
            .filter_map(|a| a.parse::<libp2p::Multiaddr>().ok())
            .find(|a| {
                use libp2p::multiaddr::Protocol;
                let p: Vec<_> = a.iter().collect();
                matches!(p.get(1), Some(Protocol::Tcp(_)))
                    && !a.iter().any(|x| matches!(x, Protocol::Ws(_)))
            })
            .context("the node offers no TCP address")?;
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|_| block::behaviour(ProtocolSupport::Outbound))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm
            .dial(addr.clone())
            .with_context(|| format!("cannot dial {addr}"))?;
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == node => {
                        return Ok(())
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        bail!("cannot connect to the node at {addr}: {error}")
                    }
                    _ => {}
                }
            }
        })
        .await;
        connected.context("timed out connecting to the node")??;
        Ok(Self { swarm, node })
    }

    /// Sends `requests` at once and waits for every answer, in order.
    async fn exchange(
        &mut self,
        requests: Vec<BlockRequest>,
    ) -> anyhow::Result<Vec<BlockResponse>> {
        let ids: Vec<OutboundRequestId> = requests
            .into_iter()
            .map(|r| self.swarm.behaviour_mut().send_request(&self.node, r))
            .collect();
        let mut answers: Vec<Option<BlockResponse>> = vec![None; ids.len()];
        let mut left = ids.len();
        while left > 0 {
            match self.swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) => {
                    if let Some(i) = ids.iter().position(|id| *id == request_id) {
                        answers[i] = Some(response);
                        left -= 1;
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    request_id,
                    error,
                    ..
                }) if ids.contains(&request_id) => {
                    bail!("block request failed: {error}")
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. } if peer_id == self.node => {
                    bail!("the node closed the connection: {cause:?}")
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
        let mut sink = Remote(Mutex::new(self));
        let link = transfer::put(&mut sink, reader, &input, &|p| progress(p.done, p.total)).await?;
        Ok(link)
    }

    /// Fetches the file `link` names into `out` (default: its own name in
    /// the current directory); returns the path written.
    pub async fn get(
        &mut self,
        link: &str,
        out: Option<&Path>,
        progress: OnProgress<'_>,
    ) -> anyhow::Result<std::path::PathBuf> {
        let link: format::Link = link.parse()?;
        let config = transfer::Config {
            window: WINDOW,
            ..transfer::Config::default()
        };
        let source = Remote(Mutex::new(self));
        let mut getter = transfer::Getter::open(source, &link, None, config, None).await?;
        let m = getter.manifest();
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let name = Path::new(&m.name).file_name().map(|n| n.to_owned());
                std::path::PathBuf::from(name.unwrap_or_else(|| "meganet-download".into()))
            }
        };
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
        tokio::fs::rename(&partial, &path).await?;
        Ok(path)
    }
}

/// The one holder the CLI knows: its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node;

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("node")
    }
}

/// The node as the transfer engine's source and sink. One request batch
/// at a time goes through the client (the lock), which is all a single
/// holder ever asks for.
struct Remote<'a>(Mutex<&'a mut Client>);

impl Remote<'_> {
    async fn exchange(&self, requests: Vec<BlockRequest>) -> transfer::Result<Vec<BlockResponse>> {
        let mut client = self.0.lock().await;
        client
            .exchange(requests)
            .await
            .map_err(|e| TransferError::Unreachable {
                holder: Node.to_string(),
                message: format!("{e:#}"),
            })
    }
}

impl ShardSource for Remote<'_> {
    type Holder = Node;

    fn holders(&mut self) -> Vec<(Node, Reach)> {
        vec![(Node, Reach::Full)]
    }

    async fn fetch(&self, _holder: Node, hashes: &[Hash]) -> transfer::Answers {
        let requests = hashes.iter().map(|h| BlockRequest::Get(*h)).collect();
        match self.exchange(requests).await {
            Ok(answers) => answers.into_iter().map(block_answer).collect(),
            Err(e) => vec![Err(e); hashes.len()],
        }
    }
}

/// A GET's answer as the engine takes it.
fn block_answer(answer: BlockResponse) -> transfer::Result<Option<Vec<u8>>> {
    match answer {
        BlockResponse::Block(bytes) => Ok(Some(bytes)),
        BlockResponse::NotFound(_) => Ok(None),
        other => Err(TransferError::unexpected(&Node, "GET", other)),
    }
}

impl ShardSink for Remote<'_> {
    type Holder = Node;

    async fn ready(&mut self) -> transfer::Result<()> {
        Ok(())
    }

    fn required(&self) -> Node {
        Node
    }

    async fn contributors(&mut self) -> Vec<Node> {
        Vec::new()
    }

    async fn store(&self, _holder: Node, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        let answer = self
            .exchange(vec![BlockRequest::Put(bytes.to_vec())])
            .await?;
        match answer.into_iter().next() {
            Some(BlockResponse::Stored(h)) if h == hash => Ok(()),
            Some(other) => Err(TransferError::unexpected(&Node, "PUT", other)),
            None => Err(TransferError::unexpected(
                &Node,
                "PUT",
                BlockResponse::NotFound(hash),
            )),
        }
    }

    async fn announce(&self, _holders: &[Node], _key: Hash) {}
}

/// A media type for common file name extensions; empty when unknown (the
/// browser then offers the file as a download only).
pub fn guess_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "webm" => "video/webm",
        "mp4" | "m4v" => "video/mp4",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::guess_type;
    use std::path::Path;

    #[test]
    fn types_from_extensions() {
        assert_eq!(guess_type(Path::new("a/long.WAV")), "audio/wav");
        assert_eq!(guess_type(Path::new("clip.webm")), "video/webm");
        assert_eq!(guess_type(Path::new("notes")), "");
        assert_eq!(guess_type(Path::new("archive.tar.xz")), "");
    }
}
