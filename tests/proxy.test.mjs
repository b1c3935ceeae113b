// Behind a real reverse proxy (issue 21): Debian's nginx terminates TLS
// with a certificate from a certificate authority made at test time, which
// Chromium and Firefox are made to trust through their NSS databases (no
// "ignore certificate errors"). The node, started with --public-url, sends
// browsers the proxy's secure WebSocket address; over it a Chromium and a
// Firefox put and get, Chromium finds the app installable, and a page
// served over HTTPS by a node that offers only ws:// says what to fix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { getText, startNode, tempDir } from './lib/node.mjs';
import { openApp, waitForStatus } from './lib/browser.mjs';
import { certificates, freePort, httpsRoundTrip, trustingBrowser } from './lib/tls.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/**
 * nginx on 127.0.0.1:`port`, terminating TLS: WebSocket upgrades go to
 * the node's --ws listener, everything else to its --http one. The same
 * configuration as docs/DEPLOY.md, with test paths.
 */
async function nginx({ port, cert, key, http, ws, edit = (conf) => conf }) {
  const dir = tempDir('meganet-nginx-');
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${edit(readFileSync(new URL('../docs/nginx-meganet.conf', import.meta.url), 'utf8'))
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${http}`)
    .replaceAll('127.0.0.1:4001', `127.0.0.1:${ws}`)
    .replaceAll('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
    .replaceAll('/etc/ssl/meganet/fullchain.pem', cert)
    .replaceAll('/etc/ssl/meganet/privkey.pem', key)}
}`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  cleanups.push(() => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGQUIT'); }));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const listenPort = (status, pattern) => Number(status.listenAddrs.find((a) => pattern.test(a))?.match(/\/tcp\/(\d+)\//)?.[1]);

test('behind nginx terminating TLS: the node sends its --public-url as a wss address; Chromium and Firefox put and get over it, and the app is installable', async () => {
  const { ca, cert, key } = certificates();
  const port = await freePort();
  const publicUrl = `https://127.0.0.1:${port}`;
  const node = await startNode({ args: ['--public-url', publicUrl] });
  cleanups.push(() => node.stop());
  const status = await node.status();
  const http = Number(new URL(node.url).port);
  const ws = listenPort(status, /\/tcp\/\d+\/ws$/);
  await nginx({ port, cert, key, http, ws });

  // The bootstrap document, fetched through the proxy, names the proxy's
  // secure address first.
  const bootstrap = await getText(`${publicUrl}/bootstrap.json`, ca);
  assert.equal(JSON.parse(bootstrap).addrs[0], `/ip4/127.0.0.1/tcp/${port}/tls/ws/p2p/${node.peerId}`);

  await httpsRoundTrip({ url: `${publicUrl}/`, ca, port, shot: 'proxy-https', cleanups });
});

test('a page served over HTTPS by a node that offers only ws:// says what to fix', async () => {
  const { ca, cert, key } = certificates();
  const port = await freePort();
  const node = await startNode();
  cleanups.push(() => node.stop());
  const status = await node.status();
  await nginx({ port, cert, key, http: Number(new URL(node.url).port), ws: listenPort(status, /\/tcp\/\d+\/ws$/) });
  const app = await openApp(await trustingBrowser('chromium', ca, cleanups), `https://127.0.0.1:${port}/`);
  const s = await waitForStatus(app.page, (st) => /only ws:\/\/ addresses/.test(st.node.error ?? ''));
  assert.match(s.node.error, /--external-address \/dns4\/<host>\/tcp\/443\/wss/);
});

test('a proxy that drops the WebSocket upgrade is named in the node log, with what to pass', async () => {
  const { ca, cert, key } = certificates();
  const port = await freePort();
  const node = await startNode({ args: ['--public-url', `https://127.0.0.1:${port}`] });
  cleanups.push(() => node.stop());
  const status = await node.status();
  // The common mistake: one backend, and nginx's default of not passing
  // the hop-by-hop Upgrade and Connection headers.
  const naive = (conf) => conf
    .replace(/"~\*\^websocket\$" [^;]*;/, '')
    .replace(/\n\s*proxy_set_header (Upgrade|Connection) [^;]*;/g, '');
  await nginx({ port, cert, key, http: Number(new URL(node.url).port), ws: listenPort(status, /\/tcp\/\d+\/ws$/), edit: naive });
  const app = await openApp(await trustingBrowser('chromium', ca, cleanups), `https://127.0.0.1:${port}/`);
  const deadline = Date.now() + 20_000;
  while (!/without its Upgrade header/.test(node.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.match(node.logs(), /a WebSocket handshake reached the HTTP server without its Upgrade header: the proxy in front of the node drops it. Pass Upgrade and Connection/);
  const s = await app.page.evaluate(() => window.meganet?.status().node ?? null);
  assert.notEqual(s?.state, 'connected', 'the page cannot have reached the node through this proxy');
});
