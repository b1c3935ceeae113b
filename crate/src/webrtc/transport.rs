//! The swarm's side of browser-to-browser WebRTC: dials and listens by
//! handing work to the [`Service`](super::service::Service) over bounded
//! channels, the way libp2p's relay client transport talks to its behaviour.
//!
//! - Listening on `<relay>/p2p-circuit/webrtc` (after the relay reservation
//!   for `<relay>/p2p-circuit` is up) advertises that address and lets the
//!   service answer incoming signaling.
//! - Dialing `<relay>/p2p-circuit/webrtc/p2p/<peer>` asks the service to
//!   signal over the relayed connection the caller already holds.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::connection::Connection;
use super::service::{DialRequest, Inbound};
use super::{DialFailures, Error};

type Output = (PeerId, Connection);

/// The `/webrtc` transport.
pub struct Transport {
    requests: mpsc::Sender<DialRequest>,
    incoming: mpsc::Receiver<Inbound>,
    listening: Arc<AtomicBool>,
    listeners: Vec<(ListenerId, Multiaddr)>,
    events: VecDeque<TransportEvent<BoxFuture<'static, Result<Output, Error>>, Error>>,
    waker: Option<Waker>,
    failures: DialFailures,
}

impl Transport {
    pub(super) fn new(
        requests: mpsc::Sender<DialRequest>,
        incoming: mpsc::Receiver<Inbound>,
        listening: Arc<AtomicBool>,
        failures: DialFailures,
    ) -> Self {
        Self {
            requests,
            incoming,
            listening,
            listeners: Vec::new(),
            events: VecDeque::new(),
            waker: None,
            failures,
        }
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// `<relay>/p2p-circuit/webrtc`: what a browser listens on.
fn is_listen_addr(addr: &Multiaddr) -> bool {
    let parts: Vec<Protocol> = addr.iter().collect();
    parts.ends_with(&[Protocol::P2pCircuit, Protocol::WebRTC])
}

impl libp2p::core::Transport for Transport {
    type Output = Output;
    type Error = Error;
    type ListenerUpgrade = BoxFuture<'static, Result<Output, Error>>;
    type Dial = BoxFuture<'static, Result<Output, Error>>;

    fn listen_on(&mut self, id: ListenerId, addr: Multiaddr) -> Result<(), TransportError<Error>> {
        if !is_listen_addr(&addr) {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        self.listeners.push((id, addr.clone()));
        self.listening.store(true, Ordering::Relaxed);
        self.events.push_back(TransportEvent::NewAddress {
            listener_id: id,
            listen_addr: addr,
        });
        self.wake();
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        let Some(at) = self.listeners.iter().position(|(l, _)| *l == id) else {
            return false;
        };
        let (_, addr) = self.listeners.remove(at);
        self.listening
            .store(!self.listeners.is_empty(), Ordering::Relaxed);
        self.events.push_back(TransportEvent::AddressExpired {
            listener_id: id,
            listen_addr: addr,
        });
        self.events.push_back(TransportEvent::ListenerClosed {
            listener_id: id,
            reason: Ok(()),
        });
        self.wake();
        true
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Error>> {
        if opts.role.is_listener() {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        let Ok((_, peer)) = super::parse_dial_addr(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let (reply, answer) = oneshot::channel();
        self.requests
            .try_send(DialRequest { peer, reply })
            .map_err(|_| {
                TransportError::Other(Error::Connection("too many WebRTC dials pending"))
            })?;
        let failures = self.failures.clone();
        Ok(async move {
            let result = match answer.await {
                Ok(result) => result,
                Err(_) => Err(Error::Connection("the WebRTC service stopped")),
            };
            // Recorded before the swarm sees the error, which reaches the
            // driver only as text.
            result
                .map(|connection| (peer, connection))
                .inspect_err(|e| failures.record(peer, e.dial_failure()))
        }
        .boxed())
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Error>> {
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(event);
        }
        while let Poll::Ready(Some(Inbound {
            peer,
            connection,
            remote,
        })) = self.incoming.poll_next_unpin(cx)
        {
            // Answered while the last listener went away: drop it.
            let Some((listener_id, local_addr)) = self.listeners.first().cloned() else {
                tracing::warn!(%peer, "dropping an answered WebRTC connection: no listener left");
                continue;
            };
            // Where ICE found the remote; `/webrtc` alone if the stats
            // did not say.
            let send_back_addr = remote
                .unwrap_or_else(|| Multiaddr::empty().with(Protocol::WebRTC))
                .with(Protocol::P2p(peer));
            return Poll::Ready(TransportEvent::Incoming {
                listener_id,
                upgrade: futures::future::ready(Ok((peer, connection))).boxed(),
                local_addr,
                send_back_addr,
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
