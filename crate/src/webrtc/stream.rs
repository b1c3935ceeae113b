//! A libp2p stream over one data channel: the message framing and
//! half-close of libp2p/specs `webrtc/README.md` ("Multiplexing" and
//! "Closing an `RTCDataChannel`"), generic over the channel as a byte
//! stream so it runs and is tested natively.
//!
//! It replaces `libp2p-webrtc-utils`' `Stream`, which lacks `FIN_ACK`: a
//! js-libp2p peer's `FIN_ACK` failed our reads, and, never acknowledged,
//! its every close waited out a timeout.
//!
//! - Writes go out as messages of at most [`MAX_MSG_LEN`] bytes with the
//!   length prefix, one message per write to the channel.
//! - [`AsyncWrite::poll_close`] closes our sending half: it sends `FIN`,
//!   then waits for the remote's `FIN_ACK` (or its `STOP_SENDING` or
//!   `RESET`, the channel's end, or [`CLOSE_TIMEOUT`]).
//! - The remote's `FIN` ends reads once the data before it is read, and is
//!   answered with `FIN_ACK`. Its `STOP_SENDING` fails our writes
//!   (`BrokenPipe`); its `RESET` fails reads and writes (`ConnectionReset`).
//!   A channel that ends without the remote's `FIN` fails reads with
//!   `UnexpectedEof`: what came may be cut short.
//! - One received message at most waits for the reader; the next is read
//!   from the channel only once it is consumed. A close waiting for
//!   `FIN_ACK` reads ahead up to [`CLOSE_READ_AHEAD`] bytes to find it;
//!   behind more unread data it waits for the reader or the timeout.
//! - Dropped, the stream hands its [`DropListener`] a `RESET` if it was
//!   never closed (see `drop_listener`).
//!
//! The state of each half is in `state`; `close` closes the halves;
//! `framed` moves whole messages; [`message`] encodes and decodes them
//! (public, and compiled without the `net` feature too, for the `stream`
//! fuzz target); `unread` holds received data.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::oneshot;
use futures::{ready, AsyncRead, AsyncWrite};

mod close;
mod drop_listener;
mod framed;
pub mod message;
mod state;
// Native only: the tests drive streams with tokio.
#[cfg(all(test, not(wasm_browser)))]
mod tests;
mod unread;

pub use drop_listener::DropListener;
pub use message::{MAX_DATA_LEN, MAX_MSG_LEN};
pub use unread::CLOSE_READ_AHEAD;

use framed::{Framed, Role};
use message::Flag;
use state::{FinAck, Receiving, State};
use unread::Unread;

