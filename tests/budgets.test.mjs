// Budgets and leases on a real node (issue 20, point 1): a flood of PUTs
// from fresh identities stops at the address's budget with a plain error
// in the CLI and the page, and nothing stored is lost; a full node refuses
// while every lease runs, then makes room from expired data only, least
// recently renewed first, while an open page keeps its own upload renewed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNode, runMeganet, tempDir } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus, screenshot } from './lib/browser.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const KiB = 1024;
const MiB = 1024 * KiB;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `meganet put` of `size` random bytes (a fresh identity each run). */
async function cliPut(node, dir, name, size = 512 * KiB) {
  const data = randomBytes(size);
  const file = path.join(dir, name);
  writeFileSync(file, data);
  const put = await runMeganet(['put', file, '--node', node.url], { timeoutMs: 60_000 });
  return { ...put, link: put.stdout.trim(), data };
}

async function cliGet(node, dir, link) {
  const out = path.join(dir, `got-${Math.random().toString(36).slice(2)}`);
  const get = await runMeganet(['get', link, '-o', out, '--node', node.url], { timeoutMs: 60_000 });
  return get.code === 0 ? readFileSync(out) : get;
}

async function pagePut(page, name, size) {
  await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: randomBytes(size) });
  await page.waitForSelector('#put-result[data-state=stored], #put-error:not([hidden])', { timeout: 60_000 });
}

test('a full node refuses while every lease runs, says so, and loses nothing', async () => {
  const node = await startNode({ args: ['--quota', String(Math.round(2.6 * MiB))] });
  cleanups.push(() => node.stop());
  const dir = tempDir();
  // Each put stores about 1 MiB: two fit in 2.6 MiB, the third does not.
  const a = await cliPut(node, dir, 'a.bin');
  assert.equal(a.code, 0, a.stderr);
  const b = await cliPut(node, dir, 'b.bin');
  assert.equal(b.code, 0, b.stderr);
  const c = await cliPut(node, dir, 'c.bin');
  assert.equal(c.code, 1, 'a put past the quota is refused while every lease runs');
  assert.match(c.stderr, /this node is full: .* hold data whose leases are running/);
  assert.doesNotMatch(c.stderr, /panic/);
  const full = await node.status();
  assert.equal(full.storage.full, true, JSON.stringify(full.storage));
  assert.equal(sha(await cliGet(node, dir, a.link)), sha(a.data), 'A is intact after the refusal');
  assert.equal(sha(await cliGet(node, dir, b.link)), sha(b.data), 'B is intact after the refusal');
});

