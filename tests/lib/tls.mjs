// TLS for tests: a throwaway certificate authority made at test time,
// certificates it signs, and Chromium and Firefox made to trust it through
// their NSS databases (never "ignore certificate errors").
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { tempDir } from './node.mjs';
import { FLAGS } from './browser.mjs';
import { launchFirefox } from './firefox.mjs';

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

