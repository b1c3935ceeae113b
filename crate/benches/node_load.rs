//! Capacity of one node: a real `meganet node` process holding 1,000
//! browser-like clients (`node_load/clients.rs`), each connected over
//! WebSocket with a relay reservation and one provider record. Printed as
//! JSON lines for `scripts/bench.sh`:
//!
//! - `node.peers_held`: clients holding both after a steady minute;
//! - `node.rss_per_peer_KiB`: the node's resident memory with them, less
//!   its memory idle, per client;
//! - `node.cpu_ms_per_peer_minute`: the node's CPU time (user plus system)
//!   over the steady minute, per client and minute.
//!
//! Exits with an error if not every client held. `MEGANET_BENCH_PEERS`
//! (default 1000) and `MEGANET_BENCH_STEADY_SECS` (default 60) change the
//! load and the window. All clients dial from 127.0.0.1, so the node runs
//! with a per-IP reservation rate that admits them
//! (`--relay-reservations-per-ip-per-hour`).

#[path = "node_load/clients.rs"]
mod clients;
#[path = "node_load/process.rs"]
mod process;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};
use meganet::net::{Bootstrap, NodeStatus};

type Error = Box<dyn std::error::Error>;

/// Time for the node's memory and the clients' first pings to settle.
const SETTLE: Duration = Duration::from_secs(5);

fn report(name: &str, value: f64, unit: &str) {
    // Two decimals: the CPU figure is near 1.
    let value = (value * 100.0).round() / 100.0;
    println!(r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#);
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The node's WebSocket address, without `/p2p`, and its peer id.
fn websocket_addr(node: &process::Node) -> Result<(PeerId, Multiaddr), Error> {
    let bootstrap: Bootstrap = node.get("/bootstrap.json")?;
    let peer: PeerId = bootstrap.peer_id.parse()?;
    let addr = bootstrap
        .addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .find(|a| a.to_string().contains("/ws"))
        .ok_or("the node offers no WebSocket address")?;
    let addr = addr
        .into_iter()
        .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
        .collect();
    Ok((peer, addr))
}

fn main() -> Result<(), Error> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let peers = env_or("MEGANET_BENCH_PEERS", 1000) as usize;
    let steady = Duration::from_secs(env_or("MEGANET_BENCH_STEADY_SECS", 60).max(1));
    let fds = process::raise_fd_limit()?;
    if fds < 2 * peers as u64 + 256 {
        return Err(format!("open-file limit {fds} is too low for {peers} clients").into());
    }
    let node = process::Node::start(&[
        "--relay-reservations-per-ip-per-hour".into(),
        (2 * peers).to_string(),
    ])?;
    let (node_id, addr) = websocket_addr(&node)?;
    eprintln!("node_load: node {node_id} at {addr}, pid {}", node.pid());
    std::thread::sleep(Duration::from_secs(2));
    let idle_kib = node.rss_kib()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let clients = runtime.block_on(clients::Clients::start(peers, node_id, addr));
    eprintln!(
        "node_load: {} of {peers} clients held after {:.1} s",
        clients.held.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    for why in &clients.failures {
        eprintln!("node_load: a client failed: {why}");
    }

    // The clients run on the runtime's threads meanwhile.
    std::thread::sleep(SETTLE);
    let (cpu_before, window) = (node.cpu_ms()?, Instant::now());
    std::thread::sleep(steady);
    let cpu_ms = node.cpu_ms()? - cpu_before;
    let minutes = window.elapsed().as_secs_f64() / 60.0;
    let rss_kib = node.rss_kib()?;
    let held = clients.held.load(Ordering::Relaxed);
    let status: NodeStatus = node.get("/status.json")?;
    let mut connected: Vec<&str> = status.peers.iter().map(|p| p.peer_id.as_str()).collect();
    connected.sort_unstable();
    connected.dedup();
    eprintln!(
        "node_load: the node reports {} peers and {} provider records; RSS {idle_kib} KiB idle, \
         {rss_kib} KiB loaded; {cpu_ms:.0} ms CPU in {:.1} s",
        connected.len(),
        status.dht_provider_records,
        minutes * 60.0
    );
    clients.stop();
    runtime.shutdown_timeout(Duration::from_secs(5));

    let per_peer = held.max(1) as f64;
    report("node.peers_held", held as f64, "peers");
    report(
        "node.rss_per_peer_KiB",
        rss_kib.saturating_sub(idle_kib) as f64 / per_peer,
        "KiB",
    );
    report(
        "node.cpu_ms_per_peer_minute",
        cpu_ms / per_peer / minutes,
        "ms",
    );
    if held < peers || connected.len() < held || status.dht_provider_records < held {
        let log = node.log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        return Err(format!(
            "{held} of {peers} clients held a reservation and a record; the node reports {} \
             peers and {} records. Node log tail:\n{}",
            connected.len(),
            status.dht_provider_records,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
        .into());
    }
    Ok(())
}
