// Put and get through the node: a file shared in one browser is fetched by
// link in another browser after the first has closed, verified and
// decrypted; bad links get plain-language errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startNode } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';

const connected = (s) => s.node.state === 'connected';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function sha256InPage(page) {
  return page.evaluate(async () => {
    const url = document.getElementById('fetch-save').href;
    const buf = await (await fetch(url)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', buf);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  });
}

for (const kind of BROWSERS) {
test(`${kind}: a file put in one browser is fetched by link in another after the first closed`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const data = randomBytes((3 << 20) + 12345);
  const digest = createHash('sha256').update(data).digest('hex');

  const uploader = await launch(kind);
  const up = await openApp(uploader, node.url);
  await waitForStatus(up.page, connected);
  await up.page.setInputFiles('#file', { name: 'holiday video.bin', mimeType: 'application/octet-stream', buffer: data });
  await up.page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  const link = await up.page.inputValue('#put-link');
  assert.match(link, new RegExp(`^${node.url}#2\\.[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$`));
  assert.match(await up.page.textContent('#put-detail'), /is stored/);
  // The upload is listed under "My uploads", and still after a reload.
  await up.page.reload();
  await up.page.waitForSelector('#uploads:not([hidden])');
  assert.equal(await up.page.getAttribute('#uploads-list li', 'data-link'), link);
  assert.match(await up.page.textContent('#uploads-list li'), /holiday video\.bin/);
  // Its health, as audits show it: every piece is proven, but all on the
  // one node, so losing it would lose the file.
  await up.page.waitForSelector('#uploads-list li .health[data-state="at-risk"]', { timeout: 30_000 });
  assert.match(await up.page.textContent('#uploads-list li .health'), /^At risk: 8 of 8 pieces of every part live \(4 needed, rebuilt below 6\), but on 1 node: losing one could leave 0\. Last audit .+: 32 pieces proven\.$/);
  await screenshot(up.page, `put-done-${kind}`);
  await uploader.close();

  const status = await node.status();
  // 4 segments x 8 shards + the manifest, all held by the node now.
  assert.equal(status.storedBlocks, 4 * 8 + 1);
  // The tab handed the file's repair capability to the node.
  assert.equal(status.repair.caps, 1);

  const fetcher = await launch(kind);
  cleanups.push(() => fetcher.close());
  const context = await fetcher.newContext();
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(link);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  assert.match(await page.textContent('#fetch-name'), /holiday video\.bin · 3\.2 MB/);
  assert.equal(await page.getAttribute('#fetch-save', 'download'), 'holiday video.bin');
  assert.equal(await sha256InPage(page), digest, 'the fetched bytes are the uploaded bytes');
  const key = link.split('.').pop();
  // A fragment is never sent over HTTP (some drivers report it anyway): what
  // matters is that no path or query carries the key.
  const sent = requests.map((u) => u.split('#')[0]);
  assert.ok(sent.length > 0 && sent.every((u) => !u.includes(key)), 'the key never reaches a server');
  await screenshot(page, `get-done-${kind}`);
});

test(`${kind}: put takes a ReadableStream too; other inputs are refused plainly`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page } = await openApp(browser, node.url);
  await waitForStatus(page, connected);
  const result = await page.evaluate(async () => {
    const bytes = new Uint8Array((2 << 20) + 77).map((_, i) => (i * 7) & 0xff);
    const reports = [];
    const link = await window.meganet.put(new Blob([bytes]).stream(), {
      name: 'from a stream.bin', type: 'application/x-test', onProgress: (p) => reports.push(p.done),
    });
    const file = await window.meganet.get(link, {});
    const back = new Uint8Array(await new Response(file.stream).arrayBuffer());
    const refused = await window.meganet.put('not a file', {}).then(() => 'stored', (e) => e.message);
    return {
      same: back.length === bytes.length && back.every((b, i) => b === bytes[i]),
      name: file.name, type: file.type, size: file.size, grew: reports.some((d) => d > 0), refused,
    };
  });
  assert.deepEqual(result, {
    same: true, name: 'from a stream.bin', type: 'application/x-test', size: (2 << 20) + 77, grew: true,
    refused: 'put takes a File, a Blob or a ReadableStream of bytes',
  });
});

test(`${kind}: bad links say what is wrong`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page } = await openApp(browser, node.url);
  await waitForStatus(page, connected);
  // Each link replaces the last in the same page (a hash change), so wait
  // for this link's message, not the previous one.
  let last = '';
  const tryLink = async (fragment) => {
    await page.goto(`${node.url}#${fragment}`);
    await page.waitForFunction((prev) => {
      const el = document.getElementById('fetch-error-detail');
      return !document.getElementById('fetch-problem').hidden && el.textContent !== '' && el.textContent !== prev;
    }, last, { timeout: 30_000 });
    last = await page.textContent('#fetch-error-detail');
    return last;
  };
  assert.match(await tryLink('1.abc.def'), /malformed link: the manifest hash must be 43 base64url characters/);
  assert.match(await tryLink('7.x.y'), /unsupported format version 7/);
  const unknown = `1.${'A'.repeat(43)}.${'A'.repeat(43)}`;
  assert.match(await tryLink(unknown), /file not found/);
  assert.match(await page.textContent('#fetch-name'), /Nobody who holds this file is reachable/);
  assert.match(await page.textContent('#fetch-error'), /Try again later/);
  await screenshot(page, `get-not-found-${kind}`);
  // "Try again" fetches again, and fails the same way while nobody has it.
  const again = page.evaluate(() => new Promise((resolve) => {
    document.addEventListener('meganet-fetched', (e) => resolve(e.detail.error), { once: true });
  }));
  await page.click('#fetch-retry');
  assert.match(await again, /file not found/);
  assert.ok(await page.evaluate(() => !document.getElementById('fetch-problem').hidden), 'the problem is shown again');

  // A real file, then its link with a different key: wrong key.
  await page.goto(node.url);
  await waitForStatus(page, connected);
  await page.setInputFiles('#file', { name: 'a.txt', mimeType: 'text/plain', buffer: Buffer.from('hello meganet') });
  await page.waitForSelector('#put-result[data-state=stored]');
  const link = await page.inputValue('#put-link');
  const wrongKey = link.replace(/\.[^.]+$/, `.${'A'.repeat(43)}`);
  await page.goto(wrongKey);
  await page.waitForSelector('#fetch-problem:not([hidden])');
  assert.match(await page.textContent('#fetch-error-detail'), /wrong key/);
  assert.match(await page.textContent('#fetch-name'), /This link does not open this file/);
});
}
