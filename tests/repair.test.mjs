// Repair without the key, between real nodes: a put hands the file's
// repair capability to the nodes; the node on duty checks the file every
// interval and, when a segment falls below the threshold (a node gone
// for good, or a node whose disk lost shards while it still answers HAS
// "yes"), rebuilds the missing shards from any k and places them on the
// nodes that are left. The node that repaired holds neither the key nor
// any plaintext.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir, tcpAddr, waitForMesh } from './lib/node.mjs';
import { BROWSERS } from './lib/browser.mjs';
import { waitForContributors } from './lib/webrtc.mjs';
import { peers } from './lib/peers.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const INTERVAL_SECS = 2;
const THRESHOLD = 6;
const FAST = ['--repair-interval-secs', `${INTERVAL_SECS}`, '--repair-lost-after-secs', '3', '--audit-interval-secs', '0'];

async function start(args = []) {
  const node = await startNode({ args: [...FAST, ...args] });
  cleanups.push(() => node.stop());
  return node;
}

/** Three nodes joined in a line, as an operator would start them. */
async function threeNodes() {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  const c = await start(['--peer', await tcpAddr(b)]);
  await waitForMesh([a, b, c]);
  return [a, b, c];
}

/** The repair lines of `nodes`' logs, to say why a wait failed. */
const repairLogs = (nodes) => nodes.map((n) => `${n.peerId}:\n${n.logs().split('\n').filter((l) => /repair|keeper|down|take/.test(l) && !/pass done/.test(l)).slice(-15).join('\n')}`).join('\n');

