// Names that survive updates (issue 25): `meganet publish DIR --name KEYFILE`
// prints the version's site link and a name link; `meganet resolve` follows
// the name to the newest version through any node of the network. The
// node's refusals (forged, replayed, oversized, future records) are unit
// tests of `crate/src/node/names.rs`; here real nodes keep and serve the
// records, and a real browser that opened a name puts its record back on a
// node that lost it (www/kept-names.js).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  mkdirSync, writeFileSync, statSync, readFileSync, readdirSync, rmSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startNode, runMeganet, tempDir, tcpAddr, waitForMesh } from './lib/node.mjs';
import { BROWSERS, launch, openApp, waitForStatus } from './lib/browser.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function start(args = []) {
  const node = await startNode({ args });
  cleanups.push(() => node.stop());
  return node;
}

function site(dir, body) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), `<!doctype html><title>t</title><p>${body}</p>\n`);
  return dir;
}

const fragment = (link) => link.slice(link.indexOf('#') + 1);

test('a name follows a site through republishing, from any node', { timeout: 300_000 }, async () => {
  const a = await start();
  const b = await start(['--peer', await tcpAddr(a)]);
  await waitForMesh([a, b]);
  const work = tempDir();
  const key = path.join(work, 'site.key');

  const first = await runMeganet(['publish', site(path.join(work, 'v1'), 'one'), '--name', key, '--node', a.url], { timeoutMs: 120_000 });
  assert.equal(first.code, 0, first.stderr);
  const [siteOne, name, ...rest] = first.stdout.trim().split('\n');
  assert.deepEqual(rest, []);
  assert.match(siteOne, new RegExp(`^${a.url}#2\\.`));
  assert.match(name, new RegExp(`^${a.url}#n1\\.[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$`));
  assert.match(first.stderr, /made the name key .*site\.key \(mode 0600\)/);
  assert.match(first.stderr, /name \S{8}: version 1\n/);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.match(readFileSync(key, 'utf8'), /^meganet name key 1\nsecret \S{43}\nread \S{43}\n$/);
  assert.match(a.logs() + b.logs(), /name record stored/);

  // Resolve asks the name link's own node by default, or the one named.
  const viaA = await runMeganet(['resolve', name], { timeoutMs: 60_000 });
  assert.equal(viaA.code, 0, viaA.stderr);
  assert.equal(viaA.stdout.trim(), siteOne);
  assert.match(viaA.stderr, /^name \S{8}: version 1, signed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
  const viaB = await runMeganet(['resolve', `meganet:${fragment(name)}`, '--node', b.url], { timeoutMs: 60_000 });
  assert.equal(viaB.code, 0, viaB.stderr);
  assert.equal(fragment(viaB.stdout.trim()), fragment(siteOne));
  assert.ok(viaB.stdout.startsWith(b.url), viaB.stdout);

  // A new version through the other node: same name, version 2.
  const second = await runMeganet(['publish', site(path.join(work, 'v2'), 'two'), '--name', key, '--node', b.url], { timeoutMs: 120_000 });
  assert.equal(second.code, 0, second.stderr);
  const [siteTwo, nameAgain] = second.stdout.trim().split('\n');
  assert.notEqual(fragment(siteTwo), fragment(siteOne));
  assert.equal(fragment(nameAgain), fragment(name));
  assert.doesNotMatch(second.stderr, /made the name key/);
  assert.match(second.stderr, /name \S{8}: version 2\n/);
  for (const node of [a, b]) {
    const got = await runMeganet(['resolve', fragment(name), '--node', node.url], { timeoutMs: 60_000 });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(fragment(got.stdout.trim()), fragment(siteTwo));
    assert.match(got.stderr, /version 2, signed /);
  }
  // The site the name resolves to opens: its document is fetched whole.
  const out = path.join(work, 'site.json');
  const get = await runMeganet(['get', siteTwo, '-o', out, '--node', a.url], { timeoutMs: 60_000 });
  assert.equal(get.code, 0, get.stderr);
  assert.match(readFileSync(out, 'utf8'), /"meganet_site":1/);
  // Renewing a site's link renews the files it lists too.
  const renew = await runMeganet(['renew', siteTwo, '--node', a.url], { timeoutMs: 60_000 });
  assert.equal(renew.code, 0, renew.stderr);
  const [doc, files] = renew.stdout.trim().split('\n');
  assert.match(doc, /^renewed (\d+) of \1 blocks on \d+ holders/);
  assert.match(files, /^renewed (\d+) of \1 blocks of the files the site lists \(1\)$/);
});

test('resolve and publish --name explain what is wrong', { timeout: 120_000 }, async () => {
  const node = await start();
  const work = tempDir();
  // A valid name nobody published.
  const { publicKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x;
  const unknown = `${node.url}/#n1.${x}.${randomBytes(32).toString('base64url')}`;
  const missing = await runMeganet(['resolve', unknown], { timeoutMs: 60_000 });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no node has a record of the name/);

  const fileLink = `${node.url}/#2.${'A'.repeat(43)}.${'B'.repeat(43)}`;
  const notName = await runMeganet(['resolve', fileLink]);
  assert.equal(notName.code, 1);
  assert.match(notName.stderr, /not a name link/);
  const getName = await runMeganet(['get', unknown, '--node', node.url]);
  assert.equal(getName.code, 1);
  assert.match(getName.stderr, /this is a name link .*meganet resolve/);

  const badKey = path.join(work, 'bad.key');
  writeFileSync(badKey, 'not a key\n');
  const refused = await runMeganet(['publish', site(path.join(work, 's'), 'x'), '--name', badKey, '--node', node.url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /bad\.key is not a meganet name key/);
  assert.doesNotMatch(refused.stderr, /publishing 1\//);
});

/** A TCP port free now on loopback (for a node restarted at the same address). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}

test('a browser that opened a name puts its record back on a node that lost it, and keeps the newer record a node hands back', { timeout: 300_000 }, async () => {
  // One node, restarted at the same address (the page's origin, so its
  // localStorage) with the same data, but without its name records, as a
  // node whose records were lost.
  const data = tempDir();
  const http = `127.0.0.1:${await freePort()}`;
  const sites = `127.0.0.1:${await freePort()}`;
  const startAt = async () => {
    const started = await startNode({ data, http, args: ['--sites', sites] });
    cleanups.push(() => started.stop());
    return started;
  };
  let node = await startAt();
  const namesDir = path.join(data, 'dht', 'names');
  const loseRecords = async () => {
    await node.stop();
    assert.equal(readdirSync(namesDir).length, 1, 'the node kept the record on disk');
    rmSync(namesDir, { recursive: true });
    node = await startAt();
  };
  const work = tempDir();
  const key = path.join(work, 'site.key');
  const publish = async (n) => {
    const run = await runMeganet(['publish', site(path.join(work, `v${n}`), `v${n}`), '--name', key, '--node', node.url], { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.trim().split('\n')[1];
  };
  const resolve = async () => {
    const run = await runMeganet(['resolve', name, '--node', node.url], { timeoutMs: 60_000 });
    return run.code === 0 ? Number(/version (\d+)/.exec(run.stderr)[1]) : run.stderr.trim();
  };
  const until = async (what, fn, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await fn();
      if (got) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const name = await publish(1);
  const chromium = await launch('chromium');
  const firefox = BROWSERS.includes('firefox') ? await launch('firefox') : null;
  try {
    const { context, page, errors } = await openApp(chromium, node.url);
    const card = (p) => p.evaluate(() => document.getElementById('fetch-name').textContent);
    const kept = (p) => p.evaluate(() => JSON.parse(localStorage.getItem('meganet-name-records') || '[]'));
    await waitForStatus(page, (s) => s.node.state === 'connected');
    await page.goto(name);
    await until('the name to open', async () => /· version 1, signed /.test(await card(page)))
      .catch(async (e) => { throw new Error(`${e.message}: ${await page.evaluate(() => document.getElementById('fetch')?.innerText)}`); });
    const [entry, ...more] = await kept(page);
    assert.deepEqual(more, []);
    assert.equal(entry.version, 1);
    assert.equal(entry.publisher, /#n1\.([^.]+)\./.exec(name)[1]);
    assert.ok(!JSON.stringify(entry).includes(name.split('.').at(-1)), 'the read key is not kept');
    await page.close();

    // With no browser open, a node that lost the record does not know the name.
    await loseRecords();
    assert.match(String(await resolve()), /no node has a record of the name/);

    // The browser comes back: it puts the record back on the node, and a
    // fresh browser that never saw the name opens it.
    const again = await context.newPage();
    again.on('pageerror', (e) => errors.push(e.message));
    await again.goto(node.url);
    await until('the record to be put back', async () => (await resolve()) === 1);
    assert.match(node.logs(), /name record stored/);
    if (firefox) {
      const other = await openApp(firefox, node.url);
      await waitForStatus(other.page, (s) => s.node.state === 'connected');
      await other.page.goto(name);
      await until('Firefox to open the name', async () => /· version 1, signed /.test(await card(other.page)));
    }

    // The publisher moves on to version 2: the page, opened again, hands
    // the node version 1, is handed version 2 back and keeps it. Then the
    // node loses its records while the page stays open: once the page's
    // peer reaches the node again, it puts version 2 back.
    assert.equal(await publish(2), name);
    await until('the page to keep version 2', async () => {
      await again.reload();
      await waitForStatus(again, (s) => s.node.state === 'connected');
      return (await kept(again))[0]?.version === 2;
    });
    await loseRecords();
    await waitForStatus(again, (s) => s.node.state === 'connected', 60_000);
    await until('version 2 to be put back by the open page', async () => (await resolve()) === 2);

    // What the page refuses to put: not a record, and a record whose
    // signature was altered.
    const codes = await again.evaluate(async () => {
      const list = JSON.parse(localStorage.getItem('meganet-name-records'));
      const bytes = Uint8Array.from(atob(list[0].record), (c) => c.charCodeAt(0));
      bytes[bytes.length - 1] ^= 1;
      const code = async (record) => {
        try { await window.meganet.republishName(record); return 'accepted'; } catch (e) { return e.code; }
      };
      return [await code(new Uint8Array([1, 2, 3])), await code(bytes)];
    });
    assert.deepEqual(codes, ['manifest-malformed', 'manifest-tampered']);
    assert.deepEqual(errors, []);
  } finally {
    await chromium.close();
    await firefox?.close();
  }
});
