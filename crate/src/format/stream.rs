//! Async adapters over `futures::io`, so the same code serves a native file
//! (`AsyncRead`) and, through a small bridge, a browser `ReadableStream`.
//! Memory stays bounded: one read chunk plus the encoder's two segments on
//! the way in; the reassembler's window on the way out.

use std::collections::HashSet;
use std::future::Future;

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::decoder::Reassembler;
use super::encoder::{EncodedSegment, Encoder, Finished};
use super::error::{FormatError, Result};
use crate::hash::Hash;

/// Bytes read from the input at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// Encodes everything `reader` yields, handing each segment to `sink` as
/// soon as it is sealed (awaiting it, so a slow sink slows the reader).
pub async fn encode_reader<R, S, F>(
    mut reader: R,
    mut encoder: Encoder,
    mut sink: S,
) -> Result<Finished>
where
    R: AsyncRead + Unpin,
    S: FnMut(EncodedSegment) -> F,
    F: Future<Output = Result<()>>,
{
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let read = reader
            .read(&mut buf)
            .await
            .map_err(|e| FormatError::Io(e.to_string()))?;
        if read == 0 {
            break;
        }
        for segment in encoder.push(&buf[..read])? {
            sink(segment).await?;
        }
    }
    let finished = encoder.finish()?;
    for segment in &finished.segments {
        sink(segment.clone()).await?;
    }
    Ok(finished)
}

/// Drives `reassembler` to the end: asks `fetch` for each wanted shard
/// (`None`: not available) and writes plaintext to `writer` in order.
/// Returns the number of bytes written.
pub async fn decode_to_writer<W, G, F>(
    mut reassembler: Reassembler,
    mut fetch: G,
    mut writer: W,
) -> Result<u64>
where
    W: AsyncWrite + Unpin,
    G: FnMut(u64, usize, Hash) -> F,
    F: Future<Output = Option<Vec<u8>>>,
{
    let mut written = 0u64;
    // Positions that could not be fetched (or were not needed) this run.
    let mut skipped: HashSet<(u64, usize)> = HashSet::new();
    loop {
        while let Some(chunk) = reassembler.next_chunk()? {
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| FormatError::Io(e.to_string()))?;
            written += chunk.len() as u64;
        }
        if reassembler.is_done() {
            break;
        }
        let next = reassembler
            .wanted()
            .into_iter()
            .find(|(segment, shard, _)| !skipped.contains(&(*segment, *shard)));
        let Some((segment, shard, hash)) = next else {
            reassembler.finish()?;
            break;
        };
        let added = match fetch(segment, shard, hash).await {
            Some(bytes) => reassembler.add(segment, shard, bytes)?,
            None => false,
        };
        if !added {
            skipped.insert((segment, shard));
        }
    }
    writer
        .flush()
        .await
        .map_err(|e| FormatError::Io(e.to_string()))?;
    Ok(written)
}
