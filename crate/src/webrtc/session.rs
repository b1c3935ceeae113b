//! One connection setup over a `/webrtc-signaling/0.0.1` stream: the
//! dialer's offer side and the listener's answer side, ending in a direct
//! [`Connection`] or an [`Error`] naming the stage that failed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt, StreamExt};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RtcConfiguration, RtcIceCandidateInit, RtcIceConnectionState, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
};

use super::connection::{Connection, INIT_LABEL};
use super::signal::{self, Kind, Message};
use super::{Error, Stage};

/// Most local candidates queued before the signaling stream takes them.
const CANDIDATE_QUEUE: usize = 64;
/// Most remote candidates accepted in one session.
const MAX_REMOTE_CANDIDATES: usize = 128;

/// STUN URLs, shared by every session: the node's bootstrap document sets
/// them after the peer has started.
#[derive(Debug, Clone, Default)]
pub struct IceServers(Rc<RefCell<Vec<String>>>);

impl IceServers {
    pub fn set(&self, urls: Vec<String>) {
        *self.0.borrow_mut() = urls;
    }

    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Settings shared by every session.
#[derive(Debug, Clone)]
pub struct Config {
    /// STUN URLs; none are needed on one host or one LAN.
    pub ice_servers: IceServers,
    /// Longest a whole setup may take.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ice_servers: IceServers::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The dialer's side: offer, answer, candidates, connected.
pub async fn offer<S>(stream: S, config: &Config) -> Result<Connection, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let stage = Cell::new(Stage::Signaling);
    with_timeout(config, &stage, async {
        let (reader, mut writer) = stream.split();
        let mut messages = message_stream(reader);
        let pc = new_peer_connection(config)?;
        // A data channel before the offer gives the SDP its data section.
        let init = pc.create_data_channel(INIT_LABEL);
        let connection = Connection::new(pc.clone());
        let candidates = gather_candidates(&pc);
        let offer = JsFuture::from(pc.create_offer())
            .await
            .map_err(|e| Error::at(Stage::Setup, js_error(&e)))?;
        let sdp = sdp_of(&offer).ok_or_else(|| Error::at(Stage::Setup, "offer without SDP"))?;
        set_description(&pc, RtcSdpType::Offer, &sdp, true).await?;
        send(&mut writer, Message::new(Kind::Offer, sdp)).await?;
        let answer = expect(&mut messages, Kind::Answer).await?;
        set_description(&pc, RtcSdpType::Answer, &answer, false).await?;
        stage.set(Stage::Ice);
        connect(&pc, &mut messages, &mut writer, candidates).await?;
        close_when_open(init);
        let _ = writer.close().await;
        Ok(connection)
    })
    .await
}

/// The listener's side: read the offer, answer, candidates, connected.
pub async fn answer<S>(stream: S, config: &Config) -> Result<Connection, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let stage = Cell::new(Stage::Signaling);
    with_timeout(config, &stage, async {
        let (reader, mut writer) = stream.split();
        let mut messages = message_stream(reader);
        let offer = expect(&mut messages, Kind::Offer).await?;
        let pc = new_peer_connection(config)?;
        let connection = Connection::new(pc.clone());
        let candidates = gather_candidates(&pc);
        set_description(&pc, RtcSdpType::Offer, &offer, false).await?;
        let answer = JsFuture::from(pc.create_answer())
            .await
            .map_err(|e| Error::at(Stage::Signaling, js_error(&e)))?;
        let sdp = sdp_of(&answer).ok_or_else(|| Error::at(Stage::Setup, "answer without SDP"))?;
        set_description(&pc, RtcSdpType::Answer, &sdp, true).await?;
        send(&mut writer, Message::new(Kind::Answer, sdp)).await?;
        stage.set(Stage::Ice);
        connect(&pc, &mut messages, &mut writer, candidates).await?;
        let _ = writer.close().await;
        Ok(connection)
    })
    .await
}

/// Runs `setup` within the configured limit; a timeout names the stage
/// `stage` had reached.
async fn with_timeout(
    config: &Config,
    stage: &Cell<Stage>,
    setup: impl std::future::Future<Output = Result<Connection, Error>>,
) -> Result<Connection, Error> {
    futures::select! {
        result = setup.fuse() => result,
        () = crate::platform::sleep(config.timeout).fuse() => {
            let why = format!("{} {} s", super::TIMED_OUT, config.timeout.as_secs());
            Err(match stage.get() {
                Stage::Ice => Error::NoDirectPath(why),
                stage => Error::at(stage, why),
            })
        }
    }
}

type Messages = futures::stream::LocalBoxStream<'static, Result<Message, signal::SignalError>>;

fn message_stream<R: AsyncRead + Unpin + 'static>(reader: R) -> Messages {
    futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        match signal::read(&mut reader).await {
            Err(signal::SignalError::Closed) => None,
            Err(e) => Some((Err(e), None)),
            Ok(m) => Some((Ok(m), Some(reader))),
        }
    })
    .boxed_local()
}

