//! The task that owns signaling: it opens `/webrtc-signaling/0.0.1` streams
//! for the [`Transport`]'s dials, answers incoming ones while the transport
//! listens, and settles simultaneous dials so two peers dialing each other
//! end with one connection (the smaller peer id's dial wins).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{AbortHandle, Abortable, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};

use super::connection::Connection;
use super::session::{self, Config};
use super::signal::PROTOCOL;
use super::{Error, Stage, Transport};

/// Most dials waiting for the service.
const DIAL_QUEUE: usize = 16;
/// Most answered connections waiting for the swarm.
const INBOUND_QUEUE: usize = 16;
/// Most setups in flight at once; more are refused.
const MAX_SESSIONS: usize = 32;
/// Longest wait for the signaling stream on the relayed connection.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A dial from the transport.
pub struct DialRequest {
    pub peer: PeerId,
    pub reply: oneshot::Sender<Result<Connection, Error>>,
}

/// A connection set up on a remote's initiative.
pub struct Inbound {
    pub peer: PeerId,
    pub connection: Connection,
}

enum Done {
    Dial {
        peer: PeerId,
        reply: oneshot::Sender<Result<Connection, Error>>,
        result: Result<Result<Connection, Error>, futures::future::Aborted>,
    },
    Answer {
        peer: PeerId,
        result: Result<Connection, Error>,
    },
}

/// The signaling task; run it with [`Service::run`].
pub struct Service {
    local: PeerId,
    control: libp2p_stream::Control,
    config: Config,
    requests: mpsc::Receiver<DialRequest>,
    incoming: mpsc::Sender<Inbound>,
    listening: Arc<AtomicBool>,
}

/// A transport for the swarm and the service that serves it.
pub fn new(local: PeerId, control: libp2p_stream::Control, config: Config) -> (Transport, Service) {
    let (dial_tx, dial_rx) = mpsc::channel(DIAL_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(INBOUND_QUEUE);
    let listening = Arc::new(AtomicBool::new(false));
    let transport = Transport::new(dial_tx, in_rx, listening.clone());
    let service = Service {
        local,
        control,
        config,
        requests: dial_rx,
        incoming: in_tx,
        listening,
    };
    (transport, service)
}

impl Service {
    /// Runs until the swarm (and with it the transport) is gone.
    pub async fn run(mut self) {
        let protocol = StreamProtocol::new(PROTOCOL);
        let Ok(accepted) = self.control.accept(protocol.clone()) else {
            tracing::error!("the signaling protocol is already taken");
            return;
        };
        let mut accepted = accepted.fuse();
        let mut sessions: FuturesUnordered<LocalBoxFuture<'static, Done>> = FuturesUnordered::new();
        let mut dialing: HashMap<PeerId, AbortHandle> = HashMap::new();
        loop {
            futures::select! {
                request = self.requests.next() => {
                    let Some(DialRequest { peer, reply }) = request else { return };
                    if sessions.len() >= MAX_SESSIONS {
                        let _ = reply.send(Err(Error::Connection("too many WebRTC setups in flight")));
                        continue;
                    }
                    let (abort, registration) = AbortHandle::new_pair();
                    dialing.insert(peer, abort);
                    let setup = Abortable::new(dial(self.control.clone(), peer, protocol.clone(), self.config.clone()), registration);
                    sessions.push(async move { Done::Dial { peer, reply, result: setup.await } }.boxed_local());
                }
                incoming = accepted.next() => {
                    let Some((peer, stream)) = incoming else { return };
                    if !self.listening.load(Ordering::Relaxed) || sessions.len() >= MAX_SESSIONS {
                        continue; // dropping the stream resets it
                    }
                    if let Some(ours) = dialing.get(&peer) {
                        if self.local < peer {
                            continue; // our dial wins; the remote's fails
                        }
                        ours.abort();
                    }
                    let config = self.config.clone();
                    sessions.push(async move {
                        Done::Answer { peer, result: session::answer(stream, &config).await }
                    }.boxed_local());
                }
                done = sessions.select_next_some() => self.finish(done, &mut dialing),
            }
        }
    }

    fn finish(&mut self, done: Done, dialing: &mut HashMap<PeerId, AbortHandle>) {
        match done {
            Done::Dial {
                peer,
                reply,
                result,
            } => {
                dialing.remove(&peer);
                let result = result.unwrap_or(Err(Error::Connection(super::SIMULTANEOUS)));
                let _ = reply.send(result);
            }
            Done::Answer {
                peer,
                result: Ok(connection),
            } => {
                if self
                    .incoming
                    .try_send(Inbound { peer, connection })
                    .is_err()
                {
                    tracing::warn!(%peer, "dropping an answered WebRTC connection: swarm busy");
                }
            }
            Done::Answer {
                peer,
                result: Err(e),
            } => {
                tracing::warn!(%peer, error = %e, "incoming WebRTC setup failed");
            }
        }
    }
}

async fn dial(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    protocol: StreamProtocol,
    config: Config,
) -> Result<Connection, Error> {
    let stream = futures::select! {
        stream = control.open_stream(peer, protocol).fuse() => {
            stream.map_err(|e| Error::at(Stage::OpenSignaling, e))?
        }
        () = crate::platform::sleep(OPEN_TIMEOUT).fuse() => {
            return Err(Error::at(Stage::OpenSignaling, "no relayed connection answered in time"));
        }
    };
    session::offer(stream, &config).await
}
