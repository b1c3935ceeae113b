// What a browser serves to other peers passes the contribution gate
// (issue 20, point 2): the echo and sink probes answer only while the
// peer contributes; a peer that does not is not a free relay or sink for
// other peers' traffic.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';
import { launchChromium, openApp, serveProbes, waitForStatus } from './lib/browser.mjs';
import { dialRetrying, webrtcAddr } from './lib/webrtc.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function peer(node) {
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const app = await openApp(browser, node.url);
  // Warnings (a lost connection and its cause) explain a failed probe.
  const warnings = [];
  app.page.on('console', (m) => { if (/WARN|ERROR/.test(m.text())) warnings.push(m.text().slice(0, 400)); });
  await waitForStatus(app.page, (s) => s.node.state === 'connected');
  return { ...app, warnings, id: await app.page.evaluate(() => window.meganet.id) };
}

const consoles = (...peers) => peers.map((p) => `${p.id}:\n${p.warnings.join('\n')}`).join('\n');

/** Echoes `n` bytes from `page` through `to`: 'ok', or the error's message. */
const echo = (page, to, n) => page.evaluate(async ([peer, bytes]) => {
  const data = new Uint8Array(bytes).fill(7);
  try {
    const back = await window.meganet.echo(peer, data);
    return back.length === bytes ? 'ok' : `echoed ${back.length} of ${bytes}`;
  } catch (e) {
    return e.message || String(e);
  }
}, [to, n]);

test('chromium: probes to a peer that does not contribute are refused; they are answered once it contributes, and refused again when it stops', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const a = await peer(node);
  const b = await peer(node);
  await dialRetrying(a.page, await webrtcAddr(b.page));

  const refused = await echo(a.page, b.id, 100_000);
  assert.notEqual(refused, 'ok', 'a non-contributor echoed');
  const sink = await a.page.evaluate((peer) => window.meganet.sink(peer, 1_000_000).then(String, (e) => e.message), b.id);
  assert.notEqual(sink, '1000000', 'a non-contributor swallowed a sink');

  await serveProbes(b.page);
  assert.equal(await echo(a.page, b.id, 100_000), 'ok', consoles(a, b));

  await b.page.evaluate(() => window.meganet.contribute({ enabled: false }));
  assert.notEqual(await echo(a.page, b.id, 100_000), 'ok', 'echoed after it stopped contributing');
  assert.deepEqual([...a.errors, ...b.errors], []);
});
