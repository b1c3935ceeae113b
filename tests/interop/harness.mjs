// The js-libp2p peer (js-peer.js) as the interop test and the benchmark
// drive it: bundled with webpack, served from its own small HTTP server on
// a free loopback port, and started in a page of a Chromium.
import http from 'node:http';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import webpack from 'webpack';
import config, { OUTPUT, BUNDLE } from './webpack.config.mjs';
import { recordPeerConnections } from '../lib/webrtc.mjs';

/** Builds the js-libp2p bundle; fails on any webpack error or warning. */
export function bundleJsPeer() {
  const compiler = webpack(config);
  return new Promise((resolve, reject) => {
    compiler.run((err, stats) => {
      compiler.close((closeErr) => {
        if (err || closeErr) return reject(err || closeErr);
        const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
        if (errors.length || warnings.length) {
          return reject(new Error(`webpack: ${[...errors, ...warnings].map((e) => e.message).join('\n')}`));
        }
        resolve();
      });
    });
  });
}

/** Serves the js peer's page and bundle on a free loopback port: {url, close}. */
export async function serveJsPeer() {
  const files = {
    '/': { type: 'text/html', body: await readFile(new URL('./index.html', import.meta.url)) },
    [`/${BUNDLE}`]: { type: 'text/javascript', body: await readFile(path.join(OUTPUT, BUNDLE)) },
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' });
    res.end(file?.body ?? 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Opens the js peer's page (served at `url`) in `browser` and starts its
 * node against the meganet node's `bootstrap` document; returns
 * {context, page, id, addrs}. `debug`: a js-libp2p debug pattern;
 * `onPage(page)` runs before the page loads (to record its console).
 */
export async function openJsPeer(browser, url, bootstrap, { keepOnPingFailure = false, debug, onPage } = {}) {
  const context = await browser.newContext();
  // Camera and microphone permission makes Chromium offer loopback ICE
  // candidates (docs: ENVIRONMENT.md).
  await context.grantPermissions(['camera', 'microphone'], { origin: new URL(url).origin });
  const page = await context.newPage();
  await page.addInitScript(recordPeerConnections);
  if (debug) await page.addInitScript((pattern) => { localStorage.debug = pattern; }, debug);
  onPage?.(page);
  await page.goto(url);
  await page.waitForFunction(() => window.jsPeer !== undefined, null, { timeout: 30_000 });
  const { id, addrs } = await page.evaluate((b) => window.jsPeer.start(b), { bootstrap, keepOnPingFailure });
  return { context, page, id, addrs };
}
