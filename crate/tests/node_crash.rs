//! The node's durable writes under a crash: a real `meganet node` process
//! takes a stream of PUTs of distinct blocks (64 KiB to 1 MiB, several in
//! flight) and is killed with SIGKILL at a random point while PUTs are
//! still in flight. Before it restarts, every shard file in its store must
//! hash to its name (a crash leaves a whole file or none); restarted on
//! the same data directory, it must start cleanly, have emptied `tmp/`,
//! and return every block it acknowledged, byte for byte, in this round
//! and every earlier one; a block sent but not acknowledged is either
//! absent or whole. Three rounds kill at three points.
//!
//! The kill points and the blocks come from one seed, printed on start;
//! `MEGANET_CRASH_SEED=<seed>` replays a run.
// SIGKILL and exit signals: Unix only (so never wasm32).
#![cfg(unix)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use meganet::hash::Hash;
use meganet::net::block::{self, BlockCodec, BlockRequest, BlockResponse};
use meganet::net::Bootstrap;

const ROUNDS: u32 = 3;
/// Requests a client keeps open at once.
const IN_FLIGHT: usize = 8;
/// Blocks a round has ready; the kill comes long before the last.
const BLOCKS_PER_ROUND: u32 = 400;
/// Acknowledged PUTs before a kill: at least this many, up to twice.
const MIN_ACKS: u64 = 50;
/// Longest wait after the last counted acknowledgement before the kill.
const MAX_KILL_DELAY_MS: u64 = 30;
const MIN_BLOCK: u64 = 64 << 10;
const MAX_BLOCK: u64 = 1 << 20;

#[tokio::test]
async fn acknowledged_puts_survive_a_kill_9() {
    let seed = std::env::var("MEGANET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
    eprintln!("MEGANET_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = TempDir::new();
    let mut node = Node::start(&dir, 0);
    // Every block sent, by hash: what it must read back as.
    let mut sent: HashMap<Hash, Block> = HashMap::new();
    let mut acked: Vec<Hash> = Vec::new();
    let mut unacked: Vec<Hash> = Vec::new();
    for round in 0..ROUNDS {
        let blocks: Vec<Block> = (0..BLOCKS_PER_ROUND)
            .map(|index| Block {
                seed,
                round,
                index,
                len: (MIN_BLOCK + rng.below(MAX_BLOCK - MIN_BLOCK + 1)) as usize,
            })
            .collect();
        let kill_after = (MIN_ACKS + rng.below(MIN_ACKS + 1)) as usize;
        let delay = Duration::from_millis(rng.below(MAX_KILL_DELAY_MS + 1));
        let started = std::time::Instant::now();
        let puts = stream_puts(&mut node, &blocks, kill_after, delay, &mut sent).await;
        let (whole, partial) = check_disk(&dir.blocks());
        eprintln!(
            "round {round}: killed after {} acknowledged PUTs ({} in flight, {} ms); \
             {whole} whole shard files, {partial} interrupted writes in tmp/",
            puts.acked.len(),
            puts.unacked.len(),
            started.elapsed().as_millis(),
        );
        assert!(puts.acked.len() >= kill_after, "round {round}");
        assert!(
            !puts.unacked.is_empty(),
            "round {round}: no PUT was in flight at the kill"
        );
        assert!(
            whole >= acked.len() + puts.acked.len(),
            "round {round}: fewer shard files than acknowledged PUTs"
        );
        acked.extend(puts.acked);
        unacked.extend(puts.unacked);

        node = Node::start(&dir, round + 1);
        let leftovers = std::fs::read_dir(dir.blocks().join("tmp")).unwrap().count();
        assert_eq!(leftovers, 0, "round {round}: the restarted node left tmp/");
        let asked: Vec<Hash> = acked.iter().chain(&unacked).copied().collect();
        let found = fetch_all(&node, &asked).await;
        for hash in &acked {
            let bytes = found[hash]
                .as_ref()
                .unwrap_or_else(|| panic!("round {round}: acknowledged block {hash} lost"));
            assert_eq!(Hash::of(bytes), *hash, "round {round}: {hash} corrupt");
            assert!(
                *bytes == sent[hash].bytes(),
                "round {round}: {hash} differs from what was sent"
            );
        }
        let mut kept = 0;
        for hash in &unacked {
            if let Some(bytes) = &found[hash] {
                assert!(
                    *bytes == sent[hash].bytes(),
                    "round {round}: unacknowledged {hash} came back different"
                );
                kept += 1;
            }
        }
        eprintln!(
            "round {round}: restarted; {} acknowledged blocks all read back, \
             {kept} of {} unacknowledged kept whole",
            acked.len(),
            unacked.len(),
        );
        node.check_log();
    }
    assert!(acked.len() as u64 >= u64::from(ROUNDS) * MIN_ACKS);
}

/// One block the test sends: its bytes come from its name, so the test
/// keeps names, not megabytes.
#[derive(Clone, Copy)]
struct Block {
    seed: u64,
    round: u32,
    index: u32,
    len: usize,
}

impl Block {
    fn bytes(&self) -> Vec<u8> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.seed.to_le_bytes());
        hasher.update(&self.round.to_le_bytes());
        hasher.update(&self.index.to_le_bytes());
        let mut out = vec![0; self.len];
        hasher.finalize_xof().fill(&mut out);
        out
    }
}

