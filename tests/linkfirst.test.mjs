// A link in about a second: the Share card shows the link as soon as the
// file is encrypted, before its pieces are placed, and the link already
// works: a fetcher reads the pieces from the uploader's tab meanwhile.
//
// To make that certain, the node is frozen (SIGSTOP) for three seconds once
// the fetcher has opened the file: meanwhile no piece can be placed on it
// or fetched from it, and the fetcher draws on the uploader, which does not
// contribute: what it serves comes from the pieces it has not placed yet.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startNode } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';
import { dialRetrying, webrtcAddr } from './lib/webrtc.mjs';

const connected = (s) => s.node.state === 'connected';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

const SIZE = 8 << 20;

/** Shards left in the tab's stash (its uploads still being placed). */
function stashed(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('meganet-identity-uploads');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('shards')) { db.close(); resolve(0); return; }
      const count = db.transaction('shards', 'readonly').objectStore('shards').count();
      count.onsuccess = () => { db.close(); resolve(count.result); };
      count.onerror = () => { db.close(); reject(count.error); };
    };
  }));
}

for (const kind of BROWSERS) {
test(`${kind}: the link shows before the pieces are placed, and a fetcher reads them from the uploader meanwhile`, async () => {
  const node = await startNode();
  cleanups.push(async () => { node.thaw(); await node.stop(); });
  const data = randomBytes(SIZE);
  const digest = createHash('sha256').update(data).digest('hex');

  const uploaderBrowser = await launch(kind);
  cleanups.push(() => uploaderBrowser.close());
  const up = await openApp(uploaderBrowser, node.url);
  await waitForStatus(up.page, connected);
  const uploaderId = await up.page.evaluate(() => window.meganet.id);
  const fetcherBrowser = await launch(kind);
  cleanups.push(() => fetcherBrowser.close());
  const fetcher = await openApp(fetcherBrowser, node.url);
  await waitForStatus(fetcher.page, connected);
  // A direct connection, which needs the node only to be set up.
  await dialRetrying(fetcher.page, await webrtcAddr(up.page));

  await up.page.setInputFiles('#file', { name: 'early.bin', mimeType: 'application/octet-stream', buffer: data });
  await up.page.waitForSelector('#put-result[data-state=placing]', { timeout: 60_000 });
  const link = await up.page.inputValue('#put-link');
  assert.match(link, new RegExp(`^${node.url}#2\\.[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$`));
  await fetcher.page.evaluate(async (l) => {
    window.fetched = { peers: {} };
    window.fetched.file = await window.meganet.get(l, { onProgress: (p) => { window.fetched.peers = p.peers; } });
  }, link);
  node.freeze();
  const detail = await up.page.textContent('#put-detail');
  assert.match(detail, /^The link works now\. Placing the pieces on the network: \d+%.*\. Safe to close this tab when this reaches 100%\.$/);
  assert.ok(await stashed(up.page) > 0, 'the pieces not yet placed wait in the stash');
  await screenshot(up.page, `link-first-placing-${kind}`);

  // The fetcher reads on.
  await fetcher.page.evaluate(() => {
    window.fetched.done = (async () => {
      // Read here, not through `new Response(stream)`: Chromium turns a
      // stream's error into a bare "Failed to fetch" there.
      const reader = window.fetched.file.stream.getReader();
      const chunks = [];
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch (e) {
          throw new Error(`the get failed: ${e?.message || e} (${e?.code})`);
        }
        if (next.done) break;
        chunks.push(next.value);
      }
      const buf = await new Blob(chunks).arrayBuffer();
      const digest = await crypto.subtle.digest('SHA-256', buf);
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      return { hex, size: buf.byteLength };
    })();
  });
  // Three seconds frozen: the fetcher's requests to the node wait, those
  // to the uploader are answered, and nothing can finish placing.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await up.page.getAttribute('#put-result', 'data-state'), 'placing', 'nothing could finish placing on a frozen node');
  // Thawed before any connection to the node times out: what the fetcher
  // asked the node meanwhile is answered late, not lost.
  node.thaw();
  const got = await fetcher.page.evaluate(() => window.fetched.done);
  assert.equal(got.size, SIZE);
  assert.equal(got.hex, digest, 'the fetched bytes are the file');
  const peers = await fetcher.page.evaluate(() => window.fetched.peers);
  // The uploader does not contribute: what it served came from its stash.
  assert.ok((peers[uploaderId] ?? 0) > 0, `the uploader served pieces: ${JSON.stringify(peers)}`);

  // Placing finishes, the stash is emptied, and the card says the tab may
  // close.
  await up.page.waitForSelector('#put-result[data-state=stored]', { timeout: 120_000 });
  assert.match(await up.page.textContent('#put-detail'), /early\.bin \(8\.4 MB\) is stored: safe to close this tab\./);
  assert.equal(await stashed(up.page), 0, 'placed pieces leave the stash');
  await uploaderBrowser.close();
  const status = await node.status();
  assert.equal(status.storedBlocks, (SIZE >> 20) * 8 + 1, 'every piece and the manifest are on the node');
});
}
