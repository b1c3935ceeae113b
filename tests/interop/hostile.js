// A hostile libp2p `/webrtc` peer for tests/webrtc-hostile.test.mjs. A
// js-libp2p node (WebSocket to the meganet node, relay reservation there)
// carries the relayed connections; everything above them is hand-written
// here so it can lie: the `/webrtc-signaling/0.0.1` exchange (raw bytes, or
// an honest one with an altered `a=fingerprint`), and libp2p streams as raw
// RTCDataChannels (the spec's framing, multistream-select, FIN_ACK), so it
// can open thousands of channels or send oversized messages.
//
// Bundled by the test (webpack, like js-peer.js) into build/interop/.
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { lpStream } from '@libp2p/utils';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { blake3 } from '@noble/hashes/blake3.js';
import { createLibp2p } from 'libp2p';

const SIGNALING = '/webrtc-signaling/0.0.1';
const [OFFER, ANSWER, CANDIDATE] = [0, 1, 2];
const [FIN, RESET, FIN_ACK] = [0, 2, 3];
const MULTISTREAM = '/multistream/1.0.0\n';
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let node;
/** The current raw connection: {pc, ms} or null. */
let current = null;

const varint = (n) => { const out = []; while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); } out.push(n); return out; };
const concat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { out.set(p, at); at += p.length; } return out; };
const lp = (text) => { const b = enc.encode(text); return concat(Uint8Array.from(varint(b.length)), b); };

/** A protobuf body `{1: varint, 2: bytes}`, either field optional. */
function pb(field1, field2) {
  const head = field1 == null ? [] : [0x08, ...varint(field1)];
  if (field2 == null) return Uint8Array.from(head);
  return concat(Uint8Array.from([...head, 0x12, ...varint(field2.length)]), field2);
}
/** Decodes `{1: varint, 2: bytes}` (what both signaling and stream frames are). */
function unpb(b) {
  const out = {}; let i = 0;
  const v = () => { let x = 0; let s = 1; for (;;) { const c = b[i++]; x += (c & 0x7f) * s; s *= 128; if (c < 0x80) return x; } };
  while (i < b.length) {
    const key = v();
    if ((key & 7) === 0) out[key >> 3] = v();
    else { const n = v(); out[key >> 3] = b.subarray(i, i + n); i += n; }
  }
  return out;
}

/** A stream frame: varint length, then `{flag, message}`. */
const frame = (flag, data) => { const body = pb(flag, data); return concat(Uint8Array.from(varint(body.length)), body); };

/** Malformed signaling openings, by name (all raw bytes on the stream). */
const sig = (type, text) => { const body = pb(type, enc.encode(text)); return concat(Uint8Array.from(varint(body.length)), body); };
const GARBAGE = {
  badVarint: () => Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
  tooLarge: () => Uint8Array.from(varint(64 * 1024 + 1)),
  badProtobuf: () => Uint8Array.from([4, 0x12, 0x7f, 0x41, 0x41]), // field 2 claims 127 bytes, has 2
  unknownType: () => sig(7, 'v=0'),
  answerFirst: () => sig(ANSWER, 'v=0\r\n'),
  notSdp: () => sig(OFFER, 'this is not an SDP offer'),
  cutShort: () => Uint8Array.from([0x90]),
};

async function start({ bootstrap, timeoutMs = 20_000 }) {
  const relay = bootstrap.addrs.find((a) => a.includes('/ws/'));
  node = await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() },
  });
  await node.dial(multiaddr(relay));
  const deadline = Date.now() + timeoutMs;
  while (!addrs().some((a) => a.includes('/p2p-circuit'))) {
    if (Date.now() > deadline) throw new Error(`no /p2p-circuit address: ${addrs()}`);
    await sleep(100);
  }
  return { id: node.peerId.toString(), addrs: addrs() };
}
const addrs = () => node.getMultiaddrs().map((a) => a.toString());

