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
use super::{Error, Stage, Transport, NO_WEBRTC};

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
    /// The remote's address from the selected ICE pair, when known.
    pub remote: Option<libp2p::Multiaddr>,
}

enum Done {
    Dial {
        peer: PeerId,
        reply: oneshot::Sender<Result<Connection, Error>>,
        result: Result<Result<Connection, Error>, futures::future::Aborted>,
    },
    Answer {
        peer: PeerId,
        result: Result<(Connection, Option<libp2p::Multiaddr>), Error>,
    },
    /// A failed dial, held back briefly: if the remote dialed us at the
    /// same moment it may have reset ours first, and its inbound setup is
    /// what counts.
    Settle {
        peer: PeerId,
        reply: oneshot::Sender<Result<Connection, Error>>,
        error: Error,
    },
}

/// How long a failed dial waits for the remote's own dial to show up.
const SETTLE: Duration = Duration::from_millis(1500);

/// The signaling task; run it with [`Service::run`].
pub struct Service {
    local: PeerId,
    control: libp2p_stream::Control,
    config: Config,
    requests: mpsc::Receiver<DialRequest>,
    incoming: mpsc::Sender<Inbound>,
    listening: Arc<AtomicBool>,
    /// Whether remotes' setups are answered at all; when not, the
    /// signaling protocol is not even offered, so a remote's dial fails
    /// at once as "no direct path" and keeps the relayed connection.
    answer: bool,
}

/// A transport for the swarm and the service that serves it; the
/// transport records why each dial failed in `failures`. `answer`:
/// whether remotes' setups are answered (see [`super::Paths`]).
pub fn new(
    local: PeerId,
    control: libp2p_stream::Control,
    config: Config,
    failures: super::DialFailures,
    answer: bool,
) -> (Transport, Service) {
    let (dial_tx, dial_rx) = mpsc::channel(DIAL_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(INBOUND_QUEUE);
    let listening = Arc::new(AtomicBool::new(false));
    let transport = Transport::new(dial_tx, in_rx, listening.clone(), failures);
    let service = Service {
        local,
        control,
        config,
        requests: dial_rx,
        incoming: in_tx,
        listening,
        answer,
    };
    (transport, service)
}

impl Service {
    /// Runs until the swarm (and with it the transport) is gone.
    pub async fn run(mut self) {
        let mut accepted = if self.answer {
            let Ok(accepted) = self.control.accept(StreamProtocol::new(PROTOCOL)) else {
                tracing::error!("the signaling protocol is already taken");
                return;
            };
            accepted.boxed_local()
        } else {
            futures::stream::pending().boxed_local()
        }
        .fuse();
        let mut sessions: FuturesUnordered<LocalBoxFuture<'static, Done>> = FuturesUnordered::new();
        let mut dialing: HashMap<PeerId, AbortHandle> = HashMap::new();
        let mut answering = Answering::default();
        loop {
            futures::select! {
                request = self.requests.next() => {
                    let Some(DialRequest { peer, reply }) = request else { return };
                    if sessions.len() >= MAX_SESSIONS {
                        let _ = reply.send(Err(Error::Connection("too many WebRTC setups in flight")));
                        continue;
                    }
                    sessions.push(self.start_dial(peer, reply, &mut dialing));
                }
                incoming = accepted.next() => {
                    let Some((peer, stream)) = incoming else { return };
                    // Dropping the stream resets it: the remote's dial
                    // fails at signaling (and tries once more).
                    if !self.listening.load(Ordering::Relaxed) {
                        tracing::warn!(%peer, "refusing a WebRTC setup: not listening");
                        continue;
                    }
                    if sessions.len() >= MAX_SESSIONS {
                        tracing::warn!(%peer, "refusing a WebRTC setup: {MAX_SESSIONS} in flight");
                        continue;
                    }
                    if let Some(ours) = dialing.get(&peer) {
                        if self.local < peer {
                            continue; // our dial wins; the remote's fails
                        }
                        ours.abort();
                    }
                    answering.started(peer);
                    let config = self.config.clone();
                    sessions.push(async move {
                        let result = match session::answer(stream, &config).await {
                            Ok(connection) => {
                                let remote = session::selected_remote(connection.peer_connection()).await;
                                Ok((connection, remote))
                            }
                            Err(e) => Err(e),
                        };
                        Done::Answer { peer, result }
                    }.boxed_local());
                }
                done = sessions.select_next_some() => {
                    sessions.extend(self.finish(done, &mut dialing, &mut answering));
                }
            }
        }
    }

    /// Starts our setup with `peer`; the remote's own dial to us aborts it
    /// if the remote wins the tie-break.
    fn start_dial(
        &self,
        peer: PeerId,
        reply: DialReply,
        dialing: &mut HashMap<PeerId, AbortHandle>,
    ) -> LocalBoxFuture<'static, Done> {
        let (abort, registration) = AbortHandle::new_pair();
        dialing.insert(peer, abort);
        let setup = dial(
            self.control.clone(),
            peer,
            StreamProtocol::new(PROTOCOL),
            self.config.clone(),
        );
        let setup = Abortable::new(setup, registration);
        async move {
            Done::Dial {
                peer,
                reply,
                result: setup.await,
            }
        }
        .boxed_local()
    }

    /// Settles one finished setup. What comes back runs on: a failed dial
    /// held as a [`Done::Settle`], or dials again for those given up for
    /// a remote's setup that then failed.
    fn finish(
        &mut self,
        done: Done,
        dialing: &mut HashMap<PeerId, AbortHandle>,
        answering: &mut Answering,
    ) -> Vec<LocalBoxFuture<'static, Done>> {
        match done {
            Done::Dial {
                peer,
                reply,
                result,
            } => {
                dialing.remove(&peer);
                match result {
                    Ok(Ok(connection)) => {
                        let _ = reply.send(Ok(connection));
                    }
                    // Maybe the remote reset ours because it dialed us at
                    // the same moment: wait for its setup to show up.
                    Ok(Err(error)) => {
                        return vec![async move {
                            crate::platform::sleep(SETTLE).await;
                            Done::Settle { peer, reply, error }
                        }
                        .boxed_local()];
                    }
                    // Aborted: we lost the tie-break to the remote's dial.
                    Err(_) => {
                        let simultaneous = Error::Simultaneous;
                        if let Some(reply) = answering.settle(peer, reply, simultaneous) {
                            return vec![self.start_dial(peer, reply, dialing)];
                        }
                    }
                }
            }
            Done::Settle { peer, reply, error } => {
                if let Some(reply) = answering.settle(peer, reply, error) {
                    return vec![self.start_dial(peer, reply, dialing)];
                }
            }
            Done::Answer { peer, result } => {
                let redial = answering.finished(peer, result.is_ok());
                if !redial.is_empty() {
                    tracing::warn!(%peer, "the remote's simultaneous dial failed; dialing it again");
                }
                let again = redial
                    .into_iter()
                    .map(|reply| self.start_dial(peer, reply, dialing))
                    .collect();
                match result {
                    Ok((connection, remote)) => {
                        if self
                            .incoming
                            .try_send(Inbound {
                                peer,
                                connection,
                                remote,
                            })
                            .is_err()
                        {
                            tracing::warn!(%peer, "dropping an answered WebRTC connection: swarm busy");
                        }
                    }
                    Err(e) => tracing::warn!(%peer, error = %e, "incoming WebRTC setup failed"),
                }
                return again;
            }
        }
        Vec::new()
    }
}

