// What the browser benchmarks share: a result line, peers in fresh
// browser processes, and timed put, get and save in a page.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { backgroundTab, launch, openApp, waitForStatus } from '../tests/lib/browser.mjs';

export const MiB = 1 << 20;
export const emit = (name, value, unit) => console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));
/** Every browser `peer` launched, to close at the end. */
export const browsers = [];

const TICKS_PER_SEC = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * CPU time (user + system, ms) of every Chromium process running now, as
 * the kernel counts it (/proc/PID/stat). Sampled before and after a
 * transfer, the difference is what every Chromium taking part spent on it
 * (the measured transfers run between Chromium processes only). A process that exits
 * in between loses its share: renderers of the pages measured stay open.
 */
export function browserCpuMs() {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!/chrom|headless_shell/i.test(comm)) continue;
    // Fields after the name: state is the first; utime and stime the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SEC;
}

/** Starts recording the page's long tasks (Chromium's Long Tasks API). */
export function watchLongTasks(page) {
  return page.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push(e.duration);
    }).observe({ type: 'longtask' });
  });
}

/** The long tasks recorded since `watchLongTasks`, and clears them: {total, max} ms. */
export function takeLongTasks(page) {
  return page.evaluate(() => {
    const tasks = window.longTasks.splice(0);
    return { total: tasks.reduce((a, b) => a + b, 0), max: Math.max(0, ...tasks) };
  });
}

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