/** Opens a signaling stream to `circuit` (`<relay>/p2p-circuit/p2p/<peer>`). */
async function signalingStream(circuit) {
  const conn = await node.dial(multiaddr(circuit));
  return conn.newStream(SIGNALING, { runOnLimitedConnection: true });
}

/** Resolves to how `stream` ended (or 'open' after `ms`). */
function ended(stream, ms) {
  if (stream.status !== 'open') return Promise.resolve({ status: stream.status });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: 'open' }), ms);
    stream.addEventListener('close', (e) => { clearTimeout(timer); resolve({ status: stream.status, error: e.error?.name }); }, { once: true });
  });
}

/** Writes the named garbage on a fresh signaling stream; resolves to how the remote ended it. */
async function garbage(circuit, kind, waitMs = 8000) {
  const stream = await signalingStream(circuit);
  const started = performance.now();
  stream.send(GARBAGE[kind]());
  const end = await ended(stream, waitMs);
  stream.abort(new Error('done'));
  return { kind, ...end, ms: Math.round(performance.now() - started) };
}

/** Swaps hex digits of the DTLS fingerprint: still well-formed, no longer ours. */
function alterFingerprint(sdp) {
  return sdp.replace(/(a=fingerprint:\S+ )([0-9A-F:]+)/gi, (_, head, fp) => head + fp.replace(/[0-9A-F]/gi, (c) => (c === 'A' ? 'B' : 'A')));
}

