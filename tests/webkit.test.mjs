// WebKit, Safari's engine (issue 22): Debian's WebKitGTK driven through
// WebDriver (tests/lib/webkit.mjs). It has no RTCPeerConnection, so it
// also stands for every browser where WebRTC is missing or turned off:
// the peer detects that, never tries a direct connection, says so in
// plain words, and still puts, gets and contributes over nodes' relays.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ROOT, startNode } from './lib/node.mjs';
import { ENGINES, launch, openApp, phoneLayout, seekAndPlay, waitForStatus, screenshot } from './lib/browser.mjs';
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
  await screenshot(page, 'webkit-page');
  await page.evaluate(() => new Promise((resolve) => {
    document.querySelector('#peer-paths').scrollIntoView({ block: 'center' });
    requestAnimationFrame(() => requestAnimationFrame(resolve));
  }));
  await screenshot(page, 'webkit-peer-card');

  // Sharing as a user does: choose a file, get a link.
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from WebKit\n'.repeat(10_000)) });
  await page.waitForSelector('#put-result[data-state=stored], #put-error:not([hidden])', { timeout: 60_000 });
  const shared = await page.evaluate(() => ({
    error: document.querySelector('#put-error').hidden ? '' : document.querySelector('#put-error').textContent,
    link: document.querySelector('#put-link').value,
  }));
  assert.equal(shared.error, '');
  assert.match(shared.link, /^http:\/\/127\.0\.0\.1:\d+\/#/);
  await screenshot(page, 'webkit-shared');

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
  // WebKitGTK repaints a resized window a moment later: wait for it, so
  // the screenshot shows what was measured.
  await page.evaluate(() => new Promise((resolve) => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(resolve)), 1000)));
  const width = await page.evaluate(() => window.innerWidth);
  assert.ok(width < 480, `the phone layout applies: ${width} px`);
  const layout = await phoneLayout(page);
  assert.ok(layout.scrollWidth <= width, `${layout.scrollWidth} px wide on a ${width} px screen`);
  assert.deepEqual(layout.small, [], 'touch targets under 44 px');
  await screenshot(page, 'webkit-iphone');
});

/** Puts `bytes` (an array) from the page as `name` of `type`; returns the link and SHA-256. */
function putBytes(page, bytes, name, type) {
  return page.evaluate(async ({ b, n, t }) => {
    const data = new Uint8Array(b);
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((x) => x.toString(16).padStart(2, '0')).join('');
    return { link: await window.meganet.put(new File([data], n, { type: t }), {}), sha, size: data.length };
  }, { b: bytes, n: name, t: type });
}

run('webkit: Save streams through the service worker, ranges answer 206 with exactly their bytes, and a video plays and seeks', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const uploader = await peerIn('chromium', node);
  const clip = readFileSync(`${ROOT}/tests/fixtures/clip.webm`);
  const file = await putBytes(uploader.page, [...clip], 'clip.webm', 'video/webm');
  await uploader.browser.close();

  const browser = await launch('webkit');
  cleanups.push(() => browser.close());
  const { page } = await openApp(browser, file.link);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  const href = await page.getAttribute('#fetch-save', 'href');
  assert.match(href, /^\/meganet\/file\/[0-9a-f]{32}\/clip\.webm\?save=1$/, 'Save goes through the service worker');
  const url = href.replace('?save=1', '');
  const answers = await page.evaluate(async ([u, size]) => {
    const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map((x) => x.toString(16).padStart(2, '0')).join('');
    const part = await fetch(u, { headers: { Range: 'bytes=1000-1999' } });
    const whole = await fetch(`${u}?save=1`);
    const wholeBytes = await whole.arrayBuffer();
    return {
      part: { status: part.status, range: part.headers.get('content-range'), length: (await part.arrayBuffer()).byteLength },
      whole: { status: whole.status, disposition: whole.headers.get('content-disposition'), sha: await hex(wholeBytes) },
      beyond: (await fetch(u, { headers: { Range: `bytes=${size + 10}-` } })).status,
    };
  }, [url, file.size]);
  assert.deepEqual(answers.part, { status: 206, range: `bytes 1000-1999/${file.size}`, length: 1000 });
  assert.deepEqual(answers.whole, { status: 200, disposition: "attachment; filename*=UTF-8''clip.webm", sha: file.sha });
  assert.equal(answers.beyond, 416);

  // The inline player plays from the worker's 206 answers and seeks.
  const played = await seekAndPlay(page);
  assert.equal(played.width, 320, JSON.stringify(played));
  assert.ok(Math.abs(played.duration - 10) < 0.5, `duration: ${JSON.stringify(played)}`);
  assert.ok(played.at > 5.3 && played.at < 7.5, `played on from 5 s: ${JSON.stringify(played)}`);
  await screenshot(page, 'webkit-video');
  assert.deepEqual(await page.errors(), []);
});
