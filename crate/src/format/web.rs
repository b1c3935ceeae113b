//! The browser's input: a `ReadableStream` (`file.stream()`,
//! `blob.stream()`, a fetch body) fed to the encoder chunk by chunk, so a
//! file larger than memory streams through.

use std::future::Future;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader};

use super::encoder::{EncodedSegment, Encoder, Finished};
use super::error::{FormatError, Result};
use super::stream::READ_CHUNK;

fn io(what: &str, e: JsValue) -> FormatError {
    FormatError::Io(format!(
        "{what}: {}",
        e.as_string().unwrap_or_else(|| format!("{e:?}"))
    ))
}

/// Encodes everything `stream` yields, awaiting `sink` for each sealed
/// segment. The stream is read at most [`READ_CHUNK`] bytes at a time into
/// wasm memory, whatever size of chunks the browser hands out.
pub async fn encode_readable_stream<S, F>(
    stream: ReadableStream,
    mut encoder: Encoder,
    mut sink: S,
) -> Result<Finished>
where
    S: FnMut(EncodedSegment) -> F,
    F: Future<Output = Result<()>>,
{
    let reader: ReadableStreamDefaultReader = stream
        .get_reader()
        .dyn_into()
        .map_err(|e| io("cannot read the stream", e.into()))?;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| io("reading the file failed", e))?;
        let done = Reflect::get(&result, &JsValue::from_str("done"))
            .map_err(|e| io("malformed stream result", e))?
            .as_bool()
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&result, &JsValue::from_str("value"))
            .map_err(|e| io("malformed stream result", e))?;
        let chunk: Uint8Array = value
            .dyn_into()
            .map_err(|_| FormatError::Io("the stream yielded something other than bytes".into()))?;
        let len = chunk.length();
        let mut offset = 0u32;
        while offset < len {
            let end = (offset + READ_CHUNK as u32).min(len);
            let piece = &mut buf[..(end - offset) as usize];
            chunk.subarray(offset, end).copy_to(piece);
            for segment in encoder.push(piece)? {
                sink(segment).await?;
            }
            offset = end;
        }
    }
    reader.release_lock();
    let finished = encoder.finish()?;
    for segment in &finished.segments {
        sink(segment.clone()).await?;
    }
    Ok(finished)
}