for (const kind of BROWSERS) {
  test(`${kind}: a flood of PUTs from fresh identities stops at the address's budget, said plainly, and nothing stored is lost`, async () => {
    const node = await startNode({ args: ['--budget-per-ip', String(4 * MiB), '--budget-per-uploader', String(2 * MiB)] });
    cleanups.push(() => node.stop());
    const dir = tempDir();
    const stored = [];
    let refused = null;
    // Each put stores about 1 MiB (8 pieces of 128 KiB and a manifest),
    // each from a new identity: only the address's budget can stop them.
    for (let i = 0; i < 8 && !refused; i++) {
      const put = await cliPut(node, dir, `flood-${i}.bin`);
      if (put.code === 0) stored.push(put);
      else refused = put;
    }
    assert.ok(refused, `8 puts of 512 KiB passed a 4 MiB budget per address: ${stored.length} stored`);
    assert.equal(stored.length, 3, 'three files fit in 4 MiB, the fourth does not');
    assert.match(refused.stderr, /over budget: your network address already stores 3\.\d MiB on this node, and the limit is 4\.0 MiB/);
    assert.doesNotMatch(refused.stderr, /panic/);

    // The status's lease totals are refreshed every 5 s.
    let status = await node.status();
    for (let i = 0; i < 40 && status.storage.leasedBytes < 3 * MiB; i++) {
      await sleep(250);
      status = await node.status();
    }
    assert.equal(status.storage.budgetPerIp, 4 * MiB);
    assert.equal(status.storage.budgetPerUploader, 2 * MiB);
    assert.ok(status.storage.leasedBytes >= 3 * MiB, JSON.stringify(status.storage));

    // The page is refused the same way, and says so in plain words.
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page } = await openApp(browser, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    await pagePut(page, 'one-more.bin', 512 * KiB);
    const error = await page.evaluate(() => {
      const e = document.querySelector('#put-error');
      return { hidden: e.hidden, code: e.dataset.code, text: e.textContent };
    });
    assert.equal(error.hidden, false, 'the page reports the refusal');
    assert.equal(error.code, 'over-budget');
    assert.match(error.text, /Could not share one-more\.bin: .*over budget: your network address already stores/);
    await screenshot(page, `budget-refused-${kind}`);

    // Everything stored before the refusal is intact.
    for (const s of stored) {
      const got = await cliGet(node, dir, s.link);
      assert.ok(Buffer.isBuffer(got), `get of a stored file failed: ${got.stderr}`);
      assert.equal(sha(got), sha(s.data));
    }
  });

  test(`${kind}: once a lease runs out its data makes room, and the open page keeps its upload renewed`, async () => {
    const leaseSecs = 10;
    const node = await startNode({ args: ['--quota', String(Math.round(2.6 * MiB)), '--lease-secs', String(leaseSecs)] });
    cleanups.push(() => node.stop());
    const dir = tempDir();
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page } = await openApp(browser, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected' && s.node.leaseSecs === leaseSecs);

    const a = await cliPut(node, dir, 'a.bin');
    assert.equal(a.code, 0, a.stderr);
    // The page's own upload: it renews it every quarter of the lease.
    await pagePut(page, 'kept.bin', 512 * KiB);
    const shared = await page.evaluate(() => [document.querySelector('#put-result').hidden, document.querySelector('#put-error').textContent]);
    assert.equal(shared[0], false, shared[1]);
    const kept = await page.inputValue('#put-link');
    const keptData = Buffer.from(await page.evaluate(async (l) => {
      const f = await window.meganet.get(l, {});
      return [...new Uint8Array(await new Response(f.stream).arrayBuffer())];
    }, kept));

    // The page says until when its upload is kept.
    let line = '';
    for (let i = 0; i < 40 && !/Kept by the nodes until at least/.test(line); i++) {
      await sleep(250);
      line = await page.evaluate(() => document.querySelector('#uploads-list .renewal')?.textContent || '');
    }
    assert.match(line, /Kept by the nodes until at least/);

    // A's lease runs out (nobody renews it); the page renews its own.
    // The status's totals are refreshed every 5 s.
    let expired = await node.status();
    for (let i = 0; i < 4 * (leaseSecs + 30) && expired.storage.expiredBytes < MiB; i++) {
      await sleep(250);
      expired = await node.status();
    }
    assert.ok(expired.storage.expiredBytes >= MiB, `A expired: ${JSON.stringify(expired.storage)}`);
    const c = await cliPut(node, dir, 'c2.bin');
    assert.equal(c.code, 0, `after A expired there is room: ${c.stderr}`);

    // A lost pieces to make room; the page's upload and C are whole.
    const renewA = await runMeganet(['renew', a.link, '--node', node.url]);
    assert.equal(renewA.code, 1, renewA.stdout);
    assert.match(renewA.stderr, /blocks were not found on any node reached/);
    const renewKept = await runMeganet(['renew', kept, '--node', node.url]);
    assert.equal(renewKept.code, 0, renewKept.stderr);
    assert.match(renewKept.stdout, /^renewed (\d+) of \1 blocks/);
    assert.equal(sha(await cliGet(node, dir, kept)), sha(keptData));
    assert.equal(sha(await cliGet(node, dir, c.link)), sha(c.data));
    await screenshot(page, `lease-renewed-${kind}`);
  });
}
