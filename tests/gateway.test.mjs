// The service worker as a gateway (issue 7): the worker runs the wasm
// module itself. A browser that holds a file's shards (it contributed them)
// opens the link: the worker reads them straight from IndexedDB and asks
// the tab, where the connections are, only for what it lacks; the node
// serves next to nothing. A shard corrupted on disk is fetched again, and
// bytes a lying tab hands the worker are caught there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';
import { BROWSERS, backgroundTab, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';
import { connectToContributors } from './lib/webrtc.mjs';

const MiB = 1 << 20;
const SIZE = 6 * MiB;
const connected = (s) => s.node.state === 'connected';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** Fetches `url` in the page; its status, SHA-256 and, on failure, text. */
function fetchInPage(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u);
    const buf = await r.arrayBuffer();
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((x) => x.toString(16).padStart(2, '0')).join('');
    return { status: r.status, sha, text: r.ok ? '' : new TextDecoder().decode(buf) };
  }, url);
}

/** The node's served bytes once they have stopped changing for a second. */
async function settled(node) {
  let last = (await node.status()).servedBytes;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = (await node.status()).servedBytes;
    if (now === last) return now;
    last = now;
  }
}

const lastRequest = (page) => page.evaluate(() => window.meganetApi.recentRequests().at(-1));

for (const kind of BROWSERS) {
  test(`${kind}: the service worker reads the shards this browser holds from IndexedDB, asks the tab for the rest, and checks what the tab sends`, async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());

    // A contributing browser (a background tab: the policy takes shards there).
    const holderBrowser = await launch(kind);
    cleanups.push(() => holderBrowser.close());
    const holder = await openApp(holderBrowser, node.url, {}, { initScript: backgroundTab });
    await waitForStatus(holder.page, connected);
    const holderId = await holder.page.evaluate(() => window.meganet.id);
    await holder.page.evaluate((q) => window.meganet.contribute({ enabled: true, quotaBytes: q }), 256 * MiB);

    // An uploader puts a file; with one contributor every shard lands there.
    const uploaderBrowser = await launch(kind);
    const uploader = await openApp(uploaderBrowser, node.url);
    await waitForStatus(uploader.page, connected);
    await connectToContributors(uploader.page, 1);
    const put = await uploader.page.evaluate(async (n) => {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(n, i + 65536)));
      const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((x) => x.toString(16).padStart(2, '0')).join('');
      let last;
      const link = await window.meganet.put(new File([data], 'held.bin'), { onProgress: (p) => { last = p; } });
      return { link, sha, peers: last.peers };
    }, SIZE);
    await uploaderBrowser.close();
    assert.ok(put.peers[holderId] >= SIZE, `the holder took every shard: ${JSON.stringify(put.peers)}`);

    // The holder opens the link: the worker serves it from IndexedDB.
    await holder.page.goto(put.link);
    await holder.page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
    const href = await holder.page.getAttribute('#fetch-save', 'href');
    let before = await settled(node);
    let got = await fetchInPage(holder.page, href);
    assert.deepEqual(got, { status: 200, sha: put.sha, text: '' });
    await holder.page.waitForFunction(() => /^Fetched and verified 6\.3 MB from this browser's own storage\.$/.test(document.getElementById('fetch-detail').textContent));
    let served = (await settled(node)) - before;
    let asked = await lastRequest(holder.page);
    assert.equal(asked.state, 'done');
    assert.ok(asked.localBytes >= SIZE, `read from IndexedDB: ${JSON.stringify(asked)}`);
    assert.ok(asked.remoteBytes < 64 * 1024, `only the manifest came through the tab: ${JSON.stringify(asked)}`);
    assert.ok(served < 128 * 1024, `the node served ${served} bytes for a ${SIZE}-byte file its reader holds`);

    // What the tab's shard service refuses, each with its own error.
    const refusals = await holder.page.evaluate(async (link) => {
      const why = (p) => p.then(() => 'accepted', (e) => e.message);
      const hash = '0'.repeat(64);
      return {
        notList: await why(window.meganet.shards(link, 'abc')),
        badHash: await why(window.meganet.shards(link, ['xyz'])),
        tooMany: await why(window.meganet.shards(link, Array(600).fill(hash))),
        badAhead: await why(window.meganet.shards(link, [hash], ['xyz'])),
        tooManyAhead: await why(window.meganet.shards(link, [hash], Array(600).fill(hash))),
        badLink: await why(window.meganet.shards('not a link', [hash])),
        unknown: await window.meganet.shards(link, [hash]).then((r) => r.shards),
      };
    }, put.link);
    assert.match(refusals.notList, /hashes must be a list/);
    assert.match(refusals.badHash, /invalid hash in hashes/);
    assert.match(refusals.tooMany, /too many shards asked for at once: 513, at most 512/);
    assert.match(refusals.badAhead, /invalid hash in ahead/);
    assert.match(refusals.tooManyAhead, /too many shards to read ahead asked for at once: 513, at most 512/);
    assert.match(refusals.badLink, /malformed link/);
    assert.deepEqual(refusals.unknown, [null], 'a shard nobody holds is null');

    // Shards corrupted on disk are not used: the tab fetches them again.
    // (Every one: the worker needs only k of each segment's n.)
    const damaged = await holder.page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('meganet-contributed');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction('shards', 'readwrite');
        let count = 0;
        tx.objectStore('shards').openCursor().onsuccess = (event) => {
          const c = event.target.result;
          if (!c) return;
          const bytes = new Uint8Array(c.value);
          bytes[0] ^= 1;
          c.update(bytes);
          count += 1;
          c.continue();
        };
        tx.oncomplete = () => { db.close(); resolve(count); };
        tx.onerror = () => reject(tx.error);
      };
    }));
    assert.ok(damaged >= 24, `${damaged} shards damaged`);
    before = await settled(node);
    got = await fetchInPage(holder.page, href);
    assert.deepEqual(got, { status: 200, sha: put.sha, text: '' });
    served = (await settled(node)) - before;
    asked = await lastRequest(holder.page);
    assert.equal(asked.localBytes, 0, `nothing damaged was used: ${JSON.stringify(asked)}`);
    assert.ok(asked.remoteBytes >= SIZE, `the shards came through the tab: ${JSON.stringify(asked)}`);
    assert.ok(served >= SIZE, `the node served ${served} bytes: the damaged shards`);

    // A tab that hands the worker bad bytes is caught in the worker.
    await holder.page.evaluate(() => {
      const peer = window.meganet;
      const honest = peer.shards.bind(peer);
      peer.shards = async (link, hashes) => {
        const found = await honest(link, hashes);
        for (const s of found.shards) if (s) s[s.length - 1] ^= 1;
        return found;
      };
    });
    got = await fetchInPage(holder.page, `${href.split('?')[0]}?lying=1`);
    assert.equal(got.status, 502);
    assert.match(got.text, /could not be fetched: the manifest was tampered with/);
    await screenshot(holder.page, `gateway-local-${kind}`);
    assert.deepEqual(holder.errors, [], 'no page errors');
  });
}

