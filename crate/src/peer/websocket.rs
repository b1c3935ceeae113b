//! The browser's WebSocket transport to nodes: `/ws`, `/wss` and
//! `/tls/ws` addresses, dialed with the page's `WebSocket`.
//!
//! Ours rather than libp2p's `websocket-websys`, which never notices a
//! socket closing under it: its reads wait for the next message, so a
//! node that stopped stayed "connected" until two pings had failed, about
//! a minute, and the page kept its dead node, its reservation there and
//! its relayed addresses. Here a `close` or `error` event ends reads (end
//! of stream) and fails writes at once, so the swarm sees the connection
//! close as soon as the browser does.
//!
//! - Reads take the received messages in order; a node that sends faster
//!   than the connection reads past [`MAX_RECEIVE_BUFFER`] gets the
//!   connection failed instead of our memory.
//! - Writes wait while the browser's send queue holds more than
//!   [`SEND_HIGH_WATER`] (WebSocket has no "buffer low" event: a timer
//!   looks every [`DRAIN_CHECK`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::future::{BoxFuture, Ready};
use futures::{AsyncRead, AsyncWrite, FutureExt};
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// Most received bytes held for a reader that has not caught up.
pub const MAX_RECEIVE_BUFFER: usize = 8 * 1024 * 1024;
/// Most bytes queued in the browser before writers wait.
pub const SEND_HIGH_WATER: u32 = 1024 * 1024;
/// How often a waiting writer looks at the browser's send queue again.
const DRAIN_CHECK: Duration = Duration::from_millis(20);

/// The dial-only WebSocket transport (a page cannot listen).
#[derive(Default)]
pub struct Transport;

impl libp2p::core::Transport for Transport {
    type Output = Connection;
    type Error = io::Error;
    type ListenerUpgrade = Ready<io::Result<Connection>>;
    type Dial = BoxFuture<'static, io::Result<Connection>>;

    fn listen_on(
        &mut self,
        _: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        Err(TransportError::MultiaddrNotSupported(addr))
    }

    fn remove_listener(&mut self, _: ListenerId) -> bool {
        false
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        if opts.role.is_listener() {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        let Some(url) = url_of(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        // The page's objects stay on its one thread; the swarm wants Send.
        let mut connecting = SendWrapper::new(Connection::open(url).boxed_local());
        Ok(futures::future::poll_fn(move |cx| connecting.poll_unpin(cx)).boxed())
    }

    fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        Poll::Pending
    }
}

/// The `ws://` or `wss://` URL of a node's WebSocket address:
/// `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>` then `/ws`, `/wss` or
/// `/tls/ws`, then at most `/p2p/<id>`. Anything else (a relayed
/// circuit, a `/webrtc` address) is not this transport's.
pub fn url_of(addr: &Multiaddr) -> Option<String> {
    let mut parts = addr.iter();
    let host = match parts.next()? {
        Protocol::Ip4(ip) => ip.to_string(),
        Protocol::Ip6(ip) => format!("[{ip}]"),
        Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name) => name.to_string(),
        _ => return None,
    };
    let Protocol::Tcp(port) = parts.next()? else {
        return None;
    };
    let (scheme, path) = match parts.next()? {
        Protocol::Ws(path) => ("ws", path),
        Protocol::Wss(path) => ("wss", path),
        Protocol::Tls => match parts.next()? {
            Protocol::Ws(path) => ("wss", path),
            _ => return None,
        },
        _ => return None,
    };
    match (parts.next(), parts.next()) {
        (None, _) | (Some(Protocol::P2p(_)), None) => {}
        _ => return None,
    }
    Some(format!("{scheme}://{host}:{port}{path}"))
}

