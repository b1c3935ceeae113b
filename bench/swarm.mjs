// Put and get between browsers over WebRTC, run by scripts/bench.sh inside a
// private network namespace: a real node, 3 contributing Chromium
// processes, an uploader and a fetcher.
//   put.MBps              64 MiB put (node + contributors), plaintext MB/s
//   get.MBps              64 MiB get by a fresh Chromium peer
//   get.MBps.firefox      the same get by a Firefox peer
//   get.first_byte_ms     link handed to a running peer until the first
//                         plaintext bytes are ready
// Prints one JSON line per result.
import { startNode } from '../tests/lib/node.mjs';
import { backgroundTab, launch, openApp, waitForStatus } from '../tests/lib/browser.mjs';
import { connectToContributors } from '../tests/lib/webrtc.mjs';

const SIZE = 64 << 20;
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

const node = await startNode();
try {
  for (let i = 0; i < 3; i++) {
    const page = await peer('chromium', node, { hidden: true });
    await page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 1 << 30 }));
  }
  const uploader = await peer('chromium', node);
  await connectToContributors(uploader, 3);
  const put = await uploader.evaluate(async (n) => {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    const start = performance.now();
    const link = await window.meganet.put(new File([data], 'bench.bin'), {});
    return { link, ms: performance.now() - start };
  }, SIZE);
  emit('put.MBps', SIZE / 1e6 / (put.ms / 1000), 'MB/s');
  for (const kind of ['chromium', 'firefox']) {
    const fetcher = await peer(kind, node);
    const got = await timedGet(fetcher, put.link);
    if (got.size !== SIZE) throw new Error(`got ${got.size} bytes`);
    emit(kind === 'chromium' ? 'get.MBps' : 'get.MBps.firefox', SIZE / 1e6 / (got.ms / 1000), 'MB/s');
    if (kind === 'chromium') emit('get.first_byte_ms', got.first, 'ms');
  }
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await node.stop();
}
