//! A libp2p connection over one `RTCPeerConnection`: every libp2p stream is
//! its own `RTCDataChannel`, framed per the libp2p WebRTC multiplexing spec
//! by [`super::stream`].
//!
//! Bounds: at most [`MAX_STREAMS`] streams open at once and
//! [`INBOUND_QUEUE`] remote-opened channels waiting to be accepted; a peer
//! that opens more gets its channels closed at once. A peer connection
//! that fails or closes fails the muxer, so the swarm drops it; so does
//! one whose SCTP or DTLS transport closed. That is how a remote's
//! `close()` shows here at once: the connection state itself stays
//! `connected` for 5 to 30 s more, and a channel opened meanwhile never
//! opens.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::channel::mpsc;
use futures::stream::FuturesUnordered;
use futures::{AsyncRead, AsyncWrite, StreamExt};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use web_sys::{RtcDataChannelEvent, RtcPeerConnection, RtcPeerConnectionState};

use super::channel::{Closing, DataChannel};
use super::{stream, Error};

/// Most streams open on one connection.
pub const MAX_STREAMS: usize = 512;
/// Most remote-opened channels waiting for the swarm to accept them.
pub const INBOUND_QUEUE: usize = 64;
/// The label of the channel the dialer opens so its offer has a data
/// section; it never becomes a stream.
pub const INIT_LABEL: &str = "init";

type DropListener = SendWrapper<stream::DropListener<DataChannel>>;

/// One libp2p stream.
pub struct Stream {
    inner: SendWrapper<stream::Stream<DataChannel>>,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_close(cx)
    }
}

/// Event handlers registered on the peer connection; detached on drop.
struct Handlers {
    pc: RtcPeerConnection,
    _on_channel: Closure<dyn FnMut(RtcDataChannelEvent)>,
    on_state: Closure<dyn FnMut()>,
    /// The SCTP and DTLS transports once they exist, watched with `on_state`.
    transports: RefCell<Option<[JsValue; 2]>>,
}

impl Drop for Handlers {
    fn drop(&mut self) {
        self.pc.set_ondatachannel(None);
        self.pc.set_onconnectionstatechange(None);
        for transport in self.transports.take().into_iter().flatten() {
            let _ = js_sys::Reflect::set(&transport, &"onstatechange".into(), &JsValue::NULL);
        }
        self.pc.close();
    }
}

impl Handlers {
    /// The SCTP transport and its DTLS transport, watched from the first
    /// call after they exist (the remote description creates them).
    fn transports(&self) -> Option<[JsValue; 2]> {
        if let Some(both) = &*self.transports.borrow() {
            return Some(both.clone());
        }
        let sctp = js_sys::Reflect::get(&self.pc, &"sctp".into()).ok()?;
        if sctp.is_null() || sctp.is_undefined() {
            return None;
        }
        let dtls = js_sys::Reflect::get(&sctp, &"transport".into()).ok()?;
        let both = [sctp, dtls];
        for transport in &both {
            let _ = js_sys::Reflect::set(
                transport,
                &"onstatechange".into(),
                self.on_state.as_ref().unchecked_ref(),
            );
        }
        *self.transports.borrow_mut() = Some(both.clone());
        Some(both)
    }
}

/// A transport's `state` ("connected", "closed", ...), if it has one.
fn state_of(transport: &JsValue) -> Option<String> {
    js_sys::Reflect::get(transport, &"state".into())
        .ok()?
        .as_string()
}

/// A WebRTC connection as a libp2p [`StreamMuxer`].
pub struct Connection {
    handlers: SendWrapper<Rc<Handlers>>,
    inbound: SendWrapper<mpsc::Receiver<DataChannel>>,
    state_waker: SendWrapper<Rc<Cell<Option<Waker>>>>,
    /// Set by every state event: the states are read only then, not on
    /// every poll of a busy connection.
    state_changed: SendWrapper<Rc<Cell<bool>>>,
    drop_listeners: FuturesUnordered<DropListener>,
    idle_waker: Option<Waker>,
    closing: SendWrapper<Rc<Closing>>,
    close_wait: Option<web_time::Instant>,
}

