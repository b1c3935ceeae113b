//! Provider lookups as the network grows (issue 19): 50, 100 and 200 real
//! rust-libp2p Kademlia nodes in one process, over libp2p's memory
//! transport with Noise and Yamux, each running the network's own
//! Kademlia configuration ([`meganet::net::kad_config`]). For each size,
//! [`LOOKUPS`] keys are each provided by one node and looked up from
//! another. Printed as JSON lines for `scripts/bench.sh`:
//!
//! - `dht.hops.{50,100,200}`: median rounds to the first provider record.
//!   libp2p does not report hops: a lookup sends [`PARALLELISM`] requests
//!   a round, so the requests sent before the first record arrives,
//!   divided by it (rounded up), are the rounds of the walk;
//! - `dht.messages.{50,100,200}`: median requests a whole lookup sends.
//!
//! Each node starts knowing [`KNOWN_AT_START`] earlier nodes and runs a
//! Kademlia bootstrap, as a node joining with `--peer` does.

use std::time::Duration;

use futures::StreamExt;
use libp2p::core::transport::{MemoryTransport, Transport};
use libp2p::core::upgrade::Version;
use libp2p::kad::{self, store::MemoryStore, GetProvidersOk, QueryResult};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, identity, noise, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

type Error = Box<dyn std::error::Error + Send + Sync>;

const SIZES: [usize; 3] = [50, 100, 200];
/// Requests a lookup has in flight at once (libp2p's default, which the
/// network keeps).
const PARALLELISM: u32 = 3;
const LOOKUPS: usize = 25;
const KNOWN_AT_START: usize = 3;
/// Longest any one step (bootstrap, providing, a lookup) may take.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// Kademlia with identify, as the network runs them: identify tells a
/// node that a peer that dialed it speaks Kademlia, and where it listens,
/// so it enters the routing table.
#[derive(NetworkBehaviour)]
struct Behaviour {
    kad: kad::Behaviour<MemoryStore>,
    identify: identify::Behaviour,
}

enum Command {
    Know(PeerId, Multiaddr),
    Bootstrap(oneshot::Sender<()>),
    Provide(kad::RecordKey, oneshot::Sender<()>),
    /// Answers (requests before the first provider, requests in all).
    Lookup(kad::RecordKey, oneshot::Sender<(u32, u32)>),
}

struct Handle {
    peer: PeerId,
    addr: Multiaddr,
    commands: mpsc::Sender<Command>,
}