/// The next message, which must be of `kind` (an offer or an answer).
async fn expect(messages: &mut Messages, kind: Kind) -> Result<String, Error> {
    match messages.next().await {
        Some(Ok(m)) if m.kind == kind => Ok(m.data),
        Some(Ok(m)) => Err(Error::at(
            Stage::Signaling,
            format!("expected {kind:?}, got {:?}", m.kind),
        )),
        Some(Err(e)) => Err(Error::at(Stage::Signaling, e)),
        None => Err(Error::at(
            Stage::Signaling,
            format!("the remote closed before sending its {kind:?}"),
        )),
    }
}

async fn send<W: AsyncWrite + Unpin>(writer: &mut W, message: Message) -> Result<(), Error> {
    signal::write(writer, &message)
        .await
        .map_err(|e| Error::at(Stage::Signaling, e))
}

/// Trickles candidates both ways until the connection is up or has failed.
async fn connect<W: AsyncWrite + Unpin>(
    pc: &RtcPeerConnection,
    messages: &mut Messages,
    writer: &mut W,
    mut candidates: Candidates,
) -> Result<(), Error> {
    let mut remote_candidates = 0usize;
    let mut remote_done = false;
    loop {
        match pc.connection_state() {
            RtcPeerConnectionState::Connected => return Ok(()),
            RtcPeerConnectionState::Failed => {
                return Err(match pc.ice_connection_state() {
                    // ICE got through but the connection failed: DTLS did.
                    RtcIceConnectionState::Connected | RtcIceConnectionState::Completed => {
                        Error::at(
                            Stage::Ice,
                            "DTLS failed: the remote's certificate does not match the fingerprint in its SDP",
                        )
                    }
                    _ => Error::NoDirectPath(super::NO_PAIR.into()),
                });
            }
            RtcPeerConnectionState::Closed => {
                return Err(Error::at(Stage::Ice, "the peer connection was closed"))
            }
            _ => {}
        }
        futures::select! {
            local = candidates.local.next() => {
                // `None` here means gathering finished: tell the remote.
                let data = local.flatten().unwrap_or_else(|| "null".to_owned());
                send(writer, Message::new(Kind::Candidate, data)).await?;
            }
            remote = next_remote(messages, remote_done).fuse() => match remote {
                Some(Ok(m)) if m.kind == Kind::Candidate => {
                    remote_candidates += 1;
                    if remote_candidates > MAX_REMOTE_CANDIDATES {
                        return Err(Error::at(Stage::Ice, "the remote sent too many candidates"));
                    }
                    add_candidate(pc, &m.data).await?;
                }
                Some(Ok(m)) => return Err(Error::at(Stage::Signaling, format!("unexpected {:?} during ICE", m.kind))),
                Some(Err(e)) => return Err(Error::at(Stage::Signaling, e)),
                // The remote may close the stream once it is connected.
                None => remote_done = true,
            },
            () = candidates.state.select_next_some() => {}
        }
    }
}

/// Closes the `init` channel once it is open: closing one that is still
/// opening leaves Firefox's end stuck in `closing`.
fn close_when_open(channel: web_sys::RtcDataChannel) {
    if channel.ready_state() == web_sys::RtcDataChannelState::Connecting {
        let target = channel.clone();
        let on_open = Closure::once_into_js(move || target.close());
        let _ = channel.add_event_listener_with_callback("open", on_open.unchecked_ref());
    } else {
        channel.close();
    }
}

/// The next remote message, or never once the remote closed its side.
async fn next_remote(
    messages: &mut Messages,
    done: bool,
) -> Option<Result<Message, signal::SignalError>> {
    if done {
        futures::future::pending::<()>().await;
    }
    messages.next().await
}

async fn add_candidate(pc: &RtcPeerConnection, data: &str) -> Result<(), Error> {
    let parsed = js_sys::JSON::parse(data)
        .map_err(|_| Error::at(Stage::Ice, "a remote candidate is not JSON"))?;
    let end = parsed.is_null()
        || parsed.as_string().is_some_and(|s| s.is_empty())
        || js_sys::Reflect::get(&parsed, &"candidate".into())
            .ok()
            .and_then(|c| c.as_string())
            .is_some_and(|c| c.is_empty());
    if end {
        // End of candidates; browsers learn it from the missing ones too.
        return Ok(());
    }
    if !parsed.is_object() {
        return Err(Error::at(Stage::Ice, "a remote candidate is not an object"));
    }
    let init: RtcIceCandidateInit = parsed.unchecked_into();
    JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
        .await
        .map_err(|e| {
            Error::at(
                Stage::Ice,
                format!("remote candidate refused: {}", js_error(&e)),
            )
        })?;
    Ok(())
}

/// Local candidates as they are gathered (`None` item: gathering done), and
/// a tick on every connection state change.
struct Candidates {
    local: mpsc::Receiver<Option<String>>,
    state: mpsc::Receiver<()>,
    _on_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    _on_state: Closure<dyn FnMut()>,
    pc: RtcPeerConnection,
}

