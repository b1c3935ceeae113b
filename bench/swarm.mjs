// Put and get between browsers over WebRTC, run by scripts/bench.sh inside a
// private network namespace: a real node, 3 contributing Chromium
// processes, an uploader and a fetcher.
//   put.MBps              64 MiB put (node + contributors), plaintext MB/s
//   get.MBps              64 MiB get by a fresh Chromium peer
//   get.MBps.firefox      the same get by a Firefox peer
//   get.first_byte_ms     link handed to a running peer until the first
//                         plaintext bytes are ready
//   put.MBps.256MiB       256 MiB put, streamed from the page (never whole in memory)
//   get.MBps.256MiB       256 MiB get by a fresh Chromium peer
//   get.sw.MBps           the 64 MiB file saved through the service worker's
//                         gateway (shards through the tab, decrypted in the
//                         worker) by another fresh Chromium peer
// Prints one JSON line per result.
import { rmSync } from 'node:fs';
import { startNode } from '../tests/lib/node.mjs';
import { backgroundTab, launch, openApp, waitForStatus } from '../tests/lib/browser.mjs';
import { connectToContributors } from '../tests/lib/webrtc.mjs';

const MiB = 1 << 20;
const emit = (name, value, unit) => console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));
const browsers = [];

async function peer(kind, node, { hidden = false } = {}) {
  const browser = await launch(kind);
  browsers.push(browser);
  // Contributors are background tabs: the policy takes new shards only there.
  const app = await openApp(browser, node.url, {}, hidden ? { initScript: backgroundTab } : {});
  await waitForStatus(app.page, (s) => s.node.state === 'connected');
  return app.page;
}

async function timedGet(page, link) {
  return page.evaluate(async (l) => {
    const start = performance.now();
    let first = null;
    let size = 0;
    const file = await window.meganet.get(l, {});
    const reader = file.stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first === null) first = performance.now() - start;
      size += value.byteLength;
    }
    return { ms: performance.now() - start, first, size };
  }, link);
}

// Opens `link` in the page and reads the card's Save URL: the service
// worker's gateway fetches through this tab and decrypts in the worker.
async function timedSave(page, link) {
  await page.goto(link);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  const href = await page.getAttribute('#fetch-save', 'href');
  return page.evaluate(async (url) => {
    const start = performance.now();
    const reader = (await fetch(url)).body.getReader();
    let size = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
    }
    return { ms: performance.now() - start, size };
  }, href);
}

// Puts `size` random bytes from a stream made in the page, 1 MiB at a time.
function timedPut(page, size) {
  return page.evaluate(async (n) => {
    let left = n;
    const stream = new ReadableStream({
      pull(controller) {
        if (left === 0) { controller.close(); return; }
        const chunk = new Uint8Array(Math.min(left, 1 << 20));
        for (let i = 0; i < chunk.length; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));
        left -= chunk.length;
        controller.enqueue(chunk);
      },
    });
    const start = performance.now();
    const link = await window.meganet.put(stream, { name: 'bench.bin' });
    return { link, ms: performance.now() - start };
  }, size);
}

const node = await startNode();
try {
  for (let i = 0; i < 3; i++) {
    const page = await peer('chromium', node, { hidden: true });
    await page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 1 << 30 }));
  }
  const uploader = await peer('chromium', node);
  await connectToContributors(uploader, 3);
  for (const size of [64 * MiB, 256 * MiB]) {
    const suffix = size === 64 * MiB ? '' : '.256MiB';
    const put = await timedPut(uploader, size);
    emit(`put.MBps${suffix}`, size / 1e6 / (put.ms / 1000), 'MB/s');
    for (const kind of suffix ? ['chromium'] : ['chromium', 'firefox']) {
      const fetcher = await peer(kind, node);
      const got = await timedGet(fetcher, put.link);
      if (got.size !== size) throw new Error(`got ${got.size} bytes of ${size}`);
      emit(kind === 'chromium' ? `get.MBps${suffix}` : 'get.MBps.firefox', size / 1e6 / (got.ms / 1000), 'MB/s');
      if (kind === 'chromium' && !suffix) emit('get.first_byte_ms', got.first, 'ms');
    }
    if (!suffix) {
      // The same file saved through the service worker, by another fresh peer.
      const saved = await timedSave(await peer('chromium', node), put.link);
      if (saved.size !== size) throw new Error(`saved ${saved.size} bytes of ${size}`);
      emit('get.sw.MBps', size / 1e6 / (saved.ms / 1000), 'MB/s');
    }
  }
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await node.stop();
  // The node's copies of 320 MiB of files.
  rmSync(node.data, { recursive: true, force: true });
}
