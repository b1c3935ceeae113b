//! libp2p's side of a TLS port. [`Inbound`] is a transport whose
//! connections are the ones the accept loop ([`super::accept`]) routed to
//! it, already decrypted; libp2p's WebSocket runs on top of it as over
//! TCP. [`Relabel`] names what that stack listens on and accepts
//! `/tls/ws`, which is what it is to everyone else: libp2p's WebSocket
//! only knows `/ws` over a transport that is not its own TLS.
//!
//! Neither dials: browsers dial the node, and nodes dial each other over
//! TCP.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{self, Pending, Ready};
use libp2p::core::transport::{DialOpts, ListenerId, Transport, TransportError, TransportEvent};
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use tokio::sync::mpsc;

use super::accept::{Accepted, Stream};

/// The connections of one TLS port that asked for a WebSocket.
pub struct Inbound {
    /// `/ip4/<ip>/tcp/<port>`: the only address it listens on.
    addr: Multiaddr,
    queue: Option<mpsc::Receiver<Accepted>>,
    listener: Option<ListenerId>,
    events: VecDeque<TransportEvent<Ready<io::Result<Stream>>, io::Error>>,
}

impl Inbound {
    /// Takes `queue`'s connections, accepted at `local`.
    pub fn new(local: SocketAddr, queue: mpsc::Receiver<Accepted>) -> Self {
        Self {
            addr: tcp_addr(local),
            queue: Some(queue),
            listener: None,
            events: VecDeque::new(),
        }
    }

    /// Without TLS: listens on nothing.
    pub fn none() -> Self {
        Self {
            addr: Multiaddr::empty(),
            queue: None,
            listener: None,
            events: VecDeque::new(),
        }
    }
}

/// `/ip4/<ip>/tcp/<port>` or `/ip6/…`.
fn tcp_addr(socket: SocketAddr) -> Multiaddr {
    crate::node::swarm::socket_multiaddr(socket, Protocol::Tcp)
}

impl Transport for Inbound {
    type Output = Stream;
    type Error = io::Error;
    type ListenerUpgrade = Ready<io::Result<Stream>>;
    type Dial = Pending<io::Result<Stream>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        if self.queue.is_none() || self.listener.is_some() || addr != self.addr {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        self.listener = Some(id);
        self.events.push_back(TransportEvent::NewAddress {
            listener_id: id,
            listen_addr: addr,
        });
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        if self.listener != Some(id) {
            return false;
        }
        self.listener = None;
        self.queue = None;
        self.events.push_back(TransportEvent::ListenerClosed {
            listener_id: id,
            reason: Ok(()),
        });
        true
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        Err(TransportError::MultiaddrNotSupported(addr))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(event);
        }
        let (Some(id), Some(queue)) = (self.listener, self.queue.as_mut()) else {
            return Poll::Pending;
        };
        match queue.poll_recv(cx) {
            Poll::Ready(Some(Accepted { stream, remote })) => {
                Poll::Ready(TransportEvent::Incoming {
                    listener_id: id,
                    upgrade: future::ready(Ok(stream)),
                    local_addr: self.addr.clone(),
                    send_back_addr: tcp_addr(remote),
                })
            }
            Poll::Ready(None) => {
                self.listener = None;
                self.queue = None;
                Poll::Ready(TransportEvent::ListenerClosed {
                    listener_id: id,
                    reason: Err(io::Error::other("the TLS port's accept loop ended")),
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// libp2p's WebSocket over [`Inbound`], as `/tls/ws`.
pub struct Relabel<T>(pub T);

/// `…/tls/ws` to `…/ws`; `None` for any other address.
fn inner(addr: &Multiaddr) -> Option<Multiaddr> {
    let mut protocols: Vec<_> = addr.iter().collect();
    match protocols.as_slice() {
        [.., Protocol::Tls, Protocol::Ws(_)] => {
            let ws = protocols.pop()?;
            protocols.pop();
            protocols.push(ws);
            Some(protocols.into_iter().collect())
        }
        _ => None,
    }
}

/// `…/ws` to `…/tls/ws`.
fn outer(addr: Multiaddr) -> Multiaddr {
    let mut protocols: Vec<_> = addr.iter().collect();
    if let Some(Protocol::Ws(_)) = protocols.last() {
        let ws = protocols.pop();
        protocols.push(Protocol::Tls);
        protocols.extend(ws);
    }
    protocols.into_iter().collect()
}

impl<T: Transport + Unpin> Transport for Relabel<T> {
    type Output = T::Output;
    type Error = T::Error;
    type ListenerUpgrade = T::ListenerUpgrade;
    type Dial = T::Dial;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<T::Error>> {
        let Some(plain) = inner(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        self.0.listen_on(id, plain).map_err(|e| match e {
            TransportError::MultiaddrNotSupported(_) => TransportError::MultiaddrNotSupported(addr),
            other => other,
        })
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.0.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<T::Error>> {
        Err(TransportError::MultiaddrNotSupported(addr))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, T::Error>> {
        Pin::new(&mut self.0).poll(cx).map(|event| match event {
            TransportEvent::NewAddress {
                listener_id,
                listen_addr,
            } => TransportEvent::NewAddress {
                listener_id,
                listen_addr: outer(listen_addr),
            },
            TransportEvent::AddressExpired {
                listener_id,
                listen_addr,
            } => TransportEvent::AddressExpired {
                listener_id,
                listen_addr: outer(listen_addr),
            },
            TransportEvent::Incoming {
                listener_id,
                upgrade,
                local_addr,
                send_back_addr,
            } => TransportEvent::Incoming {
                listener_id,
                upgrade,
                local_addr: outer(local_addr),
                send_back_addr: outer(send_back_addr),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_ws_addresses_are_relabeled_both_ways() {
        let secure: Multiaddr = "/ip4/127.0.0.1/tcp/8443/tls/ws".parse().unwrap();
        let plain: Multiaddr = "/ip4/127.0.0.1/tcp/8443/ws".parse().unwrap();
        assert_eq!(inner(&secure), Some(plain.clone()));
        assert_eq!(outer(plain.clone()), secure);
        assert_eq!(inner(&plain), None, "a plain /ws is the other transport's");
        assert_eq!(inner(&"/ip4/127.0.0.1/tcp/1".parse().unwrap()), None);
        let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        assert_eq!(outer(tcp.clone()), tcp);
    }
}
