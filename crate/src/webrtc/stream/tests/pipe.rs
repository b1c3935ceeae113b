//! An in-memory stand-in for a data channel: two ends, each write one
//! message (at most [`MAX_MSG_LEN`] bytes, like `channel.rs`), reads a byte
//! stream over the messages, clones share the end. Tests can see each
//! message as sent, cap how much one write takes, and close the channel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::{AsyncRead, AsyncWrite};

use super::super::MAX_MSG_LEN;

#[derive(Default)]
struct Direction {
    messages: VecDeque<Vec<u8>>,
    /// Bytes of the front message already read.
    read: usize,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Shared {
    /// Index 0 carries what end `a` writes, 1 what `b` writes.
    directions: [Direction; 2],
    closed: bool,
    /// Most bytes one write takes (a channel with partial writes).
    write_cap: Option<usize>,
}

/// One end of the pipe.
#[derive(Clone)]
pub struct End {
    shared: Rc<RefCell<Shared>>,
    side: usize,
}

/// Two connected ends.
pub fn pair() -> (End, End) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let a = End {
        shared: shared.clone(),
        side: 0,
    };
    (a, End { shared, side: 1 })
}

impl End {
    /// Closes the channel for both ends, like `RTCDataChannel.close()`:
    /// reads end after what is buffered, writes fail.
    pub fn close(&self) {
        let mut s = self.shared.borrow_mut();
        s.closed = true;
        for d in &mut s.directions {
            if let Some(w) = d.waker.take() {
                w.wake();
            }
        }
    }

    /// Limits every later write (of either end) to `cap` bytes.
    pub fn cap_writes(&self, cap: usize) {
        self.shared.borrow_mut().write_cap = Some(cap);
    }

    /// Takes the whole messages that arrived at this end and are unread.
    pub fn take_messages(&self) -> Vec<Vec<u8>> {
        let mut s = self.shared.borrow_mut();
        let d = &mut s.directions[1 - self.side];
        assert_eq!(d.read, 0, "a message was partly read");
        d.messages.drain(..).collect()
    }

    /// Sends raw bytes as one message.
    pub fn send_raw(&self, bytes: &[u8]) {
        let mut s = self.shared.borrow_mut();
        let d = &mut s.directions[self.side];
        d.messages.push_back(bytes.to_vec());
        if let Some(w) = d.waker.take() {
            w.wake();
        }
    }
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        let closed = s.closed;
        let d = &mut s.directions[1 - self.side];
        let Some(front) = d.messages.front() else {
            if closed {
                return Poll::Ready(Ok(0));
            }
            d.waker = Some(cx.waker().clone());
            return Poll::Pending;
        };
        let n = buf.len().min(front.len() - d.read);
        buf[..n].copy_from_slice(&front[d.read..d.read + n]);
        d.read += n;
        if d.read == front.len() {
            d.messages.pop_front();
            d.read = 0;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        if s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = buf
            .len()
            .min(MAX_MSG_LEN)
            .min(s.write_cap.unwrap_or(usize::MAX));
        let d = &mut s.directions[self.side];
        d.messages.push_back(buf[..n].to_vec());
        if let Some(w) = d.waker.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.borrow().closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}