impl Drop for Candidates {
    fn drop(&mut self) {
        self.pc.set_onicecandidate(None);
        // The connection's own state handler is set by `Connection`; ours
        // was added with addEventListener so removing it leaves that one.
        let _ = self.pc.remove_event_listener_with_callback(
            "connectionstatechange",
            self._on_state.as_ref().unchecked_ref(),
        );
    }
}

fn gather_candidates(pc: &RtcPeerConnection) -> Candidates {
    let (mut tx, local) = mpsc::channel(CANDIDATE_QUEUE);
    let on_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
        move |event: RtcPeerConnectionIceEvent| {
            let json = event
                .candidate()
                .and_then(|c| js_sys::JSON::stringify(&c.to_json()).ok())
                .and_then(|s| s.as_string());
            if tx.try_send(json).is_err() {
                tracing::warn!("dropping a local ICE candidate: queue full");
            }
        },
    );
    let (mut state_tx, state) = mpsc::channel(4);
    let on_state = Closure::<dyn FnMut()>::new(move || {
        let _ = state_tx.try_send(());
    });
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    let _ = pc.add_event_listener_with_callback(
        "connectionstatechange",
        on_state.as_ref().unchecked_ref(),
    );
    Candidates {
        local,
        state,
        _on_candidate: on_candidate,
        _on_state: on_state,
        pc: pc.clone(),
    }
}

fn new_peer_connection(config: &Config) -> Result<RtcPeerConnection, Error> {
    let rtc = RtcConfiguration::new();
    let servers = js_sys::Array::new();
    for url in &config.ice_servers.get() {
        let server = RtcIceServer::new();
        server.set_urls(&JsValue::from_str(url));
        servers.push(&server);
    }
    rtc.set_ice_servers(&servers);
    RtcPeerConnection::new_with_configuration(&rtc)
        .map_err(|e| Error::at(Stage::Setup, js_error(&e)))
}

async fn set_description(
    pc: &RtcPeerConnection,
    kind: RtcSdpType,
    sdp: &str,
    local: bool,
) -> Result<(), Error> {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(sdp);
    let promise = if local {
        pc.set_local_description(&init)
    } else {
        pc.set_remote_description(&init)
    };
    JsFuture::from(promise).await.map_err(|e| {
        let stage = if local {
            Stage::Setup
        } else {
            Stage::Signaling
        };
        let side = if local { "local" } else { "remote" };
        Error::at(
            stage,
            format!("{side} description refused: {}", js_error(&e)),
        )
    })?;
    Ok(())
}

fn sdp_of(description: &JsValue) -> Option<String> {
    js_sys::Reflect::get(description, &"sdp".into())
        .ok()?
        .as_string()
}

fn js_error(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .and_then(|e| e.message().as_string())
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// The remote end of the selected ICE candidate pair as a multiaddr
/// (`/ip4/<ip>/udp/<port>/webrtc`), for an incoming connection's remote
/// address: identify reports it to the remote, which expects an IP address.
/// Chromium names the pair in its transport stats; Firefox marks it
/// `selected` (or nominated and succeeded).
pub async fn selected_remote(pc: &RtcPeerConnection) -> Option<libp2p::Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let report = JsFuture::from(pc.get_stats()).await.ok()?;
    let get = |key: &JsValue| -> Option<JsValue> {
        let f: js_sys::Function = js_sys::Reflect::get(&report, &"get".into())
            .ok()?
            .dyn_into()
            .ok()?;
        f.call1(&report, key).ok().filter(|v| !v.is_undefined())
    };
    let field = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &k.into()).ok();
    let values: js_sys::Function = js_sys::Reflect::get(&report, &"values".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let stats: Vec<JsValue> = js_sys::try_iter(&values.call0(&report).ok()?)
        .ok()??
        .flatten()
        .collect();
    let kind = |v: &JsValue| field(v, "type").and_then(|t| t.as_string());
    let pair = stats
        .iter()
        .filter(|s| kind(s).as_deref() == Some("transport"))
        .find_map(|t| {
            field(t, "selectedCandidatePairId")
                .filter(|id| id.is_string())
                .and_then(|id| get(&id))
        })
        .or_else(|| {
            stats
                .iter()
                .find(|s| {
                    let truthy = |k| field(s, k).is_some_and(|v| v.is_truthy());
                    kind(s).as_deref() == Some("candidate-pair")
                        && (truthy("selected")
                            || (truthy("nominated")
                                && field(s, "state").and_then(|v| v.as_string()).as_deref()
                                    == Some("succeeded")))
                })
                .cloned()
        })?;
    let remote = get(&field(&pair, "remoteCandidateId")?)?;
    let ip: std::net::IpAddr = field(&remote, "address")
        .and_then(|v| v.as_string())
        .or_else(|| field(&remote, "ip").and_then(|v| v.as_string()))?
        .parse()
        .ok()?;
    let port = field(&remote, "port")?.as_f64()? as u16;
    let transport = match ip {
        std::net::IpAddr::V4(v4) => Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => Protocol::Ip6(v6),
    };
    Some(
        libp2p::Multiaddr::empty()
            .with(transport)
            .with(Protocol::Udp(port))
            .with(Protocol::WebRTC),
    )
}
