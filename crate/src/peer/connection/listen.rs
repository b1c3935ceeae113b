//! This peer's listen addresses, which the status lists, and a WebRTC
//! listener beside each relay reservation: where the node relays for us
//! (`<relay>/p2p-circuit/p2p/<us>`), other browsers may also reach us
//! directly, on `<relay>/p2p-circuit/webrtc`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, Swarm};

use crate::peer::status::{self, Status};
use crate::peer::swarm::Behaviour;

/// The WebRTC listeners, by their `/webrtc` address.
pub struct Listen {
    webrtc: HashMap<Multiaddr, ListenerId>,
    status: Rc<RefCell<Status>>,
    /// Whether this peer takes direct connections at all.
    direct: bool,
}

impl Listen {
    pub fn new(status: Rc<RefCell<Status>>, paths: crate::webrtc::Paths) -> Self {
        Self {
            webrtc: HashMap::new(),
            status,
            direct: paths.direct(),
        }
    }

    /// A new listen address; a reservation's gets a WebRTC listener.
    pub fn on_new(&mut self, swarm: &mut Swarm<Behaviour>, address: &Multiaddr) {
        self.listen_webrtc(swarm, address);
        status::update(&self.status, |s| s.listen_addrs.push(address.to_string()));
    }

    /// A listener closed with every address it had.
    pub fn on_closed(&mut self, swarm: &mut Swarm<Behaviour>, addresses: &[Multiaddr]) {
        for address in addresses {
            self.stop_webrtc(swarm, address);
        }
        let gone: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        status::update(&self.status, |s| {
            s.listen_addrs.retain(|a| !gone.contains(a))
        });
    }

    /// One listen address is gone.
    pub fn on_expired(&mut self, swarm: &mut Swarm<Behaviour>, address: &Multiaddr) {
        self.stop_webrtc(swarm, address);
        let gone = address.to_string();
        status::update(&self.status, |s| s.listen_addrs.retain(|a| *a != gone));
    }

    /// A relay reservation is up (`<relay>/p2p-circuit/p2p/<us>`): accept
    /// WebRTC through it too, on `<relay>/p2p-circuit/webrtc`.
    fn listen_webrtc(&mut self, swarm: &mut Swarm<Behaviour>, address: &Multiaddr) {
        if !self.direct {
            return;
        }
        let Some(webrtc) = webrtc_listen_addr(address) else {
            return;
        };
        if self.webrtc.contains_key(&webrtc) {
            return;
        }
        match swarm.listen_on(webrtc.clone()) {
            Ok(id) => {
                self.webrtc.insert(webrtc, id);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for WebRTC"),
        }
    }

    /// The reservation is gone (node restarted): stop advertising WebRTC
    /// through it until the next one.
    fn stop_webrtc(&mut self, swarm: &mut Swarm<Behaviour>, address: &Multiaddr) {
        if let Some(id) = webrtc_listen_addr(address).and_then(|a| self.webrtc.remove(&a)) {
            swarm.remove_listener(id);
        }
    }
}

/// `<relay>/p2p-circuit/p2p/<us>` (a reservation) to
/// `<relay>/p2p-circuit/webrtc` (where browsers may reach us directly).
fn webrtc_listen_addr(circuit: &Multiaddr) -> Option<Multiaddr> {
    let mut parts: Vec<Protocol> = circuit.iter().collect();
    if matches!(parts.last(), Some(Protocol::P2p(_))) {
        parts.pop();
    }
    (parts.last() == Some(&Protocol::P2pCircuit))
        .then(|| parts.into_iter().chain([Protocol::WebRTC]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const RELAY: &str =
        "/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    const US: &str = "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE";

    fn listen_addr(addr: &str) -> Option<String> {
        webrtc_listen_addr(&addr.parse().unwrap()).map(|a| a.to_string())
    }

    #[wasm_bindgen_test]
    fn a_reservation_gets_a_webrtc_address() {
        let webrtc = Some(format!("{RELAY}/p2p-circuit/webrtc"));
        assert_eq!(
            listen_addr(&format!("{RELAY}/p2p-circuit/p2p/{US}")),
            webrtc
        );
        assert_eq!(listen_addr(&format!("{RELAY}/p2p-circuit")), webrtc);
    }

    #[wasm_bindgen_test]
    fn other_addresses_get_none() {
        for other in [
            RELAY.to_owned(),
            format!("{RELAY}/p2p-circuit/webrtc"),
            format!("{RELAY}/p2p-circuit/webrtc/p2p/{US}"),
            "/ip4/127.0.0.1/tcp/1/ws".to_owned(),
        ] {
            assert_eq!(listen_addr(&other), None, "{other}");
        }
    }
}
