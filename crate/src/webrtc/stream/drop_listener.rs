//! Says a dropped stream's last word.
//!
//! A stream cannot write while being dropped, so on drop it hands its
//! listener the bytes still owed to the remote: the unsent rest of a
//! message it had begun (a message cut short would garble every one after
//! it), then a `RESET` if its sending half was never closed, or a `FIN_ACK`
//! it still owed, each with its own write. The listener, driven by the
//! connection, writes them out on its own handle of the channel and
//! completes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::{ready, AsyncWrite, FutureExt};

use super::message::{encode, Flag};

/// Completes once its stream is dropped and the remote was told what it
/// must know (see the module docs).
#[must_use = "a stream dropped without closing resets only once its listener is polled"]
pub struct DropListener<T> {
    io: T,
    state: Listening,
}

enum Listening {
    /// The stream is alive.
    Waiting(oneshot::Receiver<Vec<Vec<u8>>>),
    /// Writing what the stream left, one write per piece.
    Sending {
        pieces: std::vec::IntoIter<Vec<u8>>,
        piece: Vec<u8>,
        written: usize,
    },
    Flushing,
    Done,
}

impl<T> DropListener<T> {
    pub(super) fn new(io: T, last_words: oneshot::Receiver<Vec<Vec<u8>>>) -> Self {
        Self {
            io,
            state: Listening::Waiting(last_words),
        }
    }
}

impl<T: AsyncWrite + Unpin> Future for DropListener<T> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                Listening::Waiting(rx) => {
                    let pieces = match ready!(rx.poll_unpin(cx)) {
                        Ok(pieces) => pieces,
                        // The stream vanished without saying (it always
                        // says when dropped): assume the worst.
                        Err(oneshot::Canceled) => {
                            let mut reset = Vec::new();
                            encode(&mut reset, Some(Flag::Reset), &[]);
                            vec![reset]
                        }
                    };
                    this.state = if pieces.is_empty() {
                        Listening::Done
                    } else {
                        Listening::Sending {
                            pieces: pieces.into_iter(),
                            piece: Vec::new(),
                            written: 0,
                        }
                    };
                }
                Listening::Sending {
                    pieces,
                    piece,
                    written,
                } => {
                    if *written < piece.len() {
                        let n = ready!(Pin::new(&mut this.io).poll_write(cx, &piece[*written..]))?;
                        if n == 0 {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                        }
                        *written += n;
                    } else if let Some(next) = pieces.next() {
                        *piece = next;
                        *written = 0;
                    } else {
                        this.state = Listening::Flushing;
                    }
                }
                Listening::Flushing => {
                    ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                    this.state = Listening::Done;
                }
                Listening::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}