/// splitmix64: kill points and sizes, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The data directory and the node's logs, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("meganet-crash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn data(&self) -> PathBuf {
        self.0.join("data")
    }

    /// The node's block store (`node::run` opens it under the data directory).
    fn blocks(&self) -> PathBuf {
        self.data().join("blocks")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A node process, killed when dropped.
struct Node {
    child: Child,
    peer: PeerId,
    tcp: Multiaddr,
    log: PathBuf,
}

impl Node {
    /// Starts `meganet node` on `dir`'s data directory and free loopback
    /// ports; its log goes to `node-<n>.log`.
    fn start(dir: &TempDir, n: u32) -> Self {
        let log = dir.0.join(format!("node-{n}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_meganet"))
            .args(["node", "--data"])
            .arg(dir.data())
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
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the meganet binary starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let url = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("web app: ").map(str::to_owned))
            .unwrap_or_else(|| {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("node {n} did not start:\n{text}")
            });
        let doc: Bootstrap = serde_json::from_str(&http_get(&url, "/bootstrap.json")).unwrap();
        let tcp = doc
            .addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .find(|a| a.to_string().contains("/tcp/") && !a.to_string().contains("/ws"))
            .expect("the node offers TCP");
        Self {
            child,
            peer: doc.peer_id.parse().unwrap(),
            tcp,
            log,
        }
    }

    /// SIGKILL: no shutdown path runs.
    fn kill(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.child.kill().expect("the node was still running");
        let status = self.child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "the node ended by itself");
    }

    /// The node reported no corrupt store and no error since it started.
    fn check_log(&self) {
        let text = std::fs::read_to_string(&self.log).unwrap();
        // A line is `<time> <LEVEL> <target>: <message>`.
        let bad = text.lines().find(|l| {
            l.split_whitespace().nth(1) == Some("ERROR")
                || l.to_ascii_lowercase().contains("corrupt")
        });
        assert!(bad.is_none(), "the restarted node logged: {bad:?}");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A block-protocol client of one node, as the CLI is.
struct Client {
    swarm: Swarm<request_response::Behaviour<BlockCodec>>,
    node: PeerId,
}

type Answer = (OutboundRequestId, Result<BlockResponse, String>);

impl Client {
    fn new(node: &Node) -> Self {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| block::behaviour(ProtocolSupport::Outbound))
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm.add_peer_address(node.peer, node.tcp.clone());
        Self {
            swarm,
            node: node.peer,
        }
    }

    fn send(&mut self, request: BlockRequest) -> OutboundRequestId {
        self.swarm.behaviour_mut().send_request(&self.node, request)
    }

    /// The next answer or failure of a request.
    async fn next(&mut self) -> Answer {
        loop {
            let SwarmEvent::Behaviour(event) = self.swarm.select_next_some().await else {
                continue;
            };
            match event {
                request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                } => return (request_id, Ok(response)),
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                } => return (request_id, Err(error.to_string())),
                _ => {}
            }
        }
    }
}

