// Issue 7: one peer per origin, and several files at once.
// Two tabs of one browser profile run one peer: the first holds the Web Lock
// and runs it, the second starts no peer and works through the first (its
// upload gives a link that another browser process opens). When the first
// tab closes, the second takes over within 10 s and uploads again; a call in
// flight when the host closed fails with a clear error. The Share card takes
// several files at once, from the picker and from a drop, each with its own
// row and link. Chromium and Firefox.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { assertAccessible } from './lib/a11y.mjs';
import { startNode } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';

const connected = (s) => s.node.state === 'connected';
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** Opens the app in another tab of `context`; resolves once `window.meganet` exists. */
async function openTab(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.meganet !== undefined, null, { timeout: 30_000 });
  return { page, errors };
}

const role = (page) => page.evaluate(() => window.meganetTab && window.meganetTab.role);

async function waitForRole(page, want, timeout = 30_000) {
  await page.waitForFunction((r) => window.meganetTab && window.meganetTab.role === r, want, { timeout, polling: 100 });
}

/** Warnings and errors the pages' consoles print, kept to explain a failure. */
const consoleLines = [];
function keepConsole(page, who) {
  page.on('console', (m) => { if (/warn|error/.test(m.type())) consoleLines.push(`${who}: ${m.text().slice(0, 400)}`); });
}

