//! Load clients: each one a libp2p swarm standing in for an idle browser.
//! It dials the node over WebSocket (Noise, yamux), holds a relay
//! reservation, announces one provider record as a Kademlia client, and
//! keeps identify and ping running, as a browser's swarm does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, kad, noise, ping, relay, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, watch, Semaphore};

/// Clients setting up at once: the rest wait, so the node sees a steady
/// stream of handshakes rather than a thousand at the same instant.
const SETTING_UP: usize = 64;
/// Longest one client may take from dial to reservation and record.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest all clients may take to set up.
const RAMP_TIMEOUT: Duration = Duration::from_secs(120);
/// As the browser peer's: connections stay open while idle.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay: relay::client::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// The running clients, held until [`Clients::stop`].
pub struct Clients {
    /// Clients holding both a reservation and an accepted record now.
    pub held: Arc<AtomicUsize>,
    /// Why clients failed to set up or lost their hold, at most a few.
    pub failures: Vec<String>,
    stop: watch::Sender<bool>,
}

impl Clients {
    /// Starts `count` clients against the node `node` at `addr` (its
    /// WebSocket multiaddr, without `/p2p`) and returns once each has
    /// held or failed.
    pub async fn start(count: usize, node: PeerId, addr: Multiaddr) -> Self {
        let held = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = watch::channel(false);
        let (done, mut outcomes) = mpsc::channel(count.max(1));
        let setting_up = Arc::new(Semaphore::new(SETTING_UP));
        for _ in 0..count {
            let (addr, held, stopped, done) =
                (addr.clone(), held.clone(), stopped.clone(), done.clone());
            let setting_up = setting_up.clone();
            tokio::spawn(async move {
                let permit = setting_up.acquire_owned().await;
                let outcome = match build().await {
                    Ok(mut swarm) => {
                        let setup =
                            tokio::time::timeout(SETUP_TIMEOUT, set_up(&mut swarm, node, &addr))
                                .await
                                .unwrap_or_else(|_| Err("timed out".into()));
                        drop(permit);
                        if setup.is_ok() {
                            held.fetch_add(1, Ordering::Relaxed);
                            let _ = done.send(Ok(())).await;
                            let lost = hold(swarm, node, stopped).await;
                            if let Err(why) = lost {
                                held.fetch_sub(1, Ordering::Relaxed);
                                eprintln!("node_load: a client lost its hold: {why}");
                            }
                            return;
                        }
                        setup
                    }
                    Err(e) => Err(e),
                };
                let _ = done.send(outcome).await;
            });
        }
        drop(done);
        let mut failures = Vec::new();
        // Holding clients keep their sender, so count outcomes rather than
        // wait for the channel to close; the deadline is a last resort.
        let deadline = tokio::time::Instant::now() + RAMP_TIMEOUT;
        for finished in 1..=count {
            let outcome = match tokio::time::timeout_at(deadline, outcomes.recv()).await {
                Ok(Some(outcome)) => outcome,
                Ok(None) => Err("a client task ended without a word".into()),
                Err(_) => {
                    failures.push(format!("{} clients still setting up", count + 1 - finished));
                    break;
                }
            };
            if let Err(why) = outcome {
                if failures.len() < 5 {
                    failures.push(why);
                }
            }
            if finished % 100 == 0 {
                eprintln!(
                    "node_load: {finished} clients set up, {} holding",
                    held.load(Ordering::Relaxed)
                );
            }
        }
        Self {
            held,
            failures,
            stop,
        }
    }

    /// Tells every client to close its swarm.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

async fn build() -> Result<Swarm<Behaviour>, String> {
    let swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_websocket(noise::Config::new, yamux::Config::default)
        .await
        .map_err(|e| format!("cannot set up WebSocket: {e}"))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| format!("cannot set up the relay client: {e}"))?
        .with_behaviour(|key, relay| {
            let me = key.public().to_peer_id();
            let mut kad = kad::Behaviour::with_config(
                me,
                kad::store::MemoryStore::new(me),
                meganet::net::kad_config(),
            );
            kad.set_mode(Some(kad::Mode::Client));
            Behaviour {
                relay,
                kad,
                identify: identify::Behaviour::new(identify::Config::new(
                    meganet::net::PROTOCOL_VERSION.to_owned(),
                    key.public(),
                )),
                ping: ping::Behaviour::default(),
            }
        })
        .map_err(|e| format!("cannot set up behaviours: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    Ok(swarm)
}

/// Dials the node, then asks for a reservation and announces a record;
/// done when the node accepted both.
async fn set_up(
    swarm: &mut Swarm<Behaviour>,
    node: PeerId,
    addr: &Multiaddr,
) -> Result<(), String> {
    let node_addr = addr.clone().with(Protocol::P2p(node));
    swarm
        .dial(node_addr.clone())
        .map_err(|e| format!("cannot dial: {e}"))?;
    let (mut reserved, mut provided) = (false, false);
    while !(reserved && provided) {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == node => {
                // Only now, so neither the relay client nor Kademlia dials
                // a second connection of its own.
                swarm
                    .listen_on(node_addr.clone().with(Protocol::P2pCircuit))
                    .map_err(|e| format!("cannot listen through the relay: {e}"))?;
                swarm.behaviour_mut().kad.add_address(&node, addr.clone());
                // A random key of its own: the peer id is random.
                let key = kad::RecordKey::new(&swarm.local_peer_id().to_bytes());
                swarm
                    .behaviour_mut()
                    .kad
                    .start_providing(key)
                    .map_err(|e| format!("cannot announce: {e}"))?;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(
                relay::client::Event::ReservationReqAccepted { .. },
            )) => reserved = true,
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::StartProviding(result),
                ..
            })) => {
                result.map_err(|e| format!("announcing failed: {e}"))?;
                provided = true;
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(format!("reservation refused: {reason:?}"))
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return Err(format!("dial failed: {error}"))
            }
            SwarmEvent::ConnectionClosed { cause, .. } => {
                return Err(format!("connection closed: {cause:?}"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Keeps the swarm running until told to stop; an error if the node's
/// connection or the reservation went away first.
async fn hold(
    mut swarm: Swarm<Behaviour>,
    node: PeerId,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. }
                    if peer_id == node =>
                {
                    return Err(format!("connection closed: {cause:?}"))
                }
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(format!("reservation ended: {reason:?}"))
                }
                _ => {}
            },
            _ = stopped.changed() => return Ok(()),
        }
    }
}
