//! `meganet node`: the native node. It relays signaling between browsers
//! (circuit relay v2), serves the DHT (a Kademlia server to the other
//! nodes, with its provider records on disk), stores shards, and serves
//! the web app plus `/bootstrap.json` and `/status.json` over HTTP.

mod config;
mod files;
mod http;
mod identity;
mod leases;
mod limits;
mod membership;
mod names;
mod records;
mod repair;
mod storage;
mod swarm;
mod tickets;

pub use config::Config;
pub use repair::{RepairConfig, DEFAULT_REPAIR_THRESHOLD};

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::RwLock;

use crate::net::NodeStatus;

/// Runs the node until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.stun.len() > crate::net::MAX_ICE_SERVERS {
        anyhow::bail!(
            "{} STUN servers given; at most {} are used",
            config.stun.len(),
            crate::net::MAX_ICE_SERVERS
        );
    }
    let secrets = identity::Secrets::load(&config.data)?;
    let peer_id = secrets.keypair.public().to_peer_id();
    let status = Arc::new(RwLock::new(NodeStatus {
        peer_id: peer_id.to_string(),
        certhash: Some(secrets.certhash()),
        ice_servers: config.stun.clone(),
        ..NodeStatus::default()
    }));

    // Bind HTTP first: an occupied port is the most common start-up error
    // and should be reported before anything else happens.
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http))?;
    let sites_listener = tokio::net::TcpListener::bind(config.sites)
        .await
        .with_context(|| format!("cannot listen for the sites' origin on {}", config.sites))?;
    let blocks = config.data.join("blocks");
    let store = crate::store::Store::open_disk(
        &blocks,
        crate::store::Config {
            quota: config.quota,
        },
    )
    .await
    .with_context(|| format!("cannot open the block store in {}", blocks.display()))?;
    let caps_dir = config.data.join("repair");
    let caps = std::sync::Arc::new(std::sync::Mutex::new(repair::Caps::open(&caps_dir)?));
    let ledger = repair::Ledger::open(&caps_dir);
    status.write().await.repair.caps = caps.lock().map(|c| c.count()).unwrap_or_default();
    let storage = storage::Storage::open(
        store,
        config.budget.terms(),
        config.quota,
        config.data.join("leases.bin"),
        repair::now_ms(),
    );
    // The repair duty's own identity: its uploads here are the network's,
    // charged to no budget.
    let duty_identity = libp2p::identity::Keypair::generate_ed25519();
    let duty_peer = duty_identity.public().to_peer_id();
    let mut node = swarm::Node::start(
        &config,
        secrets,
        status.clone(),
        storage,
        caps.clone(),
        duty_peer,
    )
    .await?;
    let http_addr = listener.local_addr()?;
    let loopback = std::net::SocketAddr::new(
        match http_addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            ip => ip,
        },
        http_addr.port(),
    );
    // The engine's futures stay on one thread: the duty gets its own.
    let (repair_config, duty_status) = (config.repair.clone(), status.clone());
    let url = format!("http://{loopback}/");
    std::thread::Builder::new()
        .name("repair".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(repair::run(
                    repair_config,
                    caps,
                    ledger,
                    peer_id,
                    url,
                    duty_status,
                    duty_identity,
                )),
                Err(e) => tracing::error!(error = %e, "no runtime for the repair duty"),
            }
        })
        .context("cannot start the repair duty")?;
    let sites_addr = sites_listener.local_addr()?;
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let options = http::Options {
        www: config.www.clone(),
        widget_ancestors: config.widget_frame_ancestors.clone(),
        details: config.status_details,
        sites_port: Some(sites_addr.port()),
    };
    let app_origins = http::sites::app_origins(http_addr);
    let http = tokio::spawn(http::serve(
        listener,
        options,
        status.clone(),
        stopped(http_stopped.clone()),
    ));
    let sites = tokio::spawn(http::sites::serve(
        sites_listener,
        config.www.clone(),
        app_origins,
        stopped(http_stopped),
    ));

    tracing::info!(%peer_id, "node started");
    println!("meganet node {peer_id}");
    // "web app:" last: scripts and tests wait for it, and may stop reading.
    println!("sites: http://{sites_addr}/");
    println!("web app: http://{http_addr}/");

    tokio::select! {
        result = node.run() => result?,
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    node.save();
    let _ = stop_http.send(true);
    let _ = http.await;
    let _ = sites.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
