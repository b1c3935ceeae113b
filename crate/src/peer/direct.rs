//! Direct connections to other browsers, asked for with `peer.dial(addr)`:
//! first the relayed circuit to the peer, then the `/webrtc` dial over it,
//! then the circuit is closed so every stream takes the direct path.

use std::collections::HashMap;

use futures::channel::oneshot;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, Swarm};

use super::swarm::Behaviour;
use crate::webrtc;

/// Most peers being connected to at once.
const MAX_PENDING: usize = 32;

type Reply = oneshot::Sender<Result<(), String>>;

struct Pending {
    addr: Multiaddr,
    webrtc_dialed: bool,
    replies: Vec<Reply>,
}

/// Direct connections being set up.
#[derive(Default)]
pub struct Direct {
    pending: HashMap<PeerId, Pending>,
}

impl Direct {
    /// Starts connecting to `addr` (`<relay>/p2p-circuit/webrtc/p2p/<peer>`).
    pub fn connect(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        addr: Multiaddr,
        direct_to: impl Fn(&PeerId) -> bool,
        reply: Reply,
    ) {
        let (circuit, peer) = match webrtc::parse_dial_addr(&addr) {
            Ok(parts) => parts,
            Err(e) => {
                let _ = reply.send(Err(e.to_string()));
                return;
            }
        };
        if direct_to(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        if let Some(pending) = self.pending.get_mut(&peer) {
            pending.replies.push(reply);
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            let _ = reply.send(Err(format!(
                "at most {MAX_PENDING} connections may be set up at once"
            )));
            return;
        }
        self.pending.insert(
            peer,
            Pending {
                addr,
                webrtc_dialed: false,
                replies: vec![reply],
            },
        );
        if swarm.is_connected(&peer) {
            self.dial_webrtc(swarm, peer);
        } else {
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![circuit])
                .condition(PeerCondition::Always)
                .build();
            if let Err(e) = swarm.dial(opts) {
                self.fail(&peer, format!("cannot reach {peer} through the relay: {e}"));
            }
        }
    }

    fn dial_webrtc(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let Some(pending) = self.pending.get_mut(&peer) else {
            return;
        };
        if pending.webrtc_dialed {
            return;
        }
        pending.webrtc_dialed = true;
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![pending.addr.clone()])
            .condition(PeerCondition::Always)
            .build();
        if let Err(e) = swarm.dial(opts) {
            self.fail(&peer, format!("cannot dial {peer} over WebRTC: {e}"));
        }
    }

    /// A connection to `peer` is up: relayed ones lead to the WebRTC dial,
    /// a direct one settles the request and retires the relayed ones.
    pub fn on_established(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        direct: bool,
        relayed: &[ConnectionId],
    ) {
        if !direct {
            self.dial_webrtc(swarm, peer);
            return;
        }
        for id in relayed {
            swarm.close_connection(*id);
        }
        if let Some(pending) = self.pending.remove(&peer) {
            for reply in pending.replies {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// A dial to `peer` failed.
    pub fn on_dial_error(&mut self, peer: PeerId, error: String) {
        if error.contains(webrtc::SIMULTANEOUS) {
            return; // the remote's connection arrives as an inbound one
        }
        self.fail(&peer, error);
    }

    fn fail(&mut self, peer: &PeerId, error: String) {
        if let Some(pending) = self.pending.remove(peer) {
            for reply in pending.replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
