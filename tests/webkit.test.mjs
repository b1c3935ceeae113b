// WebKit, Safari's engine (issue 22): Debian's WebKitGTK driven through
// WebDriver (tests/lib/webkit.mjs). It has no RTCPeerConnection, so it
// also stands for every browser where WebRTC is missing or turned off:
// the peer detects that, never tries a direct connection, says so in
// plain words, and still puts, gets and contributes over nodes' relays.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';
import { ENGINES, launch, openApp, phoneLayout, waitForStatus, screenshot } from './lib/browser.mjs';
import { connectToContributors, waitForContributors } from './lib/webrtc.mjs';
import { peers as peersOf } from './lib/peers.mjs';

const MiB = 1 << 20;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const { peerIn, contributor, putRandom, getAndHash } = peersOf(cleanups);
const run = ENGINES.includes('webkit') ? test : test.skip;

/** WebKit's page, connected to `node`. */
async function webkitPage(node) {
  const browser = await launch('webkit');
  cleanups.push(() => browser.close());
  const app = await openApp(browser, node.url);
  await waitForStatus(app.page, (s) => s.node.state === 'connected');
  return { browser, ...app, id: await app.page.evaluate(() => window.meganet.id) };
}

run('webkit: the page and its peer run without WebRTC, say so plainly, and keep their identity across a reload', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const { page, id } = await webkitPage(node);
  const status = await page.evaluate(() => window.meganet.status());
  assert.equal(status.paths, 'no-webrtc', 'RTCPeerConnection is feature-detected as missing');
  assert.deepEqual(status.listenAddrs.filter((a) => a.endsWith('/webrtc')), [], 'no WebRTC listener is offered');
  const paths = await page.evaluate(() => {
    const el = document.querySelector('#peer-paths');
    return { text: el.textContent, kind: el.dataset.paths };
  });
  assert.equal(paths.kind, 'no-webrtc');
  assert.match(paths.text, /Direct connections are not available in this browser/);
  await page.evaluate(() => document.querySelector('#peer-paths').scrollIntoView({ block: 'center' }));
  await screenshot(page, 'webkit-page');

  await page.reload();
  await page.waitForFunction(() => window.meganet !== undefined);
  await waitForStatus(page, (s) => s.node.state === 'connected');
  assert.equal(await page.evaluate(() => window.meganet.id), id, 'the identity survives a reload');
  assert.deepEqual(await page.errors(), [], 'no uncaught error in the page');
  assert.equal(await page.evaluate(() => document.querySelector('#error').hidden), true, 'no error shown');
});

run('webkit: files go both ways with Chromium and Firefox peers', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const webkit = await webkitPage(node);
  const fromWebkit = await putRandom(webkit.page, 6 * MiB);
  for (const kind of ['chromium', 'firefox'].filter((k) => ENGINES.includes(k))) {
    const other = await peerIn(kind, node);
    const got = await getAndHash(other.page, fromWebkit.link);
    assert.equal(got.digest, fromWebkit.digest, `${kind} got what WebKit put`);
    const put = await putRandom(other.page, 6 * MiB);
    const back = await getAndHash(webkit.page, put.link);
    assert.equal(back.digest, put.digest, `WebKit got what ${kind} put`);
    await other.browser.close();
  }
  assert.deepEqual(await webkit.page.errors(), []);
});

run('webkit: a contributing WebKit peer holds shards over the relay, and a Chromium peer fetches from it', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const holder = await contributor('webkit', node);
  const uploader = await peerIn('chromium', node);
  await waitForContributors(uploader.page, 1);
  const put = await putRandom(uploader.page, 8 * MiB);
  assert.ok(put.progress.peers[holder.id] > 0, `shards placed on the WebKit contributor: ${JSON.stringify(put.progress.peers)}\n${uploader.warnings.join('\n')}`);
  await uploader.browser.close();
  const stored = await holder.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
  assert.ok(stored.storedShards > 0, `the WebKit holder stores shards: ${JSON.stringify(stored)}`);

  // A peer open a while is connected to the contributors (a get then
  // draws on them from its first window): over the relay, for WebKit.
  const fetcher = await peerIn('chromium', node);
  await connectToContributors(fetcher.page, 1);
  const got = await getAndHash(fetcher.page, put.link);
  assert.equal(got.digest, put.digest);
  assert.ok(got.progress.peers[holder.id] > 0, `fetched from the WebKit holder: ${JSON.stringify(got.progress.peers)}\n${fetcher.warnings.join('\n')}`);
  const status = await fetcher.page.evaluate(() => window.meganet.status());
  assert.ok(status.connections.some((c) => c.peerId === holder.id && c.path === 'relayed'),
    `the WebKit holder is reached over the relay: ${JSON.stringify(status.connections)}`);
  assert.deepEqual(await holder.page.errors(), []);
});

run('webkit: the page at phone sizes: no sideways scrolling, touch targets of 44 px', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const { page } = await webkitPage(node);
  // MiniBrowser's window cannot be narrower than about 450 px: below
  // the stylesheet's phone breakpoint (30rem), so the phone layout is what
  // WebKit lays out, at nearly an iPhone Plus's width.
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => window.innerWidth);
  assert.ok(width < 480, `the phone layout applies: ${width} px`);
  const layout = await phoneLayout(page);
  assert.ok(layout.scrollWidth <= width, `${layout.scrollWidth} px wide on a ${width} px screen`);
  assert.deepEqual(layout.small, [], 'touch targets under 44 px');
  await screenshot(page, 'webkit-iphone');
});
