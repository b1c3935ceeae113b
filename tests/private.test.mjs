// Private mode (issue 20, point 6): a peer that never connects to another
// browser directly, so no other browser learns its address. It makes no
// RTCPeerConnection at all, and still fetches from a contributing browser,
// over the node's relay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';
import { connectToContributors } from './lib/webrtc.mjs';
import { peers as peersOf } from './lib/peers.mjs';

const MiB = 1 << 20;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const { peerIn, contributor, putRandom, getAndHash } = peersOf(cleanups);

/**
 * Init script: private mode chosen (once per tab, as a user would, so
 * switching it off sticks) and every RTCPeerConnection counted.
 */
function privateAndCounted() {
  try {
    if (!sessionStorage.getItem('chosen')) {
      localStorage.setItem('meganet-private', '1');
      sessionStorage.setItem('chosen', '1');
    }
  } catch { /* a document without storage */ }
  const Original = window.RTCPeerConnection;
  window.__pcCount = 0;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__pcCount += 1; }
  };
}

for (const kind of BROWSERS) {
  test(`${kind}: in private mode the peer makes no direct connection, and still fetches from a contributing browser over the relay`, async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());
    const holder = await contributor('chromium', node);
    const uploader = await peerIn('chromium', node);
    await connectToContributors(uploader.page, 1);
    const put = await putRandom(uploader.page, 8 * MiB);
    assert.ok(put.progress.peers[holder.id] > 0, `shards on the contributor: ${JSON.stringify(put.progress.peers)}`);
    await uploader.browser.close();

    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page, errors } = await openApp(browser, node.url, {}, { initScript: privateAndCounted });
    const status = await waitForStatus(page, (s) => s.node.state === 'connected');
    assert.equal(status.paths, 'private');
    assert.deepEqual(status.listenAddrs.filter((a) => a.endsWith('/webrtc')), [], 'no WebRTC listener is offered');
    const shown = await page.evaluate(() => ({
      checked: document.querySelector('#private-on').checked,
      paths: document.querySelector('#peer-paths').textContent,
    }));
    assert.equal(shown.checked, true);
    assert.match(shown.paths, /Private mode: other browsers are reached only through a node's relay/);

    // A peer open a while is connected to the contributors: over the relay.
    await connectToContributors(page, 1);
    const got = await getAndHash(page, put.link);
    assert.equal(got.digest, put.digest);
    assert.ok(got.progress.peers[holder.id] > 0, `fetched from the contributor: ${JSON.stringify(got.progress.peers)}`);
    assert.equal(await page.evaluate(() => window.__pcCount), 0, 'no RTCPeerConnection was created');
    const me = await page.evaluate(() => window.meganet.id);
    const seen = (await holder.page.evaluate(() => window.meganet.status())).connections.filter((c) => c.peerId === me);
    assert.ok(seen.length > 0 && seen.every((c) => c.path === 'relayed'),
      `the contributor knows the private peer only through the relay: ${JSON.stringify(seen)}`);
    await page.evaluate(() => new Promise((resolve) => {
      document.querySelector('#private-on').scrollIntoView({ block: 'center' });
      requestAnimationFrame(() => resolve());
    }));
    await screenshot(page, `private-on-${kind}`);

    // Switching it off restarts the peer with direct connections.
    await page.click('#private-on');
    await page.waitForFunction(() => window.meganet?.status().paths === 'direct', null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => document.querySelector('#private-on').checked), false);
    assert.deepEqual(errors, [], 'no page errors');
  });
}
