// Many nodes, one network: nodes joined with --peer find each other, a
// put through one node spreads its shards over all of them, and the link
// still opens through another node after the first is gone, from the CLI;
// the CLI reaches a browser on another node. Browsers' own view of many
// nodes: multinode-browsers.test.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir, tcpAddr, waitForMesh } from './lib/node.mjs';
import { waitForStatus } from './lib/browser.mjs';
import { dialRetrying, waitForContributors } from './lib/webrtc.mjs';
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
  // Reachable: a fresh browser on A dials the holder's /webrtc address
  // through A's relay. It meets the holder before the get, as a peer open
  // a while has: A alone holds k of every segment (each of two nodes takes
  // n/2), so a get whose first WebRTC setup failed under load could be
  // done from A before the retry (CI saw it once).
  const fetcher = await peerIn('chromium', a);
  const viaA = (await holder.page.evaluate(() => window.meganet.status().listenAddrs))
    .find((addr) => addr.includes(`/ws/p2p/${a.peerId}/p2p-circuit/webrtc`));
  assert.ok(viaA, 'the holder listens through A');
  await dialRetrying(fetcher.page, `${viaA}/p2p/${holder.id}`);
  const got = await getAndHash(fetcher.page, put.link);
  assert.equal(got.digest, put.digest);
  if (!(got.progress.peers[holder.id] > 0)) {
    const { listenAddrs, connections } = await holder.page.evaluate(() => window.meganet.status());
    assert.fail(`reached the contributor through A: ${JSON.stringify(got.progress.peers)}\n`
      + `holder listens on ${JSON.stringify(listenAddrs)}, connected to ${JSON.stringify(connections)}\n`
      + `${fetcher.warnings.join('\n')}\nholder: ${holder.warnings.join('\n')}`);
  }
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
