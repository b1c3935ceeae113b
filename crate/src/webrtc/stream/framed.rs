//! The channel under a stream, as whole messages: reads one message at a
//! time (never a byte past it, so memory stays at one message), and writes
//! each encoded message with its own `poll_write` so a data channel sends
//! it as one data-channel message.
//!
//! A stream's reading half and writing half may be polled by different
//! tasks (`futures::io::split`), and both read the channel: the reader for
//! data, the writer for the flags that end its wait (`FIN_ACK`,
//! `STOP_SENDING`, `RESET`). The channel keeps one waker per direction, so
//! it is always handed a waker that wakes both tasks; otherwise one task
//! could take a message the other was waiting for without waking it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::{waker_ref, ArcWake, AtomicWaker};
use futures::{ready, AsyncRead, AsyncWrite};

use super::message::{encode, Flag, Frame, Prefix};

/// Which half of the stream is polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reader,
    Writer,
}

#[derive(Default)]
struct Wakers {
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl ArcWake for Wakers {
    fn wake_by_ref(this: &Arc<Self>) {
        this.reader.wake();
        this.writer.wake();
    }
}

/// Progress through the message being received.
enum Inbound {
    Prefix(Prefix),
    Body { buf: Vec<u8>, filled: usize },
}

/// A channel read and written in whole messages.
pub struct Framed<T> {
    io: T,
    wakers: Arc<Wakers>,
    inbound: Inbound,
    /// The encoded message being written, and how much of it was.
    outbound: Vec<u8>,
    written: usize,
}

impl<T> Framed<T> {
    pub fn new(io: T) -> Self {
        Self {
            io,
            wakers: Arc::default(),
            inbound: Inbound::Prefix(Prefix::default()),
            outbound: Vec::new(),
            written: 0,
        }
    }

    /// Queues a message; the queue holds one, so drain it first.
    pub fn enqueue(&mut self, flag: Option<Flag>, data: &[u8]) {
        debug_assert!(self.is_drained());
        encode(&mut self.outbound, flag, data);
    }

    /// Whether every queued byte reached the channel.
    pub fn is_drained(&self) -> bool {
        self.outbound.is_empty()
    }

    /// The queued bytes not yet written, for the drop listener to finish.
    pub fn take_unsent(&mut self) -> Vec<u8> {
        let mut unsent = std::mem::take(&mut self.outbound);
        unsent.drain(..self.written);
        self.written = 0;
        unsent
    }

    /// Wakes whichever task polls as `role`: the other half changed
    /// something it may be waiting for.
    pub fn wake(&self, role: Role) {
        match role {
            Role::Reader => self.wakers.reader.wake(),
            Role::Writer => self.wakers.writer.wake(),
        }
    }

    /// Registers the caller and returns the shared waker for the channel.
    fn register(&self, cx: &Context<'_>, role: Role) -> Arc<Wakers> {
        match role {
            Role::Reader => self.wakers.reader.register(cx.waker()),
            Role::Writer => self.wakers.writer.register(cx.waker()),
        }
        self.wakers.clone()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Framed<T> {
    /// The next message; `None` once the channel ended cleanly between
    /// messages.
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        role: Role,
    ) -> Poll<io::Result<Option<Frame>>> {
        let wakers = self.register(cx, role);
        let waker = waker_ref(&wakers);
        let cx = &mut Context::from_waker(&waker);
        loop {
            match &mut self.inbound {
                Inbound::Prefix(prefix) => {
                    let mut byte = [0u8];
                    if ready!(Pin::new(&mut self.io).poll_read(cx, &mut byte))? == 0 {
                        if prefix.is_empty() {
                            return Poll::Ready(Ok(None));
                        }
                        return Poll::Ready(Err(cut_short()));
                    }
                    if let Some(len) = prefix.push(byte[0])? {
                        self.inbound = Inbound::Body {
                            buf: vec![0; len],
                            filled: 0,
                        };
                    }
                }
                Inbound::Body { buf, filled } if *filled < buf.len() => {
                    let n = ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf[*filled..]))?;
                    if n == 0 {
                        return Poll::Ready(Err(cut_short()));
                    }
                    *filled += n;
                }
                Inbound::Body { buf, .. } => {
                    let body = std::mem::take(buf);
                    self.inbound = Inbound::Prefix(Prefix::default());
                    return Poll::Ready(Ok(Some(Frame::decode(body)?)));
                }
            }
        }
    }

    /// Writes out the queued message. A channel that takes part of it gets
    /// the rest on the next call, so the byte stream stays intact.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>, role: Role) -> Poll<io::Result<()>> {
        let wakers = self.register(cx, role);
        let waker = waker_ref(&wakers);
        let cx = &mut Context::from_waker(&waker);
        while self.written < self.outbound.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outbound[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.outbound.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Drains the queue and flushes the channel.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>, role: Role) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx, role))?;
        let wakers = self.register(cx, role);
        let waker = waker_ref(&wakers);
        Pin::new(&mut self.io).poll_flush(&mut Context::from_waker(&waker))
    }
}

fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "data channel ended inside a message",
    )
}
