//! Two small stream protocols for checking and measuring a connection:
//! `/meganet/echo/1.0.0` sends back what it receives, `/meganet/sink/1.0.0`
//! swallows a byte stream and answers with its length. The network check
//! and the benchmarks use them. They pass through the contribution gate:
//! served only while this peer contributes and serves (a stream is reset
//! otherwise), and every byte counts against the remote's per-peer
//! allowance, as shard bytes do.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use libp2p_stream::Control;

use super::contribute;
use super::gate::SharedGate;

pub const ECHO: StreamProtocol = StreamProtocol::new("/meganet/echo/1.0.0");
pub const SINK: StreamProtocol = StreamProtocol::new("/meganet/sink/1.0.0");

/// Most bytes one echo or sink stream may carry.
pub const MAX_PROBE_BYTES: u64 = 1 << 30;
/// Most probe streams served at once; more are reset.
const MAX_SERVED: usize = 16;
/// Write size of the sink client.
const CHUNK: usize = 64 * 1024;

/// Serves both probes for as long as the page lives, through the gate.
pub fn serve(control: &Control, contribution: &contribute::Shared, gate: &SharedGate) {
    for (protocol, sink) in [(ECHO, false), (SINK, true)] {
        let Ok(incoming) = control.clone().accept(protocol) else {
            tracing::error!("probe protocol already registered");
            continue;
        };
        let (contribution, gate) = (contribution.clone(), gate.clone());
        crate::platform::spawn(async move {
            incoming
                .for_each_concurrent(MAX_SERVED, |(peer, stream)| {
                    let (contribution, gate) = (contribution.clone(), gate.clone());
                    async move {
                        let contributing = contribution.borrow().is_some();
                        if let Err(why) = gate.borrow().admit_stream(contributing) {
                            tracing::debug!(%peer, "probe refused: {why}");
                            return; // dropping the stream resets it
                        }
                        let granted = gate.borrow_mut().reserve(peer, MAX_PROBE_BYTES);
                        if granted == 0 {
                            tracing::debug!(%peer, "probe refused: allowance used up");
                            return;
                        }
                        let (used, result) = serve_probe(stream, granted, sink).await;
                        if let Err(e) = result {
                            tracing::debug!("probe stream ended: {e}");
                        }
                        gate.borrow_mut().refund(peer, granted.saturating_sub(used));
                    }
                })
                .await;
        });
    }
}

/// Echoes (or, for the sink, swallows and then counts) at most `limit`
/// bytes. Returns how many were received, also when the stream failed
/// part way: they count against the remote's allowance either way.
async fn serve_probe(stream: libp2p::Stream, limit: u64, sink: bool) -> (u64, std::io::Result<()>) {
    let (reader, mut writer) = stream.split();
    let mut reader = reader.take(limit);
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0u64;
    let result = async {
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            received += n as u64;
            if !sink {
                writer.write_all(&buf[..n]).await?;
            }
        }
        if sink {
            writer.write_all(&received.to_be_bytes()).await?;
        }
        writer.close().await
    }
    .await;
    (received, result)
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
    let stream = within(open(control, peer, ECHO), "echo: the stream to open").await??;
    let (mut reader, mut writer) = stream.split();
    let sent = std::cell::Cell::new(false);
    let send = async {
        writer.write_all(data).await?;
        sent.set(true);
        writer.close().await
    };
    let mut back = Vec::with_capacity(data.len());
    let mut limited = (&mut reader).take(data.len() as u64 + 1);
    let receive = limited.read_to_end(&mut back);
    let exchange = futures::future::join(send, receive);
    let Ok((sent_result, received)) = within(exchange, "echo: the answer").await else {
        return Err(format!(
            "echo to {peer}: no answer within {} s (data {}, {} bytes back)",
            PROBE_LIMIT.as_secs(),
            if sent.get() { "sent" } else { "not all sent" },
            back.len()
        ));
    };
    sent_result.map_err(|e| format!("echo send failed: {e}"))?;
    received.map_err(|e| format!("echo receive failed: {e}"))?;
    Ok(back)
}

/// Longest an echo's stream may take to open, and its answer to come: a
/// probe that hangs is a bug to be named, not waited out.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `step` within [`PROBE_LIMIT`], or an error naming `what`.
async fn within<T>(step: impl std::future::Future<Output = T>, what: &str) -> Result<T, String> {
    use futures::FutureExt;
    futures::select! {
        out = step.fuse() => Ok(out),
        () = crate::platform::sleep(PROBE_LIMIT).fuse() => {
            Err(format!("{what} did not come within {} s", PROBE_LIMIT.as_secs()))
        }
    }
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
