// A js-libp2p browser node for the interop test (tests/interop.test.mjs):
// the reference implementation of libp2p's browser-to-browser `/webrtc`
// that our Rust peer must talk to. It reaches the meganet node over
// WebSocket, takes a relay reservation there, listens on
// `<node>/p2p-circuit/webrtc`, serves `/meganet/echo/1.0.0` like our probe,
// and exposes `window.jsPeer` so the test can drive it and read what
// happened (connections, identify results, pings answered).
//
// Bundled by tests/interop/webpack.config.mjs into build/interop/.
import { identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { echo as serveEcho } from '@libp2p/utils';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';

const ECHO = '/meganet/echo/1.0.0';
const CHUNK = 64 * 1024;
const text = new TextDecoder();

/** What the test reads back: identify results, pings this node answered, the last echo's close. */
const seen = { identified: [], pingsServed: [], lastClose: null };

let node;

/** The connections to `peerId`, newest first. */
function connectionsTo(peerId) {
  return node.getConnections().filter((c) => c.remotePeer.toString() === peerId).reverse();
}

/** The direct (unlimited, not relayed) `/webrtc` connection to `peerId`. */
function webrtcConnection(peerId) {
  const conn = connectionsTo(peerId).find((c) => c.multiplexer === '/webrtc' && c.direct && c.limits == null);
  if (conn == null) throw new Error(`no direct /webrtc connection to ${peerId}: ${JSON.stringify(connections())}`);
  return conn;
}

function describe(c) {
  return {
    id: c.id,
    peerId: c.remotePeer.toString(),
    remoteAddr: c.remoteAddr.toString(),
    direction: c.direction,
    status: c.status,
    direct: c.direct,
    limited: c.limits != null,
    multiplexer: c.multiplexer ?? null,
    encryption: c.encryption ?? null,
    streams: c.streams.map((s) => ({ protocol: s.protocol, direction: s.direction, status: s.status })),
  };
}

function connections() {
  return node.getConnections().map(describe);
}

/** Random bytes; getRandomValues takes at most 64 KiB at a time. */
function randomBytes(n) {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(n, i + 65536)));
  return data;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Starts the node: dials the WebSocket address in `bootstrap` (the meganet
 * node's /bootstrap.json, fetched by the test: the node sends no CORS
 * headers and this page has another origin) and waits until this node
 * advertises a `/p2p-circuit/webrtc` address through it.
 * `keepOnPingFailure` stops js-libp2p's connection monitor (a ping on
 * every connection every 10 s) from aborting connections whose ping fails.
 */
async function start({ bootstrap, keepOnPingFailure = false, timeoutMs = 20_000 }) {
  const relayAddr = bootstrap.addrs.find((a) => a.includes('/ws/'));
  if (relayAddr == null) throw new Error(`no WebSocket address in ${JSON.stringify(bootstrap)}`);
  node = await createLibp2p({
    start: false,
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    // The WebSocket transport dials plain ws:// (no filter option any more).
    transports: [webSockets(), circuitRelayTransport(), webRTC({ rtcConfiguration: { iceServers: [] } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Browsers deny private and loopback addresses by default; the node is
    // on 127.0.0.1.
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() },
    connectionMonitor: { abortConnectionOnPingFailure: !keepOnPingFailure },
  });
  // Record the pings this node answers: the ping service registers its
  // handler on start, so wrapping it first sees every inbound ping stream.
  const servePing = node.services.ping.handlePing;
  node.services.ping.handlePing = (stream, connection) => {
    const record = { peerId: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString(), bytes: 0 };
    seen.pingsServed.push(record);
    stream.addEventListener('message', (e) => { record.bytes += e.data.byteLength; });
    return servePing(stream, connection);
  };
  node.addEventListener('peer:identify', (e) => {
    const r = e.detail;
    seen.identified.push({
      peerId: r.peerId.toString(),
      agentVersion: r.agentVersion,
      protocolVersion: r.protocolVersion,
      protocols: r.protocols,
      remoteAddr: r.connection.remoteAddr.toString(),
    });
  });
  await node.handle(ECHO, (stream) => serveEcho(stream), { maxInboundStreams: 16 });
  await node.start();
  await node.dial(multiaddr(relayAddr));
  const deadline = Date.now() + timeoutMs;
  while (!addrs().some((a) => a.includes('/p2p-circuit/webrtc'))) {
    if (Date.now() > deadline) throw new Error(`no /p2p-circuit/webrtc address after ${timeoutMs} ms: ${addrs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { id: node.peerId.toString(), addrs: addrs() };
}

function addrs() {
  return node.getMultiaddrs().map((a) => a.toString());
}

/** Dials `addr`; resolves to the connection it got. */
async function dial(addr) {
  return describe(await node.dial(multiaddr(addr)));
}

/**
 * Pings `peerId` with the ping service; resolves to the RTT in ms. The
 * service takes the direct connection when there is one, so this first
 * insists that the /webrtc connection is up.
 */
async function pingPeer(peerId) {
  const conn = webrtcConnection(peerId);
  return node.services.ping.ping(conn.remotePeer);
}

/**
 * Sends `n` random bytes over `/meganet/echo/1.0.0` on the direct /webrtc
 * connection to `peerId`, closes the write side and reads until the remote
 * closes. Resolves to whether the bytes came back and `ms` until the last
 * byte did. `closed` says whether our `close()` had resolved by then: it
 * waits for the remote's FIN_ACK (or the channel closing, or 10 s); its
 * outcome lands in `lastClose` later.
 */
async function echo(peerId, n) {
  const started = performance.now();
  const stream = await webrtcConnection(peerId).newStream(ECHO);
  const data = randomBytes(n);
  const parts = [];
  let received = 0;
  const reading = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk.subarray();
      parts.push(bytes);
      received += bytes.length;
    }
  })();
  for (let i = 0; i < n; i += CHUNK) {
    if (!stream.send(data.subarray(i, Math.min(n, i + CHUNK)))) await stream.onDrain();
  }
  const closeStarted = performance.now();
  let closed = false;
  seen.lastClose = stream.close().then(
    () => { closed = true; return { ms: performance.now() - closeStarted }; },
    (e) => ({ ms: performance.now() - closeStarted, error: e.message }),
  );
  await reading;
  const ms = performance.now() - started;
  const back = new Uint8Array(received);
  let at = 0;
  for (const p of parts) { back.set(p, at); at += p.length; }
  return { ok: equal(back, data), sent: n, received, ms, closed };
}

/** The peer store's record of `peerId`: protocols and identify metadata. */
async function peerInfo(peerId) {
  const conn = connectionsTo(peerId)[0];
  if (conn == null) throw new Error(`not connected to ${peerId}`);
  const peer = await node.peerStore.get(conn.remotePeer);
  const meta = (k) => (peer.metadata.has(k) ? text.decode(peer.metadata.get(k)) : null);
  return { protocols: peer.protocols, agentVersion: meta('AgentVersion'), protocolVersion: meta('ProtocolVersion') };
}

window.jsPeer = {
  start,
  addrs,
  dial,
  ping: pingPeer,
  echo,
  peerInfo,
  connections,
  get id() { return node?.peerId.toString(); },
  get identified() { return seen.identified; },
  get pingsServed() { return seen.pingsServed; },
  /** How the last echo's close() ended: {ms, error?}. */
  lastClose: () => seen.lastClose,
  stop: () => node?.stop(),
};
