// What the browser benchmarks share: a result line, peers in fresh
// browser processes, and timed put, get and save in a page.
import { backgroundTab, launch, openApp, waitForStatus } from '../tests/lib/browser.mjs';

export const MiB = 1 << 20;
export const emit = (name, value, unit) => console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));
/** Every browser `peer` launched, to close at the end. */
export const browsers = [];

/** A page of `node`'s web app in a fresh `kind` browser, connected. */
export async function peer(kind, node, { hidden = false } = {}) {
  const browser = await launch(kind);
  browsers.push(browser);
  // Contributors are background tabs: the policy takes new shards only there.
  const app = await openApp(browser, node.url, {}, hidden ? { initScript: backgroundTab } : {});
  await waitForStatus(app.page, (s) => s.node.state === 'connected');
  return app.page;
}

/** Gets `link` through `window.meganet`, reading every byte. */
export async function timedGet(page, link) {
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
export async function timedSave(page, link) {
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
export function timedPut(page, size, { linkFirst = false } = {}) {
  return page.evaluate(async ([n, linkFirst]) => {
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
    let linkMs = null;
    const onProgress = (p) => { if (p.link && linkMs === null) linkMs = performance.now() - start; };
    const link = await window.meganet.put(stream, { name: 'bench.bin', linkFirst, onProgress });
    return { link, ms: performance.now() - start, linkMs };
  }, [size, linkFirst]);
}
