//! Two small stream protocols for checking and measuring a connection:
//! `/meganet/echo/1.0.0` sends back what it receives, `/meganet/sink/1.0.0`
//! swallows a byte stream and answers with its length. The network check
//! and the benchmarks use them; they are capped so they cost a serving peer
//! little.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use libp2p_stream::Control;

pub const ECHO: StreamProtocol = StreamProtocol::new("/meganet/echo/1.0.0");
pub const SINK: StreamProtocol = StreamProtocol::new("/meganet/sink/1.0.0");

/// Most bytes one echo or sink stream may carry.
pub const MAX_PROBE_BYTES: u64 = 1 << 30;
/// Most probe streams served at once; more are reset.
const MAX_SERVED: usize = 16;
/// Write size of the sink client.
const CHUNK: usize = 64 * 1024;

/// Serves both probes for as long as the page lives.
pub fn serve(control: &Control) {
    for (protocol, sink) in [(ECHO, false), (SINK, true)] {
        let Ok(incoming) = control.clone().accept(protocol) else {
            tracing::error!("probe protocol already registered");
            continue;
        };
        crate::platform::spawn(async move {
            incoming
                .for_each_concurrent(MAX_SERVED, |(_, stream)| async move {
                    let result = if sink {
                        serve_sink(stream).await
                    } else {
                        serve_echo(stream).await
                    };
                    if let Err(e) = result {
                        tracing::debug!("probe stream ended: {e}");
                    }
                })
                .await;
        });
    }
}

async fn serve_echo(stream: libp2p::Stream) -> std::io::Result<()> {
    let (reader, mut writer) = stream.split();
    futures::io::copy(reader.take(MAX_PROBE_BYTES), &mut writer).await?;
    writer.close().await
}

async fn serve_sink(stream: libp2p::Stream) -> std::io::Result<()> {
    let (reader, mut writer) = stream.split();
    let received =
        futures::io::copy(reader.take(MAX_PROBE_BYTES), &mut futures::io::sink()).await?;
    writer.write_all(&received.to_be_bytes()).await?;
    writer.close().await
}

async fn open(
    control: &Control,
    peer: PeerId,
    protocol: StreamProtocol,
) -> Result<libp2p::Stream, String> {
    control
        .clone()
        .open_stream(peer, protocol)
        .await
        .map_err(|e| format!("cannot open a stream to {peer}: {e}"))
}

/// Sends `data` and returns what came back.
pub async fn echo(control: &Control, peer: PeerId, data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() as u64 > MAX_PROBE_BYTES {
        return Err(format!("at most {MAX_PROBE_BYTES} bytes per echo"));
    }
    let (mut reader, mut writer) = open(control, peer, ECHO).await?.split();
    let send = async {
        writer.write_all(data).await?;
        writer.close().await
    };
    let mut back = Vec::with_capacity(data.len());
    let mut limited = (&mut reader).take(data.len() as u64 + 1);
    let receive = limited.read_to_end(&mut back);
    let (sent, received) = futures::join!(send, receive);
    sent.map_err(|e| format!("echo send failed: {e}"))?;
    received.map_err(|e| format!("echo receive failed: {e}"))?;
    Ok(back)
}

/// Streams `total` bytes to the remote sink; returns the count it confirms.
pub async fn sink(control: &Control, peer: PeerId, total: u64) -> Result<u64, String> {
    if total > MAX_PROBE_BYTES {
        return Err(format!("at most {MAX_PROBE_BYTES} bytes per sink"));
    }
    let (mut reader, mut writer) = open(control, peer, SINK).await?.split();
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut left = total;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        writer
            .write_all(&chunk[..n])
            .await
            .map_err(|e| format!("sink send failed: {e}"))?;
        left -= n as u64;
    }
    writer
        .close()
        .await
        .map_err(|e| format!("sink close failed: {e}"))?;
    let mut count = [0u8; 8];
    reader
        .read_exact(&mut count)
        .await
        .map_err(|e| format!("sink answer missing: {e}"))?;
    Ok(u64::from_be_bytes(count))
}
