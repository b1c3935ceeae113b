//! Closing a stream's halves.
//!
//! Closing the sending half (`poll_close`) queues `FIN` after any owed
//! `FIN_ACK`, then waits until the remote answers: its `FIN_ACK` (it has
//! everything we sent), `STOP_SENDING` or `RESET`, or the channel's end.
//! After [`CLOSE_TIMEOUT`](super::CLOSE_TIMEOUT) it stops waiting: the
//! close succeeds, but without the remote's word that all arrived. While
//! waiting it acknowledges a `FIN` the remote sent meanwhile, so two sides
//! closing at once do not wait for each other.
//!
//! Closing the receiving half (`poll_close_read`) sends `STOP_SENDING` and
//! drops unread data; a later `FIN` is still acknowledged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{ready, AsyncRead, AsyncWrite};

use super::framed::Role;
use super::message::Flag;
use super::state::{Receiving, Sending};
use super::{Stream, CLOSE_READ_AHEAD};

impl<T: AsyncRead + AsyncWrite + Unpin> Stream<T> {
    /// Closes the receiving half: tells the remote with `STOP_SENDING` and
    /// drops unread data; later reads fail with `BrokenPipe`.
    pub fn poll_close_read(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state.reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if this.state.ended {
            // Nothing more can arrive, and nothing can be sent.
            if this.state.recv == Receiving::Open {
                this.state.recv = Receiving::Stopped;
            }
            this.unread.clear();
            return Poll::Ready(Ok(()));
        }
        if this.state.recv == Receiving::Open {
            ready!(this.io.poll_drain(cx, Role::Reader))?;
            this.io.enqueue(Some(Flag::StopSending), &[]);
            this.state.recv = Receiving::Stopped;
            this.unread.clear();
            // The writer may wait to read a flag behind the dropped data.
            this.io.wake(Role::Writer);
        }
        ready!(this.poll_ack_fin(cx, Role::Reader))?;
        this.io.poll_flush(cx, Role::Reader)
    }

    /// Closes the sending half (see the module docs).
    pub(super) fn poll_close_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.state.send {
                Sending::Open => {
                    if self.state.reset {
                        return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                    }
                    self.state.send = if self.state.ended {
                        Sending::Closed
                    } else {
                        Sending::Closing
                    };
                }
                Sending::Closing => {
                    // The remote may have stopped reading or reset meanwhile.
                    self.read_arrived(cx, Role::Writer, 1);
                    if self.state.reset {
                        return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                    }
                    if self.state.send != Sending::Closing {
                        continue;
                    }
                    ready!(self.io.poll_drain(cx, Role::Writer))?;
                    ready!(self.poll_ack_fin(cx, Role::Writer))?;
                    ready!(self.io.poll_drain(cx, Role::Writer))?;
                    self.io.enqueue(Some(Flag::Fin), &[]);
                    self.state.send = Sending::FinSent;
                    self.close_timer = Some(Box::pin(crate::platform::sleep(self.close_timeout)));
                }
                Sending::FinSent => {
                    self.read_arrived(cx, Role::Writer, CLOSE_READ_AHEAD);
                    if self.state.send != Sending::FinSent {
                        continue;
                    }
                    if let Some(e) = self.broken_error() {
                        // No FIN_ACK can be read any more.
                        self.state.send = Sending::Closed;
                        return Poll::Ready(Err(e));
                    }
                    // A remote closing at the same time waits for our
                    // FIN_ACK as we wait for its.
                    if let Poll::Ready(Err(e)) = self.poll_ack_fin(cx, Role::Writer) {
                        return Poll::Ready(Err(e));
                    }
                    let timeout = self.close_timeout;
                    let timer = self
                        .close_timer
                        .get_or_insert_with(|| Box::pin(crate::platform::sleep(timeout)));
                    if timer.as_mut().poll(cx).is_ready() {
                        tracing::debug!("no FIN_ACK within {timeout:?}; closing without it");
                        self.state.send = Sending::Closed;
                        continue;
                    }
                    // Our FIN must be out for the remote to answer it.
                    ready!(self.io.poll_drain(cx, Role::Writer))?;
                    return Poll::Pending;
                }
                Sending::Closed => {
                    self.close_timer = None;
                    if self.state.reset || self.state.ended {
                        return Poll::Ready(Ok(()));
                    }
                    // Our half is closed; what follows is a courtesy. The
                    // remote may close the channel as soon as it has acked,
                    // which must not turn a completed close into an error.
                    let done = match self.poll_ack_fin(cx, Role::Writer) {
                        Poll::Ready(Ok(())) => ready!(self.io.poll_flush(cx, Role::Writer)),
                        Poll::Ready(Err(e)) => Err(e),
                        Poll::Pending => return Poll::Pending,
                    };
                    if let Err(e) = done {
                        tracing::debug!("flushing a closed stream failed: {e}");
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}