/** Signals over `stream` as the dialer (`offer`) or the listener; resolves when ICE+DTLS settle. */
async function signal(stream, { role, alter = false, timeoutMs = 15_000 }) {
  const messages = lpStream(stream, { maxDataLength: 1 << 20 });
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.ondatachannel = ({ channel }) => serveInbound(channel);
  let writes = Promise.resolve();
  const write = (type, text) => { writes = writes.then(() => messages.write(pb(type, enc.encode(text)))).catch(() => {}); };
  const read = async () => { const m = unpb((await messages.read()).subarray()); return { type: m[1] ?? 0, data: dec.decode(m[2] ?? new Uint8Array()) }; };
  pc.onicecandidate = ({ candidate }) => write(CANDIDATE, JSON.stringify(candidate?.toJSON() ?? null));
  const started = performance.now();
  if (role === 'offer') {
    const init = pc.createDataChannel('init');
    init.onopen = () => init.close();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    write(OFFER, alter ? alterFingerprint(offer.sdp) : offer.sdp);
    const answer = await read();
    if (answer.type !== ANSWER) throw new Error(`expected an answer, got type ${answer.type}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.data });
  } else {
    const offer = await read();
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.data });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    write(ANSWER, alter ? alterFingerprint(answer.sdp) : answer.sdp);
  }
  (async () => {
    for (;;) {
      const m = await read();
      const c = JSON.parse(m.data);
      if (c != null && c !== '' && c.candidate !== '') await pc.addIceCandidate(c);
    }
  })().catch(() => {});
  const deadline = Date.now() + timeoutMs;
  while (!['connected', 'failed', 'closed'].includes(pc.connectionState) && Date.now() < deadline) await sleep(20);
  const result = { state: pc.connectionState, ms: Math.round(performance.now() - started) };
  await writes;
  stream.close().catch(() => {});
  if (pc.connectionState === 'connected') current = { pc };
  else pc.close();
  return result;
}

/** Dials the meganet peer at `circuit` over `/webrtc` with our own signaling. */
async function dial(circuit, { alter = false } = {}) {
  current?.pc.close();
  current = null;
  return signal(await signalingStream(circuit), { role: 'offer', alter });
}

/**
 * Answers the next `/webrtc` dial from a meganet peer; `answered()` resolves
 * to its outcome. `resetFirst`: the first signaling stream is reset before
 * the offer is read (a circuit lost mid-signaling), the next one answered;
 * the outcome then counts the streams (`streams`).
 */
let answering = null;
async function answerNext({ alter = false, resetFirst = false } = {}) {
  await node.unhandle(SIGNALING).catch(() => {});
  let streams = 0;
  answering = new Promise((resolve) => {
    node.handle(SIGNALING, (stream) => {
      streams += 1;
      if (resetFirst && streams === 1) {
        stream.abort(new Error('reset before the offer'));
        return;
      }
      signal(stream, { role: 'answer', alter }).then((r) => resolve({ ...r, streams }), (e) => resolve({ error: e.message, streams }));
    }, { runOnLimitedConnection: true });
  });
}

/** One data channel as a libp2p stream: frames in, payload and flags collected. */
class RawStream {
  constructor(channel) {
    this.channel = channel;
    this.payload = new Uint8Array();
    this.flags = [];
    this.raw = new Uint8Array();
    this.waiters = new Set();
    channel.binaryType = 'arraybuffer';
    channel.onmessage = (e) => this.onBytes(new Uint8Array(e.data));
    channel.onclose = () => this.notify();
    channel.addEventListener('open', () => this.notify());
  }
  onBytes(bytes) {
    this.raw = concat(this.raw, bytes);
    for (;;) {
      let len = 0; let s = 1; let i = 0;
      for (; i < this.raw.length; i++) { len += (this.raw[i] & 0x7f) * s; s *= 128; if (this.raw[i] < 0x80) break; }
      if (i >= this.raw.length || this.raw.length < i + 1 + len) break;
      const m = unpb(this.raw.subarray(i + 1, i + 1 + len));
      this.raw = this.raw.slice(i + 1 + len);
      if (m[2]) this.payload = concat(this.payload, m[2]);
      if (m[1] != null) {
        this.flags.push(m[1]);
        if (m[1] === FIN && this.channel.readyState === 'open') this.channel.send(frame(FIN_ACK));
      }
    }
    this.onPayload?.();
    this.notify();
  }
  notify() { for (const w of this.waiters) w(); }
  /** Resolves once `pred()` holds; rejects after `ms`. */
  until(pred, ms = 5000, what = 'condition') {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error(`timeout waiting for ${what}: flags ${this.flags}, state ${this.channel.readyState}`)); }, ms);
      const check = () => { if (pred()) { clearTimeout(timer); this.waiters.delete(check); resolve(); } };
      this.waiters.add(check);
    });
  }
  /** Takes one multistream-select message (a length-prefixed line) from the payload, or null. */
  takeLine() {
    const len = this.payload[0];
    if (len == null || len >= 0x80 || this.payload.length < 1 + len) return null;
    const line = dec.decode(this.payload.subarray(1, 1 + len));
    this.payload = this.payload.slice(1 + len);
    return line;
  }
  send(flag, data) { this.channel.send(frame(flag, data)); }
}

/** A channel the meganet peer opened: accept ping (echo its payloads), refuse the rest. */
function serveInbound(channel) {
  const s = new RawStream(channel);
  let state = 'header';
  s.onPayload = () => {
    if (state === 'ping') { if (s.payload.length) { s.send(null, s.payload); s.payload = new Uint8Array(); } return; }
    for (let line = s.takeLine(); line != null; line = s.takeLine()) {
      if (state === 'header') { s.send(null, lp(MULTISTREAM)); state = 'proposal'; continue; }
      if (line === '/ipfs/ping/1.0.0\n') { s.send(null, lp(line)); state = 'ping'; s.onPayload(); return; }
      s.send(null, lp('na\n'));
    }
  };
}

/** Opens a stream for `protocol` on the current connection and negotiates it. */
async function openStream(protocol, label = '') {
  if (current == null) throw new Error('no raw /webrtc connection');
  const channel = current.pc.createDataChannel(label);
  const s = new RawStream(channel);
  await s.until(() => channel.readyState === 'open', 5000, 'open');
  s.send(null, concat(lp(MULTISTREAM), lp(`${protocol}\n`)));
  return s;
}

async function negotiated(s, protocol) {
  const lines = [];
  await s.until(() => { for (let l = s.takeLine(); l != null; l = s.takeLine()) lines.push(l); return lines.length >= 2; }, 5000, 'negotiation');
  if (lines[1] !== `${protocol}\n`) throw new Error(`negotiation: ${JSON.stringify(lines)}`);
}

/** Echoes `n` bytes over /meganet/echo/1.0.0 on the current connection. */
async function echo(n = 1000) {
  const s = await openStream('/meganet/echo/1.0.0');
  await negotiated(s, '/meganet/echo/1.0.0');
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  for (let i = 0; i < n; i += 16000) s.send(null, data.subarray(i, i + 16000));
  s.send(FIN);
  await s.until(() => s.flags.includes(FIN) && s.flags.includes(FIN_ACK), 10_000, 'FIN and FIN_ACK');
  s.channel.close();
  return { ok: s.payload.length === n && s.payload.every((v, i) => v === data[i]), received: s.payload.length };
}

/** Opens an echo stream and sends one data-channel message of `bytes` (a frame with that much payload, or raw 0xff). */
async function oversized(size, raw = false) {
  const s = await openStream('/meganet/echo/1.0.0');
  await negotiated(s, '/meganet/echo/1.0.0');
  const started = performance.now();
  s.channel.send(raw ? new Uint8Array(size).fill(0xff) : frame(null, new Uint8Array(size)));
  await s.until(() => s.flags.includes(RESET) || s.channel.readyState !== 'open', 10_000, 'a reset').catch(() => {});
  const out = { size, raw, reset: s.flags.includes(RESET), channel: s.channel.readyState, echoed: s.payload.length, ms: Math.round(performance.now() - started) };
  s.channel.close();
  return out;
}

/**
 * Opens `count` channels (each proposing echo) in waves of `wave` at once:
 * Chromium gives one side of a connection at most 512 channels, so a wave
 * is opened, left to settle, then closed before the next.
 */
async function flood(count, wave = 500) {
  if (current == null) throw new Error('no raw /webrtc connection');
  const started = performance.now();
  const total = { created: 0, createErrors: 0, opened: 0, answered: 0, reset: 0, closedByRemote: 0, leftOpen: 0 };
  for (let done = 0; done < count; done += wave) {
    const streams = [];
    for (let i = 0; i < Math.min(wave, count - done); i++) {
      try { streams.push(new RawStream(current.pc.createDataChannel(`flood-${done + i}`))); } catch { total.createErrors++; }
    }
    for (const s of streams) s.channel.onopen = () => { s.opened = true; s.send(null, concat(lp(MULTISTREAM), lp('/meganet/echo/1.0.0\n'), new Uint8Array(1))); };
    const deadline = Date.now() + 20_000;
    while (streams.some((s) => s.channel.readyState === 'connecting') && Date.now() < deadline) await sleep(50);
    await sleep(300);
    total.created += streams.length;
    total.opened += streams.filter((s) => s.opened).length;
    total.answered += streams.filter((s) => s.payload.length > 0).length;
    total.reset += streams.filter((s) => s.flags.includes(RESET)).length;
    total.closedByRemote += streams.filter((s) => s.channel.readyState !== 'open').length;
    for (const s of streams) s.channel.close();
    while (streams.some((s) => s.channel.readyState !== 'closed') && Date.now() < deadline + 20_000) await sleep(50);
    total.leftOpen += streams.filter((s) => s.channel.readyState !== 'closed').length;
  }
  return { ...total, ms: Math.round(performance.now() - started) };
}

const BLOCK = '/meganet/block/1.0.0';

/**
 * Sends `count` PROVIDE requests (/meganet/block/1.0.0, tag 4) for random
 * provider keys, each on its own stream, as a peer that placed nothing
 * would to push real keys out of a contributor's announce list. Returns
 * how many were answered Stored (tag 1), refused (an error, tag 5) or
 * otherwise, and the first refusal's text.
 */
async function provide(count) {
  const out = { stored: 0, refused: 0, other: 0, message: '' };
  for (let i = 0; i < count; i++) {
    tally(out, await blockRequest(concat(new Uint8Array([4]), crypto.getRandomValues(new Uint8Array(32))), 'PROVIDE'));
  }
  return out;
}

/**
 * Sends one block-protocol request `body` on its own stream, in 16 KB
 * messages; resolves to the answer's tag (null for none) and its bytes.
 */
async function blockRequest(body, what) {
  const s = await openStream(BLOCK);
  await negotiated(s, BLOCK);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, body.length, true);
  const message = concat(len, body);
  for (let at = 0; at < message.length; at += 16000) s.send(null, message.subarray(at, at + 16000));
  s.send(FIN);
  const answered = () => s.payload.length >= 4 && s.payload.length >= 4 + new DataView(s.payload.buffer, s.payload.byteOffset).getUint32(0, true);
  await s.until(() => answered() || s.flags.includes(RESET), 10_000, `the answer to ${what}`);
  s.channel.close();
  return answered() ? { tag: s.payload[4], payload: s.payload } : { tag: null };
}

/** Counts an answer: stored (tag 1), refused (an error, tag 5, keeping the first text) or other. */
function tally(out, { tag, payload }) {
  if (tag === 1) out.stored += 1;
  else if (tag === 5) {
    out.refused += 1;
    out.message ||= dec.decode(payload.subarray(7));
  } else out.other += 1;
}

/**
 * A placement ticket (crate/src/net/ticket.rs) for `block` that no node
 * signed: `kind` 'stranger' (signed, as it claims, by this peer, not a
 * node), 'forged' (names the node as signer; the signature is noise) or
 * 'otherShard' (the node as signer, for another shard's hash).
 */
function badTicket(block, kind) {
  const direct = node.getConnections().find((c) => !c.remoteAddr.toString().includes('/p2p-circuit'));
  const nodeId = direct.remotePeer.toMultihash().bytes;
  const signer = kind === 'stranger' ? node.peerId.toMultihash().bytes : nodeId;
  const hash = kind === 'otherShard' ? crypto.getRandomValues(new Uint8Array(32)) : blake3(block);
  const fixed = new Uint8Array(12);
  const view = new DataView(fixed.buffer);
  view.setUint32(0, block.length, true);
  view.setBigUint64(4, BigInt(Math.floor(Date.now() / 1000) + 300), true);
  const signature = crypto.getRandomValues(new Uint8Array(64));
  return concat(hash, fixed, Uint8Array.of(signer.length), signer, Uint8Array.of(64), signature);
}

/**
 * Sends `count` PUTs of `size` random bytes (tag 1, or tag 8 with a bad
 * ticket of `ticket` kind, see badTicket), each on its own stream, in
 * 16 KB messages. Returns how many were stored, refused (and the first
 * refusal's text) or answered otherwise.
 */
async function put(count, size, ticket = null) {
  const out = { stored: 0, refused: 0, other: 0, message: '' };
  for (let i = 0; i < count; i++) {
    const block = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    let body;
    if (ticket) {
      const t = badTicket(block, ticket);
      const len = new Uint8Array(2);
      new DataView(len.buffer).setUint16(0, t.length, true);
      body = concat(Uint8Array.of(8), len, t, block);
    } else body = concat(Uint8Array.of(1), block);
    tally(out, await blockRequest(body, 'PUT'));
  }
  return out;
}

window.hostile = {
  start, addrs, garbage, dial, answerNext, answered: () => answering, echo, oversized, flood, provide, put,
  state: () => current?.pc.connectionState ?? null,
  hangUp: () => { current?.pc.close(); current = null; },
  maxMessageSize: () => current?.pc.sctp?.maxMessageSize ?? null,
  get id() { return node?.peerId.toString(); },
};
