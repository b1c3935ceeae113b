//! Command-line configuration of `meganet node`, with every relay limit
//! explicit: the libp2p defaults (2 minutes and 128 KiB per circuit) only
//! suit signaling, and a node operator should see what they give away.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;

/// Options of `meganet node`.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address of the HTTP server for the web app, /bootstrap.json and /status.json.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub http: SocketAddr,

    /// Address of the sites' origin: published sites (`meganet publish`)
    /// open here, on the app's host name but another port, so a site's
    /// scripts never share the app's origin (its storage, identity and
    /// links). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub sites: SocketAddr,

    /// Data directory: identity key, WebRTC certificate, stored shards.
    #[arg(long, default_value = "meganet-data", value_name = "DIR")]
    pub data: PathBuf,

    /// Directory of the built web app (what `npm run build` writes).
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub www: PathBuf,

    /// Sites that may embed the widget's frame (/widget.html): its
    /// Content-Security-Policy `frame-ancestors`, such as
    /// "https://blog.example https://*.shop.example". Default any site:
    /// joining takes a click inside the frame, which no host page can
    /// fake. Every other page may be framed by none.
    #[arg(long, default_value = "*", value_name = "SOURCES", value_parser = super::http::headers::parse_ancestors)]
    pub widget_frame_ancestors: String,

    /// List every connected peer (peer id, transport, address) in
    /// /status.json. Off by default: the page is public, and visitors'
    /// addresses are theirs; without it only their count is shown.
    #[arg(long)]
    pub status_details: bool,

    /// libp2p WebSocket listener (browsers dial it). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4001", value_name = "ADDR")]
    pub ws: SocketAddr,

    /// libp2p WebRTC-direct listener (UDP). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4002", value_name = "ADDR")]
    pub webrtc: SocketAddr,

    /// libp2p TCP listener (other nodes and the CLI dial it). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4003", value_name = "ADDR")]
    pub tcp: SocketAddr,

    /// A STUN server browsers use to find their public address, so peers
    /// behind NATs connect directly (`stun:host:port`); repeatable, at most
    /// 8. None are needed on one host or one LAN.
    #[arg(long = "stun", value_name = "URL", value_parser = parse_stun)]
    pub stun: Vec<String>,

    /// Another node to join (a multiaddr ending in /p2p/<peer id>);
    /// repeatable. One that cannot be reached is retried with backoff.
    #[arg(long = "peer", value_name = "MULTIADDR", value_parser = parse_peer)]
    pub peers: Vec<Multiaddr>,

    /// An address other nodes and browsers reach this node at, when it is
    /// not one it listens on (a public IP or DNS name in front of a NAT or
    /// proxy), such as /dns4/node.example/tcp/4003; repeatable.
    #[arg(long = "external-address", value_name = "MULTIADDR", value_parser = parse_external)]
    pub external: Vec<Multiaddr>,

    /// The URL browsers open the app at when a reverse proxy in front of
    /// this node terminates TLS (https://host[:port]): browsers are sent
    /// the proxy's secure WebSocket address (/dns4/host/tcp/port/tls/ws)
    /// first, the only kind a page served over HTTPS may dial. The proxy
    /// passes WebSocket upgrades to --ws and the rest to --http
    /// (docs/DEPLOY.md).
    #[arg(long = "public-url", value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<Multiaddr>,

    /// A PEM certificate chain for the node's own TLS: the app is served
    /// over HTTPS on --http, the sites' origin on --sites, and libp2p over
    /// secure WebSocket (/tls/ws) on --http's port or on --wss. The files
    /// are read again when they change (certificates renew). Needs
    /// --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// With --tls-cert: a port of its own for libp2p's secure WebSocket.
    /// Without it, the WebSocket shares --http's port (upgrades go to
    /// libp2p, everything else to the app).
    #[arg(long, value_name = "ADDR", requires = "tls_cert")]
    pub wss: Option<SocketAddr>,

    /// Bytes of blocks this node stores for others before refusing more.
    #[arg(long, default_value_t = 10 << 30, value_name = "BYTES")]
    pub quota: u64,

    #[command(flatten)]
    pub budget: Budget,

    #[command(flatten)]
    pub relay: RelayLimits,

    #[command(flatten)]
    pub repair: super::repair::RepairConfig,
}

/// What one uploader may store, and for how long.
#[derive(Debug, Clone, clap::Args)]
pub struct Budget {
    /// Bytes one uploader identity may store on this node.
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..))]
    pub budget_per_uploader: u64,
    /// Bytes one network address may store on this node: an IPv4
    /// address, an IPv6 /64, or every peer relayed here together (their
    /// addresses are not seen). Fresh identities share their address's.
    #[arg(long, default_value_t = 4 << 30, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..))]
    pub budget_per_ip: u64,
    /// How long stored data is kept after its uploader last renewed it,
    /// in seconds (default 30 days). Expired data is removed only when
    /// the node needs its room.
    #[arg(long, default_value_t = 30 * 86_400, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=10 * 365 * 86_400))]
    pub lease_secs: u64,
}