type DialReply = oneshot::Sender<Result<Connection, Error>>;

/// Whether `error` says our dial gave way to the remote's.
fn is_simultaneous(error: &Error) -> bool {
    matches!(error, Error::Simultaneous)
}

/// The remotes' own setups with us, for telling a lost race from a
/// failure: a failed dial to a peer whose setup with us is running waits
/// for that setup; if it succeeds (now or within twice [`SETTLE`] before)
/// the dial reports [`Error::Simultaneous`], the inbound connection being
/// the one; if it fails, the dial reports its own error.
#[derive(Default)]
struct Answering {
    setups: HashMap<PeerId, Setup>,
    /// Failed dials waiting for a running setup, by peer.
    parked: HashMap<PeerId, Vec<(DialReply, Error)>>,
}

enum Setup {
    Running,
    Succeeded(web_time::Instant),
}

impl Answering {
    fn started(&mut self, peer: PeerId) {
        self.setups.retain(|_, setup| match setup {
            Setup::Running => true,
            Setup::Succeeded(at) => at.elapsed() < SETTLE * 2,
        });
        self.setups.insert(peer, Setup::Running);
    }

    /// The remote's setup ended; settles the dials parked on it. Returns
    /// the ones to dial again: ours that were given up for this setup,
    /// which failed.
    fn finished(&mut self, peer: PeerId, ok: bool) -> Vec<DialReply> {
        if ok {
            self.setups
                .insert(peer, Setup::Succeeded(web_time::Instant::now()));
        } else {
            self.setups.remove(&peer);
        }
        let mut redial = Vec::new();
        for (reply, error) in self.parked.remove(&peer).unwrap_or_default() {
            if ok {
                let _ = reply.send(Err(Error::Simultaneous));
            } else if is_simultaneous(&error) {
                // Unless nobody waits for it any more.
                if !reply.is_canceled() {
                    redial.push(reply);
                }
            } else {
                let _ = reply.send(Err(error));
            }
        }
        redial
    }

    /// Answers a failed dial to `peer`, or parks it while the remote's own
    /// setup runs. Returns it when it is to be dialed again: it gave way
    /// to a remote setup that has failed already.
    fn settle(&mut self, peer: PeerId, reply: DialReply, error: Error) -> Option<DialReply> {
        match self.setups.get(&peer) {
            Some(Setup::Running) => self.parked.entry(peer).or_default().push((reply, error)),
            Some(Setup::Succeeded(at)) if at.elapsed() < SETTLE * 2 => {
                let _ = reply.send(Err(Error::Simultaneous));
            }
            _ if is_simultaneous(&error) && !reply.is_canceled() => return Some(reply),
            _ => {
                let _ = reply.send(Err(error));
            }
        }
        None
    }
}

async fn dial(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    protocol: StreamProtocol,
    config: Config,
) -> Result<Connection, Error> {
    let stream = futures::select! {
        stream = control.open_stream(peer, protocol).fuse() => match stream {
            Ok(stream) => stream,
            // A peer that makes no direct connections does not offer
            // signaling: its relayed connection is the path.
            Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                return Err(Error::NoDirectPath(NO_WEBRTC.to_owned()));
            }
            Err(e) => return Err(Error::at(Stage::OpenSignaling, e)),
        },
        () = crate::platform::sleep(OPEN_TIMEOUT).fuse() => {
            return Err(Error::at(Stage::OpenSignaling, "no relayed connection answered in time"));
        }
    };
    session::offer(stream, &config).await
}
