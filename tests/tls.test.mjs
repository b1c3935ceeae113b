// The node's own TLS (issue 21): `--tls-cert` and `--tls-key` serve the
// app over HTTPS and libp2p over secure WebSocket, on one port or two
// (`--wss`), with a certificate from a certificate authority made at test
// time that the browsers are made to trust (no "ignore certificate
// errors"). A renewed certificate is picked up without a restart, and bad
// certificate files stop the node at start with an error naming the file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { getText, runMeganet, startNode, tempDir, writeTempFiles } from './lib/node.mjs';
import { openApp, waitForStatus } from './lib/browser.mjs';
import { peers } from './lib/peers.mjs';
import { certificates, httpsRoundTrip, serverCertificate, trustingBrowser } from './lib/tls.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const { getAndHash } = peers(cleanups);

/** The certificate the server at `url` presents (its fingerprint), trusting only `ca`. */
function servedFingerprint(url, ca) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca: [readFileSync(ca)] }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

test('the node serves the app over HTTPS and libp2p over wss on the same port; Chromium and Firefox put and get, the app is installable, and a renewed certificate is served without a restart', async () => {
  const { ca, cert, key } = certificates();
  const dir = tempDir('meganet-tls-');
  const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  copyFileSync(cert, files.cert);
  copyFileSync(key, files.key);
  const node = await startNode({ args: ['--tls-cert', files.cert, '--tls-key', files.key], ca });
  cleanups.push(() => node.stop());
  assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(node.sites, /^https:\/\//, 'the sites origin is HTTPS too (an HTTPS app may not frame http:)');
  const port = new URL(node.url).port;

  const bootstrap = JSON.parse(await getText(new URL('/bootstrap.json', node.url), ca));
  assert.ok(bootstrap.addrs.some((a) => a === `/ip4/127.0.0.1/tcp/${port}/tls/ws/p2p/${node.peerId}`),
    `the secure WebSocket shares the app's port: ${bootstrap.addrs.join(' ')}`);

  const { put } = await httpsRoundTrip({ url: node.url, ca, port, shot: 'tls-node', cleanups });

  // The certificate renews: new files in place, served within the reload period.
  const before = await servedFingerprint(node.url, ca);
  const renewed = serverCertificate(path.dirname(ca), 'renewed');
  copyFileSync(renewed.key, files.key);
  copyFileSync(renewed.cert, files.cert);
  const deadline = Date.now() + 30_000;
  let now = before;
  while (now === before && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    now = await servedFingerprint(node.url, ca);
  }
  assert.notEqual(now, before, 'the renewed certificate was not served within 30 s');
  assert.match(node.logs(), /TLS certificate reloaded/);
  // A page opened after the renewal still works, over the new certificate.
  const again = await openApp(await trustingBrowser('chromium', ca, cleanups), node.url);
  await waitForStatus(again.page, (st) => st.node.state === 'connected');
  assert.equal((await getAndHash(again.page, put.link)).digest, put.digest);

  // A renewal caught half-written (a key that does not match) keeps the
  // certificate in use, and says so.
  writeFileSync(files.key, readFileSync(key));
  await new Promise((r) => setTimeout(r, 12_000));
  assert.equal(await servedFingerprint(node.url, ca), now);
  assert.match(node.logs(), /do not load: the previous certificate stays in use/);
});

test('the command line reaches an https:// node, trusting SSL_CERT_FILE\'s authority and no other', async () => {
  const { ca, cert, key } = certificates();
  const node = await startNode({ args: ['--tls-cert', cert, '--tls-key', key], ca });
  cleanups.push(() => node.stop());
  const [file] = writeTempFiles({ name: 'hello.txt', buffer: Buffer.from('hello over TLS\n') });
  const put = await runMeganet(['put', file, '--node', node.url], { env: { SSL_CERT_FILE: ca } });
  assert.equal(put.code, 0, put.stderr);
  const link = put.stdout.trim().split('\n').pop();
  const out = path.join(tempDir(), 'back.txt');
  const got = await runMeganet(['get', link, '--node', node.url, '-o', out], { env: { SSL_CERT_FILE: ca } });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'hello over TLS\n');
  const untrusted = await runMeganet(['put', file, '--node', node.url], { env: { SSL_CERT_FILE: '' } });
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /TLS with the node at https:\/\/127\.0\.0\.1:\d+\/ failed/);
});

test('--wss gives the secure WebSocket a port of its own', async () => {
  const { ca, cert, key } = certificates();
  const node = await startNode({ args: ['--tls-cert', cert, '--tls-key', key, '--wss', '127.0.0.1:0'], ca });
  cleanups.push(() => node.stop());
  const port = new URL(node.url).port;
  const bootstrap = JSON.parse(await getText(new URL('/bootstrap.json', node.url), ca));
  const secure = bootstrap.addrs.find((a) => /\/tls\/ws\//.test(a));
  const wssPort = secure?.match(/\/tcp\/(\d+)\//)?.[1];
  assert.ok(wssPort && wssPort !== port, `a separate wss port: ${bootstrap.addrs.join(' ')}`);
  const app = await openApp(await trustingBrowser('chromium', ca, cleanups), node.url);
  const s = await waitForStatus(app.page, (st) => st.node.state === 'connected');
  assert.match(s.node.addr ?? '', new RegExp(`/tcp/${wssPort}/tls/ws/`));
  assert.deepEqual(app.errors, []);
});

test('bad certificate files stop the node at start with an error naming the file', async () => {
  const { cert, key } = certificates();
  const other = certificates();
  const dir = tempDir('meganet-badtls-');
  const garbage = path.join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a PEM file\n');
  const cases = [
    [[cert, path.join(dir, 'missing.key')], /cannot read .*missing\.key/],
    [[garbage, key], /garbage\.pem holds no PEM certificate/],
    [[cert, garbage], /garbage\.pem holds no PEM private key/],
    [[key, cert], /holds no PEM certificate/],
    [[cert, other.key], new RegExp(`${path.basename(other.key)} does not match the certificate in .*${path.basename(cert)}`)],
  ];
  for (const [[c, k], expected] of cases) {
    const { code, stderr } = await runMeganet(['node', '--data', tempDir(), '--http', '127.0.0.1:0', '--sites', '127.0.0.1:0',
      '--ws', '127.0.0.1:0', '--webrtc', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--tls-cert', c, '--tls-key', k]);
    assert.notEqual(code, 0, `the node started with ${c} and ${k}`);
    assert.match(stderr, expected);
  }
  const { code, stderr } = await runMeganet(['node', '--tls-cert', cert]);
  assert.notEqual(code, 0);
  assert.match(stderr, /--tls-key/);
});
