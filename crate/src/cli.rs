//! The `meganet` command line: `meganet node` runs a node; `meganet put`
//! and `meganet get` move files through one, interoperating with browsers;
//! `meganet publish` puts a folder as a site (`--name`: under a name
//! that `meganet resolve` follows to its newest version).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "meganet",
    version,
    about = "An encrypted storage network whose peers are web browsers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: relay for browsers, DHT bootstrap, and the web app's HTTP server.
    Node(Box<meganet::node::Config>),
    /// Encrypt and store a file through a node; prints its link.
    Put {
        /// The file to share.
        file: std::path::PathBuf,
        /// Its media type, for previews in the browser (default: guessed
        /// from the file name's extension; none when unknown).
        #[arg(long = "type", value_name = "MIME")]
        mime: Option<String>,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Publish a folder as a site: store every file in it, then the
    /// directory document that lists them; prints the site's link. The
    /// folder needs an index.html; symbolic links are skipped.
    Publish {
        /// The folder to publish.
        dir: std::path::PathBuf,
        /// Also point the name whose key is in KEYFILE at this version
        /// (made, mode 0600, if there is no such file) and print the name
        /// link, which always opens the newest version, after the site link.
        #[arg(long = "name", value_name = "KEYFILE")]
        name: Option<std::path::PathBuf>,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Print the link of the newest version of the site a name link
    /// (`http://host/#n1.<key>.<key>`) points to; the version and when it
    /// was signed go to stderr.
    Resolve {
        /// A name link.
        link: String,
        /// The node to ask (default: the name link's own host when it is
        /// an http(s) URL, else http://127.0.0.1:8080).
        #[arg(long = "node", value_name = "URL")]
        node: Option<String>,
    },
    /// Fetch, verify and decrypt the file a link names.
    Get {
        /// A link (`http://host/#2.<hash>.<key>` or `meganet:2.<hash>.<key>`).
        link: String,
        /// Where to write the file (default: its name, in this directory,
        /// without any directory part or leading dots).
        #[arg(short, long, value_name = "PATH")]
        output: Option<std::path::PathBuf>,
        /// Replace the file if it exists (refused otherwise).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Audit the file a link names where it lives: every node, and every
    /// browser the DHT lists, must prove a random sample of the shards it
    /// claims (up to 32) with random ranges. Prints one line per holder and
    /// the weakest segment; fails when an audit failed or a segment can no
    /// longer be rebuilt.
    Check {
        /// A link (`http://host/#2.<hash>.<key>` or `meganet:2.<hash>.<key>`)
        /// or a repair capability (`meganet-repair:2.<hash>.<key>`).
        link: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Renew the leases of a file's blocks on the nodes: a node keeps an
    /// upload for `--lease-secs` (30 days by default) after its last
    /// renewal. The page renews its uploads while it is open; run this
    /// now and then for files put from the command line. A site's link
    /// renews every file the site lists too.
    Renew {
        /// A link (`http://host/#2.<hash>.<key>`) or a repair capability.
        link: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Print the repair capability of the file a link names: it lets a
    /// node or a person check and repair the file, and read nothing.
    Cap {
        /// A link (`http://host/#2.<hash>.<key>`).
        link: String,
    },
    /// Check the file a repair capability (or a link) names and rebuild
    /// every segment below the threshold onto the nodes and contributors
    /// this client reaches. Prints what it found and did.
    Repair {
        /// A repair capability (`meganet-repair:2.<hash>.<key>`) or a link.
        cap: String,
        /// Repair a segment with fewer live shards than this.
        #[arg(long, default_value_t = meganet::node::DEFAULT_REPAIR_THRESHOLD)]
        threshold: usize,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Simulate browsers and nodes coming and going for days with the
    /// network's own repair decisions (scenarios/*.toml); prints the
    /// results as JSON lines, progress on stderr.
    Simulate {
        /// The scenario (TOML).
        scenario: std::path::PathBuf,
        /// Also write the run as an SVG chart over time.
        #[arg(long, value_name = "FILE")]
        svg: Option<std::path::PathBuf>,
    },
    /// List the peers that announce holding the file a link names (one
    /// peer id a line), as the DHT knows them.
    Providers {
        /// A link (`http://host/#2.<hash>.<key>` or `meganet:2.<hash>.<key>`).
        link: String,
        #[command(flatten)]
        node: NodeArg,
    },
}

#[derive(Debug, clap::Args)]
struct NodeArg {
    /// The node's web address (its /bootstrap.json says how to reach it).
    #[arg(
        long = "node",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    url: String,
}

fn progress_bar(verb: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(verb);
    bar
}

async fn put(file: std::path::PathBuf, mime: Option<String>, node: NodeArg) -> anyhow::Result<()> {
    let mime = mime.unwrap_or_else(|| meganet::client::guess_type(&file).to_owned());
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let bar = progress_bar("storing");
    let link = client
        .put(&file, &mime, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    println!("{}", link.to_url(&base_url(&node)));
    Ok(())
}

/// The node's web address as links are printed on it: `http://host/`.
fn base_url(node: &NodeArg) -> String {
    let base = node
        .url
        .split(['#', '?'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    format!("{base}/")
}

async fn publish(
    dir: std::path::PathBuf,
    name: Option<std::path::PathBuf>,
    node: NodeArg,
) -> anyhow::Result<()> {
    let files = meganet::client::site_files(&dir, &mut |path, why| {
        eprintln!("skipping {path}: {why}");
    })?;
    // The key first: a bad key file fails before anything is uploaded.
    let name = match name {
        Some(path) => {
            let (key, created) = meganet::client::load_or_create_key(&path)?;
            if created {
                eprintln!(
                    "made the name key {} (mode 0600): keep it to publish new versions; whoever holds it can",
                    path.display()
                );
            }
            Some(key)
        }
        None => None,
    };
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let count = files.len();
    let bar = progress_bar("storing");
    let link = client
        .publish(
            &files,
            &|i, file| {
                bar.suspend(|| {
                    eprintln!("publishing {i}/{count} {} ({} bytes)", file.path, file.size)
                });
                bar.set_position(0);
            },
            &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            },
        )
        .await?;
    bar.finish_and_clear();
    eprintln!("published {count} files and their directory document");
    println!("{}", link.to_url(&base_url(&node)));
    if let Some(key) = name {
        let version = client.publish_name(&key, &link).await?;
        eprintln!("name {}: version {version}", key.publisher().short());
        println!("{}", key.link().to_url(&base_url(&node)));
    }
    Ok(())
}

/// The node to ask about `link`: `--node`, else the link's own origin
/// when it is an http(s) URL, else the local default.
fn node_for(link: &str, node: Option<String>) -> NodeArg {
    let url = node.unwrap_or_else(|| {
        let link = link.trim();
        match link.split_once("://") {
            Some((scheme, rest)) if scheme == "http" || scheme == "https" => {
                let host = rest.split(['/', '#', '?']).next().unwrap_or_default();
                format!("{scheme}://{host}")
            }
            _ => "http://127.0.0.1:8080".to_owned(),
        }
    });
    NodeArg { url }
}

async fn resolve(link: String, node: Option<String>) -> anyhow::Result<()> {
    let name: meganet::format::NameLink = link.parse()?;
    let node = node_for(&link, node);
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let (record, site) = client.resolve(&name).await?;
    eprintln!(
        "name {}: version {}, signed {}",
        name.publisher.short(),
        record.sequence,
        meganet::client::utc(record.signed_at_ms)
    );
    println!("{}", site.to_url(&base_url(&node)));
    Ok(())
}

async fn get(
    link: String,
    output: Option<std::path::PathBuf>,
    force: bool,
    node: NodeArg,
) -> anyhow::Result<()> {
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let bar = progress_bar("fetching");
    let fetched = client
        .get(&link, output.as_deref(), force, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    eprintln!("wrote {}", fetched.path.display());
    for (peer, bytes) in &fetched.from {
        eprintln!("  {bytes} bytes of shards from {peer}");
    }
    Ok(())
}

async fn renew(link: String, node: NodeArg) -> anyhow::Result<()> {
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let done = client.renew(&link).await?;
    println!(
        "renewed {} of {} blocks on {} holders ({} did not answer)",
        done.renewed, done.blocks, done.holders, done.failed
    );
    if done.renewed < done.blocks {
        anyhow::bail!(
            "{} of the file's {} blocks were not found on any node reached: the file may be damaged (run meganet check)",
            done.blocks - done.renewed,
            done.blocks
        );
    }
    // A site's link: every file it lists is renewed too.
    let Ok(read) = link.parse::<meganet::format::Link>() else {
        return Ok(());
    };
    let Some(site) = client.site_document(&read).await? else {
        return Ok(());
    };
    let mut damaged = Vec::new();
    let (mut blocks, mut renewed) = (0, 0);
    for entry in site.entries() {
        match client.renew(&entry.link.fragment()).await {
            Ok(done) => {
                blocks += done.blocks;
                renewed += done.renewed;
                if done.renewed < done.blocks {
                    damaged.push(entry.path.clone());
                }
            }
            Err(e) => {
                eprintln!("cannot renew {}: {e:#}", entry.path);
                damaged.push(entry.path.clone());
            }
        }
    }
    println!(
        "renewed {renewed} of {blocks} blocks of the files the site lists ({})",
        site.entries().len()
    );
    if !damaged.is_empty() {
        anyhow::bail!(
            "{} of the site's files were not wholly renewed (run meganet check on their links): {}",
            damaged.len(),
            damaged.join(", ")
        );
    }
    Ok(())
}

async fn check(link: String, node: NodeArg) -> anyhow::Result<()> {
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let health = client.check(&link).await?;
    for h in &health.holders {
        let (_, failed) = h.reputation.history();
        println!(
            "{}  claims {}  audited {}  proven {}  failed {failed}  counted {}  score {:.2}",
            h.holder,
            h.claimed,
            h.audited,
            h.proven,
            h.counted(),
            h.reputation.score()
        );
        for why in &h.failures {
            println!("    {why}");
        }
    }
    println!(
        "weakest segment: {} of {} shards live, {} needed; {} after losing the holder that matters most",
        health.weakest(),
        health.n,
        health.k,
        health.weakest_after_one_loss
    );
    if !health.readable() {
        anyhow::bail!(
            "a segment has {} live shards of the {} it needs: the file cannot be rebuilt",
            health.weakest(),
            health.k
        );
    }
    match health.failed_audits() {
        0 => Ok(()),
        n => anyhow::bail!("{n} audits failed"),
    }
}

fn simulate(path: std::path::PathBuf, svg: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let setup =
        meganet::sim::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let started = std::time::Instant::now();
    let mut shown = -1i64;
    let report = meganet::sim::run(&setup, |done| {
        let percent = (done * 100.0) as i64;
        if percent / 10 != shown / 10 {
            shown = percent;
            eprintln!(
                "simulated {percent} % of {} days ({} s)",
                setup.days,
                started.elapsed().as_secs()
            );
        }
    });
    let emit = |name: &str, value: f64, unit: &str| {
        println!(
            "{}",
            serde_json::json!({ "name": name, "value": value, "unit": unit })
        );
    };
    emit("sim.availability", report.availability, "share");
    emit("sim.files_lost", report.files_lost as f64, "files");
    emit("sim.overhead", report.overhead, "x");
    emit("sim.repair_ratio", report.repair_ratio(), "x");
    emit("sim.repair_per_month", report.repair_per_month, "share");
    emit("sim.audit_per_month", report.audit_per_month, "share");
    emit("sim.browser_share", report.browser_share, "share");
    emit("sim.seconds", started.elapsed().as_secs_f64(), "s");
    if let Some(out) = svg {
        let title = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::fs::write(&out, meganet::sim::svg(&report, &title))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    }
    Ok(())
}

fn cap(link: String) -> anyhow::Result<()> {
    let link: meganet::format::Link = link.parse()?;
    println!("{}", link.repair_cap()?);
    Ok(())
}

async fn repair(cap: String, threshold: usize, node: NodeArg) -> anyhow::Result<()> {
    let cap = match cap.parse()? {
        meganet::format::Access::Repair(cap) => cap,
        meganet::format::Access::Read(link) => link.repair_cap()?,
    };
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let policy = meganet::transfer::Policy {
        threshold,
        lost_after: std::time::Duration::ZERO,
        bytes_per_second: 0,
        timeout: meganet::transfer::check::AUDIT_TIMEOUT,
        audit_every: std::time::Duration::ZERO,
    };
    let (mut memory, mut standing) = Default::default();
    let started = std::time::Instant::now();
    let report = client
        .repair(&cap, &policy, &mut memory, &mut standing, 0)
        .await?;
    println!(
        "{} holders, {} failed an audit; weakest segment {} shards, now {}; rebuilt {} segments, placed {} shards ({} bytes) in {} ms",
        report.holders,
        report.failed_audits,
        report.weakest_before,
        report.weakest_after,
        report.segments,
        report.shards,
        report.bytes,
        started.elapsed().as_millis()
    );
    if !report.unrepairable.is_empty() {
        anyhow::bail!(
            "segments {:?} have fewer live shards than they need and cannot be rebuilt",
            report.unrepairable
        );
    }
    Ok(())
}

async fn providers(link: String, node: NodeArg) -> anyhow::Result<()> {
    let link: meganet::format::Link = link.parse()?;
    let mut client = meganet::client::Client::connect(&node.url).await?;
    let started = std::time::Instant::now();
    let providers = client.providers(link.provider_key()).await?;
    eprintln!(
        "{} providers found in {} ms",
        providers.len(),
        started.elapsed().as_millis()
    );
    for peer in providers {
        println!("{peer}");
    }
    Ok(())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_log(&cli.command).into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Node(config) => meganet::node::run(*config).await,
            Command::Put { file, mime, node } => put(file, mime, node).await,
            Command::Publish { dir, name, node } => publish(dir, name, node).await,
            Command::Resolve { link, node } => resolve(link, node).await,
            Command::Get {
                link,
                output,
                force,
                node,
            } => get(link, output, force, node).await,
            Command::Check { link, node } => check(link, node).await,
            Command::Cap { link } => cap(link),
            Command::Renew { link, node } => renew(link, node).await,
            Command::Simulate { scenario, svg } => simulate(scenario, svg),
            Command::Repair {
                cap,
                threshold,
                node,
            } => repair(cap, threshold, node).await,
            Command::Providers { link, node } => providers(link, node).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain joined, no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Nodes log what they do; the put and get commands only warn.
fn default_log(command: &Command) -> &'static str {
    match command {
        Command::Node(_) => "info,libp2p_webrtc=warn,webrtc=warn",
        _ => "warn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_asks_the_name_links_own_node_unless_told() {
        let f = "#n1.a.b";
        assert_eq!(
            node_for(&format!("http://h.example:8080/{f}"), None).url,
            "http://h.example:8080"
        );
        assert_eq!(
            node_for(&format!("https://h.example{f}"), None).url,
            "https://h.example"
        );
        assert_eq!(
            node_for("meganet:n1.a.b", None).url,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            node_for("http://a/#n1", Some("http://b".into())).url,
            "http://b"
        );
    }
}
