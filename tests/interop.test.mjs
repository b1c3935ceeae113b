// Interop with js-libp2p (@libp2p/webrtc, @libp2p/circuit-relay-v2 from
// npm) in Chromium, through the meganet node's relay: a js-libp2p browser
// node dials a meganet browser peer over `/webrtc`, and a meganet peer
// dials the js-libp2p node. Each direction runs identify and ping and
// echoes 1 MiB over `/meganet/echo/1.0.0` on the direct connection.
//
// The js node (tests/interop/js-peer.js) is bundled here with webpack and
// served from its own small HTTP server; meganet peers run in the app
// page from the node. The two sides run in separate Chromium processes.
// INTEROP_DEBUG=<pattern> (e.g. 'libp2p:webrtc*') turns on js-libp2p's
// debug log; both pages' consoles go to test-artifacts/interop-*.log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleJsPeer, openJsPeer, serveJsPeer } from './interop/harness.mjs';
import { startNode } from './lib/node.mjs';
import { ARTIFACTS, launchChromium, openApp, serveProbes, waitForStatus } from './lib/browser.mjs';
import { iceReport, recordPeerConnections, webrtcAddr } from './lib/webrtc.mjs';

// js-libp2p runs with its defaults: its connection monitor aborts any
// connection whose ping fails (it did before we spoke FIN_ACK).
const keepOnPingFailure = false;

const MiB = 1 << 20;
const ECHO = '/meganet/echo/1.0.0';
const cleanups = [];
const logs = { js: [], meganet: [] };
let node;
let js;
let jsId;
let meganetBrowser;

