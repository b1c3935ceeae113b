//! The accept loop of one TLS port: accept, finish the handshake, read
//! the request head, and hand the connection to the HTTP server or to
//! libp2p ([`super::transport::Inbound`]). The head is read again by
//! whoever takes the connection ([`Replay`]).
//!
//! Every connection gets [`HANDSHAKE_TIMEOUT`] to finish its handshake
//! and send its head, at most [`MAX_HEAD`] bytes of it are read, and at
//! most [`MAX_PENDING`] connections are in that state at once: a client
//! that opens connections and says nothing holds one slot each, for a
//! few seconds.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use futures_rustls::rustls::ServerConfig;
use futures_rustls::TlsAcceptor;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt as _, TokioAsyncReadCompatExt as _};

/// Time to finish the handshake and send the request head.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest request head read to route a connection.
pub const MAX_HEAD: usize = 16 * 1024;

/// Connections between accept and routing at once.
pub const MAX_PENDING: usize = 256;

/// Connections routed but not yet taken by the HTTP server or libp2p.
const QUEUE: usize = 64;

/// A decrypted connection whose first bytes were read, and are read again.
pub type Stream = Replay<futures_rustls::server::TlsStream<Compat<TcpStream>>>;

/// A routed connection and the address it came from.
pub struct Accepted {
    pub stream: Stream,
    pub remote: SocketAddr,
}

/// Where a port's connections go. `None` drops that kind.
pub struct Routes {
    /// Everything that is not a WebSocket upgrade.
    pub http: Option<mpsc::Sender<Accepted>>,
    /// WebSocket upgrades: libp2p's secure WebSocket.
    pub websocket: Option<mpsc::Sender<Accepted>>,
}

/// A queue of routed connections: the receiving end of a [`Routes`] field.
pub fn queue() -> (mpsc::Sender<Accepted>, mpsc::Receiver<Accepted>) {
    mpsc::channel(QUEUE)
}

/// Accepts on `listener` for as long as the node runs.
pub fn spawn(listener: TcpListener, config: Arc<ServerConfig>, routes: Routes) {
    let acceptor = TlsAcceptor::from(config);
    let routes = Arc::new(routes);
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    tokio::spawn(async move {
        loop {
            let Ok(slot) = pending.clone().acquire_owned().await else {
                return;
            };
            let (tcp, remote) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait, as axum does.
                    tracing::warn!(error = %e, "TLS port: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, routes) = (acceptor.clone(), routes.clone());
            tokio::spawn(async move {
                let routed = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
                    let stream = acceptor.accept(tcp.compat()).await?;
                    let (stream, upgrade) = if routes.http.is_some() && routes.websocket.is_some() {
                        read_head(stream).await?
                    } else {
                        (Replay::new(Vec::new(), stream), routes.websocket.is_some())
                    };
                    drop(slot);
                    let route = if upgrade {
                        &routes.websocket
                    } else {
                        &routes.http
                    };
                    if let Some(route) = route {
                        let _ = route.send(Accepted { stream, remote }).await;
                    }
                    io::Result::Ok(())
                })
                .await;
                match routed {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS connection dropped"),
                    Err(_) => tracing::debug!(%remote, "TLS connection too slow to start"),
                }
            });
        }
    });
}

/// Reads until the end of the request head; says whether it asks for a
/// WebSocket.
async fn read_head<S: AsyncRead + Unpin>(mut stream: S) -> io::Result<(Replay<S>, bool)> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let upgrade = asks_for_websocket(&head[..end]);
            return Ok((Replay::new(head, stream), upgrade));
        }
        if head.len() >= MAX_HEAD {
            // Not ours to judge: the HTTP server answers it (431).
            return Ok((Replay::new(head, stream), false));
        }
    }
}

/// Whether a request head has `Upgrade: websocket`.
fn asks_for_websocket(head: &[u8]) -> bool {
    head.split(|b| *b == b'\n').skip(1).any(|line| {
        let line = String::from_utf8_lossy(line);
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("upgrade")
                && value
                    .split(',')
                    .any(|v| v.trim().eq_ignore_ascii_case("websocket"))
        })
    })
}

/// A stream whose first bytes were already read: they are read again.
pub struct Replay<S> {
    head: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Replay<S> {
    pub fn new(head: Vec<u8>, inner: S) -> Self {
        Self { head, at: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.at < this.head.len() {
            let n = buf.len().min(this.head.len() - this.at);
            buf[..n].copy_from_slice(&this.head[this.at..this.at + n]);
            this.at += n;
            if this.at == this.head.len() {
                this.head = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// The HTTP server's end of a [`Routes::http`] queue.
pub struct HttpListener {
    queue: mpsc::Receiver<Accepted>,
    local: SocketAddr,
}

impl HttpListener {
    pub fn new(queue: mpsc::Receiver<Accepted>, local: SocketAddr) -> Self {
        Self { queue, local }
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = Compat<Stream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.queue.recv().await {
            Some(a) => (a.stream.compat(), a.remote),
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_upgrade_header_naming_websocket_routes_to_libp2p() {
        let ws = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13";
        assert!(asks_for_websocket(ws));
        assert!(asks_for_websocket(
            b"GET / HTTP/1.1\r\nupgrade:  WebSocket "
        ));
        assert!(asks_for_websocket(
            b"GET / HTTP/1.1\r\nUpgrade: h2c, websocket"
        ));
        assert!(!asks_for_websocket(b"GET / HTTP/1.1\r\nHost: a"));
        assert!(!asks_for_websocket(b"GET / HTTP/1.1\r\nUpgrade: h2c"));
        assert!(!asks_for_websocket(
            b"GET /upgrade:websocket HTTP/1.1\r\nHost: a"
        ));
        assert!(!asks_for_websocket(
            b"GET / HTTP/1.1\r\nX-Upgrade: websocket"
        ));
    }

    #[test]
    fn the_head_is_read_again_then_the_rest() {
        futures::executor::block_on(async {
            let wire: &[u8] = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nafter";
            let (mut replay, upgrade) = read_head(wire).await.unwrap();
            assert!(upgrade);
            let mut all = Vec::new();
            replay.read_to_end(&mut all).await.unwrap();
            assert_eq!(all, wire);

            let endless = futures::io::repeat(b'a');
            let (_, upgrade) = read_head(endless).await.unwrap();
            assert!(!upgrade, "an endless head is cut at MAX_HEAD");
            let cut: &[u8] = b"GET / HTTP/1.1\r\n";
            assert!(read_head(cut).await.is_err());
        });
    }
}
