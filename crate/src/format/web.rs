//! The browser's input: a `ReadableStream` (`file.stream()`,
//! `blob.stream()`, a fetch body) as a `futures::io::AsyncRead`, so it
//! goes through the same encode loop as a native file
//! ([`super::encode_reader`]) and a file larger than memory streams
//! through.

use futures::io::AsyncRead;
use futures::{StreamExt as _, TryStreamExt as _};
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use web_sys::ReadableStream;

/// Reads `stream` chunk by chunk; a chunk that is not bytes, or a stream
/// that errors, fails the read with a message saying so.
pub fn read_stream(stream: ReadableStream) -> impl AsyncRead + Unpin {
    let stream = wasm_streams::ReadableStream::from_raw(stream.unchecked_into());
    let chunks = stream
        .into_stream()
        .map(|chunk| {
            let chunk = chunk.map_err(|e| {
                let text = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .or_else(|| e.as_string())
                    .unwrap_or_else(|| format!("{e:?}"));
                std::io::Error::other(format!("reading the file failed: {text}"))
            })?;
            let bytes: Uint8Array = chunk.dyn_into().map_err(|_| {
                std::io::Error::other("the stream yielded something other than bytes")
            })?;
            Ok(bytes.to_vec())
        })
        .into_async_read();
    Box::pin(chunks)
}