/// How long a close waits for the remote's `FIN_ACK`. js-libp2p's default.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream over the data channel `T` (cloned once, for the
/// [`DropListener`]).
pub struct Stream<T> {
    io: Framed<T>,
    state: State,
    /// Received data not yet read.
    unread: Unread,
    /// Why reading the channel failed; the framing is lost for good.
    broken: Option<(io::ErrorKind, String)>,
    close_timeout: Duration,
    close_timer: Option<Pin<Box<dyn Future<Output = ()>>>>,
    last_words: Option<oneshot::Sender<Vec<Vec<u8>>>>,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Clone> Stream<T> {
    /// Wraps a channel; the listener must be polled after the stream is
    /// dropped (see [`DropListener`]).
    pub fn new(channel: T) -> (Self, DropListener<T>) {
        let (tx, rx) = oneshot::channel();
        let listener = DropListener::new(channel.clone(), rx);
        let stream = Self {
            io: Framed::new(channel),
            state: State::default(),
            unread: Unread::default(),
            broken: None,
            close_timeout: CLOSE_TIMEOUT,
            close_timer: None,
            last_words: Some(tx),
        };
        (stream, listener)
    }
}

impl<T> Stream<T> {
    /// Sets how long a close waits for the remote's `FIN_ACK`.
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Whether both halves are done (or the stream was reset or its
    /// channel ended): the channel can be closed without either side
    /// losing anything it waits for.
    pub fn is_closed(&self) -> bool {
        self.state.is_closed() && self.io.is_drained()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Stream<T> {
    /// Whether the next message may be read: to drop its data when nobody
    /// will read it, or to keep it while fewer than `budget` unread bytes
    /// are held (1: only once everything was read).
    fn may_read(&self, budget: usize) -> bool {
        self.broken.is_none()
            && !self.state.reset
            && !self.state.ended
            && (!self.state.keeps_data() || self.unread.len() < budget)
    }

    /// Reads and applies one message. Call only when [`Self::may_read`].
    fn poll_next(&mut self, cx: &mut Context<'_>, role: Role) -> Poll<io::Result<()>> {
        match ready!(self.io.poll_frame(cx, role)) {
            Ok(Some(frame)) => {
                let flag = frame.flag;
                if self.state.keeps_data() {
                    self.unread.push(frame);
                }
                if let Some(flag) = flag {
                    self.state.on_flag(flag);
                    if flag == Flag::Reset {
                        // The spec lets us drop what the remote abandoned.
                        self.unread.clear();
                    }
                }
            }
            Ok(None) => self.state.on_end(),
            Err(e) => {
                self.broken = Some((e.kind(), e.to_string()));
                return Poll::Ready(Err(e));
            }
        }
        // The other half may wait for what this message brought.
        self.io.wake(match role {
            Role::Reader => Role::Writer,
            Role::Writer => Role::Reader,
        });
        Poll::Ready(Ok(()))
    }

    /// Reads what has arrived without waiting for more, so the writer learns
    /// of `STOP_SENDING`, `RESET` and `FIN_ACK`. Errors are kept for the
    /// reader.
    fn read_arrived(&mut self, cx: &mut Context<'_>, role: Role, budget: usize) {
        while self.may_read(budget) {
            if !matches!(self.poll_next(cx, role), Poll::Ready(Ok(()))) {
                break;
            }
        }
    }

    /// Queues an owed `FIN_ACK`; ready once nothing is owed.
    fn poll_ack_fin(&mut self, cx: &mut Context<'_>, role: Role) -> Poll<io::Result<()>> {
        if self.state.fin_ack == FinAck::Owed && !self.state.ended && !self.state.reset {
            ready!(self.io.poll_drain(cx, role))?;
            self.io.enqueue(Some(Flag::FinAck), &[]);
            self.state.fin_ack = FinAck::Sent;
        }
        Poll::Ready(Ok(()))
    }

    fn broken_error(&self) -> Option<io::Error> {
        let (kind, message) = self.broken.as_ref()?;
        Some(io::Error::new(*kind, message.clone()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if let Some(kind) = this.state.read_error() {
                return Poll::Ready(Err(kind.into()));
            }
            if !this.unread.is_empty() {
                let n = this.unread.read_into(buf);
                if n > 0 {
                    // A close may wait to read the remote's FIN_ACK.
                    this.io.wake(Role::Writer);
                }
                return Poll::Ready(Ok(n));
            }
            if this.state.recv == Receiving::Finished {
                // Acknowledge now; if the channel is busy, the next poll of
                // either half (or the drop listener) sends it.
                match this.poll_ack_fin(cx, Role::Reader) {
                    Poll::Ready(Ok(())) => {
                        if let Poll::Ready(Err(e)) = this.io.poll_drain(cx, Role::Reader) {
                            tracing::debug!("sending FIN_ACK failed: {e}");
                        }
                    }
                    Poll::Ready(Err(e)) => tracing::debug!("sending FIN_ACK failed: {e}"),
                    Poll::Pending => {}
                }
                return Poll::Ready(Ok(0));
            }
            if let Some(e) = this.broken_error() {
                return Poll::Ready(Err(e));
            }
            if this.state.ended {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "data channel closed before the remote's FIN",
                )));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            ready!(this.poll_next(cx, Role::Reader))?;
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.read_arrived(cx, Role::Writer, 1);
        if let Some(kind) = this.state.write_error() {
            return Poll::Ready(Err(kind.into()));
        }
        ready!(this.io.poll_drain(cx, Role::Writer))?;
        ready!(this.poll_ack_fin(cx, Role::Writer))?;
        ready!(this.io.poll_drain(cx, Role::Writer))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_DATA_LEN);
        this.io.enqueue(None, &buf[..n]);
        // Hand it over now; if the channel is busy, the next write or flush
        // finishes it.
        if let Poll::Ready(Err(e)) = this.io.poll_drain(cx, Role::Writer) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.io.poll_drain(cx, Role::Writer))?;
        ready!(this.poll_ack_fin(cx, Role::Writer))?;
        this.io.poll_flush(cx, Role::Writer)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_write(cx)
    }
}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        let Some(tx) = self.last_words.take() else {
            return;
        };
        let mut pieces = Vec::new();
        if !self.state.reset && !self.state.ended {
            let unsent = self.io.take_unsent();
            if !unsent.is_empty() {
                pieces.push(unsent);
            }
        }
        if let Some(flag) = self.state.last_word() {
            let mut piece = Vec::new();
            message::encode(&mut piece, Some(flag), &[]);
            pieces.push(piece);
        }
        let _ = tx.send(pieces);
    }
}