async function until(what, check, timeoutMs = 60_000, nodes = []) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${repairLogs(nodes)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every file under `dir`, recursively. */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

async function putFile(node, size) {
  const dir = tempDir();
  const data = randomBytes(size);
  const file = path.join(dir, 'kept.bin');
  writeFileSync(file, data);
  const put = await runMeganet(['put', file, '--node', node.url], { timeoutMs: 120_000 });
  assert.equal(put.code, 0, put.stderr);
  return { data, link: put.stdout.trim(), dir };
}

/** The node on duty: the one whose status shows it checked the file. */
const onDuty = (nodes) => until('a node on duty', async () => {
  const views = await Promise.all(nodes.map((n) => n.status()));
  const i = views.findIndex((v) => v.repair.filesChecked > 0);
  return i >= 0 && nodes[i];
});

const weakest = (stdout) => +stdout.match(/weakest segment: (\d+) of/)[1];

test('the nodes keep a file\'s repair capability; after a node is lost for good, the node on duty rebuilds the missing shards and holds no key and no plaintext', async () => {
  const nodes = await threeNodes();
  // 5 segments of 8 shards dealt over 3 nodes: 3, 3 and 2 of each.
  const { data, link, dir } = await putFile(nodes[0], (4 << 20) + 1000);
  await until('three keepers of the capability', async () => {
    const views = await Promise.all(nodes.map((n) => n.status()));
    return views.every((v) => v.repair.caps === 1);
  });
  // The first check on duty sees every holder (so a holder that stops
  // answering later is away, then lost).
  const duty = await onDuty(nodes);
  const cap = await runMeganet(['cap', link]);
  assert.equal(cap.code, 0, cap.stderr);
  assert.match(cap.stdout, /^meganet-repair:2\.[\w-]{43}\.[\w-]{43}\n$/);

  // The node holding the most shards holds 3 of some segment (43 blocks
  // over 3 nodes: the largest share is over 2 per segment): losing it
  // leaves that segment at 5, below the threshold of 6.
  const stored = await Promise.all(nodes.map(async (n) => (await n.status()).storedBlocks));
  const lost = nodes[stored.indexOf(Math.max(...stored))];
  const rest = nodes.filter((n) => n !== lost);
  const repairedBefore = (await duty.status()).repair.segmentsRepaired;
  assert.equal(repairedBefore, 0, 'nothing to repair while every node is up');
  await lost.stop();
  const before = await runMeganet(['check', link, '--node', rest[0].url], { timeoutMs: 60_000 });
  assert.ok(weakest(before.stdout) < THRESHOLD, before.stdout);

  const repairer = await until('a repair', async () => {
    const views = await Promise.all(rest.map((n) => n.status()));
    const i = views.findIndex((v) => v.repair.segmentsRepaired > 0);
    return i >= 0 && rest[i];
  }, 60_000, rest);
  // (The check fails all the same: the lost node is listed and does not
  // answer.)
  const after = await runMeganet(['check', link, '--node', rest[0].url], { timeoutMs: 60_000 });
  assert.ok(weakest(after.stdout) >= THRESHOLD, after.stdout + repairLogs(rest));
  const status = (await repairer.status()).repair;
  assert.ok(status.bytesPlaced > 0 && status.shardsPlaced >= 3, JSON.stringify(status));

  // The file opens through a node that is left, the lost one still gone.
  const out = path.join(dir, 'fetched.bin');
  const get = await runMeganet(['get', link, '-o', out, '--node', rest[1].url], { timeoutMs: 120_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(sha(readFileSync(out)), sha(data));

  // The repairer's data directory and logs hold neither the key (raw,
  // base64url or hex) nor any plaintext (a 64-byte sample of each MiB).
  const key = Buffer.from(link.split('#')[1].split('.')[2], 'base64url');
  const needles = [key, Buffer.from(key.toString('base64url')), Buffer.from(key.toString('hex'))];
  for (let at = 0; at + 64 <= data.length; at += 1 << 20) needles.push(data.subarray(at, at + 64));
  const haystacks = files(repairer.data).map((f) => [f, readFileSync(f)]);
  haystacks.push(['logs', Buffer.from(repairer.logs())]);
  assert.ok(haystacks.some(([f]) => f.endsWith('.cap')), 'the repairer keeps the capability');
  for (const [name, bytes] of haystacks) {
    for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `${name} holds the key or plaintext`);
  }
});

test('a node whose disk lost its shards but still answers HAS "yes" is caught by the next audits, and its shards are placed again elsewhere', async () => {
  const nodes = await threeNodes();
  const { data, link, dir } = await putFile(nodes[0], (4 << 20) + 1000);
  const duty = await onDuty(nodes);
  // The other node with the most shards holds 3 of some segment (the
  // duty node holds at most 15 of 40 shards; the larger of the others
  // at least 13 > 2 per segment).
  const others = nodes.filter((n) => n !== duty);
  const stored = await Promise.all(others.map(async (n) => (await n.status()).storedBlocks));
  const liar = others[stored.indexOf(Math.max(...stored))];
  const manifest = Buffer.from(link.split('#')[1].split('.')[1], 'base64url').toString('hex');
  const blocks = files(path.join(liar.data, 'blocks')).filter((f) => /[0-9a-f]{64}$/.test(f) && !f.endsWith(manifest));
  assert.ok(blocks.length >= 10, `${blocks.length} shards on the liar`);
  const passes = (await duty.status()).repair.passes;
  for (const f of blocks) rmSync(f);

  const repaired = await until('the audits to catch the liar', async () => {
    const s = (await duty.status()).repair;
    return s.failedAudits > 0 && s.segmentsRepaired > 0 && s;
  }, 60_000, nodes);
  // Caught within two intervals: the pass under way and the next.
  assert.ok(repaired.passes - passes <= 2, `caught after ${repaired.passes - passes} passes`);

  const check = await runMeganet(['check', link, '--node', duty.url], { timeoutMs: 60_000 });
  assert.ok(weakest(check.stdout) >= THRESHOLD, check.stdout);
  const out = path.join(dir, 'fetched.bin');
  const get = await runMeganet(['get', link, '-o', out, '--node', duty.url], { timeoutMs: 120_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(sha(readFileSync(out)), sha(data));

  // Ten or more failed audits in a row leave no record trusted, and the
  // node on duty remembers it across a restart.
  const { untrustedHolders } = (await duty.status()).repair;
  assert.ok(untrustedHolders >= 1, `the liar is no longer trusted: ${untrustedHolders}`);
  await duty.stop();
  const again = await startNode({ data: duty.data, args: FAST });
  cleanups.push(() => again.stop());
  await until('the restarted node to read its repair record', async () =>
    (await again.status()).repair.untrustedHolders === untrustedHolders);
});

test('meganet repair and cap refuse what is not a capability of a version-2 file, naming why', async () => {
  const v1 = await runMeganet(['cap', `http://x/#1.${'A'.repeat(43)}.${'A'.repeat(43)}`]);
  assert.equal(v1.code, 1);
  assert.match(v1.stderr, /version-1 files have none/);
  const node = await start();
  const bad = await runMeganet(['repair', 'meganet-repair:2.abc.def', '--node', node.url]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /repair capability: the manifest hash must be 43 base64url characters/);
  const wrongKey = await runMeganet(['repair', `meganet-repair:2.${'A'.repeat(43)}.${'A'.repeat(43)}`, '--node', node.url], { timeoutMs: 60_000 });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /not found|no holder/i);
});

test('three nodes and six contributing browsers: with the uploader and every contributor gone for good and a node wiped, the file is rebuilt on the nodes left and a fresh browser gets identical bytes', async () => {
  const nodes = await threeNodes();
  const { contributor, peerIn, putRandom, getAndHash } = peers(cleanups);
  // Two contributors on each node, Chromium and Firefox mixed.
  const kinds = BROWSERS.length > 1 ? BROWSERS.slice(0, 2) : [BROWSERS[0], BROWSERS[0]];
  const contributors = [];
  for (const node of nodes) {
    for (const kind of kinds) contributors.push(await contributor(kind, node));
  }
  const up = await peerIn(kinds[0], nodes[0]);
  await waitForContributors(up.page, 6);
  const put = await putRandom(up.page, 16 << 20);
  await up.browser.close();
  const duty = await onDuty(nodes);
  await until('three keepers', async () => (await Promise.all(nodes.map((n) => n.status()))).every((v) => v.repair.caps === 1));
  const stored = await Promise.all(nodes.map(async (n) => (await n.status()).storedBlocks));
  const browserCopies = await Promise.all(contributors.map((c) => c.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }).then((s) => s.storedShards))));
  assert.ok(browserCopies.reduce((x, y) => x + y, 0) >= 16, `browser copies: ${browserCopies}`);
  assert.equal((await duty.status()).repair.segmentsRepaired, 0, 'nothing to repair while everyone is up');

  // Every contributor closes for good; the node with the most shards
  // loses its data directory and comes back empty (a new identity).
  for (const c of contributors) await c.browser.close();
  const lost = nodes[stored.indexOf(Math.max(...stored))];
  const rest = nodes.filter((n) => n !== lost);
  await lost.stop();
  rmSync(lost.data, { recursive: true, force: true });
  rest.push(await start(['--peer', await tcpAddr(rest[0])]));
  const repairer = await until('a repair', async () => {
    const views = await Promise.all(rest.map((n) => n.status()));
    const i = views.findIndex((v) => v.repair.segmentsRepaired > 0);
    return i >= 0 && rest[i];
  }, 90_000, rest);
  const after = await runMeganet(['check', put.link, '--node', repairer.url], { timeoutMs: 60_000 });
  assert.ok(weakest(after.stdout) >= THRESHOLD, after.stdout + repairLogs(rest));

  // None of the original browser holders is left, nor the lost node.
  const fresh = await peerIn(kinds[1], rest[0]);
  const got = await getAndHash(fresh.page, put.link);
  assert.equal(got.digest, put.digest);
});

