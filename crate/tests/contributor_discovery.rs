//! Discovery that scales past Kademlia's 20 providers per key: a real
//! `meganet node` process and 256 contributors in this one process, each a
//! libp2p peer over TCP announcing itself under its bucket's key exactly as
//! a browser does ([`contributors::key_of`]). Puts of many files then run
//! the network's own search ([`contributors::search`]) against the node's
//! DHT and the network's own placement ([`rotation::contributor_for`]), and
//! together they must use at least 200 of the contributors; and every
//! record found carries the circuit through the node that the contributor
//! announced, read back as a fetcher reads it ([`relays::record_addrs`]).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use libp2p::kad::{self, store::MemoryStore, GetProvidersOk, QueryResult, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use meganet::hash::Hash;
use meganet::net::{contributors, relays, Bootstrap};
use meganet::transfer::rotation;

const CONTRIBUTORS: usize = 256;
const FILES: u32 = 48;
/// Shards placed per file: 8 segments of 8.
const SEGMENTS: u64 = 8;
const SHARDS: usize = 8;

/// A node process, killed when dropped.
struct Node {
    child: Child,
    peer: PeerId,
    tcp: Multiaddr,
    url: String,
    _data: TempData,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempData(std::path::PathBuf);

impl Drop for TempData {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `meganet node` on free loopback ports; its TCP address from
/// `/bootstrap.json`.
fn start_node() -> Node {
    let data = std::env::temp_dir().join(format!("meganet-discovery-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meganet"))
        .args(["node", "--data"])
        .arg(&data)
        .args(["--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0"])
        .args([
            "--ws",
            "127.0.0.1:0",
            "--webrtc",
            "127.0.0.1:0",
            "--sites",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the meganet binary starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let url = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("web app: ").map(str::to_owned))
        .expect("the node prints its web app URL");
    let doc: Bootstrap = serde_json::from_str(&http_get(&url, "/bootstrap.json")).unwrap();
    let tcp = doc
        .addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .find(|a| a.to_string().contains("/tcp/") && !a.to_string().contains("/ws"))
        .expect("the node offers TCP");
    Node {
        child,
        peer: doc.peer_id.parse().unwrap(),
        tcp,
        url,
        _data: TempData(data),
    }
}

/// A plain HTTP/1.0 GET of `path` on `url`'s host: the body.
fn http_get(url: &str, path: &str) -> String {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// A Kademlia client peer joined to `node`, as browsers are.
fn peer(node: &Node) -> Swarm<kad::Behaviour<MemoryStore>> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| {
            let me = key.public().to_peer_id();
            let mut kad =
                kad::Behaviour::with_config(me, MemoryStore::new(me), meganet::net::kad_config());
            kad.set_mode(Some(kad::Mode::Client));
            kad
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    swarm.add_peer_address(node.peer, node.tcp.clone());
    swarm
        .behaviour_mut()
        .add_address(&node.peer, node.tcp.clone());
    swarm
}

/// Announces one contributor once it listens (a DHT lists only providers
/// with an address, as a browser's circuit address through its node);
/// runs its swarm until the test ends.
fn contributor(node: &Node, mut announced: mpsc::Sender<PeerId>) {
    let mut swarm = peer(node);
    let me = *swarm.local_peer_id();
    let circuit = node.tcp.clone().with(Protocol::P2pCircuit);
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    tokio::spawn(async move {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    swarm.add_external_address(address);
                    // What a browser's reservation on the node adds.
                    swarm.add_external_address(circuit.clone());
                    let key = contributors::key_of(&me);
                    swarm.behaviour_mut().start_providing(key).unwrap();
                }
                SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                    result: QueryResult::StartProviding(Ok(_)),
                    ..
                }) => {
                    let _ = announced.try_send(me);
                }
                _ => {}
            }
        }
    });
}

/// A provider found, with the relays its record names.
type Found = (PeerId, Vec<Multiaddr>);
type Lookup = (RecordKey, oneshot::Sender<Vec<Found>>);

/// A searcher: answers provider lookups sent on the returned channel, each
/// provider with the relays its record names, read as a browser does
/// ([`relays::record_addrs`] while the lookup runs).
fn searcher(node: &Node) -> mpsc::Sender<Lookup> {
    let mut swarm = peer(node);
    let (tx, mut rx) = mpsc::channel::<Lookup>(64);
    tokio::spawn(async move {
        let mut waiting = std::collections::HashMap::new();
        loop {
            tokio::select! {
                Some((key, reply)) = rx.next() => {
                    let id = swarm.behaviour_mut().get_providers(key);
                    waiting.insert(id, (HashSet::new(), reply));
                }
                event = swarm.select_next_some() => {
                    let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                        id, result: QueryResult::GetProviders(result), step, ..
                    }) = event else { continue };
                    if let (Ok(GetProvidersOk::FoundProviders { providers, .. }), Some((found, _))) =
                        (result, waiting.get_mut(&id))
                    {
                        for peer in providers {
                            let addrs = relays::record_addrs(swarm.behaviour_mut(), peer);
                            found.insert((peer, relays::relays(&peer, &addrs)));
                        }
                    }
                    if step.last {
                        if let Some((found, reply)) = waiting.remove(&id) {
                            let _ = reply.send(found.into_iter().collect());
                        }
                    }
                }
            }
        }
    });
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_find_and_use_hundreds_of_contributors() {
    let node = start_node();
    let (tx, mut announced) = mpsc::channel(CONTRIBUTORS);
    for _ in 0..CONTRIBUTORS {
        contributor(&node, tx.clone());
    }
    let all: HashSet<PeerId> = tokio::time::timeout(Duration::from_secs(120), async {
        let mut all = HashSet::new();
        while all.len() < CONTRIBUTORS {
            all.insert(announced.next().await.unwrap());
        }
        all
    })
    .await
    .expect("every contributor announced itself within 2 minutes");
    // An announcement is sent, not answered: wait until the node lists them.
    for _ in 0..600 {
        let status: serde_json::Value =
            serde_json::from_str(&http_get(&node.url, "/status.json")).unwrap();
        if status["dhtProviderRecords"].as_u64() >= Some(CONTRIBUTORS as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let lookups = searcher(&node);
    let mut used = HashSet::new();
    let through_node = vec![node.tcp.clone()];
    for file in 0..FILES {
        let anchor = Hash::of(&file.to_le_bytes());
        let found: Vec<PeerId> = contributors::search(&anchor, |key| {
            let mut lookups = lookups.clone();
            let through_node = through_node.clone();
            async move {
                let (reply, answer) = oneshot::channel();
                lookups.try_send((key, reply)).unwrap();
                let found = answer.await.unwrap_or_default();
                // Each record carries the circuit through the node.
                for (peer, relays) in &found {
                    assert_eq!(relays, &through_node, "{peer}'s record");
                }
                found.into_iter().map(|(peer, _)| peer).collect()
            }
        })
        .await;
        assert_eq!(found.len(), contributors::WANTED, "file {file}");
        assert!(found.iter().all(|p| all.contains(p)));
        for segment in 0..SEGMENTS {
            used.extend(
                (0..SHARDS).filter_map(|s| rotation::contributor_for(segment, s, SHARDS, &found)),
            );
        }
    }
    eprintln!(
        "{} of {CONTRIBUTORS} contributors received shards",
        used.len()
    );
    assert!(used.len() >= 200, "only {} contributors used", used.len());
}