/// What a round of PUTs left: hashes the node acknowledged, and hashes
/// sent but not acknowledged when it was killed.
struct Puts {
    acked: Vec<Hash>,
    unacked: Vec<Hash>,
}

/// PUTs `blocks` in order, [`IN_FLIGHT`] at once, and kills the node
/// `delay` after its `kill_after`th acknowledgement, sending on meanwhile.
/// Each block sent is added to `sent`.
async fn stream_puts(
    node: &mut Node,
    blocks: &[Block],
    kill_after: usize,
    delay: Duration,
    sent: &mut HashMap<Hash, Block>,
) -> Puts {
    let mut client = Client::new(node);
    let mut waiting: HashMap<OutboundRequestId, Hash> = HashMap::new();
    let mut next = blocks.iter();
    let mut acked = Vec::new();
    let mut deadline = None;
    loop {
        while waiting.len() < IN_FLIGHT {
            let Some(block) = next.next() else { break };
            let bytes = block.bytes();
            let hash = Hash::of(&bytes);
            sent.insert(hash, *block);
            waiting.insert(client.send(BlockRequest::put(bytes)), hash);
        }
        assert!(
            !waiting.is_empty(),
            "every block was stored before the kill"
        );
        let (id, answer) = match deadline {
            None => client.next().await,
            Some(at) => match tokio::time::timeout_at(at, client.next()).await {
                Ok(answer) => answer,
                Err(_) => break,
            },
        };
        let hash = waiting.remove(&id).expect("an answer to a request sent");
        match answer {
            Ok(BlockResponse::Stored(h)) if h == hash => acked.push(hash),
            other => panic!("PUT of {hash} before the kill: {other:?}"),
        }
        if acked.len() == kill_after {
            deadline = Some(tokio::time::Instant::now() + delay);
        }
    }
    node.kill();
    Puts {
        acked,
        unacked: waiting.into_values().collect(),
    }
}

/// GETs every hash in `hashes`, [`IN_FLIGHT`] at once: the bytes, or
/// `None` where the node has no such block.
async fn fetch_all(node: &Node, hashes: &[Hash]) -> HashMap<Hash, Option<Vec<u8>>> {
    let mut client = Client::new(node);
    let mut waiting: HashMap<OutboundRequestId, Hash> = HashMap::new();
    let mut next = hashes.iter();
    let mut found = HashMap::new();
    loop {
        while waiting.len() < IN_FLIGHT {
            let Some(hash) = next.next() else { break };
            waiting.insert(client.send(BlockRequest::Get(*hash)), *hash);
        }
        if waiting.is_empty() {
            return found;
        }
        let (id, answer) = client.next().await;
        let hash = waiting.remove(&id).expect("an answer to a request sent");
        let bytes = match answer {
            Ok(BlockResponse::Block(bytes)) => Some(bytes),
            Ok(BlockResponse::NotFound(h)) if h == hash => None,
            other => panic!("GET of {hash} after the restart: {other:?}"),
        };
        found.insert(hash, bytes);
    }
}

/// Checks every shard file under the store at `blocks` hashes to its
/// name: the number of shard files, and of files left in `tmp/`.
fn check_disk(blocks: &Path) -> (usize, usize) {
    let mut whole = 0;
    for class in ["own", "contributed"] {
        for fan in std::fs::read_dir(blocks.join(class)).unwrap() {
            for file in std::fs::read_dir(fan.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap();
                let hash: Hash = name.parse().unwrap_or_else(|e| panic!("{e}"));
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(Hash::of(&bytes), hash, "{} is not whole", path.display());
                whole += 1;
            }
        }
    }
    let partial = std::fs::read_dir(blocks.join("tmp")).unwrap().count();
    (whole, partial)
}