/** SHA-256 of what the fetch card's Save link holds; a failure says which step failed and what the consoles said. */
async function savedDigest(page) {
  const result = await page.evaluate(async () => {
    const href = document.getElementById('fetch-save').href;
    let res;
    try {
      res = await fetch(href);
    } catch (e) {
      return { error: `fetching ${href}: ${e.message}` };
    }
    if (!res.ok) return { error: `${href} answered ${res.status}: ${(await res.text()).slice(0, 300)}` };
    try {
      const digest = await crypto.subtle.digest('SHA-256', await res.arrayBuffer());
      return { digest: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
    } catch (e) {
      return { error: `reading ${href}: ${e.message}` };
    }
  });
  if (result.error) throw new Error(`${result.error}\n${consoleLines.slice(-30).join('\n')}`);
  return result.digest;
}

/** Opens `link` in a fresh profile of `browser`; resolves to the saved file's digest. */
async function fetchElsewhere(browser, nodeUrl, link, name) {
  const { page, errors } = await openApp(browser, link);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  assert.match(await page.textContent('#fetch-name'), new RegExp(name.replace('.', '\\.')));
  const digest = await savedDigest(page);
  assert.deepEqual(errors, [], 'no page errors in the fetching browser');
  return { page, digest };
}

/** The node's connections from browser peer `id`. */
async function nodeConnectionsOf(node, id) {
  return (await node.status()).peers.filter((p) => p.peerId === id);
}

for (const kind of BROWSERS) {
test(`${kind}: two tabs run one peer; the second puts through the first and takes over when it closes`, async () => {
  const node = await startNode({ args: ['--status-details'] });
  cleanups.push(() => node.stop());
  const browser = await launch(kind);
  cleanups.push(() => browser.close());

  // The first tab runs the peer.
  const first = await openApp(browser, node.url);
  keepConsole(first.page, `${kind} host tab`);
  await waitForRole(first.page, 'host');
  const hostStatus = await waitForStatus(first.page, connected);
  const id = hostStatus.peerId;

  // The second tab of the same profile starts none: it shows the host's status.
  const second = await openTab(first.context, node.url);
  keepConsole(second.page, `${kind} second tab`);
  assert.equal(await role(second.page), 'client');
  const clientStatus = await waitForStatus(second.page, connected);
  assert.equal(clientStatus.peerId, id, 'the second tab shows the host\'s peer');
  assert.equal(await second.page.evaluate(() => window.meganet.id), id);
  assert.equal(await second.page.evaluate(() => window.meganetApi), undefined, 'the second tab started no peer');
  // The Contribute card works there too (the policy is wasm, the usage comes from the host).
  await second.page.waitForFunction(() => !/Working out/.test(document.getElementById('contribute-storing').textContent));
  await second.page.waitForSelector('#peer-via:not([hidden])');
  assert.match(await second.page.textContent('#peer-role'), /Connected through another meganet tab/);
  assert.equal(await first.page.evaluate(() => document.getElementById('peer-via').hidden), true);
  await second.page.waitForSelector('#node-state[data-state="connected"]');
  assert.equal((await nodeConnectionsOf(node, id)).length, 1, 'the node sees one connection from this browser');

  // A put from the second tab, with progress, gives a link a third browser opens.
  const data = randomBytes(1_000_000 + 4321);
  await second.page.setInputFiles('#file', { name: 'from-tab-two.bin', mimeType: 'application/octet-stream', buffer: data });
  await second.page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  const link = await second.page.inputValue('#put-link');
  assert.match(link, /#2\./);
  assert.match(await second.page.textContent('#put-detail'), /from-tab-two\.bin \(1\.0 MB\) is stored/);
  assert.equal(await second.page.evaluate(() => document.getElementById('put-progress').value > 0), true, 'progress reached the second tab');
  await assertAccessible(second.page, 'a tab working through another');
  await screenshot(second.page, `tabs-client-${kind}`);
  const third = await launch(kind);
  cleanups.push(() => third.close());
  const fetched = await fetchElsewhere(third, node.url, link, 'from-tab-two.bin');
  assert.equal(fetched.digest, sha256(data), 'the third browser got the bytes the second tab put');

  // A get through the host works too (the second tab opens the link).
  await second.page.evaluate((l) => { location.hash = new URL(l).hash; }, link);
  await second.page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  assert.equal(await savedDigest(second.page), sha256(data), 'a get through the host gives the bytes');

  // A put in flight when the host closes fails with a clear error.
  const inFlight = second.page.evaluate(() => new Promise((resolve) => {
    const big = new Blob([new Uint8Array(48 << 20)], { type: 'application/octet-stream' });
    window.meganet.put(big, {
      onProgress: () => { window.putStarted = true; },
    }).then(() => resolve('stored'), (e) => resolve(`failed: ${e.message}`));
  }));
  await second.page.waitForFunction(() => window.putStarted === true, null, { timeout: 30_000 });
  const closedAt = Date.now();
  await first.page.close();

  // The second tab takes over within 10 s and puts again.
  await waitForRole(second.page, 'host', 10_000);
  const tookMs = Date.now() - closedAt;
  const outcome = await inFlight;
  assert.match(outcome, /^failed: the tab running the peer closed; try again$/, `the put in flight: ${outcome}`);
  await waitForStatus(second.page, connected, 20_000);
  assert.equal(await second.page.evaluate(() => typeof window.meganetApi), 'object', 'the second tab runs the peer now');
  assert.equal(await second.page.evaluate(() => document.getElementById('peer-via').hidden), true);
  assert.match(await second.page.textContent('#peer-role'), /This tab runs this browser's meganet peer/);
  await second.page.waitForSelector('#node-state[data-state="connected"]');
  const again = randomBytes(300_000);
  await second.page.setInputFiles('#file', { name: 'after-takeover.bin', mimeType: 'application/octet-stream', buffer: again });
  await second.page.waitForFunction(() => /after-takeover\.bin .* is stored/.test(document.getElementById('put-detail').textContent), null, { timeout: 60_000 });
  const link2 = await second.page.inputValue('#put-link');
  assert.notEqual(link2, link);
  const fetched2 = await fetchElsewhere(third, node.url, link2, 'after-takeover.bin');
  assert.equal(fetched2.digest, sha256(again));
  await screenshot(second.page, `tabs-took-over-${kind}`);
  console.log(`${kind}: the second tab took over ${tookMs} ms after the host closed`);

  // A tab opened now works through the second one.
  const fourth = await openTab(first.context, node.url);
  assert.equal(await role(fourth.page), 'client');
  await waitForStatus(fourth.page, connected);
  assert.equal(await fourth.page.evaluate(() => window.meganet.id), id, 'the same identity throughout');
  assert.deepEqual([...first.errors, ...second.errors, ...fourth.errors], [], 'no page errors');
});

test(`${kind}: several files at once, from the picker and from a drop`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page, errors } = await openApp(browser, node.url);
  await waitForStatus(page, connected);
  const a = randomBytes(700_000);
  const b = randomBytes(123_456);
  await page.setInputFiles('#file', [
    { name: 'first.bin', mimeType: 'application/octet-stream', buffer: a },
    { name: 'second.bin', mimeType: 'application/octet-stream', buffer: b },
  ]);
  // The first file in the card's own elements, the second in a row of its own.
  await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  assert.match(await page.textContent('#put-detail'), /first\.bin .* is stored/);
  const linkA = await page.inputValue('#put-link');
  await page.waitForSelector('#put-files li[data-state="stored"]', { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.querySelectorAll('#put-files li').length), 1);
  assert.match(await page.textContent('#put-files li'), /second\.bin · 123\.5 kB|second\.bin · 123\.5 KB/);
  const linkB = await page.inputValue('#put-files li input');
  assert.match(linkB, /#2\./);
  assert.notEqual(linkA, linkB);
  await page.waitForFunction(() => document.querySelectorAll('#uploads-list li').length === 2);
  await assertAccessible(page, 'two files shared at once');
  await screenshot(page, `tabs-two-files-${kind}`);

  // Both links open elsewhere with the right bytes.
  assert.equal((await fetchElsewhere(browser, node.url, linkA, 'first.bin')).digest, sha256(a));
  assert.equal((await fetchElsewhere(browser, node.url, linkB, 'second.bin')).digest, sha256(b));

  // Three files dropped at once: the rows are replaced by the new batch.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    for (const [name, text] of [['x.txt', 'ex'], ['y.txt', 'why'], ['z.txt', 'zed']]) {
      dt.items.add(new File([text], name, { type: 'text/plain' }));
    }
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => /x\.txt .* is stored/.test(document.getElementById('put-detail').textContent), null, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#put-files li')];
    return rows.length === 2 && rows.every((r) => r.dataset.state === 'stored');
  }, null, { timeout: 60_000 });
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll('#put-files li')].map((r) => r.dataset.name)), ['y.txt', 'z.txt']);
  await page.waitForFunction(() => document.querySelectorAll('#uploads-list li').length === 5);
  await screenshot(page, `tabs-dropped-files-${kind}`);
  assert.deepEqual(errors, [], 'no page errors');
});
}
