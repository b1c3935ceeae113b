//! One `RTCDataChannel` as a byte stream (`AsyncRead` + `AsyncWrite`), the
//! layer under libp2p's WebRTC message framing ([`super::stream`]).
//!
//! - Writes go out as messages of at most [`MAX_MSG_LEN`] bytes (the spec's
//!   limit) and wait while the browser's send buffer holds more than
//!   [`SEND_HIGH_WATER`], resuming on `bufferedamountlow` at
//!   [`SEND_LOW_WATER`]: a queue deep enough to keep SCTP busy, never
//!   unbounded.
//! - Data channels have no receive flow control, so the receive buffer is
//!   capped at [`MAX_RECEIVE_BUFFER`]; a peer that floods past it gets the
//!   stream failed instead of our memory.
//! - Dropping the last handle detaches every event handler; the side that
//!   opened the channel closes it (see [`Closing`]), so 1000 opened-and-
//!   closed streams leave nothing behind.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::{AsyncRead, AsyncWrite};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, RtcDataChannel, RtcDataChannelState, RtcDataChannelType};

use super::stream::MAX_MSG_LEN;

/// Most bytes queued in the browser before writers wait.
pub const SEND_HIGH_WATER: u32 = 1024 * 1024;
/// Writers resume once the browser's queue drains to this.
pub const SEND_LOW_WATER: u32 = 256 * 1024;
/// Most received bytes held for a reader that has not caught up.
pub const MAX_RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    received: VecDeque<u8>,
    overflowed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Shared {
    fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

struct Inner {
    channel: RtcDataChannel,
    shared: Rc<RefCell<Shared>>,
    closing: Option<Rc<Closing>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_event: Closure<dyn FnMut()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.set_onopen(None);
        self.channel.set_onclose(None);
        self.channel.set_onerror(None);
        self.channel.set_onbufferedamountlow(None);
        if self.channel.ready_state() == RtcDataChannelState::Closed {
            return;
        }
        match &self.closing {
            // Ours: we close it.
            Some(closing) => {
                closing.started(&self.channel);
                self.channel.close();
            }
            // The remote's: it closes it, which closes ours. Closing both
            // ends at once leaves Firefox's channels stuck in `closing`
            // and its next channel unseen by the remote; a remote that
            // never closes gets closed after a grace period.
            None => {
                let channel = self.channel.clone();
                crate::platform::spawn(async move {
                    crate::platform::sleep(REMOTE_CLOSE_GRACE).await;
                    if channel.ready_state() != RtcDataChannelState::Closed {
                        channel.close();
                    }
                });
            }
        }
    }
}

/// How long a dropped inbound channel waits for its opener to close it.
const REMOTE_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Counts our own data channels that are still closing. Firefox hands a
/// closing channel's id to the next `createDataChannel` before the remote
/// has seen the close, and the remote then never learns of the new channel;
/// so new outbound channels wait until earlier ones are closed.
#[derive(Default)]
pub struct Closing {
    pending: std::cell::Cell<usize>,
    waker: std::cell::Cell<Option<Waker>>,
}

/// Longest a new channel waits for earlier ones to finish closing. A
/// close normally takes milliseconds (Firefox: about 200 ms); one that
/// outlasts this is logged, since the channel opened next may reuse its
/// id and go unseen.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Closing {
    fn started(self: &Rc<Self>, channel: &RtcDataChannel) {
        self.pending.set(self.pending.get() + 1);
        let done = {
            let this = self.clone();
            move || {
                this.pending.set(this.pending.get().saturating_sub(1));
                if let Some(w) = this.waker.take() {
                    w.wake();
                }
            }
        };
        // Frees itself after the one call.
        let on_close = Closure::once_into_js(done);
        let _ = channel.add_event_listener_with_callback("close", on_close.unchecked_ref());
    }

    /// Ready when no channel of ours is closing (or after [`CLOSE_WAIT`]).
    pub fn poll_settled(
        self: &Rc<Self>,
        cx: &mut Context<'_>,
        waited: &mut Option<web_time::Instant>,
    ) -> Poll<()> {
        if self.pending.get() == 0 {
            *waited = None;
            return Poll::Ready(());
        }
        let first = waited.is_none();
        let since = *waited.get_or_insert_with(web_time::Instant::now);
        if since.elapsed() >= CLOSE_WAIT {
            *waited = None;
            tracing::warn!(
                closing = self.pending.get(),
                "data channels still closing after {} s; opening a new one anyway",
                CLOSE_WAIT.as_secs()
            );
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        if first {
            // A close event that never comes must not stall the connection.
            let waker = cx.waker().clone();
            crate::platform::spawn(async move {
                crate::platform::sleep(CLOSE_WAIT).await;
                waker.wake();
            });
        }
        Poll::Pending
    }
}

/// A data channel as a byte stream; clones share the channel.
#[derive(Clone)]
pub struct DataChannel {
    inner: Rc<Inner>,
}