/// One node, started on `/memory/<port>`, driven from its own task.
fn start(port: u64) -> Result<Handle, Error> {
    let key = identity::Keypair::generate_ed25519();
    let peer = key.public().to_peer_id();
    let mut config = meganet::net::kad_config();
    config.set_query_timeout(STEP_LIMIT);
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| {
            Ok(MemoryTransport::default()
                .upgrade(Version::V1)
                .authenticate(noise::Config::new(key)?)
                .multiplex(yamux::Config::default())
                .boxed())
        })?
        .with_behaviour(|key| Behaviour {
            kad: kad::Behaviour::with_config(peer, MemoryStore::new(peer), config),
            identify: identify::Behaviour::new(identify::Config::new(
                "/meganet/dht-bench/1".into(),
                key.public(),
            )),
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
        .build();
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    let addr: Multiaddr = format!("/memory/{port}").parse()?;
    swarm.listen_on(addr.clone())?;
    // Provider records carry the provider's external addresses: a node
    // that knows no address for a provider leaves it out of its answers.
    swarm.add_external_address(addr.clone());
    let (commands, rx) = mpsc::channel(16);
    tokio::spawn(drive(swarm, rx));
    Ok(Handle {
        peer,
        addr,
        commands,
    })
}

/// What a running query reports back to.
enum Waiting {
    Done(oneshot::Sender<()>),
    Lookup {
        first: Option<u32>,
        answer: oneshot::Sender<(u32, u32)>,
    },
}

async fn drive(mut swarm: Swarm<Behaviour>, mut rx: mpsc::Receiver<Command>) {
    let mut waiting = std::collections::HashMap::new();
    loop {
        tokio::select! {
            command = rx.recv() => {
                let Some(command) = command else { return };
                let kad = &mut swarm.behaviour_mut().kad;
                match command {
                    Command::Know(peer, addr) => {
                        kad.add_address(&peer, addr);
                    }
                    Command::Bootstrap(done) => match kad.bootstrap() {
                        Ok(id) => {
                            waiting.insert(id, Waiting::Done(done));
                        }
                        Err(_) => drop(done),
                    },
                    Command::Provide(key, done) => {
                        if let Ok(id) = kad.start_providing(key) {
                            waiting.insert(id, Waiting::Done(done));
                        }
                    }
                    Command::Lookup(key, answer) => {
                        let id = kad.get_providers(key);
                        waiting.insert(id, Waiting::Lookup { first: None, answer });
                    }
                }
            }
            event = swarm.select_next_some() => {
                let (id, result, stats, step) = match event {
                    SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed { id, result, stats, step })) => (id, result, stats, step),
                    // As the network does: a peer that identified itself
                    // enters the routing table at the addresses it listens on.
                    SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                        for addr in info.listen_addrs {
                            swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                        }
                        continue;
                    }
                    _ => continue,
                };
                let found = matches!(&result, QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) if !providers.is_empty());
                if let Some(Waiting::Lookup { first, .. }) = waiting.get_mut(&id) {
                    if found && first.is_none() {
                        *first = Some(stats.num_requests());
                    }
                }
                if step.last {
                    match waiting.remove(&id) {
                        Some(Waiting::Done(done)) => {
                            let _ = done.send(());
                        }
                        Some(Waiting::Lookup { first: Some(first), answer }) => {
                            let _ = answer.send((first, stats.num_requests()));
                        }
                        Some(Waiting::Lookup { first: None, .. }) => {
                            eprintln!("no provider found: {} requests; {result:?}", stats.num_requests());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Waits for a node's answer, at most [`STEP_LIMIT`].
async fn ask<T>(
    node: &Handle,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
    what: &str,
) -> Result<T, Error> {
    let (tx, rx) = oneshot::channel();
    node.commands.send(make(tx)).await?;
    match tokio::time::timeout(STEP_LIMIT, rx).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(format!("{what}: the query ended without an answer").into()),
        Err(_) => Err(format!("{what}: no answer within {STEP_LIMIT:?}").into()),
    }
}

/// SplitMix64, so every run picks the same nodes.
fn pick(state: &mut u64, below: usize) -> usize {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % below as u64) as usize
}

/// A network of `size` nodes; the medians of (hops to the first provider,
/// requests in all) over [`LOOKUPS`] lookups.
async fn measure(size: usize, first_port: u64) -> Result<(u32, u32), Error> {
    let nodes: Vec<Handle> = (0..size as u64)
        .map(|i| start(first_port + i))
        .collect::<Result<_, _>>()?;
    let mut state = size as u64;
    for (i, node) in nodes.iter().enumerate().skip(1) {
        for _ in 0..KNOWN_AT_START.min(i) {
            let other = &nodes[pick(&mut state, i)];
            let command = Command::Know(other.peer, other.addr.clone());
            node.commands.send(command).await?;
        }
    }
    let bootstraps = nodes
        .iter()
        .skip(1)
        .map(|node| ask(node, Command::Bootstrap, "bootstrap"));
    futures::future::try_join_all(bootstraps).await?;
    let (mut hops, mut messages) = (Vec::new(), Vec::new());
    for lookup in 0..LOOKUPS {
        let key = kad::RecordKey::new(&format!("key-{size}-{lookup}"));
        let provider = pick(&mut state, size);
        let seeker = (provider + 1 + pick(&mut state, size - 1)) % size;
        ask(
            &nodes[provider],
            |tx| Command::Provide(key.clone(), tx),
            "provide",
        )
        .await?;
        // The query ends when the records are sent: let them land.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (first, all) = ask(&nodes[seeker], |tx| Command::Lookup(key, tx), "lookup").await?;
        hops.push(first.div_ceil(PARALLELISM));
        messages.push(all);
    }
    Ok((median(hops), median(messages)))
}

fn median(mut values: Vec<u32>) -> u32 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn report(name: &str, value: u32, unit: &str) {
    println!(r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#);
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut port = 1;
    for size in SIZES {
        let (hops, messages) = measure(size, port).await?;
        port += size as u64;
        report(&format!("dht.hops.{size}"), hops, "hops");
        report(&format!("dht.messages.{size}"), messages, "requests");
    }
    Ok(())
}
