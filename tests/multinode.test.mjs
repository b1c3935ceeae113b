// Many nodes, one network: nodes joined with --peer find each other, a
// put through one node spreads its shards over all of them, and the link
// still opens through another node after the first is gone: from the CLI
// and from browsers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir, tcpAddr, waitForMesh } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';
import { waitForContributors } from './lib/webrtc.mjs';
import { peers } from './lib/peers.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const { peerIn, contributor, putRandom, getAndHash } = peers(cleanups);

async function start(args = [], data = undefined) {
  const node = await startNode({ args, data });
  cleanups.push(() => node.stop());
  return node;
}

test('three nodes joined by --peer share a file; it opens through another node after the first stops', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  // C names only B: it learns of A through the DHT, and A lets it into
  // its routing table only after dialing it back.
  const c = await start(['--peer', await tcpAddr(b)]);
  const views = await waitForMesh([a, b, c]);
  assert.ok(views[1].nodes.every((e) => e.addrs.length > 0), 'each joined node has addresses');

  const dir = tempDir();
  const data = randomBytes((6 << 20) + 12_345);
  const file = path.join(dir, 'shared.bin');
  writeFileSync(file, data);
  const put = await runMeganet(['put', file, '--node', a.url], { timeoutMs: 120_000 });
  assert.equal(put.code, 0, put.stderr);
  const link = put.stdout.trim();

  // 7 segments of 8 shards plus the manifest on three nodes: spread, at
  // most 3 of any segment on one node.
  const stored = await Promise.all([a, b, c].map(async (n) => (await n.status()).storedBlocks));
  assert.equal(stored.reduce((x, y) => x + y, 0), 7 * 8 + 3, `stored per node: ${stored}`);
  for (const count of stored) assert.ok(count >= 7 && count <= 7 * 3 + 1, `stored per node: ${stored}`);

  // Every node announces that it holds the file.
  const providers = await runMeganet(['providers', link, '--node', b.url]);
  assert.equal(providers.code, 0, providers.stderr);
  const listed = providers.stdout.trim().split('\n').sort();
  assert.deepEqual(listed, [a.peerId, b.peerId, c.peerId].sort());

  await a.stop();
  const out = path.join(dir, 'fetched.bin');
  const get = await runMeganet(['get', link, '-o', out, '--node', b.url], { timeoutMs: 120_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(sha(readFileSync(out)), sha(data));

  // B restarted alone answers the lookup from its disk: nobody else is
  // up to republish.
  await c.stop();
  await b.stop();
  const again = await start([], b.data);
  assert.equal(again.peerId, b.peerId);
  assert.ok((await again.status()).dhtProviderRecords >= 3);
  const fromDisk = await runMeganet(['providers', link, '--node', again.url]);
  assert.equal(fromDisk.code, 0, fromDisk.stderr);
  assert.deepEqual(fromDisk.stdout.trim().split('\n').sort(), [a.peerId, b.peerId, c.peerId].sort());
});

test('a node whose --peer cannot be reached still starts, says so, and joins once the peer is up', async () => {
  const data = tempDir();
  const first = await start([], data);
  const addr = await tcpAddr(first);
  await first.stop();
  const lonely = await start(['--peer', addr]);
  const deadline = Date.now() + 15_000;
  while (!/cannot reach peer node/.test(lonely.logs()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(lonely.logs(), /cannot reach peer node .*retrying/);
  // The same node comes back on the same port (same data, same identity).
  const port = addr.match(/\/tcp\/(\d+)\//)[1];
  const back = await start(['--tcp', `127.0.0.1:${port}`], data);
  assert.equal(back.peerId, first.peerId);
  await waitForMesh([lonely, back], 70_000);
});

test('bad --peer and --external-address values are refused at start with a reason', async () => {
  const noPeerId = await runMeganet(['node', '--peer', '/ip4/127.0.0.1/tcp/4003']);
  assert.notEqual(noPeerId.code, 0);
  assert.match(noPeerId.stderr, /must end in \/p2p\/<peer id>/);
  const relayed = await runMeganet(['node', '--external-address', '/ip4/1.2.3.4/tcp/1/p2p-circuit']);
  assert.notEqual(relayed.code, 0);
  assert.match(relayed.stderr, /relayed address/);
  const garbage = await runMeganet(['node', '--external-address', 'not-an-address']);
  assert.notEqual(garbage.code, 0);
  assert.match(garbage.stderr, /not-an-address/);
});

for (const kind of BROWSERS) {
test(`${kind}: a link made on node A's page opens on node B's page after A stops`, async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  const c = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b, c]);
  const data = randomBytes((3 << 20) + 4321);

  const uploader = await launch(kind);
  cleanups.push(() => uploader.close());
  const up = await openApp(uploader, a.url);
  await waitForStatus(up.page, (s) => s.node.state === 'connected' && s.node.otherNodes === 2);
  await up.page.setInputFiles('#file', { name: 'spread.bin', mimeType: 'application/octet-stream', buffer: data });
  await up.page.waitForSelector('#put-result:not([hidden])', { timeout: 90_000 });
  const link = await up.page.inputValue('#put-link');
  // "My uploads" audits the shards on every node: at most 3 of a segment's
  // 8 on one, so losing any one node leaves at least 5.
  await up.page.reload();
  await up.page.waitForSelector('#uploads-list li .health[data-state="healthy"]', { timeout: 30_000 });
  assert.match(await up.page.textContent('#uploads-list li .health'), /^Healthy: 8 of 8 pieces of every part live \(4 needed, rebuilt below 6\) on 3 nodes; losing any one leaves at least 5\. Last audit .+: 32 pieces proven\.$/);
  // The picture of where it lives: 4 parts of 8 pieces, all on nodes,
  // told to a screen reader as one sentence; readable at phone width.
  await up.page.click('#uploads-list li .where summary');
  const sentence = '4 parts of 8 pieces: 32 on nodes, 0 on browsers only, 0 not found. A part needs 4; nodes rebuild a part below 6.';
  assert.equal(await up.page.getAttribute('#uploads-list li .piece-map [role="img"]', 'aria-label'), sentence);
  assert.equal(await up.page.evaluate(() => document.querySelectorAll('#uploads-list li .piece-map .cell.node').length), 32);
  // (The Firefox adapter keeps its window size.)
  if (typeof up.page.setViewportSize === 'function') await up.page.setViewportSize({ width: 375, height: 740 });
  await screenshot(up.page, `where-it-lives-${kind}-phone`);
  await uploader.close();

  // 4 segments of 8 shards over three nodes, at most 3 of a segment on
  // one; the manifest on all three.
  const stored = await Promise.all([a, b, c].map(async (n) => (await n.status()).storedBlocks));
  assert.equal(stored.reduce((x, y) => x + y, 0), 4 * 8 + 3, `stored per node: ${stored}`);
  for (const count of stored) assert.ok(count >= 4 * 2 + 1 && count <= 4 * 3 + 1, `stored per node: ${stored}`);

  // The same fragment on B's origin, with A gone: B and C hold enough.
  await a.stop();
  const onB = `${b.url}${link.slice(link.indexOf('#'))}`;
  const fetcher = await launch(kind);
  cleanups.push(() => fetcher.close());
  const { page } = await openApp(fetcher, b.url);
  await waitForStatus(page, (s) => s.node.state === 'connected');
  await page.goto(onB);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 90_000 });
  const digest = await page.evaluate(async () => {
    const url = document.getElementById('fetch-save').href;
    const buf = await (await fetch(url)).arrayBuffer();
    const d = await crypto.subtle.digest('SHA-256', buf);
    return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
  });
  assert.equal(digest, sha(data), 'the bytes fetched through B are the bytes put through A');
  await screenshot(page, `multinode-get-${kind}`);
  const served = await Promise.all([b, c].map(async (n) => (await n.status()).servedBlocks));
  assert.ok(served.every((x) => x > 0), `both remaining nodes served shards: ${served}`);
});
}