impl DataChannel {
    /// Wraps a channel. Our own channels carry `closing` (we close them
    /// when dropped); the remote's have `None` (it closes them).
    pub fn new(channel: RtcDataChannel, closing: Option<Rc<Closing>>) -> Self {
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        channel.set_buffered_amount_low_threshold(SEND_LOW_WATER);
        let shared = Rc::new(RefCell::new(Shared::default()));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let shared = shared.clone();
            move |event: MessageEvent| {
                let data = js_sys::Uint8Array::new(&event.data());
                let mut s = shared.borrow_mut();
                let len = data.length() as usize;
                if s.received.len() + len > MAX_RECEIVE_BUFFER {
                    tracing::warn!("data channel receive buffer full; failing the stream");
                    s.overflowed = true;
                } else {
                    append(&mut s.received, &data);
                }
                s.wake_all();
            }
        });
        // Open, close, error and drained-buffer events all just wake whoever
        // waits; the state is read from the channel itself.
        let on_event = Closure::<dyn FnMut()>::new({
            let shared = shared.clone();
            move || shared.borrow_mut().wake_all()
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let wake = on_event.as_ref().unchecked_ref();
        channel.set_onopen(Some(wake));
        channel.set_onclose(Some(wake));
        channel.set_onerror(Some(wake));
        channel.set_onbufferedamountlow(Some(wake));
        Self {
            inner: Rc::new(Inner {
                channel,
                shared,
                closing,
                _on_message: on_message,
                _on_event: on_event,
            }),
        }
    }

    fn channel(&self) -> &RtcDataChannel {
        &self.inner.channel
    }

    /// Ready once open; an error once closing, closed or flooded.
    fn poll_open(&self, cx: &mut Context<'_>, waker_slot: WakerSlot) -> Poll<io::Result<()>> {
        let mut s = self.inner.shared.borrow_mut();
        if s.overflowed {
            return Poll::Ready(Err(io::Error::other(
                "the remote sent more than the receive buffer holds",
            )));
        }
        match self.channel().ready_state() {
            RtcDataChannelState::Open => Poll::Ready(Ok(())),
            RtcDataChannelState::Connecting => {
                waker_slot.register(&mut s, cx);
                Poll::Pending
            }
            _ => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }
}

#[derive(Clone, Copy)]
enum WakerSlot {
    Read,
    Write,
}

impl WakerSlot {
    fn register(self, s: &mut Shared, cx: &Context<'_>) {
        let slot = match self {
            Self::Read => &mut s.read_waker,
            Self::Write => &mut s.write_waker,
        };
        *slot = Some(cx.waker().clone());
    }
}

/// Appends a received message to `received`, copied straight from the
/// JavaScript array into the ring buffer's free tail (shared with the
/// WebSocket transport, `peer/websocket.rs`).
pub(crate) fn append(received: &mut VecDeque<u8>, data: &js_sys::Uint8Array) {
    let start = received.len();
    received.resize(start + data.length() as usize, 0);
    let (a, b) = received.as_mut_slices();
    copy_into(data, a, b, start);
}

/// Moves the oldest received bytes into `buf`, as many as fit; returns
/// how many.
pub(crate) fn take(received: &mut VecDeque<u8>, buf: &mut [u8]) -> usize {
    let n = buf.len().min(received.len());
    let (a, b) = received.as_slices();
    let from_a = n.min(a.len());
    buf[..from_a].copy_from_slice(&a[..from_a]);
    buf[from_a..n].copy_from_slice(&b[..n - from_a]);
    received.drain(..n);
    n
}

/// Copies `data` into the two halves of a ring buffer starting at `start`.
fn copy_into(data: &js_sys::Uint8Array, a: &mut [u8], b: &mut [u8], start: usize) {
    let len = data.length() as usize;
    let end = start + len;
    if start >= a.len() {
        data.copy_to(&mut b[start - a.len()..end - a.len()]);
    } else if end <= a.len() {
        data.copy_to(&mut a[start..end]);
    } else {
        let split = (a.len() - start) as u32;
        data.subarray(0, split).copy_to(&mut a[start..]);
        data.subarray(split, len as u32)
            .copy_to(&mut b[..end - a.len()]);
    }
}

impl AsyncRead for DataChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        {
            // Data that arrived before a close is still delivered.
            let mut s = self.inner.shared.borrow_mut();
            if !s.received.is_empty() && !s.overflowed {
                return Poll::Ready(Ok(take(&mut s.received, buf)));
            }
        }
        match self.poll_open(cx, WakerSlot::Read) {
            Poll::Ready(Ok(())) => {
                WakerSlot::Read.register(&mut self.inner.shared.borrow_mut(), cx);
                Poll::Pending
            }
            // A closed channel with nothing buffered is a clean end.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Poll::Ready(Ok(0)),
            other => other.map_ok(|()| 0),
        }
    }
}

impl AsyncWrite for DataChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::ready!(self.poll_open(cx, WakerSlot::Write))?;
        if self.channel().buffered_amount() >= SEND_HIGH_WATER {
            WakerSlot::Write.register(&mut self.inner.shared.borrow_mut(), cx);
            return Poll::Pending;
        }
        let n = buf.len().min(MAX_MSG_LEN);
        self.channel()
            .send_with_u8_array(&buf[..n])
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Handing bytes to the browser is our flush; waiting for the send
        // queue to drain would serialize every stream behind SCTP.
        futures::ready!(self.poll_open(cx, WakerSlot::Write))?;
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.channel().ready_state() {
            RtcDataChannelState::Closed => Poll::Ready(Ok(())),
            state => {
                if state != RtcDataChannelState::Closing {
                    self.channel().close();
                }
                WakerSlot::Write.register(&mut self.inner.shared.borrow_mut(), cx);
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn bytes_come_out_in_order_across_the_ring_buffers_wrap() {
        let mut received: VecDeque<u8> = VecDeque::with_capacity(8);
        append(
            &mut received,
            &js_sys::Uint8Array::from(&[0u8, 1, 2, 3, 4, 5][..]),
        );
        let mut buf = [0u8; 4];
        assert_eq!(take(&mut received, &mut buf), 4);
        assert_eq!(buf, [0, 1, 2, 3]);
        // The next message wraps around the end of the ring buffer.
        append(
            &mut received,
            &js_sys::Uint8Array::from(&[6u8, 7, 8, 9, 10][..]),
        );
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = take(&mut received, &mut buf);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, [4, 5, 6, 7, 8, 9, 10]);
    }
}
