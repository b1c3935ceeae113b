//! The browser peer's behaviours and transports.

use std::time::Duration;

use libp2p::core::upgrade::Version;
use libp2p::core::Transport as _;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, identity::Keypair, kad, noise, ping, relay, yamux, Swarm};

use crate::net::block::{self, BlockCodec};
use crate::net::{KAD_PROTOCOL, PROTOCOL_VERSION};

/// Everything the browser peer speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub relay: relay::client::Behaviour,
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub block: libp2p::request_response::Behaviour<BlockCodec>,
}

/// Connections stay open this long without traffic.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Builds the swarm: WebSocket to nodes, relayed circuits for signaling.
pub fn build(keypair: Keypair) -> Result<Swarm<Behaviour>, String> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_wasm_bindgen()
        .with_other_transport(|key| {
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                libp2p::websocket_websys::Transport::default()
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise::Config::new(key)?)
                    .multiplex(yamux::Config::default()),
            )
        })
        .map_err(|e| format!("cannot set up WebSocket transport: {e}"))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| format!("cannot set up relay transport: {e}"))?
        .with_behaviour(|key, relay| {
            let peer_id = key.public().to_peer_id();
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                kad::Config::new(KAD_PROTOCOL),
            );
            // Browsers cannot be dialed by arbitrary DHT peers: clients only.
            kad.set_mode(Some(kad::Mode::Client));
            Behaviour {
                relay,
                kad,
                identify: identify::Behaviour::new(identify::Config::new(
                    PROTOCOL_VERSION.to_owned(),
                    key.public(),
                )),
                ping: ping::Behaviour::default(),
                // Browsers ask; serving others comes with contribution.
                block: block::behaviour(libp2p::request_response::ProtocolSupport::Outbound),
            }
        })
        .map_err(|e| format!("cannot set up behaviours: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    Ok(swarm)
}
