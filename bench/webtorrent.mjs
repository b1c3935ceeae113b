// The WebTorrent anchor, run by scripts/bench.sh inside a private network
// namespace beside bench/swarm.mjs: WebTorrent 3.0.21 (its browser build,
// its default store) seeding 64 MiB in one Chromium process and fetching
// it in another, signaled by a bittorrent-tracker WebSocket server in this
// process, as meganet's 64 MiB get runs between Chromium processes.
//   anchor.webtorrent.get.MBps        magnet added to every piece verified
//   anchor.webtorrent.first_piece_ms  magnet added to the first piece verified
// Prints one JSON line per result.
import http from 'node:http';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import Server from 'bittorrent-tracker/server';
import { ROOT } from '../tests/lib/node.mjs';
import { launchChromium } from '../tests/lib/browser.mjs';
import { MiB, emit } from './lib.mjs';

const SIZE = 64 * MiB;
const BUNDLE = path.join(ROOT, 'node_modules/webtorrent/dist/webtorrent.min.js');
const PAGE = `<!doctype html><meta charset="utf-8"><title>webtorrent</title>
<script type="module">import WebTorrent from '/webtorrent.min.js'; window.WebTorrent = WebTorrent;</script>`;

/** Serves the page and WebTorrent's browser bundle on a free loopback port. */
async function serve() {
  const bundle = await readFile(BUNDLE);
  const server = http.createServer((req, res) => {
    const js = req.url === '/webtorrent.min.js';
    res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? bundle : PAGE);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

/** A bittorrent-tracker WebSocket server on a free loopback port. */
async function tracker() {
  const t = new Server({ udp: false, http: false, ws: true, stats: false });
  await new Promise((resolve, reject) => {
    t.once('listening', resolve);
    t.once('error', reject);
    t.listen(0, '127.0.0.1');
  });
  return { t, url: `ws://127.0.0.1:${t.ws.address().port}` };
}

/** WebTorrent's page in a fresh Chromium process. */
async function page(browser, url) {
  const context = await browser.newContext();
  // Camera and microphone permission makes Chromium offer loopback ICE
  // candidates (docs: ENVIRONMENT.md).
  await context.grantPermissions(['camera', 'microphone'], { origin: new URL(url).origin });
  const p = await context.newPage();
  await p.goto(url);
  await p.waitForFunction(() => window.WebTorrent !== undefined, null, { timeout: 30_000 });
  return p;
}

const { server, url } = await serve();
const { t, url: announce } = await tracker();
const browsers = [await launchChromium(), await launchChromium()];
try {
  const [seeder, leecher] = [await page(browsers[0], url), await page(browsers[1], url)];
  const magnet = await seeder.evaluate(([n, tracker]) => new Promise((resolve, reject) => {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    // No STUN: loopback only, as meganet's peers here.
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, dht: false, lsd: false });
    client.on('error', (e) => reject(new Error(String(e))));
    client.seed(new File([data], 'bench.bin'), { announce: [tracker] }, (torrent) => resolve(torrent.magnetURI));
  }), [SIZE, announce]);
  const got = await leecher.evaluate(([m, tracker]) => new Promise((resolve, reject) => {
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, dht: false, lsd: false });
    client.on('error', (e) => reject(new Error(String(e))));
    const start = performance.now();
    let first = null;
    client.add(m, { announce: [tracker] }, (torrent) => {
      torrent.on('verified', () => { first ??= performance.now() - start; });
      torrent.on('done', () => resolve({ ms: performance.now() - start, first, size: torrent.length }));
    });
  }), [magnet, announce]);
  if (got.size !== SIZE) throw new Error(`WebTorrent got ${got.size} bytes of ${SIZE}`);
  emit('anchor.webtorrent.get.MBps', SIZE / 1e6 / (got.ms / 1000), 'MB/s');
  emit('anchor.webtorrent.first_piece_ms', got.first, 'ms');
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await new Promise((resolve) => t.close(resolve));
  await new Promise((resolve) => server.close(resolve));
}
