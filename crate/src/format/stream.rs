//! The encoder over `futures::io`, so the same code serves a native file
//! (`AsyncRead`) and, through [`super::web::read_stream`], a browser
//! `ReadableStream`. Memory stays bounded: one read batch (64 KiB, or a
//! segment per encoder worker) plus the segments it completes. (The way
//! back, shards to plaintext, is the transfer engine's getter.)

use std::future::Future;

use futures::io::{AsyncRead, AsyncReadExt};

use super::encoder::{EncodedSegment, Encoder, Finished};
use super::error::FormatError;

/// Bytes read from the input at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// Encodes everything `reader` yields, handing each segment to `sink` as
/// soon as it is sealed (awaiting it, so a slow sink slows the reader).
/// This is the one encode loop: native files and browser streams alike.
pub async fn encode_reader<R, S, F, E>(
    mut reader: R,
    mut encoder: Encoder,
    mut sink: S,
) -> Result<Finished, E>
where
    R: AsyncRead + Unpin,
    S: FnMut(EncodedSegment) -> F,
    F: Future<Output = Result<(), E>>,
    E: From<FormatError>,
{
    // With several workers, a push brings a segment for each.
    let mut buf = vec![0u8; READ_CHUNK.max(encoder.batch_len())];
    loop {
        let read = fill(&mut reader, &mut buf).await?;
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

/// Reads until `buf` is full or the input ends; how much was read.
async fn fill(reader: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> Result<usize, FormatError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) => return Err(FormatError::Io(e.to_string())),
        }
    }
    Ok(filled)
}
