//! Put and get through the node: a file becomes sealed shards that are PUT
//! one segment at a time (bounded memory); a link's manifest and shards are
//! fetched with GET, verified, rebuilt and decrypted.

use std::collections::HashSet;

use futures::channel::{mpsc, oneshot};
use futures::SinkExt;
use serde::Serialize;

use super::connection::Command;
use crate::format::{self, Decoder, Encoder, FileKey, Params, Reassembler};
use crate::hash::Hash;
use crate::net::block::{BlockRequest, BlockResponse};

/// Segments fetched ahead of the one being decoded.
const WINDOW: u64 = 4;

/// Sends block requests through the swarm driver.
#[derive(Clone)]
pub struct Blocks {
    tx: mpsc::Sender<Command>,
}

/// Progress of a put or get, as JavaScript sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `storing` or `fetching`, then `done`.
    pub stage: &'static str,
    /// Plaintext bytes done.
    pub done: u64,
    /// Plaintext bytes in all (unknown while reading a stream: 0).
    pub total: u64,
}

impl Blocks {
    pub fn new(tx: mpsc::Sender<Command>) -> Self {
        Self { tx }
    }

    async fn request(&self, request: BlockRequest) -> Result<BlockResponse, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .clone()
            .send(Command::Block { request, reply })
            .await
            .map_err(|_| "the peer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the peer has stopped".to_owned())?
    }

    /// Stores a block on the node; checks the node names it correctly.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<Hash, String> {
        let expected = Hash::of(&bytes);
        match self.request(BlockRequest::Put(bytes)).await? {
            BlockResponse::Stored(hash) if hash == expected => Ok(hash),
            BlockResponse::Error { message, .. } => {
                Err(format!("the node refused a shard: {message}"))
            }
            other => Err(format!("the node answered a PUT with {}", kind(&other))),
        }
    }

    /// Fetches a block; `None` when the node does not hold it. The caller
    /// verifies the bytes.
    pub async fn get(&self, hash: Hash) -> Result<Option<Vec<u8>>, String> {
        match self.request(BlockRequest::Get(hash)).await? {
            BlockResponse::Block(bytes) => Ok(Some(bytes)),
            BlockResponse::NotFound(_) => Ok(None),
            BlockResponse::Error { message, .. } => {
                Err(format!("the node failed a GET: {message}"))
            }
            other => Err(format!("the node answered a GET with {}", kind(&other))),
        }
    }
}

fn kind(response: &BlockResponse) -> &'static str {
    match response {
        BlockResponse::Stored(_) => "a PUT answer",
        BlockResponse::Block(_) => "a block",
        BlockResponse::Have(_) => "a HAS answer",
        BlockResponse::NotFound(_) => "not found",
        BlockResponse::Error { .. } => "an error",
    }
}

/// Encodes `stream` and stores every shard and the manifest; returns the link.
pub async fn put(
    blocks: &Blocks,
    stream: web_sys::ReadableStream,
    name: &str,
    mime: &str,
    total: u64,
    progress: &dyn Fn(Progress),
) -> Result<format::Link, String> {
    let encoder = Encoder::new(FileKey::random(), Params::default(), name, mime)
        .map_err(|e| e.to_string())?;
    let segment_size = u64::from(Params::default().segment_size);
    let mut done = 0u64;
    progress(Progress {
        stage: "storing",
        done,
        total,
    });
    let finished = format::encode_readable_stream(stream, encoder, |segment| {
        let blocks = blocks.clone();
        done = ((segment.index + 1) * segment_size).min(total.max(done));
        progress(Progress {
            stage: "storing",
            done,
            total,
        });
        async move {
            // All n shards of a segment in flight at once.
            let puts = segment.shards.into_iter().map(|s| blocks.put(s.bytes));
            futures::future::try_join_all(puts)
                .await
                .map_err(format::FormatError::Io)?;
            Ok(())
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    blocks.put(finished.manifest_blob).await?;
    let size = finished.manifest.size;
    progress(Progress {
        stage: "done",
        done: size,
        total: size,
    });
    Ok(finished.link)
}

/// A fetched file.
pub struct Fetched {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub parts: js_sys::Array,
}

/// Fetches, verifies and decrypts the file `link` names.
pub async fn get(
    blocks: &Blocks,
    link: &str,
    progress: &dyn Fn(Progress),
) -> Result<Fetched, String> {
    let link: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| e.to_string())?;
    let manifest = blocks
        .get(link.manifest)
        .await?
        .ok_or("file not found: no reachable peer holds it (it may have been removed, or the link is wrong)")?;
    let decoder = Decoder::open(&link, &manifest).map_err(|e| e.to_string())?;
    let size = decoder.manifest().size;
    let mut reassembler = Reassembler::new(&decoder, 0..size, WINDOW).map_err(|e| e.to_string())?;
    let parts = js_sys::Array::new();
    let mut done = 0u64;
    let mut skip: HashSet<(u64, usize)> = HashSet::new();
    let mut tampered: Option<String> = None;
    progress(Progress {
        stage: "fetching",
        done,
        total: size,
    });
    loop {
        while let Some(chunk) = reassembler.next_chunk().map_err(|e| e.to_string())? {
            done += chunk.len() as u64;
            parts.push(&js_sys::Uint8Array::from(chunk.as_slice()));
            progress(Progress {
                stage: "fetching",
                done,
                total: size,
            });
        }
        if reassembler.is_done() {
            break;
        }
        let plan = reassembler.plan(&skip);
        if plan.is_empty() {
            let err = reassembler.finish().map_err(|e| e.to_string()).err();
            let why = err.unwrap_or_else(|| "no shards left to try".into());
            return Err(match tampered {
                Some(t) => format!("{why}; a peer sent bad data: {t}"),
                None => why,
            });
        }
        let fetches = plan.iter().map(|(_, _, hash)| blocks.get(*hash));
        let results = futures::future::join_all(fetches).await;
        for ((segment, shard, _), result) in plan.into_iter().zip(results) {
            match result? {
                Some(bytes) => match reassembler.add(segment, shard, bytes) {
                    Ok(_) => {}
                    Err(e @ format::FormatError::ShardTampered { .. }) => {
                        // Drop the bad copy and try another shard.
                        tampered = Some(e.to_string());
                        skip.insert((segment, shard));
                    }
                    Err(e) => return Err(e.to_string()),
                },
                None => {
                    skip.insert((segment, shard));
                }
            }
        }
    }
    progress(Progress {
        stage: "done",
        done: size,
        total: size,
    });
    let m = decoder.manifest();
    Ok(Fetched {
        name: m.name.clone(),
        mime: m.mime.clone(),
        size,
        parts,
    })
}