impl Budget {
    /// The lease book's terms.
    pub fn terms(&self) -> super::leases::Terms {
        super::leases::Terms {
            per_uploader: self.budget_per_uploader,
            per_source: self.budget_per_ip,
            lease_ms: self.lease_secs * 1000,
        }
    }
}

/// Limits of the circuit relay v2 server.
#[derive(Debug, Clone, clap::Args)]
pub struct RelayLimits {
    /// Relay: most reservations held at once (each is a browser reachable through this node).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub relay_max_reservations: usize,

    /// Relay: most reservations one peer may hold.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub relay_max_reservations_per_peer: usize,

    /// Relay: how long a reservation lasts before the browser must renew it, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub relay_reservation_secs: u64,

    /// Relay: reservations (new or renewed) one IP address may make an
    /// hour, at most this many at once. Browsers behind one NAT share an
    /// IP and each renews once a reservation period, so with the default
    /// period this about caps the browsers one IP keeps reachable here.
    #[arg(
        long,
        default_value_t = 256,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=MAX_RESERVATIONS_PER_IP_PER_HOUR)
    )]
    pub relay_reservations_per_ip_per_hour: u32,

    /// Relay: most circuits open at once.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub relay_max_circuits: usize,

    /// Relay: most circuits one peer may open.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub relay_max_circuits_per_peer: usize,

    /// Relay: circuits (new connections through this node) one IP address
    /// may open a minute, at most this many at once. Each browser-to-browser
    /// connection starts as a circuit for signaling, so a NAT shared by
    /// many browsers needs many.
    #[arg(
        long,
        default_value_t = 1200,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=MAX_CIRCUITS_PER_IP_PER_MINUTE)
    )]
    pub relay_circuits_per_ip_per_minute: u32,

    /// Relay: longest life of one circuit, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub relay_circuit_secs: u64,

    /// Relay: most bytes one circuit may carry (signaling needs a few KiB;
    /// the rest is the fallback data budget when a direct path fails).
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub relay_circuit_bytes: u64,
}

/// Upper bound of `--relay-reservations-per-ip-per-hour`: a bucket refilled
/// every 55 ms at most, far beyond any one NAT.
const MAX_RESERVATIONS_PER_IP_PER_HOUR: i64 = 65_536;

/// libp2p's own per-peer reservation rate: 30 at once, then one every 2
/// minutes. A browser renews once an hour, so only a peer that keeps
/// reconnecting meets it.
const RESERVATIONS_PER_PEER: u32 = 30;
const RESERVATION_PER_PEER_EVERY: Duration = Duration::from_secs(120);

/// Upper bound of `--relay-circuits-per-ip-per-minute`: a bucket refilled
/// every millisecond.
const MAX_CIRCUITS_PER_IP_PER_MINUTE: i64 = 60_000;

/// Circuits one peer may open: 120 at once, then one a second. A get dials
/// each holder it finds (up to 32 providers and 64 hints) once, through the
/// relays its record names; libp2p's default (30, then one every 2
/// minutes) would refuse a browser's second large get.
const CIRCUITS_PER_PEER: u32 = 120;
const CIRCUIT_PER_PEER_EVERY: Duration = Duration::from_secs(1);

fn parse_peer(addr: &str) -> Result<Multiaddr, String> {
    let addr: Multiaddr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
    crate::net::check_node_addr(&addr, true)?;
    Ok(addr)
}

fn parse_external(addr: &str) -> Result<Multiaddr, String> {
    let addr: Multiaddr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
    crate::net::check_node_addr(&addr, false)?;
    Ok(addr)
}

/// `https://host[:port]` (or `http://` for a plain proxy) as the
/// WebSocket address a browser dials through that proxy.
fn parse_public_url(url: &str) -> Result<Multiaddr, String> {
    let bad = |why: &str| format!("--public-url {url:?}: {why}, like https://meganet.example");
    let (rest, secure, default_port) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, true, 443)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, false, 80)
    } else {
        return Err(bad("it must start with https:// (or http://)"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad("only a host and a port, no path, query or user"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port = port.parse::<u16>().ok().filter(|p| *p != 0);
            (
                host,
                port.ok_or_else(|| bad("the port must be 1 to 65535"))?,
            )
        }
        _ => (authority, default_port),
    };
    let host = if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip = ip
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address"))?;
        libp2p::multiaddr::Protocol::Ip6(ip)
    } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        libp2p::multiaddr::Protocol::Ip4(ip)
    } else {
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !name_ok {
            return Err(bad("the host must be a DNS name or an IP address"));
        }
        libp2p::multiaddr::Protocol::Dns(host.to_owned().into())
    };
    let mut addr = Multiaddr::empty()
        .with(host)
        .with(libp2p::multiaddr::Protocol::Tcp(port));
    if secure {
        addr.push(libp2p::multiaddr::Protocol::Tls);
    }
    Ok(addr.with(libp2p::multiaddr::Protocol::Ws("/".into())))
}

impl Config {
    /// The addresses announced beyond the listen addresses: the public
    /// URL's first, then `--external-address`.
    pub fn advertised(&self) -> Vec<Multiaddr> {
        self.public_url
            .iter()
            .chain(&self.external)
            .cloned()
            .collect()
    }

