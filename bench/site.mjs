// A published site against the same folder over plain HTTP, run by
// scripts/bench.sh inside a private network namespace:
//   site.first_paint_ms       a warm peer (the app open and connected, a
//                             fresh browser context each run) opens the
//                             site's link: to the first contentful paint
//                             of its index in the site's frame
//   site.load_ms              the same, to the index's load event (four
//                             images of 512 KiB, 2 MiB in all)
//   site.http.first_paint_ms  the same folder from a second node's plain
//   site.http.load_ms         HTTP static server (`--www`), opened directly
// Medians of three runs, Chromium. Prints one JSON line per result.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { launch, openApp, waitForStatus } from '../tests/lib/browser.mjs';
import { runMeganet, startNode, tempDir } from '../tests/lib/node.mjs';
import { emit } from './lib.mjs';

const RUNS = 3;
const IMAGES = 4;

/** An uncompressed 24-bit BMP of about `bytes` bytes, random pixels. */
function bmp(bytes) {
  const side = Math.floor(Math.sqrt(bytes / 3) / 4) * 4;
  const pixels = side * side * 3;
  const header = Buffer.alloc(54);
  header.write('BM', 0);
  header.writeUInt32LE(54 + pixels, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(side, 18);
  header.writeInt32LE(side, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels, 34);
  return Buffer.concat([header, randomBytes(pixels)]);
}

function makeSite() {
  const dir = tempDir('meganet-bench-site-');
  mkdirSync(path.join(dir, 'img'));
  const images = [];
  for (let i = 0; i < IMAGES; i += 1) {
    writeFileSync(path.join(dir, `img/${i}.bmp`), bmp(512 * 1024));
    images.push(`<img src="img/${i}.bmp" width="128" height="128" alt="">`);
  }
  writeFileSync(path.join(dir, 'style.css'), 'body { font: 16px sans-serif; }\n');
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bench</title>'
    + `<link rel="stylesheet" href="style.css"><h1>A site of 2 MiB</h1>${images.join('')}`);
  return dir;
}

/** FCP and load of the document in `frame`, as absolute times (ms since the epoch). */
function paintAndLoad(frame) {
  return frame.evaluate(() => new Promise((resolve) => {
    const done = () => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation')[0];
      if (!paint || !nav || !nav.loadEventEnd) { setTimeout(done, 50); return; }
      resolve({ paint: performance.timeOrigin + paint.startTime, load: performance.timeOrigin + nav.loadEventEnd });
    };
    done();
  }));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const nodes = [];
const browser = await launch('chromium');
try {
  const dir = makeSite();
  const node = await startNode();
  nodes.push(node);
  const published = await runMeganet(['publish', dir, '--node', node.url], { timeoutMs: 300_000 });
  if (published.code !== 0) throw new Error(published.stderr);
  const link = published.stdout.trim().split('\n').pop();
  const plain = await startNode({ www: dir });
  nodes.push(plain);

  const site = { paint: [], load: [] };
  const http = { paint: [], load: [] };
  for (let run = 0; run < RUNS; run += 1) {
    const { page, context } = await openApp(browser, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    const opened = await page.evaluate((fragment) => {
      const at = performance.timeOrigin + performance.now();
      location.hash = fragment;
      return at;
    }, new URL(link).hash.slice(1));
    let frame;
    const deadline = Date.now() + 60_000;
    while (!(frame = page.frames().find((f) => f.url().includes('/meganet/site/')))) {
      if (Date.now() > deadline) throw new Error('the site did not open');
      await new Promise((r) => setTimeout(r, 20));
    }
    const times = await paintAndLoad(frame);
    site.paint.push(times.paint - opened);
    site.load.push(times.load - opened);
    await context.close();

    const direct = await browser.newContext();
    const tab = await direct.newPage();
    await tab.goto(new URL('/index.html', plain.url).href, { waitUntil: 'load' });
    const own = await paintAndLoad(tab.mainFrame());
    const start = await tab.evaluate(() => performance.timeOrigin);
    http.paint.push(own.paint - start);
    http.load.push(own.load - start);
    await direct.close();
  }
  emit('site.first_paint_ms', median(site.paint), 'ms');
  emit('site.load_ms', median(site.load), 'ms');
  emit('site.http.first_paint_ms', median(http.paint), 'ms');
  emit('site.http.load_ms', median(http.load), 'ms');
} finally {
  await browser.close();
  for (const n of nodes) await n.stop();
}