function record(page, into, who) {
  page.on('console', (m) => into.push(`[${who}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => into.push(`[${who}] pageerror: ${e.message}`));
}

function saveLogs() {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [name, lines] of Object.entries(logs)) {
    writeFileSync(path.join(ARTIFACTS, `interop-${name}.log`), lines.join('\n'));
  }
  writeFileSync(path.join(ARTIFACTS, 'interop-node.log'), node?.logs() ?? '');
}

/** A meganet peer in a fresh context (its own identity) of the meganet Chromium. */
async function meganetPeer(name) {
  const app = await openApp(meganetBrowser, node.url, {}, { initScript: recordPeerConnections });
  record(app.page, logs.meganet, name);
  await waitForStatus(app.page, (s) => s.node.state === 'connected');
  await serveProbes(app.page);
  return { ...app, id: await app.page.evaluate(() => window.meganet.id) };
}

/** waitForStatus, but a timeout says what the status was. */
async function statusWhere(page, predicate, timeout = 20_000) {
  try {
    return await waitForStatus(page, predicate, timeout);
  } catch (e) {
    const now = await page.evaluate(() => window.meganet.status()).catch(() => null);
    throw new Error(`${e.message}\nstatus: ${JSON.stringify(now?.connections)}`);
  }
}

/**
 * Resolves when the js page's predicate (run there with `arg`) holds; a
 * timeout reports what the js node had seen.
 */
async function jsSees(fn, arg, timeout = 20_000) {
  try {
    await js.page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    const seen = await js.page.evaluate(() => ({
      connections: window.jsPeer.connections(),
      identified: window.jsPeer.identified.map(({ protocols, ...r }) => ({ ...r, protocols: protocols.length })),
      pingsServed: window.jsPeer.pingsServed,
    })).catch(() => null);
    throw new Error(`${e.message}\njs node: ${JSON.stringify(seen)}`);
  }
}

// Status predicates (as source: they run in the page).
const webrtcTo = (peerId) => (s) => s.connections.some((c) => c.peerId === peerId && c.transport === 'webrtc');
const onlyWebrtcTo = (peerId) => (s) => s.connections.filter((c) => c.peerId === peerId).length === 1
  && webrtcTo(peerId)(s);

/** The meganet page echoes `n` random bytes through `peer`; true if they came back intact. */
function meganetEcho(page, peer, n) {
  return page.evaluate(async ([to, size]) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
    const started = performance.now();
    const back = await window.meganet.echo(to, data);
    return { ok: back.length === data.length && back.every((v, i) => v === data[i]), received: back.length, ms: performance.now() - started };
  }, [peer, n]);
}

/** The js peer, its page's console recorded with the others. */
async function jsPeer(browser, url, bootstrap) {
  return openJsPeer(browser, url, bootstrap, {
    keepOnPingFailure,
    debug: process.env.INTEROP_DEBUG,
    onPage: (page) => record(page, logs.js, 'js'),
  });
}

before(async () => {
  let started = Date.now();
  await bundleJsPeer();
  const bundleMs = Date.now() - started;
  started = Date.now();
  node = await startNode();
  cleanups.push(() => node.stop());
  const server = await serveJsPeer();
  cleanups.push(server.close);
  const jsUrl = server.url;
  const bootstrap = await (await fetch(new URL('/bootstrap.json', node.url))).json();
  meganetBrowser = await launchChromium();
  cleanups.push(() => meganetBrowser.close());
  const jsBrowser = await launchChromium();
  cleanups.push(() => jsBrowser.close());
  js = await jsPeer(jsBrowser, jsUrl, bootstrap);
  jsId = js.id;
  console.log(JSON.stringify({ bundleMs, jsStartMs: Date.now() - started, jsId, keepOnPingFailure }));
});

after(async () => {
  saveLogs();
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The js node's identify result for `id` from the direct /webrtc connection. */
async function jsIdentified(id) {
  await jsSees(([peer]) => window.jsPeer.identified.some((r) => r.peerId === peer && r.remoteAddr.endsWith(`/webrtc/p2p/${peer}`)), [id]);
  const all = await js.page.evaluate(() => window.jsPeer.identified);
  const found = all.find((r) => r.peerId === id && r.remoteAddr.endsWith(`/webrtc/p2p/${id}`));
  assert.ok(found.protocols.includes(ECHO), `identify over /webrtc lists ${ECHO}: ${found.protocols}`);
  assert.ok(found.protocols.includes('/ipfs/ping/1.0.0'), `identify lists ping: ${found.protocols}`);
  assert.match(found.protocolVersion, /^\/meganet\//);
  const stored = await js.page.evaluate((peer) => window.jsPeer.peerInfo(peer), id);
  assert.ok(stored.protocols.includes(ECHO), `the js peer store knows our protocols: ${JSON.stringify(stored)}`);
  return { agentVersion: found.agentVersion, protocolVersion: found.protocolVersion };
}

/** Waits until the js node has answered a ping from `id` on the direct /webrtc connection. */
function jsAnsweredPing(id) {
  return jsSees(([peer]) => window.jsPeer.pingsServed
    .some((p) => p.peerId === peer && p.remoteAddr.endsWith(`/webrtc/p2p/${peer}`) && p.bytes >= 32), [id]);
}

/** Every connected RTCPeerConnection in `page` uses a direct (host or reflexive) candidate pair. */
async function assertDirectIce(page) {
  const pairs = await iceReport(page);
  assert.ok(pairs.length > 0 && pairs.every((p) => p.local && p.remote && p.local.type !== 'relay' && p.remote.type !== 'relay'),
    `selected ICE pairs: ${JSON.stringify(pairs)}`);
}

/** The js node's connections to `id`. */
async function jsConnectionsTo(id) {
  return (await js.page.evaluate(() => window.jsPeer.connections())).filter((c) => c.peerId === id);
}

// Direction 1: js-libp2p dials a meganet peer.
const one = {};

test('js-libp2p dials a meganet peer: a direct /webrtc connection on both sides', async () => {
  one.m = await meganetPeer('meganet-1');
  const addr = await webrtcAddr(one.m.page);
  assert.match(addr, new RegExp(`/p2p/${node.peerId}/p2p-circuit/webrtc/p2p/${one.m.id}$`));
  const started = Date.now();
  const conn = await js.page.evaluate((a) => window.jsPeer.dial(a), addr);
  one.connectMs = Date.now() - started;
  assert.equal(conn.multiplexer, '/webrtc', JSON.stringify(conn));
  assert.ok(conn.direct && !conn.limited, `direct and unlimited: ${JSON.stringify(conn)}`);
  assert.equal(conn.remoteAddr, addr);
  const status = await statusWhere(one.m.page, webrtcTo(jsId));
  const ours = status.connections.filter((c) => c.peerId === jsId && c.transport === 'webrtc');
  // The remote address is where ICE found js: /ip4/<ip>/udp/<port>/webrtc/p2p/<js>.
  assert.equal(ours.length, 1, JSON.stringify(ours));
  assert.equal(ours[0].path, 'direct');
  assert.match(ours[0].addr, new RegExp(`^/ip4/[0-9.]+/udp/[0-9]+/webrtc/p2p/${jsId}$`));
  await assertDirectIce(js.page);
  await assertDirectIce(one.m.page);
  console.log(JSON.stringify({ direction: 'js -> meganet', connectMs: one.connectMs }));
});

test('js-libp2p dials: js echoes 1 MiB through the meganet peer', async () => {
  const echo = await js.page.evaluate(([peer, n]) => window.jsPeer.echo(peer, n), [one.m.id, MiB]);
  assert.ok(echo.ok, `1 MiB echoed intact: ${JSON.stringify(echo)}`);
  console.log(JSON.stringify({ direction: 'js -> meganet', echo }));
});

test('js-libp2p dials: ping both ways over /webrtc', async () => {
  const started = Date.now();
  const rtt = await js.page.evaluate((peer) => window.jsPeer.ping(peer), one.m.id);
  const pingMs = Date.now() - started;
  assert.ok(rtt >= 0, `js pinged the meganet peer: ${rtt}`);
  await jsAnsweredPing(one.m.id);
  console.log(JSON.stringify({ direction: 'js -> meganet', rtt, pingMs }));
});

test('js-libp2p dials: closing a stream is acknowledged (FIN_ACK)', async () => {
  const close = await js.page.evaluate(() => window.jsPeer.lastClose());
  // Without our FIN_ACK, js-libp2p's close() waits out its 10 s timeout;
  // an acknowledged close ends well before it, even on a loaded machine
  // (CI once took 2.6 s).
  assert.ok(!close.error && close.ms < 8000, `the echo stream's close() ended: ${JSON.stringify(close)}`);
});

test('js-libp2p dials: the meganet peer keeps only the /webrtc connection', async () => {
  const status = await statusWhere(one.m.page, onlyWebrtcTo(jsId));
  assert.deepEqual(status.connections.filter((c) => c.peerId === jsId).map((c) => [c.transport, c.path]), [['webrtc', 'direct']]);
});

test('js-libp2p dials: js identify over /webrtc learns our protocols', async () => {
  console.log(JSON.stringify({ direction: 'js -> meganet', identify: await jsIdentified(one.m.id) }));
});

// Direction 2: a meganet peer dials js-libp2p.
const two = {};

test('a meganet peer dials js-libp2p: a direct /webrtc connection on both sides', async () => {
  two.m = await meganetPeer('meganet-2');
  const circuit = js.addrs.find((a) => a.includes('/ws/') && a.includes('/p2p-circuit/webrtc'));
  assert.ok(circuit, `the js node listens on /p2p-circuit/webrtc: ${js.addrs}`);
  const addr = circuit.endsWith(`/p2p/${jsId}`) ? circuit : `${circuit}/p2p/${jsId}`;
  const started = Date.now();
  await two.m.page.evaluate((a) => window.meganet.dial(a), addr);
  two.connectMs = Date.now() - started;
  const status = await statusWhere(two.m.page, onlyWebrtcTo(jsId));
  const ours = status.connections.filter((c) => c.peerId === jsId);
  assert.deepEqual(ours.map((c) => [c.transport, c.path, c.addr]), [['webrtc', 'direct', addr]]);
  await jsSees(([peer]) => window.jsPeer.connections()
    .some((c) => c.peerId === peer && c.multiplexer === '/webrtc' && c.direct && !c.limited), [two.m.id]);
  const theirs = (await jsConnectionsTo(two.m.id)).filter((c) => c.multiplexer === '/webrtc');
  assert.deepEqual(theirs.map((c) => c.remoteAddr), [`/webrtc/p2p/${two.m.id}`]);
  await assertDirectIce(two.m.page);
  console.log(JSON.stringify({ direction: 'meganet -> js', connectMs: two.connectMs }));
});

test('meganet dials: identify and ping over /webrtc', async () => {
  const identify = await jsIdentified(two.m.id);
  await jsAnsweredPing(two.m.id);
  const started = Date.now();
  const rtt = await js.page.evaluate((peer) => window.jsPeer.ping(peer), two.m.id);
  assert.ok(rtt >= 0, `js pinged the meganet peer: ${rtt}`);
  console.log(JSON.stringify({ direction: 'meganet -> js', identify, rtt, pingMs: Date.now() - started }));
});

test('meganet dials: the meganet peer echoes 1 MiB through js-libp2p', async () => {
  const echo = await meganetEcho(two.m.page, jsId, MiB);
  assert.ok(echo.ok, `1 MiB echoed intact by js-libp2p: ${JSON.stringify(echo)}`);
  console.log(JSON.stringify({ direction: 'meganet -> js', echo }));
});

test('both /webrtc connections outlive js-libp2p\'s connection monitor', async () => {
  // js-libp2p pings every connection every 10 s and aborts it when a ping
  // (which closes its stream and waits for FIN_ACK) fails.
  await new Promise((r) => setTimeout(r, 25_000));
  for (const m of [one.m, two.m]) {
    const direct = (await jsConnectionsTo(m.id)).filter((c) => c.multiplexer === '/webrtc' && c.status === 'open');
    assert.equal(direct.length, 1, `js still holds the /webrtc connection to ${m.id}`);
    await statusWhere(m.page, webrtcTo(jsId), 1000);
  }
});