test('three nodes, two contributors on each: a 32 MiB put reaches every contributor; after A stops a browser on C draws on browsers of two nodes and a node, the CLI gets it through B, and B restarted answers from disk', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  const c = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b, c]);
  const mixed = BROWSERS.includes('firefox') ? ['chromium', 'firefox'] : ['chromium', 'chromium'];
  const holders = [];
  for (const [i, node] of [a, b, c].entries()) {
    for (const kind of i % 2 ? [...mixed].reverse() : mixed) {
      holders.push({ ...(await contributor(kind, node)), node });
    }
  }
  const everyNode = (s) => s.node.state === 'connected' && s.node.otherNodes === 2;
  const uploader = await peerIn('chromium', a);
  await waitForStatus(uploader.page, everyNode);
  await waitForContributors(uploader.page, holders.length);
  const put = await putRandom(uploader.page, 32 << 20);
  const placed = holders.filter((h) => put.progress.peers[h.id] > 0);
  assert.equal(placed.length, holders.length, `every contributor took shards: ${JSON.stringify(put.progress.peers)}\n${uploader.warnings.join('\n')}`);
  await uploader.browser.close();
  await a.stop();

  const fetcher = await peerIn(mixed[1], c);
  await waitForStatus(fetcher.page, (s) => s.node.state === 'connected' && s.node.otherNodes === 1);
  const got = await getAndHash(fetcher.page, `${c.url}${put.link.slice(put.link.indexOf('#'))}`);
  assert.equal(got.digest, put.digest, 'the fetched bytes are the uploaded bytes');
  const from = Object.entries(got.progress.peers).filter(([, bytes]) => bytes > 0).map(([id]) => id);
  const browsersUsed = holders.filter((h) => from.includes(h.id));
  const sides = new Set(browsersUsed.map((h) => h.node.peerId));
  const detail = `${JSON.stringify(got.progress.peers)}\n${fetcher.warnings.join('\n')}`;
  assert.ok(browsersUsed.length >= 2 && sides.size >= 2, `drew on browsers of two nodes: ${detail}`);
  assert.ok([b, c].some((n) => from.includes(n.peerId)), `drew on a node: ${detail}`);

  // The CLI, pointed at B, gets the same bytes.
  const out = path.join(tempDir(), 'from-b.bin');
  const cli = await runMeganet(['get', put.link, '-o', out, '--node', b.url], { timeoutMs: 180_000 });
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(sha(readFileSync(out)), put.digest);

  // B restarted alone answers a provider lookup from its disk.
  await c.stop();
  await b.stop();
  const again = await start([], b.data);
  const lookup = await runMeganet(['providers', put.link, '--node', again.url]);
  assert.equal(lookup.code, 0, lookup.stderr);
  const listed = lookup.stdout.trim().split('\n');
  assert.ok(listed.includes(b.peerId) && listed.includes(c.peerId), `nodes listed from disk: ${listed}`);
  assert.ok(holders.some((h) => listed.includes(h.id)), `browsers listed from disk: ${listed}`);
});

