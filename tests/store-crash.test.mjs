// The IndexedDB chunk store survives a browser killed in the middle of a
// batch: after reopening, every entry verifies, usage matches what is
// there, and no batch is half visible. In Chromium and in Firefox (whose
// IndexedDB lives in the parent process, the one killed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startNode, tempDir } from './lib/node.mjs';
import { BROWSERS, FLAGS } from './lib/browser.mjs';
import { launchFirefoxProfile } from './lib/firefox.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function openProfile(kind, dir, url) {
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
  await page.waitForFunction(() => window.meganetApi !== undefined, null, { timeout: 30_000 });
  return { context, page };
}

for (const kind of BROWSERS) test(`killing ${kind} during a batch leaves the store consistent`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const profile = tempDir('meganet-profile-');
  const first = await openProfile(kind, profile, node.url);
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
  // SIGKILL every process of this profile: no unload, no clean close.
  execFileSync('pkill', ['-9', '-f', profile]);
  await first.context.close().catch(() => {});

  const second = await openProfile(kind, profile, node.url);
  cleanups.push(() => second.context.close());
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
