// Issue 2: a node serves the web app; each browser that opens it becomes a
// peer connected to the node; identities survive restarts and reloads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir } from './lib/node.mjs';
import { BROWSERS, ENGINES, launch, launchChromium, openApp, waitForStatus, screenshot } from './lib/browser.mjs';

const connected = (s) => s.node.state === 'connected';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

for (const kind of BROWSERS) {
test(`${kind}: two browsers become peers of the node, and both survive a node restart`, async () => {
  const data = tempDir();
  let node = await startNode({ data, args: ['--status-details'] });
  cleanups.push(() => node.stop());
  const first = await node.status();
  assert.equal(first.peerId, node.peerId);
  assert.match(first.certhash, /^u/, 'certhash is a multibase string');

  const bootstrap = await (await fetch(new URL('/bootstrap.json', node.url))).json();
  assert.equal(bootstrap.peerId, node.peerId);
  assert.ok(bootstrap.addrs.some((a) => a.includes('/ws/p2p/')), `a WebSocket address in ${bootstrap.addrs}`);
  assert.ok(bootstrap.addrs.some((a) => a.includes('/webrtc-direct/certhash/')), `a WebRTC-direct address in ${bootstrap.addrs}`);

  // Two separate Chromium processes.
  const browsers = [await launch(kind), await launch(kind)];
  for (const b of browsers) cleanups.push(() => b.close());
  const apps = [];
  for (const b of browsers) apps.push(await openApp(b, node.url));
  const ids = [];
  for (const { page } of apps) {
    const s = await waitForStatus(page, connected);
    assert.equal(s.node.peerId, node.peerId);
    assert.equal(s.node.transport, 'websocket');
    ids.push(s.peerId);
    // The relay reservation makes the browser reachable through the node.
    await waitForStatus(page, (st) => st.listenAddrs.some((a) => a.includes('/p2p-circuit')));
  }
  assert.notEqual(ids[0], ids[1], 'each browser has its own identity');
  await apps[0].page.waitForSelector('#node-state[data-state="connected"]');
  await screenshot(apps[0].page, `skeleton-desktop-${kind}`);

  const status = await node.status();
  for (const id of ids) {
    const conn = status.peers.find((p) => p.peerId === id);
    assert.ok(conn, `node lists browser ${id}: ${JSON.stringify(status.peers)}`);
    assert.equal(conn.transport, 'websocket');
  }

  // Restart on the same HTTP port and data directory.
  assert.equal(await node.stop(), 0, 'Ctrl-C is a clean shutdown');
  for (const { page } of apps) await waitForStatus(page, (s) => s.node.state !== 'connected');
  node = await startNode({ data, http: node.http, args: ['--status-details'] });
  const again = await node.status();
  assert.equal(again.peerId, first.peerId, 'same peer id after restart');
  assert.equal(again.certhash, first.certhash, 'same certhash after restart');
  for (const { page } of apps) await waitForStatus(page, connected, 20_000);
  // The node learns of a connection a moment after the browser does.
  let after = await node.status();
  for (let i = 0; i < 50 && !ids.every((id) => after.peers.some((p) => p.peerId === id)); i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = await node.status();
  }
  for (const id of ids) assert.ok(after.peers.some((p) => p.peerId === id), `browser ${id} reconnected: ${JSON.stringify(after.peers)}`);

  // A reload keeps the browser's identity (IndexedDB).
  await apps[0].page.reload();
  await apps[0].page.waitForFunction(() => window.meganet !== undefined);
  const reloaded = await waitForStatus(apps[0].page, connected);
  assert.equal(reloaded.peerId, ids[0]);
  for (const { errors } of apps) assert.deepEqual(errors, [], 'no page errors');
});

if (kind === 'chromium') test('the page works at phone size', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const { devices } = await import('playwright-core');
  const pixel7 = devices['Pixel 7'];
  const { page } = await openApp(browser, node.url, pixel7);
  await waitForStatus(page, connected);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= pixel7.viewport.width, `no horizontal scrolling on a phone (${width} px wide)`);
  await screenshot(page, 'skeleton-pixel7');
  // The wasm module travels compressed.
  const wasm = await fetch(new URL('/meganet_bg.wasm', node.url), { headers: { 'accept-encoding': 'br, gzip' } });
  assert.match(wasm.headers.get('content-encoding') || '', /br|gzip/);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  // Installable: a web app manifest whose icons exist.
  const manifest = await (await fetch(new URL('/manifest.webmanifest', node.url))).json();
  assert.equal(manifest.display, 'standalone');
  for (const icon of manifest.icons) {
    const res = await fetch(new URL(icon.src, node.url));
    assert.equal(res.status, 200, icon.src);
  }
});

}