    /// The certificate files, when the node does its own TLS.
    pub fn tls_files(&self) -> Option<super::tls::Files> {
        Some(super::tls::Files {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

fn parse_stun(url: &str) -> Result<String, String> {
    crate::net::check_stun_url(url).map(|()| url.to_owned())
}

impl RelayLimits {
    /// The libp2p relay configuration these limits describe.
    pub fn to_relay_config(&self) -> libp2p::relay::Config {
        let per_ip =
            NonZeroU32::new(self.relay_reservations_per_ip_per_hour).unwrap_or(NonZeroU32::MIN);
        let per_peer = NonZeroU32::new(RESERVATIONS_PER_PEER).unwrap_or(NonZeroU32::MIN);
        let circuits_per_ip =
            NonZeroU32::new(self.relay_circuits_per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let circuits_per_peer = NonZeroU32::new(CIRCUITS_PER_PEER).unwrap_or(NonZeroU32::MIN);
        libp2p::relay::Config {
            // Replaced below: libp2p's default allows one IP 60 an hour,
            // too few for a campus or a carrier NAT.
            reservation_rate_limiters: Vec::new(),
            // Replaced below too: libp2p allows one IP 60 circuits, then
            // one a minute.
            circuit_src_rate_limiters: Vec::new(),
            max_reservations: self.relay_max_reservations,
            max_reservations_per_peer: self.relay_max_reservations_per_peer,
            reservation_duration: Duration::from_secs(self.relay_reservation_secs),
            max_circuits: self.relay_max_circuits,
            max_circuits_per_peer: self.relay_max_circuits_per_peer,
            // libp2p requires the duration in seconds to fit in a u32.
            max_circuit_duration: Duration::from_secs(
                self.relay_circuit_secs.min(u64::from(u32::MAX)),
            ),
            max_circuit_bytes: self.relay_circuit_bytes,
        }
        .reservation_rate_per_peer(per_peer, RESERVATION_PER_PEER_EVERY)
        .reservation_rate_per_ip(per_ip, Duration::from_secs(3600) / per_ip.get())
        .circuit_src_per_peer(circuits_per_peer, CIRCUIT_PER_PEER_EVERY)
        .circuit_src_per_ip(
            circuits_per_ip,
            Duration::from_secs(60) / circuits_per_ip.get(),
        )
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        relay: RelayLimits,
    }

    #[test]
    fn a_public_url_becomes_the_websocket_address_browsers_dial() {
        let ok = |url: &str| parse_public_url(url).map(|a| a.to_string());
        assert_eq!(
            ok("https://meganet.example").unwrap(),
            "/dns/meganet.example/tcp/443/tls/ws"
        );
        assert_eq!(
            ok("https://meganet.example:8443/").unwrap(),
            "/dns/meganet.example/tcp/8443/tls/ws"
        );
        assert_eq!(
            ok("https://127.0.0.1:4443").unwrap(),
            "/ip4/127.0.0.1/tcp/4443/tls/ws"
        );
        assert_eq!(
            ok("https://[::1]:4443").unwrap(),
            "/ip6/::1/tcp/4443/tls/ws"
        );
        assert_eq!(ok("http://10.0.0.2").unwrap(), "/ip4/10.0.0.2/tcp/80/ws");
        for (url, why) in [
            ("meganet.example", "must start with https://"),
            ("wss://meganet.example", "must start with https://"),
            ("https://meganet.example/app", "no path"),
            ("https://user@meganet.example", "no path, query or user"),
            ("https://meganet.example:0", "port must be 1 to 65535"),
            ("https://meganet.example:99999", "port must be 1 to 65535"),
            ("https://", "DNS name or an IP address"),
            ("https://bad_host!", "DNS name or an IP address"),
            ("https://[zz]:1", "not an IPv6 address"),
        ] {
            let e = parse_public_url(url).unwrap_err();
            assert!(e.contains(why) && e.contains(url), "{url}: {e}");
        }
    }

    #[test]
    fn the_per_ip_rates_are_capped_and_build_a_relay_config() {
        let flags = [
            ("--relay-reservations-per-ip-per-hour", "65536"),
            ("--relay-circuits-per-ip-per-minute", "60000"),
        ];
        for (flag, max) in flags {
            let over = (max.parse::<u32>().unwrap() + 1).to_string();
            for refused in ["0", over.as_str()] {
                assert!(
                    Cli::try_parse_from(["node", flag, refused]).is_err(),
                    "{flag} {refused}"
                );
            }
            for n in ["1", max] {
                let cli = Cli::try_parse_from(["node", flag, n]).unwrap();
                let config = cli.relay.to_relay_config();
                assert_eq!(config.reservation_rate_limiters.len(), 2);
                assert_eq!(config.circuit_src_rate_limiters.len(), 2);
            }
        }
        let defaults = Cli::try_parse_from(["node"]).unwrap().relay;
        assert!(defaults.relay_max_reservations >= 1000);
        assert!(defaults.relay_max_circuits >= 1000);
    }
}
