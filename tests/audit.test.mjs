// Audits against a real node: `meganet check` asks every holder of a file
// to prove each shard it claims with a random range, and catches a node
// whose disk lost or damaged shards while it still answers HAS "yes".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir } from './lib/node.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** Every stored block under `dir`, by its hex hash. */
function blocks(dir) {
  const out = new Map();
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) blocks(p).forEach((v, k) => out.set(k, v));
    else if (/^[0-9a-f]{64}$/.test(name)) out.set(name, p);
  }
  return out;
}

const manifestHex = (link) =>
  Buffer.from(link.split('#')[1].split('.')[1], 'base64url').toString('hex');

const holderLine = (stdout, peer) => {
  const m = stdout.match(new RegExp(`^${peer}  claims (\\d+)  audited (\\d+)  proven (\\d+)  failed (\\d+)  counted (\\d+)  score ([\\d.]+)$`, 'm'));
  assert.ok(m, stdout);
  return { claims: +m[1], audits: +m[2], proven: +m[3], failed: +m[4], counted: +m[5], score: +m[6] };
};

test('meganet check proves every shard a node holds, and catches shards the node lost or damaged', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const dir = tempDir();
  const file = path.join(dir, 'audited.bin');
  writeFileSync(file, randomBytes((3 << 20) + 5));
  const put = await runMeganet(['put', file, '--node', node.url], { timeoutMs: 60_000 });
  assert.equal(put.code, 0, put.stderr);
  const link = put.stdout.trim();

  const clean = await runMeganet(['check', link, '--node', node.url], { timeoutMs: 60_000 });
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  const before = holderLine(clean.stdout, node.peerId);
  const stored = blocks(node.data);
  stored.delete(manifestHex(link));
  assert.equal(before.claims, stored.size, 'the node claims every shard it stored');
  // 32 shards: few enough that the sample is all of them.
  assert.deepEqual([before.audits, before.proven, before.failed, before.counted, before.score], [stored.size, stored.size, 0, stored.size, 1]);
  const [, weakest, n, k, afterLoss] = clean.stdout.match(/weakest segment: (\d+) of (\d+) shards live, (\d+) needed; (\d+) after losing the holder that matters most/);
  assert.ok(+weakest === +n && +n > +k, clean.stdout);
  assert.equal(+afterLoss, 0, 'one node holds every shard: losing it loses the file');

  // The node keeps answering HAS "yes" for both: its index still lists them.
  const [gone, damaged] = [...stored.values()];
  rmSync(gone);
  const bytes = readFileSync(damaged);
  bytes[bytes.length >> 1] ^= 0x40;
  writeFileSync(damaged, bytes);

  const caught = await runMeganet(['check', link, '--node', node.url], { timeoutMs: 60_000 });
  assert.equal(caught.code, 1, caught.stdout);
  assert.match(caught.stderr, /error: 2 audits failed/);
  const after_ = holderLine(caught.stdout, node.peerId);
  assert.deepEqual([after_.claims, after_.proven, after_.failed, after_.counted], [stored.size, stored.size - 2, 2, stored.size - 2]);
  assert.ok(after_.score < 1, caught.stdout);
  assert.match(caught.stdout, /said it holds shard [0-9a-f]{64} and then did not/);
  assert.match(caught.stdout, /weakest segment: \d+ of \d+ shards live/);
});

test('meganet check explains a bad link and a file nobody has', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const bad = await runMeganet(['check', 'http://x/#1.abc.def', '--node', node.url]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error: malformed link/);
  const missing = await runMeganet(['check', `meganet:1.${'A'.repeat(43)}.${'A'.repeat(43)}`, '--node', node.url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error: file not found/);
});
