// Many nodes, one network, seen from browsers: a link made on one node's
// page opens on another's after the first stops, and a put spreads over
// the contributors of three nodes. (Split from multinode.test.mjs: node's
// test runner gives each file the per-test timeout as a whole.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
test('chromium: an open picture follows its upload: a node that stops shows its pieces away, not lost', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  const c = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b, c]);
  const browser = await launch('chromium');
  cleanups.push(() => browser.close());
  const up = await openApp(browser, a.url);
  const warnings = [];
  up.page.on('console', (m) => { if (/WARN|ERROR/.test(m.text())) warnings.push(`${new Date().toISOString()} ${m.text().slice(0, 400)}`); });
  await waitForStatus(up.page, (s) => s.node.state === 'connected' && s.node.otherNodes === 2);
  await up.page.setInputFiles('#file', { name: 'watched.bin', mimeType: 'application/octet-stream', buffer: randomBytes((3 << 20) + 99) });
  await up.page.waitForSelector('#put-result[data-state=stored]', { timeout: 90_000 });
  await up.page.waitForSelector('#uploads-list li .health[data-state="healthy"]', { timeout: 30_000 });
  await up.page.click('#uploads-list li .where summary');
  const label = () => up.page.getAttribute('#uploads-list li .piece-map [role="img"]', 'aria-label');
  assert.match(await label(), /^4 parts of 8 pieces: 32 on nodes, 0 on browsers only, 0 not found\./);
  const onC = (await c.status()).storedBlocks - 1;

  console.log(`${new Date().toISOString()} stopping C`);
  await c.stop();
  // The open picture is audited again within 15 s: C's pieces are away.
  await up.page.waitForFunction(() => /away/.test(document.querySelector('#uploads-list li .piece-map [role="img"]').getAttribute('aria-label')), null, { timeout: 45_000, polling: 250 })
    .catch(async (e) => {
      throw new Error(`${e.message}; the picture says: ${await label()}; health: ${await up.page.textContent('#uploads-list li .health')}\n${warnings.join('\n')}`);
    });
  assert.equal(await label(), `4 parts of 8 pieces: ${32 - onC} on nodes, 0 on browsers only, ${onC} away (their holders may come back), 0 not found. A part needs 4; nodes rebuild a part below 6.`);
  assert.equal(await up.page.evaluate(() => document.querySelectorAll('#uploads-list li .piece-map .cell.away').length), onC);
  // A node that does not answer is not a failed audit.
  assert.match(await up.page.textContent('#uploads-list li .health'), /Last audit .+: \d+ pieces proven; 1 holder did not answer\./);
  await screenshot(up.page, 'where-it-lives-away');
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
  await up.page.waitForSelector('#put-result[data-state=stored]', { timeout: 90_000 });
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

test('three nodes, two contributors on each: a 12 MiB put reaches every contributor; after A stops a browser on C draws on browsers of two nodes and a node, the CLI gets it through B, and B restarted answers from disk', async () => {
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
  const put = await putRandom(uploader.page, 12 << 20);
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
