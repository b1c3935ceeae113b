//! The native command-line peer: `meganet put` and `meganet get`. A
//! short-lived libp2p peer that dials a node over TCP and speaks the same
//! block protocol and format as browsers, so files move between the two.

mod bootstrap;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, PeerId, Swarm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::format::{self, Decoder, Encoder, FileKey, Params, Reassembler};
use crate::hash::Hash;
use crate::net::block::{self, BlockCodec, BlockRequest, BlockResponse};

/// Segments fetched ahead of the one being written.
const WINDOW: u64 = 4;
/// How long to wait for the node to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Reports progress: `(bytes done, total)`.
pub type OnProgress<'a> = &'a mut dyn FnMut(u64, u64);

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

    async fn put_all(&mut self, blocks: Vec<Vec<u8>>) -> anyhow::Result<()> {
        let expected: Vec<Hash> = blocks.iter().map(|b| Hash::of(b)).collect();
        let answers = self
            .exchange(blocks.into_iter().map(BlockRequest::Put).collect())
            .await?;
        for (want, answer) in expected.iter().zip(answers) {
            match answer {
                BlockResponse::Stored(h) if h == *want => {}
                BlockResponse::Error { message, .. } => {
                    bail!("the node refused a shard: {message}")
                }
                other => bail!("unexpected answer to a PUT: {other:?}"),
            }
        }
        Ok(())
    }

    /// Encrypts, encodes and stores `path` as a file of type `mime`;
    /// returns the link.
    pub async fn put(
        &mut self,
        path: &Path,
        mime: &str,
        progress: OnProgress<'_>,
    ) -> anyhow::Result<format::Link> {
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        let total = file.metadata().await?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut encoder = Encoder::new(FileKey::random(), Params::default(), &name, mime)?;
        let mut buf = vec![0u8; format::READ_CHUNK];
        let mut done = 0u64;
        loop {
            let read = file
                .read(&mut buf)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            if read == 0 {
                break;
            }
            done += read as u64;
            for segment in encoder.push(&buf[..read])? {
                self.put_all(segment.shards.into_iter().map(|s| s.bytes).collect())
                    .await?;
                progress(done, total);
            }
        }
        let finished = encoder.finish()?;
        for segment in finished.segments {
            self.put_all(segment.shards.into_iter().map(|s| s.bytes).collect())
                .await?;
        }
        self.put_all(vec![finished.manifest_blob]).await?;
        progress(total, total);
        Ok(finished.link)
    }

    async fn get_block(&mut self, hash: Hash) -> anyhow::Result<Option<Vec<u8>>> {
        match self.exchange(vec![BlockRequest::Get(hash)]).await?.pop() {
            Some(BlockResponse::Block(b)) => Ok(Some(b)),
            Some(BlockResponse::NotFound(_)) => Ok(None),
            Some(BlockResponse::Error { message, .. }) => bail!("the node failed a GET: {message}"),
            other => bail!("unexpected answer to a GET: {other:?}"),
        }
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
        let manifest = self
            .get_block(link.manifest)
            .await?
            .context("file not found: the node does not hold it (it may have been removed, or the link is wrong)")?;
        let decoder = Decoder::open(&link, &manifest)?;
        let m = decoder.manifest();
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
        let mut r = Reassembler::new(&decoder, 0..size, WINDOW)?;
        let mut skip: HashSet<(u64, usize)> = HashSet::new();
        let mut done = 0u64;
        let result: anyhow::Result<()> = async {
            loop {
                while let Some(chunk) = r.next_chunk()? {
                    file.write_all(&chunk).await?;
                    done += chunk.len() as u64;
                    progress(done, size);
                }
                if r.is_done() {
                    return Ok(());
                }
                let plan = r.plan(&skip);
                if plan.is_empty() {
                    r.finish()?;
                    return Ok(());
                }
                let answers = self
                    .exchange(plan.iter().map(|(_, _, h)| BlockRequest::Get(*h)).collect())
                    .await?;
                for ((segment, shard, _), answer) in plan.into_iter().zip(answers) {
                    let added = match answer {
                        BlockResponse::Block(bytes) => {
                            matches!(r.add(segment, shard, bytes), Ok(true))
                        }
                        _ => false,
                    };
                    if !added {
                        skip.insert((segment, shard));
                    }
                }
            }
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        file.flush().await?;
        drop(file);
        tokio::fs::rename(&partial, &path).await?;
        Ok(path)
    }
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
