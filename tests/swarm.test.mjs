// Put and get across browsers: contributing browsers receive shards over
// direct WebRTC connections, the uploader leaves, and a fresh browser
// fetches from several of them at once (and from the node where a
// contributor's copy is missing or corrupt).
import { test, after } from 'node:test';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startNode, tempDir } from './lib/node.mjs';
import { backgroundTab, launchChromiumProfile, waitForStatus } from './lib/browser.mjs';
import { connectToContributors } from './lib/webrtc.mjs';
import { peers as peersOf } from './lib/peers.mjs';

const MiB = 1 << 20;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const { peerIn, contributor, putRandom, getAndHash } = peersOf(cleanups);

const fromBrowsers = (peers) => Object.entries(peers).filter(([k, v]) => k !== 'node' && v > 0);

test('chromium: a put spreads shards over contributing browsers; a fresh browser fetches from several after the uploader left', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const holders = [];
  for (let i = 0; i < 3; i++) holders.push(await contributor('chromium', node));
  const uploader = await peerIn('chromium', node);
  await connectToContributors(uploader.page, 3);

  // 64 MiB, as the issue asks: the node serves its share once every holder
  // is reached, so a small file can be done before a holder whose first
  // dial failed is reached on the second.
  const put = await putRandom(uploader.page, 64 * MiB);
  const placed = fromBrowsers(put.progress.peers);
  assert.equal(placed.length, 3, `shards sent to every contributor: ${JSON.stringify(put.progress.peers)} ${uploader.warnings.join('\n')}`);
  assert.ok(put.progress.peers.node > 64 * MiB, 'the node holds a full copy');
  await uploader.browser.close();
  for (const h of holders) {
    const state = await h.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
    assert.ok(state.storedShards >= 16, `${h.id} stores ${state.storedShards} shards`);
  }

  // The fetcher meets the contributors first, as the uploader did: under
  // load a first WebRTC setup can fail and its retry land after the node
  // has served the whole file (CI saw it once); what is tested here is
  // that a get draws on every browser that holds shards.
  const fetcher = await peerIn('chromium', node);
  await connectToContributors(fetcher.page, 3);
  const got = await getAndHash(fetcher.page, put.link);
  assert.equal(got.digest, put.digest, 'the fetched bytes are the uploaded bytes');
  const sources = fromBrowsers(got.progress.peers);
  assert.ok(sources.length >= 3, `fetched from at least 3 browsers: ${JSON.stringify(got.progress.peers)}\n${fetcher.warnings.join('\n')}`);
  const status = await fetcher.page.evaluate(() => window.meganet.status());
  for (const [peer] of sources) {
    assert.ok(status.connections.some((c) => c.peerId === peer && c.transport === 'webrtc' && c.path === 'direct'),
      `${peer} served over a direct /webrtc connection`);
  }

  // Corrupt every shard one contributor holds, right in its IndexedDB: it
  // is detected on read, and that contributor's shards come from the node.
  const bad = holders[0];
  const corrupted = await bad.page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('meganet-contributed');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('shards', 'readwrite');
      const shards = tx.objectStore('shards');
      let n = 0;
      shards.openCursor().onsuccess = (e) => {
        const cursor = e.target.result;
        if (!cursor) return;
        const v = new Uint8Array(cursor.value); v[0] ^= 0xff; v[v.length - 1] ^= 0xff;
        cursor.update(v); n += 1; cursor.continue();
      };
      tx.oncomplete = () => resolve(n);
      tx.onerror = () => reject(tx.error);
    };
  }));
  assert.ok(corrupted >= 16, `corrupted ${corrupted} shards`);
  const second = await peerIn('chromium', node);
  const again = await getAndHash(second.page, put.link);
  assert.equal(again.digest, put.digest, 'still intact with one holder corrupt');
  assert.ok(!(again.progress.peers[bad.id] > 0), `nothing taken from the corrupt holder: ${JSON.stringify(again.progress.peers)}`);
  assert.ok(again.progress.peers.node > 0, 'its shards came from the node');
});