test('a browser holds a second reservation on another node, and stays reachable when its own node stops', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b]);
  const holder = await contributor('chromium', b);
  // Its own node's reservation and one on A, the only other node.
  await holder.page.waitForFunction((node) => window.meganet.status().listenAddrs
    .some((addr) => addr.includes(`/p2p/${node}/p2p-circuit`)), a.peerId, { timeout: 30_000, polling: 100 });
  const uploader = await peerIn('chromium', a);
  await waitForStatus(uploader.page, (s) => s.node.state === 'connected' && s.node.otherNodes === 1);
  await waitForContributors(uploader.page, 1);
  const put = await putRandom(uploader.page, 3 << 20);
  assert.ok(put.progress.peers[holder.id] > 0, `the contributor took shards: ${JSON.stringify(put.progress.peers)}`);
  await uploader.browser.close();

  await b.stop();
  const fetcher = await peerIn('chromium', a);
  const got = await getAndHash(fetcher.page, put.link);
  assert.equal(got.digest, put.digest);
  assert.ok(got.progress.peers[holder.id] > 0, `reached the contributor through A: ${JSON.stringify(got.progress.peers)}\n${fetcher.warnings.join('\n')}\nholder: ${holder.warnings.join('\n')}`);
});

test('the CLI is a peer of the network: its put gives copies to a browser on another node, its get draws on that browser through a relayed circuit, and its check audits it there', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b]);
  const holder = await contributor('chromium', b);
  // Its contributor record is on the nodes (the CLI has no page to ask).
  for (const node of [a, b]) {
    await waitFor(async () => (await node.status()).dhtProviderRecords >= 1, 'the contributor record on every node');
  }

  const dir = tempDir();
  const data = randomBytes((3 << 20) + 777);
  const file = path.join(dir, 'from-cli.bin');
  writeFileSync(file, data);
  const put = await runMeganet(['put', file, '--node', a.url], { timeoutMs: 120_000 });
  assert.equal(put.code, 0, put.stderr);
  const link = put.stdout.trim();
  const contributed = await holder.page.evaluate(() => window.meganet.usage().contributed);
  assert.ok(contributed > 0, `the browser took copies from the CLI: ${contributed} bytes`);

  const out = path.join(dir, 'fetched.bin');
  const get = await runMeganet(['get', link, '-o', out, '--node', a.url], { timeoutMs: 120_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(sha(readFileSync(out)), sha(data));
  assert.match(get.stderr, new RegExp(`\\d+ bytes of shards from ${holder.id}`), `the get drew on the browser:\n${get.stderr}`);

  // The CLI audits the browser too, through B's relay: it proves every
  // shard it claims, and the nodes prove theirs.
  const check = await runMeganet(['check', link, '--node', a.url], { timeoutMs: 120_000 });
  assert.equal(check.code, 0, check.stderr + check.stdout);
  const line = check.stdout.match(new RegExp(`^${holder.id}  claims (\\d+)  audited (\\d+)  proven (\\d+)  failed 0`, 'm'));
  assert.ok(line && +line[1] > 0 && line[2] === line[3], check.stdout);
  for (const node of [a, b]) assert.match(check.stdout, new RegExp(`^${node.peerId}  claims [1-9]\\d*  audited (\\d+)  proven \\1  failed 0`, 'm'));
});

async function waitFor(check, what, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
