//! Received data the reader has not taken yet.
//!
//! Normally one message at most: the next is read from the channel only
//! once this one is consumed, so a reader that stops reading leaves the
//! data in the channel's own bounded buffer. A close waiting for the
//! remote's `FIN_ACK` may read ahead up to [`CLOSE_READ_AHEAD`] bytes to
//! find it behind data sent meanwhile; otherwise two peers that both wrote
//! and then both closed, reading only afterwards, would each wait out the
//! close timeout.

use std::collections::VecDeque;

use super::message::Frame;

/// Most unread bytes a close reads ahead while looking for `FIN_ACK`.
pub const CLOSE_READ_AHEAD: usize = 1024 * 1024;

#[derive(Debug, Default)]
pub struct Unread {
    frames: VecDeque<Frame>,
    len: usize,
}

impl Unread {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps a received message's data (ignored if it has none).
    pub fn push(&mut self, frame: Frame) {
        if !frame.data().is_empty() {
            self.len += frame.data().len();
            self.frames.push_back(frame);
        }
    }

    /// Copies what fits into `buf` from the oldest message.
    pub fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let Some(front) = self.frames.front_mut() else {
            return 0;
        };
        let n = front.read_into(buf);
        self.len -= n;
        if front.data().is_empty() {
            self.frames.pop_front();
        }
        n
    }

    pub fn clear(&mut self) {
        self.frames.clear();
        self.len = 0;
    }
}