// A stream whose service worker the browser stops is reported, not left
// "open" with the tab pinging a worker that no longer serves it; a stream
// merely paused by its reader is kept. (Chromium: stopping a worker takes
// the DevTools protocol.)
if (BROWSERS.includes('chromium')) {
  test('chromium: a paused stream stays open; when the browser stops its service worker, the tab says the download stopped', async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());
    const uploaderBrowser = await launch('chromium');
    const uploader = await openApp(uploaderBrowser, node.url);
    await waitForStatus(uploader.page, connected);
    const link = await uploader.page.evaluate(async (n) => {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(n, i + 65536)));
      return window.meganet.put(new File([data], 'paused.bin'), {});
    }, 24 * MiB);
    await uploaderBrowser.close();

    const browser = await launch('chromium');
    cleanups.push(() => browser.close());
    const { page, errors } = await openApp(browser, link);
    await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
    const href = await page.getAttribute('#fetch-save', 'href');
    // Read a little, then hold the stream open without reading on.
    await page.evaluate(async (url) => {
      window.heldReader = (await fetch(url)).body.getReader();
      await window.heldReader.read();
    }, href);
    // Four keepalive rounds (10 s each): a worker that answers keeps it open.
    await new Promise((r) => setTimeout(r, 45_000));
    assert.equal((await lastRequest(page)).state, 'open', 'a paused stream whose worker answers stays open');

    const cdp = await page.context().newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await page.waitForFunction(() => window.meganetApi.recentRequests().at(-1).state === 'lost', null, { timeout: 60_000 });
    await page.waitForFunction(() => !document.getElementById('fetch-problem').hidden);
    assert.match(await page.textContent('#fetch-error'), /The download stopped\. Start it again/);
    assert.match(await page.textContent('#fetch-error-detail'), /the browser stopped the service worker that was serving this file/);
    assert.equal(await page.textContent('#fetch-detail'), 'Stopped before the end.');
    await screenshot(page, 'gateway-lost-chromium');
    assert.deepEqual(errors, [], 'no page errors');
  });
}