impl Connection {
    /// Takes over `pc`: from now on its remote-opened channels are streams.
    /// Call before the remote description is set so no channel is missed.
    pub fn new(pc: RtcPeerConnection) -> Self {
        let (mut tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let (mut inits, mut dropped) = (0u32, 0u64);
        let on_channel =
            Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |event: RtcDataChannelEvent| {
                let channel = event.channel();
                if channel.label() == INIT_LABEL {
                    // The dialer's one `init` channel closes itself; more
                    // are a remote wasting our channel slots.
                    inits += 1;
                    if inits > 1 {
                        channel.close();
                    }
                    return;
                }
                // Wrap at once: a message that arrives before our handler is
                // attached would be lost.
                if tx.try_send(DataChannel::new(channel, None)).is_err() {
                    // Dropping the wrapper closes the channel. One warning
                    // per hundred, so a flood cannot flood the console too.
                    if dropped % 100 == 0 {
                        tracing::warn!(
                            dropped = dropped + 1,
                            "remote opens data channels faster than we accept; closing them"
                        );
                    }
                    dropped += 1;
                }
            });
        let state_waker: Rc<Cell<Option<Waker>>> = Rc::default();
        let state_changed = Rc::new(Cell::new(true));
        let on_state = Closure::<dyn FnMut()>::new({
            let state_waker = state_waker.clone();
            let state_changed = state_changed.clone();
            move || {
                state_changed.set(true);
                if let Some(w) = state_waker.take() {
                    w.wake();
                }
            }
        });
        pc.set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        Self {
            handlers: SendWrapper::new(Rc::new(Handlers {
                pc,
                _on_channel: on_channel,
                on_state,
                transports: RefCell::default(),
            })),
            inbound: SendWrapper::new(rx),
            state_waker: SendWrapper::new(state_waker),
            state_changed: SendWrapper::new(state_changed),
            drop_listeners: FuturesUnordered::new(),
            idle_waker: None,
            closing: SendWrapper::new(Rc::default()),
            close_wait: None,
        }
    }

    /// The underlying peer connection.
    pub fn peer_connection(&self) -> &RtcPeerConnection {
        &self.handlers.pc
    }

    fn open_stream(&mut self, channel: DataChannel) -> Stream {
        let (inner, listener) = stream::Stream::new(channel);
        self.drop_listeners.push(SendWrapper::new(listener));
        if let Some(w) = self.idle_waker.take() {
            w.wake();
        }
        Stream {
            inner: SendWrapper::new(inner),
        }
    }

    fn failed(&self) -> Option<Error> {
        match self.peer_connection().connection_state() {
            RtcPeerConnectionState::Failed => {
                return Some(Error::Connection("peer connection failed"))
            }
            RtcPeerConnectionState::Closed => {
                return Some(Error::Connection("peer connection closed"))
            }
            _ => {}
        }
        let [sctp, dtls] = self.handlers.transports()?;
        match (state_of(&sctp).as_deref(), state_of(&dtls).as_deref()) {
            (_, Some("failed")) => Some(Error::Connection("DTLS transport failed")),
            (_, Some("closed")) => Some(Error::Connection("the remote closed the connection")),
            (Some("closed"), _) => Some(Error::Connection("SCTP association closed")),
            _ => None,
        }
    }
}

impl StreamMuxer for Connection {
    type Substream = Stream;
    type Error = Error;

    fn poll_inbound(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Stream, Error>> {
        loop {
            match futures::ready!(self.inbound.poll_next_unpin(cx)) {
                Some(channel) if self.drop_listeners.len() >= MAX_STREAMS => {
                    tracing::warn!("remote exceeds {MAX_STREAMS} open streams; closing one");
                    drop(channel);
                }
                Some(channel) => return Poll::Ready(Ok(self.open_stream(channel))),
                None => return Poll::Ready(Err(Error::Connection("connection closed"))),
            }
        }
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Stream, Error>> {
        if self.drop_listeners.len() >= MAX_STREAMS {
            return Poll::Ready(Err(Error::Connection("too many open streams")));
        }
        let this = &mut *self;
        futures::ready!(this.closing.poll_settled(cx, &mut this.close_wait));
        let closing = Some(Rc::clone(&self.closing));
        let channel = DataChannel::new(self.peer_connection().create_data_channel(""), closing);
        Poll::Ready(Ok(self.open_stream(channel)))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.peer_connection().close();
        Poll::Ready(Ok(()))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Error>> {
        self.state_waker.set(Some(cx.waker().clone()));
        let watching = self.handlers.transports.borrow().is_some();
        if self.state_changed.replace(false) || !watching {
            if let Some(error) = self.failed() {
                self.state_changed.set(true);
                return Poll::Ready(Err(error));
            }
        }
        loop {
            match futures::ready!(self.drop_listeners.poll_next_unpin(cx)) {
                Some(Ok(())) => {}
                Some(Err(e)) => tracing::debug!("resetting a dropped stream failed: {e}"),
                None => {
                    self.idle_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
    }
}
