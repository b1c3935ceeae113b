//! Where each half of a stream stands, and how received flags move it.
//!
//! The sending half goes `Open -> Closing -> FinSent -> Closed`: `Closing`
//! until our `FIN` is queued, `FinSent` until the remote's `FIN_ACK` (or its
//! `STOP_SENDING` or `RESET`, the channel's end, or the close timeout). A
//! `STOP_SENDING` closes it from any state: the remote reads nothing more.
//!
//! The receiving half is `Open`, `Finished` (the remote's `FIN` arrived:
//! reads end once the buffered data is read) or `Stopped` (we sent
//! `STOP_SENDING`: reads fail). Every `FIN` is acknowledged, once, even
//! after `STOP_SENDING`, so the remote's close need not wait.
//!
//! A `RESET` from the remote, or the channel ending, overrides both halves.
//! The state is pure: the stream does the I/O and calls in here.

use std::io;

use super::message::Flag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    Open,
    /// Closing, our `FIN` not yet queued.
    Closing,
    /// Our `FIN` is out; waiting for the remote's `FIN_ACK`.
    FinSent,
    /// Nothing more will be sent.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiving {
    Open,
    /// The remote's `FIN` arrived.
    Finished,
    /// We sent `STOP_SENDING`; what the remote still sends is dropped.
    Stopped,
}

/// Our acknowledgement of the remote's `FIN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinAck {
    /// No `FIN` received.
    None,
    /// `FIN` received, `FIN_ACK` not yet queued.
    Owed,
    /// `FIN_ACK` queued.
    Sent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub send: Sending,
    pub recv: Receiving,
    pub fin_ack: FinAck,
    /// The remote sent `RESET`.
    pub reset: bool,
    /// The channel ended (closed by either side).
    pub ended: bool,
}

impl Default for State {
    fn default() -> Self {
        Self {
            send: Sending::Open,
            recv: Receiving::Open,
            fin_ack: FinAck::None,
            reset: false,
            ended: false,
        }
    }
}

impl State {
    /// Applies a flag the remote sent.
    pub fn on_flag(&mut self, flag: Flag) {
        match flag {
            Flag::Fin => {
                if self.recv == Receiving::Open {
                    self.recv = Receiving::Finished;
                }
                if self.fin_ack == FinAck::None {
                    self.fin_ack = FinAck::Owed;
                }
            }
            Flag::FinAck => {
                if self.send == Sending::FinSent {
                    self.send = Sending::Closed;
                }
            }
            Flag::StopSending => self.send = Sending::Closed,
            Flag::Reset => {
                self.reset = true;
                // A close in progress is over; one not yet begun fails.
                if self.send == Sending::FinSent {
                    self.send = Sending::Closed;
                }
            }
        }
    }

    /// The channel ended: no message will come or go.
    pub fn on_end(&mut self) {
        self.ended = true;
        if matches!(self.send, Sending::Closing | Sending::FinSent) {
            self.send = Sending::Closed;
        }
    }

    /// Whether received data is kept for reading.
    pub fn keeps_data(&self) -> bool {
        self.recv == Receiving::Open && !self.reset
    }

    /// Why reads fail, if they do.
    pub fn read_error(&self) -> Option<io::ErrorKind> {
        if self.reset {
            Some(io::ErrorKind::ConnectionReset)
        } else if self.recv == Receiving::Stopped {
            Some(io::ErrorKind::BrokenPipe)
        } else {
            None
        }
    }

    /// Why writes fail, if they do.
    pub fn write_error(&self) -> Option<io::ErrorKind> {
        if self.reset {
            Some(io::ErrorKind::ConnectionReset)
        } else if self.send != Sending::Open || self.ended {
            Some(io::ErrorKind::BrokenPipe)
        } else {
            None
        }
    }

    /// Both halves are done: the channel may be closed without losing
    /// anything either side still waits for.
    pub fn is_closed(&self) -> bool {
        self.reset
            || self.ended
            || (self.send == Sending::Closed
                && self.recv != Receiving::Open
                && self.fin_ack != FinAck::Owed)
    }

