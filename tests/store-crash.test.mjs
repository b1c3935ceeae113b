// The IndexedDB chunk store survives a browser killed in the middle of a
// batch: after reopening, every entry verifies, usage matches what is
// there, and no batch is half visible. In Chromium, in Firefox (whose
// IndexedDB lives in the parent process, the one killed) and in WebKit
// (a WebKitGTK page with a persistent profile: IndexedDB lives in its
// network process, killed with the rest).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startNode, tempDir } from './lib/node.mjs';
import { ENGINES, FLAGS } from './lib/browser.mjs';
import { launchFirefoxProfile } from './lib/firefox.mjs';
import { launchWebKitProfile } from './lib/webkit-persistent.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/**
 * Opens the app in a `kind` browser with its profile in `dir`: `kill()`
 * SIGKILLs every process of that browser (no unload, no clean close),
 * `close()` quits it.
 */
async function openProfile(kind, dir, url) {
  let opened;
  if (kind === 'webkit') {
    opened = await launchWebKitProfile(dir, url);
  } else {
    let context;
    let page;
    if (kind === 'firefox') {
      ({ context, page } = await launchFirefoxProfile(dir));
    } else {
      context = await chromium.launchPersistentContext(dir, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: FLAGS,
      });
      page = context.pages()[0] || await context.newPage();
    }
    await page.goto(url);
    opened = {
      page,
      kill: async () => {
        execFileSync('pkill', ['-9', '-f', dir]);
        await context.close().catch(() => {});
      },
      close: () => context.close(),
    };
  }
  await opened.page.waitForFunction(() => window.meganetApi !== undefined, null, { timeout: 30_000 });
  return opened;
}

for (const kind of ENGINES) test(`killing ${kind} during a batch leaves the store consistent`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const profile = tempDir('meganet-profile-');
  const first = await openProfile(kind, profile, node.url);
  cleanups.push(() => first.close());
  await first.page.evaluate(async () => {
    const store = await window.meganetApi.LocalStore.open('crash-test', 8e9);
    window.batches = 0;
    (async () => {
      for (;;) {
        const blocks = [];
        for (let i = 0; i < 8; i++) {
          const b = new Uint8Array(1 << 20);
          crypto.getRandomValues(b.subarray(0, 65536));
          blocks.push(b);
        }
        await store.putBatch(blocks);
        window.batches += 1;
      }
    })();
  });
  await first.page.waitForFunction(() => window.batches >= 3, null, { timeout: 60_000 });
  await first.kill();

  const second = await openProfile(kind, profile, node.url);
  cleanups.push(() => second.close());
  const result = await second.page.evaluate(async () => {
    const store = await window.meganetApi.LocalStore.open('crash-test', 8e9);
    return { check: await store.check(), usage: store.usage() };
  });
  assert.equal(result.check.corrupt, 0, 'no corrupt entry');
  assert.ok(result.check.entries >= 24, `the committed batches are there: ${result.check.entries}`);
  assert.equal(result.check.entries % 8, 0, `whole batches only: ${result.check.entries}`);
  assert.equal(result.check.bytes, result.check.entries * (1 << 20));
  assert.equal(result.usage.own, result.check.bytes, 'usage matches the stored bytes');
  assert.equal(result.usage.entries, result.check.entries);
});
