//! The browser peer's behaviours and transports: WebSocket to nodes
//! ([`super::websocket`]),
//! relayed circuits through them, and direct browser-to-browser WebRTC
//! (`crate::webrtc`) whose signaling runs over those circuits.

use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::upgrade::Version;
use libp2p::core::Transport as _;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, identity::Keypair, kad, noise, ping, relay, yamux, Swarm};

use crate::net::block::{self, BlockCodec};
use crate::net::PROTOCOL_VERSION;
use crate::webrtc;

/// Everything the browser peer speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub relay: relay::client::Behaviour,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub block: libp2p::request_response::Behaviour<BlockCodec>,
    /// Generic streams: WebRTC signaling and the probes.
    pub stream: libp2p_stream::Behaviour,
}

/// Connections stay open this long without traffic.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest any connection may take to set up (libp2p's default is 10 s).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(20);

/// Builds the swarm, and the WebRTC signaling service to run beside it.
///
/// The transports are assembled by hand because order matters: the relay
/// transport accepts any address with `/p2p-circuit` in it, so the
/// `/webrtc` transport must see `<relay>/p2p-circuit/webrtc/...` first.
pub fn build(
    keypair: Keypair,
    webrtc: &webrtc::Handles,
) -> Result<(Swarm<Behaviour>, webrtc::service::Service), String> {
    let peer_id = keypair.public().to_peer_id();
    let streams = libp2p_stream::Behaviour::new();
    let (webrtc_transport, service) = webrtc::service::new(
        peer_id,
        streams.new_control(),
        webrtc::session::Config {
            ice_servers: webrtc.ice_servers.clone(),
            ..webrtc::session::Config::default()
        },
        webrtc.dial_failures.clone(),
        webrtc.paths.direct(),
    );
    let (relay_transport, relay) = relay::client::new(peer_id);
    let noise = || noise::Config::new(&keypair).map_err(|e| format!("cannot set up Noise: {e}"));
    let relayed = relay_transport
        .upgrade(Version::V1Lazy)
        .authenticate(noise()?)
        .multiplex(yamux::Config::default())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    let websocket = super::websocket::Transport
        .upgrade(Version::V1Lazy)
        .authenticate(noise()?)
        .multiplex(yamux::Config::default())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    let transport = webrtc_transport
        .map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)))
        .or_transport(relayed)
        .map(|either, _| either.into_inner())
        .or_transport(websocket)
        .map(|either, _| either.into_inner());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair.clone())
        .with_wasm_bindgen()
        .with_other_transport(|_| transport)
        .map_err(|e| format!("cannot set up transports: {e}"))?
        .with_behaviour(|key| {
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                crate::net::kad_config(),
            );
            // Browsers cannot be dialed by arbitrary DHT peers: clients only.
            kad.set_mode(Some(kad::Mode::Client));
            Behaviour {
                relay,
                kad,
                identify: identify::Behaviour::new(
                    identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                        .with_agent_version(crate::net::AGENT_VERSION.to_owned()),
                ),
                ping: ping::Behaviour::default(),
                // Inbound requests are answered only while contributing
                // (`connection::serve`); otherwise refused.
                block: block::behaviour(libp2p::request_response::ProtocolSupport::Full),
                stream: streams,
            }
        })
        .map_err(|e| format!("cannot set up behaviours: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        // Longer than a WebRTC session's own limit, so a setup that runs
        // out of time fails with the stage it reached, not a bare timeout.
        .with_connection_timeout(CONNECTION_TIMEOUT)
        .build();
    Ok((swarm, service))
}
