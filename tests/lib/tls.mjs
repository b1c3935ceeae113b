// TLS for tests: a throwaway certificate authority made at test time,
// certificates it signs, and Chromium and Firefox made to trust it through
// their NSS databases (never "ignore certificate errors").
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { tempDir } from './node.mjs';
import { BROWSERS, FLAGS, openApp, screenshot, waitForStatus } from './browser.mjs';
import { launchFirefox } from './firefox.mjs';
import { peers } from './peers.mjs';

const openssl = (dir, ...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A throwaway CA and a certificate it signed for 127.0.0.1 and localhost. */
export function certificates() {
  const dir = tempDir('meganet-ca-');
  openssl(dir, 'req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=meganet test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const ca = path.join(dir, 'ca.pem');
  return { ca, ...serverCertificate(dir, 'server') };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * Another certificate for 127.0.0.1 and localhost from the CA in `dir`
 * (a renewal): `<name>.pem` and `<name>.key`.
 */
export function serverCertificate(dir, name) {
  openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE', '',
  ].join('\n'));
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '2', '-extfile', 'server.ext');
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/** An NSS database in `dir` that trusts `ca` for TLS servers (what both browsers read). */
export function trust(dir, ca) {
  mkdirSync(dir, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${dir}`, '-n', 'meganet test CA', '-t', 'C,,', '-i', ca]);
}

/** A port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

/** A browser of `kind` that trusts `ca`: Chromium reads $HOME/.pki/nssdb, Firefox its profile. */
export async function trustingBrowser(kind, ca, cleanups) {
  if (kind === 'firefox') {
    const profile = tempDir('meganet-firefox-');
    trust(profile, ca);
    const browser = await launchFirefox({ userDataDir: profile });
    cleanups.push(() => browser.close());
    return browser;
  }
  const home = tempDir('meganet-home-');
  trust(path.join(home, '.pki', 'nssdb'), ca);
  // A persistent profile: an app is not installable from an incognito-like one.
  const context = await chromium.launchPersistentContext(path.join(home, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: FLAGS, env: { ...process.env, HOME: home },
  });
  cleanups.push(() => context.close());
  return { newContext: async () => context, close: () => context.close() };
}


/**
 * The HTTPS round trip both TLS paths must pass: a Chromium and a Firefox
 * (two Chromiums without Firefox) that trust `ca` open `url`, each reaches
 * the node over `/tls/ws` on `port`; the first puts 3 MiB, the second gets
 * the same bytes; the link names `url`'s origin; Chromium finds the app
 * installable. Screenshot `shot`. Returns the pages.
 */
export async function httpsRoundTrip({ url, ca, port, shot, cleanups }) {
  const { putRandom, getAndHash } = peers(cleanups);
  const kinds = BROWSERS.includes('firefox') ? ['chromium', 'firefox'] : ['chromium', 'chromium'];
  const pages = [];
  for (const kind of kinds) {
    const app = await openApp(await trustingBrowser(kind, ca, cleanups), url);
    const s = await waitForStatus(app.page, (st) => st.node.state === 'connected');
    assert.match(s.node.addr ?? '', new RegExp(`/tcp/${port}/tls/ws/`), `${kind} reached the node over wss: ${JSON.stringify(s.node)}`);
    assert.deepEqual(app.errors, []);
    pages.push(app.page);
  }
  const put = await putRandom(pages[0], 3 << 20);
  assert.ok(put.link.startsWith(new URL(url).origin), `the link names ${url}: ${put.link}`);
  const got = await getAndHash(pages[1], put.link);
  assert.equal(got.digest, put.digest);
  await screenshot(pages[0], shot);

  // Installable: Chromium's own check.
  await pages[0].evaluate(() => navigator.serviceWorker.ready);
  const cdp = await pages[0].context().newCDPSession(pages[0]);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  return { pages, put };
}