test('chromium: a holder that says it has shards and then finds none is asked last, in that get and the next', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const holder = await contributor('chromium', node);
  const uploader = await peerIn('chromium', node);
  await connectToContributors(uploader.page, 1);
  const puts = [await putRandom(uploader.page, 4 * MiB), await putRandom(uploader.page, 4 * MiB)];
  for (const put of puts) assert.ok(put.progress.peers[holder.id] > 0, `the holder took copies: ${JSON.stringify(put.progress.peers)}`);
  await uploader.browser.close();

  // The browser drops the holder's shards (storage cleared, or evicted
  // under pressure) while its peer runs: its index still answers HAS yes,
  // and each GET finds nothing.
  const cleared = await holder.page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('meganet-contributed');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('shards', 'readwrite');
      const shards = tx.objectStore('shards');
      const count = shards.count();
      shards.clear();
      tx.oncomplete = () => { open.result.close(); resolve(count.result); };
      tx.onerror = () => reject(tx.error);
    };
  }));
  assert.ok(cleared >= 2 * 4 * 8, `cleared ${cleared} shards`);
  // Each GET for a shard it no longer has logs one line in the holder. A
  // round trip to its page first: its earlier console lines have arrived.
  const misses = async () => {
    await holder.page.evaluate(() => 0);
    return holder.warnings.filter((w) => w.includes('indexed shard missing from the backend')).length;
  };

  const fetcher = await peerIn('chromium', node);
  const demotions = [];
  fetcher.page.on('console', (m) => { if (m.text().includes('asking a holder last')) demotions.push(m.text()); });
  await connectToContributors(fetcher.page, 1);
  const first = await getAndHash(fetcher.page, puts[0].link);
  assert.equal(first.digest, puts[0].digest, 'the node served what the holder could not');
  assert.ok(!(first.progress.peers[holder.id] > 0), JSON.stringify(first.progress.peers));
  const missed = await misses();
  assert.ok(missed >= 1, `the holder was asked and found nothing: ${holder.warnings.join('\n')}`);
  assert.ok(demotions.some((d) => d.includes(holder.id)), `the fetcher asks it last: ${demotions.join('\n')}\n${fetcher.warnings.join('\n')}`);
  // The holder still answers HAS yes for the second file's shards, which
  // it never had to look for; the next get asks the node first and never
  // needs the holder.
  const second = await getAndHash(fetcher.page, puts[1].link);
  assert.equal(second.digest, puts[1].digest);
  assert.equal(await misses(), missed, `the holder was not asked for a shard again: ${JSON.stringify(second.progress.peers)}`);
  assert.ok(second.progress.peers.node >= 4 * MiB, JSON.stringify(second.progress.peers));
});

test('chromium: a contributor whose browser may clear its storage takes half the copies of a persistent one, and health tells them apart', async (t) => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  // The browser keeps one contributor's storage: Chromium grants
  // navigator.storage.persist() with the durable-storage permission, in a
  // profile of its own (never in an incognito-like context).
  const context = await launchChromiumProfile();
  cleanups.push(() => context.close());
  const cdp = await context.newCDPSession(context.pages()[0] || await context.newPage());
  await cdp.send('Browser.grantPermissions', { origin: new URL(node.url).origin, permissions: ['durableStorage'] });
  const durablePage = context.pages()[0];
  await durablePage.addInitScript(backgroundTab);
  await durablePage.goto(node.url);
  await waitForStatus(durablePage, (st) => st.node.state === 'connected');
  const durable = { page: durablePage, id: await durablePage.evaluate(() => window.meganet.id) };
  const kept = await durable.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
  assert.equal(kept.persisted, true, 'the granted browser keeps contributed data');
  const evictable = await contributor('chromium', node);
  const cleared = await evictable.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
  assert.equal(cleared.persisted, false, 'the other may clear it');

  const uploader = await peerIn('chromium', node);
  await connectToContributors(uploader.page, 2);
  const put = await putRandom(uploader.page, 12 * MiB);
  const copies = { durable: put.progress.peers[durable.id] ?? 0, evictable: put.progress.peers[evictable.id] ?? 0 };
  assert.ok(copies.evictable > 0, `both took copies: ${JSON.stringify(put.progress.peers)}\n${uploader.warnings.join('\n')}`);
  const ratio = copies.durable / copies.evictable;
  t.diagnostic(`bytes placed: ${JSON.stringify(copies)}`);
  assert.ok(ratio > 1.6 && ratio < 2.5, `the persistent one took about twice the bytes: ${JSON.stringify(copies)}`);

  const health = await uploader.page.evaluate((l) => window.meganet.health(l), put.link);
  const listed = Object.fromEntries(health.holderList.map((h) => [h.id, h]));
  assert.equal(listed[durable.id]?.storage, 'durable', JSON.stringify(health.holderList));
  assert.equal(listed[evictable.id]?.storage, 'evictable', JSON.stringify(health.holderList));
  assert.ok(health.holderList.filter((h) => h.kind === 'node').every((h) => h.storage === 'durable'), 'nodes keep what they hold');
  assert.ok(listed[evictable.id].counted > 0 && listed[durable.id].counted > listed[evictable.id].counted, JSON.stringify(health.holderList));
});

