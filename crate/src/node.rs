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
mod tls;

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
    let certs = config
        .tls_files()
        .map(tls::Certs::load)
        .transpose()
        .context("cannot use the TLS certificate")?;
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
    let http_addr = listener.local_addr()?;
    let sites_addr = sites_listener.local_addr()?;
    let (listeners, secure) = match &certs {
        None => (Listeners::Plain(listener, sites_listener), None),
        Some(certs) => {
            let (listeners, secure) =
                secure_listeners(certs, listener, sites_listener, config.wss).await?;
            (listeners, Some(secure))
        }
    };
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
        secure,
    )
    .await?;
    // The engine's futures stay on one thread: the duty gets its own.
    let (repair_config, duty_status) = (config.repair.clone(), status.clone());
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
                    duty_status,
                    duty_identity,
                )),
                Err(e) => tracing::error!(error = %e, "no runtime for the repair duty"),
            }
        })
        .context("cannot start the repair duty")?;
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let options = http::Options {
        www: config.www.clone(),
        widget_ancestors: config.widget_frame_ancestors.clone(),
        details: config.status_details,
        sites_port: Some(sites_addr.port()),
    };
    let scheme = if certs.is_some() { "https" } else { "http" };
    let app_origins = http::sites::app_origins(http_addr, scheme);
    let (http, sites) = match listeners {
        Listeners::Plain(app, sites) => {
            serve(app, sites, options, app_origins, &status, http_stopped)
        }
        Listeners::Tls(app, sites) => {
            serve(app, sites, options, app_origins, &status, http_stopped)
        }
    };

    tracing::info!(%peer_id, "node started");
    println!("meganet node {peer_id}");
    // "web app:" last: scripts and tests wait for it, and may stop reading.
    println!("sites: {scheme}://{sites_addr}/");
    println!("web app: {scheme}://{http_addr}/");

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

/// The app's and the sites' HTTP listeners: plain, or behind the node's
/// own TLS.
enum Listeners {
    Plain(tokio::net::TcpListener, tokio::net::TcpListener),
    Tls(tls::accept::HttpListener, tls::accept::HttpListener),
}

/// Starts the TLS accept loops: the app's port (which also takes the
/// secure WebSocket, unless `wss` gives it a port of its own) and the
/// sites' port. Returns the HTTP servers' listeners, and where libp2p
/// listens for the secure WebSocket with the connections it gets.
async fn secure_listeners(
    certs: &Arc<tls::Certs>,
    app: tokio::net::TcpListener,
    sites: tokio::net::TcpListener,
    wss: Option<std::net::SocketAddr>,
) -> anyhow::Result<(Listeners, (std::net::SocketAddr, tls::transport::Inbound))> {
    use tls::accept::{queue, spawn, HttpListener, Routes};
    let server = certs.server_config()?;
    let (app_addr, sites_addr) = (app.local_addr()?, sites.local_addr()?);
    let (to_libp2p, websockets) = queue();
    let (to_app, app_queue) = queue();
    let (to_sites, sites_queue) = queue();
    let wss_addr = match wss {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for secure WebSocket on {addr}"))?;
            let bound = listener.local_addr()?;
            let routes = Routes {
                http: None,
                websocket: Some(to_libp2p.clone()),
            };
            spawn(listener, server.clone(), routes);
            bound
        }
        None => app_addr,
    };
    let routes = Routes {
        http: Some(to_app),
        websocket: wss.is_none().then_some(to_libp2p),
    };
    spawn(app, server.clone(), routes);
    let routes = Routes {
        http: Some(to_sites),
        websocket: None,
    };
    spawn(sites, server, routes);
    certs.clone().watch(tls::RELOAD_EVERY);
    let listeners = Listeners::Tls(
        HttpListener::new(app_queue, app_addr),
        HttpListener::new(sites_queue, sites_addr),
    );
    Ok((
        listeners,
        (wss_addr, tls::transport::Inbound::new(wss_addr, websockets)),
    ))
}

/// Spawns the app's and the sites' HTTP servers, until `stop` says true.
fn serve<A, S>(
    app: A,
    sites: S,
    options: http::Options,
    app_origins: String,
    status: &Arc<RwLock<NodeStatus>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)
where
    A: axum::serve::Listener<Addr = std::net::SocketAddr>,
    S: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let www = options.www.clone();
    let http = tokio::spawn(http::serve(
        app,
        options,
        status.clone(),
        stopped(stop.clone()),
    ));
    let sites = tokio::spawn(http::sites::serve(sites, www, app_origins, stopped(stop)));
    (http, sites)
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