test('a contributor that lowers its quota, then leaves, hands its shards to its node first, so the file keeps every piece without waiting for repair', async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b]);
  const { contributor, peerIn, putRandom } = peers(cleanups);
  const giver = await contributor(BROWSERS[0], a);
  const up = await peerIn(BROWSERS[0], b);
  await waitForContributors(up.page, 1);
  await putRandom(up.page, (3 << 20) + 5);
  // 4 segments of 8 shards dealt over A and B; the contributor took a
  // copy of each.
  const held = await giver.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
  assert.equal(held.storedShards, 32);
  const before = (await a.status()).storedBlocks;
  assert.ok(before < 32, `A holds ${before} blocks before`);

  // A quota of 8 full shards evicts the least recently used rest, each
  // handed to A before it is deleted.
  const lowered = await giver.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 8 * 262_148 }));
  const kept = lowered.storedShards;
  assert.ok(kept >= 8 && kept < 32, JSON.stringify(lowered));
  assert.deepEqual([lowered.evicted.handedOff, lowered.evicted.dropped], [32 - kept, 0], `${JSON.stringify(lowered)}\n${giver.warnings.join('\n')}`);

  const left = await giver.page.evaluate(() => window.meganet.leave());
  assert.deepEqual([left.handedOff, left.dropped], [kept, 0]);
  assert.equal(left.handedOffBytes, lowered.storedBytes, JSON.stringify(left));
  // A now holds every shard (and the manifest); the browser holds none.
  assert.equal((await a.status()).storedBlocks, 32 + 1);
  const after = await giver.page.evaluate(() => window.meganet.contribute({ enabled: false }));
  assert.equal(after.storedShards, 0);
});

test('an uploader\'s idle tab repairs its own file: with a node gone, it rebuilds every segment below its node\'s threshold onto the node left', async () => {
  // A's duty passes wait their default interval: the tab repairs first.
  const a = await startNode({ args: ['--repair-threshold', '7'] });
  cleanups.push(() => a.stop());
  const b = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b]);
  const { peerIn, putRandom, getAndHash } = peers(cleanups);
  const up = await peerIn(BROWSERS[0], a, { hidden: true });
  await up.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 64 * 1024 * 1024 }));
  const put = await putRandom(up.page, (3 << 20) + 5);
  // The page measures health against its node's threshold.
  const health = await up.page.evaluate((l) => window.meganet.health(l), put.link);
  assert.equal(health.repairThreshold, 7, JSON.stringify(health));
  await b.stop();
  // 4 of each segment's 8 shards were on B: every segment is at 4.
  const report = await until('the policy to allow background work', () => up.page.evaluate(async (l) => {
    try {
      return await window.meganet.repair(l);
    } catch (e) {
      if (/idle, charging, unmetered/.test(e.message)) return null;
      throw e;
    }
  }, put.link), 30_000);
  assert.deepEqual([report.weakestBefore, report.segments, report.weakestAfter], [4, 4, 8], JSON.stringify(report));
  assert.equal(report.shards, 16);
  assert.equal((await a.status()).storedBlocks, 32 + 1);
  const fresh = await peerIn(BROWSERS[0], a);
  assert.equal((await getAndHash(fresh.page, put.link)).digest, put.digest);
});