test('Firefox and Chromium in one network: each fetches what the other put, from shards both kinds hold', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const holders = [await contributor('chromium', node), await contributor('firefox', node)];
  for (const [up, down] of [['firefox', 'chromium'], ['chromium', 'firefox']]) {
    const uploader = await peerIn(up, node);
    await connectToContributors(uploader.page, 2);
    // Enough segments that a holder reached a moment after the first
    // window still serves some.
    const put = await putRandom(uploader.page, 12 * MiB);
    assert.equal(fromBrowsers(put.progress.peers).length, 2, `${up} put on both kinds: ${JSON.stringify(put.progress.peers)} ${uploader.warnings.join('\n')}`);
    await uploader.browser.close();
    const fetcher = await peerIn(down, node);
    // A peer that has been open a while is connected to the contributors.
    await connectToContributors(fetcher.page, 2);
    const got = await Promise.race([
      getAndHash(fetcher.page, put.link),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${down} get stalled: ${fetcher.warnings.join('\n')}`)), 90_000)),
    ]);
    assert.equal(got.digest, put.digest, `${up} put, ${down} got the same bytes`);
    for (const h of holders) {
      assert.ok(got.progress.peers[h.id] > 0, `${down} fetched from ${h.id}: ${JSON.stringify(got.progress.peers)} ${fetcher.warnings.join('\n')}\nholder: ${h.warnings.join('\n')}`);
    }
    await fetcher.browser.close();
  }
});

test('chromium: with only browsers holding the shards, a get succeeds down to k holders per segment and names what is missing below', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  // 4 contributors: shard i of every segment goes to contributor i mod 4,
  // so each holds 2 of the 8 shards of each segment (k = 4).
  const holders = [];
  for (let i = 0; i < 4; i++) holders.push(await contributor('chromium', node));
  const uploader = await peerIn('chromium', node);
  await connectToContributors(uploader.page, 4);
  const put = await putRandom(uploader.page, 3 * MiB);
  assert.equal(fromBrowsers(put.progress.peers).length, 4, `${JSON.stringify(put.progress.peers)} ${uploader.warnings.join('\n')}\nholders: ${holders.map((h) => `${h.id}: ${h.warnings.join('\n')}`).join('\n')}`);
  await uploader.browser.close();
  // The node loses every shard (it keeps the manifest): only the browsers hold them now.
  const manifest = Buffer.from(put.link.split('#')[1].split('.')[1], 'base64url').toString('hex');
  const dir = path.join(node.data, 'blocks', 'contributed');
  let removed = 0;
  for (const sub of readdirSync(dir)) {
    for (const file of readdirSync(path.join(dir, sub))) {
      if (file !== manifest) { rmSync(path.join(dir, sub, file)); removed += 1; }
    }
  }
  assert.equal(removed, 3 * 8, 'the node held every shard');

  // Audits catch the node: its index still says it has every shard, but
  // it proves none; each browser proves the 2 of every segment it holds.
  const checker = await peerIn('chromium', node);
  const health = await checker.page.evaluate((l) => window.meganet.health(l), put.link);
  await checker.browser.close();
  const byId = Object.fromEntries(health.holderList.map((h) => [h.id, h]));
  const counts = (h) => [h.kind, h.claimed, h.audited, h.proven, h.counted];
  assert.deepEqual(counts(byId.node), ['node', 24, 24, 0, 0], JSON.stringify(byId.node));
  assert.match(byId.node.failures[0], /said it holds shard [0-9a-f]{64} and then did not/);
  for (const h of holders) assert.deepEqual(counts(byId[h.id]), ['browser', 6, 6, 6, 6], JSON.stringify(health));
  assert.deepEqual([health.weakest, health.weakestAfterOneLoss, health.state, health.failedAudits], [8, 6, 'healthy', 24]);

  const fetchWith = async () => {
    const fetcher = await peerIn('chromium', node);
    try {
      return await getAndHash(fetcher.page, put.link).catch((e) => ({ error: e.message, warnings: fetcher.warnings }));
    } finally {
      await fetcher.browser.close();
    }
  };
  // Two holders gone: 4 shards of each segment remain, exactly k.
  await holders[0].browser.close();
  await holders[1].browser.close();
  const atK = await fetchWith();
  assert.equal(atK.digest, put.digest, `fetched from the k shards left: ${JSON.stringify(atK)}\nholders: ${holders.slice(2).map((h) => h.warnings.join('\n')).join('\n')}`);
  assert.deepEqual(fromBrowsers(atK.progress.peers).map(([id]) => id).sort(), [holders[2].id, holders[3].id].sort());
  // A third gone: 2 of each segment's 8 shards remain, fewer than k.
  await holders[2].browser.close();
  const below = await fetchWith();
  assert.match(below.error || '', /2 shards of segment 0 unavailable: it needs 4, only 2 could be fetched/, JSON.stringify(below));
});

test('chromium: holders are found by the manifest\'s placement hints and by the file\'s provider records, which a node restart and a reload announce again', async () => {
  const data = tempDir();
  let node = await startNode({ data });
  cleanups.push(() => node.stop());
  const holders = [];
  for (let i = 0; i < 3; i++) holders.push(await contributor('chromium', node));
  const ids = holders.map((h) => h.id).sort();
  const uploader = await peerIn('chromium', node);
  await connectToContributors(uploader.page, 3);
  const put = await putRandom(uploader.page, 2 * MiB);
  await uploader.browser.close();

  const fetcher = await peerIn('chromium', node);
  const health = await fetcher.page.evaluate((l) => window.meganet.health(l), put.link);
  assert.deepEqual([...health.hinted].sort(), ids, 'the manifest names every holder');
  const providerIds = (list) => list.map((a) => a.split('/p2p/').pop()).sort();
  const listed = () => fetcher.page.evaluate((l) => window.meganet.providers(l), put.link).then(providerIds);
  assert.deepEqual(await listed(), ids, 'every holder announced the file');
  // Another key (so another file) lists nobody.
  const otherLink = put.link.replace(/\.[A-Za-z0-9_-]{43}$/, `.${'A'.repeat(43)}`);
  assert.notEqual(otherLink, put.link);
  const other = await fetcher.page.evaluate((l) => window.meganet.providers(l), otherLink);
  assert.deepEqual(other, [], 'a file nobody announced has no providers');

  // The node restarts and forgets every record; one holder reloads
  // meanwhile (its list of files comes back from localStorage).
  await node.stop();
  await holders[0].page.reload();
  await holders[0].page.waitForFunction(() => window.meganet !== undefined);
  node = await startNode({ data, http: node.http });
  for (const p of [...holders.map((h) => h.page), fetcher.page]) {
    await waitForStatus(p, (s) => s.node.state === 'connected', 20_000);
  }
  await holders[0].page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
  let again = [];
  for (let i = 0; i < 40 && again.length < 3; i++) {
    again = await listed();
    if (again.length < 3) await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(again, ids, 'announced again after the restart and the reload');
  const got = await getAndHash(fetcher.page, put.link);
  assert.equal(got.digest, put.digest);
});