// WebKit too: its service worker keeps the app shell as well.
for (const kind of ENGINES) {
test(`${kind}: a page whose node is gone says so, keeps retrying, and reloads from the service worker`, async () => {
  const node = await startNode();
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page } = await openApp(browser, node.url);
  await waitForStatus(page, connected);
  // The service worker has cached the app shell once it is active.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await node.stop();
  const s = await waitForStatus(page, (st) => st.node.state === 'unreachable' && st.node.retryInMs > 0);
  assert.ok(s.node.error, 'names the error');
  await page.waitForSelector('#node-state[data-state="unreachable"]');
  assert.match(await page.textContent('#node-detail'), /cannot reach the node/);

  // With the node (and its HTTP server) gone, a reload still shows the app.
  await page.reload();
  await page.waitForFunction(() => window.meganet !== undefined, null, { timeout: 30_000 });
  await waitForStatus(page, (st) => st.node.state === 'unreachable');
  await page.waitForSelector('#node-state[data-state="unreachable"]');
  assert.match(await page.textContent('#node-detail'), /cannot reach the node.*retrying in/);
  await screenshot(page, `skeleton-offline-${kind}`);
});
}

test('meganet node --help explains every flag', async () => {
  const { code, stdout } = await runMeganet(['node', '--help']);
  assert.equal(code, 0);
  for (const flag of ['--http', '--sites', '--data', '--www', '--ws', '--webrtc', '--tcp', '--peer',
    '--relay-max-reservations', '--relay-max-reservations-per-peer', '--relay-reservation-secs',
    '--relay-reservations-per-ip-per-hour', '--relay-circuits-per-ip-per-minute',
    '--relay-max-circuits', '--relay-max-circuits-per-peer', '--relay-circuit-secs', '--relay-circuit-bytes']) {
    assert.ok(stdout.includes(flag), `--help mentions ${flag}`);
  }
});

test('bad start-up input gives one clear error line and a failing exit code', async (t) => {
  await t.test('unknown flag', async () => {
    const r = await runMeganet(['node', '--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unexpected argument '--no-such-flag'/);
  });
  await t.test('occupied HTTP port', async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());
    const r = await runMeganet(['node', '--data', tempDir(), '--http', node.http,
      '--ws', '127.0.0.1:0', '--webrtc', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--sites', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`error: cannot listen for HTTP on ${node.http}`));
  });
  await t.test('corrupt identity key is refused, not replaced', async () => {
    const data = tempDir();
    const node = await startNode({ data });
    await node.stop();
    const key = path.join(data, 'identity.key');
    writeFileSync(key, 'not a key');
    const r = await runMeganet(['node', '--data', data, '--http', '127.0.0.1:0',
      '--ws', '127.0.0.1:0', '--webrtc', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--sites', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /corrupt/);
    assert.equal(readFileSync(key, 'utf8'), 'not a key', 'the corrupt key is left for the operator');
  });
  await t.test('unwritable data directory', async () => {
    const parent = path.join(tempDir(), 'a-file');
    writeFileSync(parent, 'not a directory');
    const r = await runMeganet(['node', '--data', path.join(parent, 'data'), '--http', '127.0.0.1:0',
      '--ws', '127.0.0.1:0', '--webrtc', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--sites', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /a-file\/data/);
  });
  await t.test('malformed --peer address', async () => {
    const r = await runMeganet(['node', '--peer', 'not-a-multiaddr']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid value 'not-a-multiaddr' for '--peer/);
  });
});
