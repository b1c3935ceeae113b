// The command line peer interoperates with browsers through the same node:
// `meganet put` then a browser fetches; a browser puts then `meganet get`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startNode, runMeganet, tempDir } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus } from './lib/browser.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sha = (b) => createHash('sha256').update(b).digest('hex');

for (const kind of BROWSERS) {
  test(`${kind}: meganet put -> browser get, browser put -> meganet get`, async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());
    const dir = tempDir();
    const data = randomBytes((2 << 20) + 777);
    const file = path.join(dir, 'from-cli.bin');
    writeFileSync(file, data);

    const put = await runMeganet(['put', file, '--node', node.url], { timeoutMs: 60_000 });
    assert.equal(put.code, 0, put.stderr);
    const link = put.stdout.trim();
    assert.match(link, new RegExp(`^${node.url}#2\\.`));

    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page } = await openApp(browser, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    const fetched = await page.evaluate(async (l) => {
      const f = await window.meganet.get(l, {});
      const digest = await crypto.subtle.digest('SHA-256', await new Response(f.stream).arrayBuffer());
      return { name: f.name, size: f.size, sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
    }, link);
    assert.deepEqual(fetched, { name: 'from-cli.bin', size: data.length, sha: sha(data) });

    const other = randomBytes(1 << 20);
    await page.setInputFiles('#file', { name: 'from-browser.bin', mimeType: 'application/octet-stream', buffer: other });
    await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
    const browserLink = await page.inputValue('#put-link');
    const out = path.join(dir, 'fetched.bin');
    const get = await runMeganet(['get', browserLink, '-o', out, '--node', node.url], { timeoutMs: 60_000 });
    assert.equal(get.code, 0, get.stderr);
    assert.equal(sha(readFileSync(out)), sha(other));
    // An existing file is kept unless the user says --force.
    writeFileSync(out, 'mine');
    const again = await runMeganet(['get', browserLink, '-o', out, '--node', node.url], { timeoutMs: 60_000 });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /fetched\.bin exists: not overwriting it \(pass --force to\)/);
    assert.equal(readFileSync(out, 'utf8'), 'mine');
    const forced = await runMeganet(['get', browserLink, '-o', out, '--force', '--node', node.url], { timeoutMs: 60_000 });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(sha(readFileSync(out)), sha(other));
  });
}

test('meganet get and put explain bad input', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const dir = tempDir();
  const bad = await runMeganet(['get', 'http://x/#1.abc.def', '--node', node.url]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error: malformed link: the manifest hash must be 43 base64url characters/);
  const missing = await runMeganet(['get', `meganet:1.${'A'.repeat(43)}.${'A'.repeat(43)}`, '-o', path.join(dir, 'x'), '--node', node.url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error: file not found/);
  assert.ok(!existsSync(path.join(dir, 'x')) && !existsSync(path.join(dir, 'x.meganet-partial')), 'nothing half-written');
  const nofile = await runMeganet(['put', path.join(dir, 'nope.bin'), '--node', node.url]);
  assert.equal(nofile.code, 1);
  assert.match(nofile.stderr, /error: cannot open .*nope\.bin/);
  const nonode = await runMeganet(['put', path.join(dir, 'nope.bin'), '--node', 'http://127.0.0.1:1']);
  assert.equal(nonode.code, 1);
  assert.match(nonode.stderr, /error: cannot reach the node at http:\/\/127\.0\.0\.1:1/);
});

test('meganet simulate runs a scenario, prints its results as JSON lines and draws it; a bad scenario names the field', async () => {
  const dir = tempDir();
  const small = path.join(ROOT, 'scenarios/bench-small.toml');
  const svg = path.join(dir, 'run.svg');
  const run = await runMeganet(['simulate', small, '--svg', svg], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, run.stderr);
  const results = Object.fromEntries(run.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.name, r.value]));
  for (const name of ['sim.availability', 'sim.files_lost', 'sim.overhead', 'sim.repair_ratio', 'sim.seconds']) {
    assert.equal(typeof results[name], 'number', name);
  }
  assert.ok(results['sim.availability'] > 0.9 && results['sim.availability'] <= 1, run.stdout);
  assert.match(run.stderr, /simulated 100 % of 5 days/);
  assert.match(readFileSync(svg, 'utf8'), /^<svg [^]*<polyline [^]*<\/svg>\n$/);
  // The same seed, the same run.
  const again = await runMeganet(['simulate', small], { timeoutMs: 120_000 });
  const strip = (out) => out.split('\n').filter((l) => !l.includes('sim.seconds')).join('\n');
  assert.equal(strip(again.stdout), strip(run.stdout));

  const bad = path.join(dir, 'bad.toml');
  writeFileSync(bad, readFileSync(small, 'utf8').replace('k = 4', 'k = 9'));
  const refused = await runMeganet(['simulate', bad]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /bad\.toml: code\.k and code\.n: need 1 <= k <= n <= 64, got k = 9, n = 8/);
});