    /// What the remote must still be told when the stream is dropped: a
    /// `RESET` if our half was never closed, else an owed `FIN_ACK`.
    pub fn last_word(&self) -> Option<Flag> {
        if self.reset || self.ended {
            None
        } else if matches!(self.send, Sending::Open | Sending::Closing) {
            Some(Flag::Reset)
        } else if self.fin_ack == FinAck::Owed {
            Some(Flag::FinAck)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind::{BrokenPipe, ConnectionReset};

    fn with(flags: &[Flag]) -> State {
        let mut s = State::default();
        for &f in flags {
            s.on_flag(f);
        }
        s
    }

    #[test]
    fn fin_finishes_reads_and_is_acked_once() {
        let mut s = with(&[Flag::Fin]);
        assert_eq!((s.recv, s.fin_ack), (Receiving::Finished, FinAck::Owed));
        assert_eq!(s.read_error(), None);
        assert_eq!(s.write_error(), None);
        s.fin_ack = FinAck::Sent;
        s.on_flag(Flag::Fin);
        assert_eq!(s.fin_ack, FinAck::Sent);
    }

    #[test]
    fn fin_after_stop_sending_is_still_acked() {
        let mut s = State {
            recv: Receiving::Stopped,
            ..State::default()
        };
        s.on_flag(Flag::Fin);
        assert_eq!((s.recv, s.fin_ack), (Receiving::Stopped, FinAck::Owed));
        assert_eq!(s.read_error(), Some(BrokenPipe));
    }

    #[test]
    fn fin_ack_completes_only_a_sent_fin() {
        let mut s = with(&[Flag::FinAck]);
        assert_eq!(s.send, Sending::Open);
        s.send = Sending::FinSent;
        s.on_flag(Flag::FinAck);
        assert_eq!(s.send, Sending::Closed);
    }

    #[test]
    fn stop_sending_closes_our_half() {
        for send in [Sending::Open, Sending::Closing, Sending::FinSent] {
            let mut s = State {
                send,
                ..State::default()
            };
            s.on_flag(Flag::StopSending);
            assert_eq!(s.send, Sending::Closed);
            assert_eq!(s.write_error(), Some(BrokenPipe));
            assert_eq!(s.read_error(), None);
            assert_eq!(s.last_word(), None);
        }
    }

    #[test]
    fn reset_fails_everything_and_ends_a_close() {
        let s = with(&[Flag::Reset]);
        assert_eq!(s.read_error(), Some(ConnectionReset));
        assert_eq!(s.write_error(), Some(ConnectionReset));
        assert_eq!(s.send, Sending::Open);
        assert!(!s.keeps_data());
        assert!(s.is_closed());
        assert_eq!(s.last_word(), None);
        let mut s = State {
            send: Sending::FinSent,
            ..State::default()
        };
        s.on_flag(Flag::Reset);
        assert_eq!(s.send, Sending::Closed);
    }

    #[test]
    fn channel_end_ends_a_close() {
        let mut s = State {
            send: Sending::FinSent,
            ..State::default()
        };
        s.on_end();
        assert_eq!(s.send, Sending::Closed);
        assert!(s.is_closed());
        let mut s = State::default();
        s.on_end();
        assert_eq!(s.write_error(), Some(BrokenPipe));
        assert_eq!(s.last_word(), None);
    }

    #[test]
    fn closed_only_when_both_halves_are_done() {
        let mut s = State::default();
        assert!(!s.is_closed());
        s.send = Sending::Closed;
        assert!(!s.is_closed());
        s.on_flag(Flag::Fin);
        assert!(!s.is_closed(), "FIN_ACK still owed");
        s.fin_ack = FinAck::Sent;
        assert!(s.is_closed());
        let s = State {
            send: Sending::Closed,
            recv: Receiving::Stopped,
            ..State::default()
        };
        assert!(s.is_closed());
    }

    #[test]
    fn last_word_resets_an_unclosed_half_or_acks_a_fin() {
        assert_eq!(State::default().last_word(), Some(Flag::Reset));
        let closing = State {
            send: Sending::Closing,
            ..State::default()
        };
        assert_eq!(closing.last_word(), Some(Flag::Reset));
        let mut s = State {
            send: Sending::FinSent,
            ..State::default()
        };
        assert_eq!(s.last_word(), None);
        s.on_flag(Flag::Fin);
        assert_eq!(s.last_word(), Some(Flag::FinAck));
    }
}