#[derive(Default)]
struct Shared {
    open: bool,
    /// Why the socket ended (closed, failed, or overflowed), once it has.
    ended: Option<String>,
    received: VecDeque<u8>,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Shared {
    fn end(&mut self, why: String) {
        if self.ended.is_none() {
            self.ended = Some(why);
        }
        self.wake();
    }

    fn wake(&mut self) {
        for waker in [self.read_waker.take(), self.write_waker.take()]
            .into_iter()
            .flatten()
        {
            waker.wake();
        }
    }
}

/// One WebSocket as a byte stream.
pub struct Connection {
    inner: SendWrapper<Inner>,
}

struct Inner {
    socket: WebSocket,
    shared: Rc<RefCell<Shared>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_open: Closure<dyn FnMut()>,
    _on_close: Closure<dyn FnMut(web_sys::CloseEvent)>,
    _on_error: Closure<dyn FnMut()>,
}

impl Connection {
    /// Opens `url`; resolves once the socket is open, or fails with why not.
    async fn open(url: String) -> io::Result<Connection> {
        let socket = WebSocket::new(&url)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e:?}")))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(Shared::default()));
        let on_message = {
            let shared = shared.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = js_sys::Uint8Array::new(&event.data());
                let mut shared = shared.borrow_mut();
                if shared.received.len() + data.length() as usize > MAX_RECEIVE_BUFFER {
                    shared.end(format!(
                        "the node sent more than {MAX_RECEIVE_BUFFER} bytes ahead of the reader"
                    ));
                    return;
                }
                crate::webrtc::channel::append(&mut shared.received, &data);
                if let Some(waker) = shared.read_waker.take() {
                    waker.wake();
                }
            })
        };
        let on_open = {
            let shared = shared.clone();
            Closure::<dyn FnMut()>::new(move || {
                let mut shared = shared.borrow_mut();
                shared.open = true;
                shared.wake();
            })
        };
        let on_close = {
            let shared = shared.clone();
            Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |event: web_sys::CloseEvent| {
                let why = match event.reason() {
                    reason if reason.is_empty() => format!("closed (code {})", event.code()),
                    reason => format!("closed (code {}: {reason})", event.code()),
                };
                shared.borrow_mut().end(why);
            })
        };
        let on_error = {
            let shared = shared.clone();
            Closure::<dyn FnMut()>::new(move || shared.borrow_mut().end("failed".to_owned()))
        };
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let connection = Connection {
            inner: SendWrapper::new(Inner {
                socket,
                shared,
                _on_message: on_message,
                _on_open: on_open,
                _on_close: on_close,
                _on_error: on_error,
            }),
        };
        futures::future::poll_fn(|cx| {
            let mut shared = connection.inner.shared.borrow_mut();
            if let Some(why) = &shared.ended {
                let why = format!("WebSocket to {url} {why}");
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionRefused, why)));
            }
            if shared.open {
                return Poll::Ready(Ok(()));
            }
            shared.write_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(connection)
    }

    fn ended(&self) -> io::Error {
        let shared = self.inner.shared.borrow();
        let why = shared.ended.as_deref().unwrap_or("closed");
        io::Error::new(io::ErrorKind::BrokenPipe, format!("WebSocket {why}"))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onopen(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
        // Still open, also after an overflow ended it on this side.
        if matches!(
            self.socket.ready_state(),
            WebSocket::CONNECTING | WebSocket::OPEN
        ) {
            let _ = self
                .socket
                .close_with_code_and_reason(1000, "closed by the peer");
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.inner.shared.borrow_mut();
        if !shared.received.is_empty() {
            return Poll::Ready(Ok(crate::webrtc::channel::take(&mut shared.received, buf)));
        }
        match shared.ended.as_deref() {
            // Everything received has been read: the end of the stream.
            Some(_) => Poll::Ready(Ok(0)),
            None => {
                shared.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.inner.shared.borrow().ended.is_some() {
            return Poll::Ready(Err(self.ended()));
        }
        let socket = &self.inner.socket;
        if socket.buffered_amount() > SEND_HIGH_WATER {
            self.inner.shared.borrow_mut().write_waker = Some(cx.waker().clone());
            let shared = Rc::downgrade(&self.inner.shared);
            crate::platform::spawn(async move {
                crate::platform::sleep(DRAIN_CHECK).await;
                if let Some(shared) = shared.upgrade() {
                    if let Some(waker) = shared.borrow_mut().write_waker.take() {
                        waker.wake();
                    }
                }
            });
            return Poll::Pending;
        }
        match socket.send_with_u8_array(buf) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(e) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("{e:?}"),
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Handed to the browser is as far as a page can push bytes.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = self.inner.shared.borrow_mut();
        if shared.ended.is_none() {
            let _ = self
                .inner
                .socket
                .close_with_code_and_reason(1000, "closed by the peer");
            shared.end("closed by this peer".to_owned());
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn node_addresses_become_urls_and_others_are_not_ours() {
        let url = |s: &str| url_of(&s.parse().expect("multiaddr"));
        let id = "12D3KooWAHFrPP1qFrzbTpfdQGrTfb7FumcVfVGcPbVWzKcNCkUD";
        assert_eq!(
            url("/ip4/127.0.0.1/tcp/4001/ws").as_deref(),
            Some("ws://127.0.0.1:4001/")
        );
        assert_eq!(
            url(&format!("/dns4/node.example/tcp/443/tls/ws/p2p/{id}")).as_deref(),
            Some("wss://node.example:443/")
        );
        assert_eq!(
            url("/dns/node.example/tcp/443/wss").as_deref(),
            Some("wss://node.example:443/")
        );
        assert_eq!(
            url("/ip6/::1/tcp/4001/ws").as_deref(),
            Some("ws://[::1]:4001/")
        );
        for other in [
            format!("/ip4/127.0.0.1/tcp/4001/ws/p2p/{id}/p2p-circuit"),
            "/ip4/127.0.0.1/tcp/4001".to_owned(),
            "/ip4/127.0.0.1/udp/4001/webrtc-direct".to_owned(),
            "/ip4/127.0.0.1/tcp/4001/tls/http".to_owned(),
        ] {
            assert_eq!(url(&other), None, "{other}");
        }
    }
}
