//! Hostile name records against a real node (issue 25): a `meganet node`
//! process is sent, over Kademlia PUT_VALUE as any peer could send them,
//! a replayed older version of a name, a record another key signed filed
//! under the name, a record with a flipped signature byte, and one signed
//! an hour ahead. The node refuses each with a log line naming why, and
//! the name still resolves to the newest genuine version, also after the
//! node restarts alone (it keeps the records it accepted on disk).
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use meganet::client::{now_ms, Client};
use meganet::format::{FileKey, Link, NameKey, VERSION};
use meganet::hash::Hash;

fn site(n: u8) -> Link {
    Link {
        version: VERSION,
        manifest: Hash([n; 32]),
        key: FileKey([n; 32]),
    }
}

struct Node {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Node {
    fn start(dir: &std::path::Path) -> Self {
        let log = dir.join("node.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_meganet"))
            .args(["node", "--data"])
            .arg(dir.join("data"))
            .args(["--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0"])
            .args(["--ws", "127.0.0.1:0", "--webrtc", "127.0.0.1:0"])
            .args(["--sites", "127.0.0.1:0"])
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
            .expect("the node prints its web app URL");
        Self { child, url, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn forged_replayed_and_future_records_are_refused_by_a_real_node() {
    let dir = std::env::temp_dir().join(format!("meganet-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = Node::start(&dir);
    let mut client = Client::connect(&node.url).await.unwrap();
    let name = NameKey::random();
    let publisher = name.publisher();
    assert_eq!(client.publish_name(&name, &site(1)).await.unwrap(), 1);
    assert_eq!(client.publish_name(&name, &site(2)).await.unwrap(), 2);

    let now = now_ms();
    let replayed = name.sign(1, now, &site(1));
    let other = NameKey::random().sign(9, now, &site(66));
    let mut flipped = name.sign(3, now, &site(3));
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let future = name.sign(4, now + 3_600_000, &site(4));
    for record in [replayed, other, flipped, future] {
        client.put_value(&publisher, record).await.unwrap();
    }

    let (record, link) = client.resolve(&name.link()).await.unwrap();
    assert_eq!((record.sequence, link), (2, site(2)));
    let log = node.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused a name record"))
        .collect();
    for why in [
        "is not newer than the version 2 held",
        "belongs under another DHT key",
        "its signature does not verify",
        "signed in the future",
    ] {
        assert!(
            refused.iter().any(|l| l.contains(why)),
            "no refusal saying {why:?} in:\n{log}"
        );
    }
    assert_eq!(refused.len(), 4, "{log}");

    // Restarted alone on its data, the node still answers for the name.
    drop(node);
    let node = Node::start(&dir);
    let mut client = Client::connect(&node.url).await.unwrap();
    let (record, link) = client.resolve(&name.link()).await.unwrap();
    assert_eq!((record.sequence, link), (2, site(2)));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
