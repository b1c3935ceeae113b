// Real headless Chromium processes (Debian's /usr/bin/chromium) via playwright-core.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './node.mjs';
import { launchFirefox } from './firefox.mjs';
import { launchWebKit } from './webkit.mjs';

/** The engines the suite drives (MEGANET_BROWSERS=webkit, or chromium,firefox, to narrow). */
export const ENGINES = (process.env.MEGANET_BROWSERS || 'chromium,firefox,webkit').split(',');

/**
 * The engines every cross-browser test runs in. WebKit has its own file
 * (tests/webkit.test.mjs): Debian's WebKitGTK has no WebRTC, which most
 * cross-browser tests are about.
 */
export const BROWSERS = ENGINES.filter((kind) => kind !== 'webkit');

/** Launches one process of `kind` ('chromium', 'firefox' or 'webkit'). */
export function launch(kind) {
  if (kind === 'webkit') return launchWebKit();
  return kind === 'firefox' ? launchFirefox() : launchChromium();
}

export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

export const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

/** Launches one Chromium process. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
}

/**
 * Launches Chromium with a fresh persistent profile (a Playwright
 * BrowserContext) allowing third-party cookies, as Chrome does by default
 * outside incognito windows; Playwright's own contexts are incognito-like,
 * and this Chromium blocks third-party cookies by default, which denies
 * embedded sites all storage.
 */
export function launchChromiumProfile(contextOptions = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'meganet-profile-'));
  mkdirSync(path.join(dir, 'Default'));
  writeFileSync(path.join(dir, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0 } }));
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    ...contextOptions,
  });
}

/**
 * Opens the app in a new context and waits until `window.meganet` exists.
 * `initScript` (a function, called with `initArg`) runs in the page before
 * any of its scripts.
 */
export async function openApp(browser, url, contextOptions = {}, { initScript, initArg } = {}) {
  const context = await browser.newContext(contextOptions);
  const origin = new URL(url).origin;
  await context.grantPermissions(['camera', 'microphone'], { origin }).catch(() => {});
  const page = await context.newPage();
  if (initScript) await page.addInitScript(initScript, initArg);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.meganet !== undefined, null, { timeout: 30_000 });
  return { context, page, errors };
}

/**
 * Waits until the peer's status satisfies `predicate`, polled from here:
 * the app's Content-Security-Policy forbids compiling code in the page.
 */
export async function waitForStatus(page, predicate, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const status = await page.evaluate(() => window.meganet?.status() ?? null);
    if (status && predicate(status)) return status;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${predicate}; last status: ${JSON.stringify(status)?.slice(0, 1500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Saves test-artifacts/<name>.png: the whole page, or only `selector` (Chromium). */
export async function screenshot(page, name, selector) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * An init script (openApp's `initScript`) that makes every document of the
 * page report itself hidden, as a background tab does, and lets the test
 * flip it with `window.__setVisibility('visible' | 'hidden')`. The
 * contribution policy takes new shards only in a hidden or idle tab.
 */
export function backgroundTab(initial = 'hidden') {
  let visibility = initial;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => visibility });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => visibility === 'hidden' });
  window.__setVisibility = (v) => { visibility = v; document.dispatchEvent(new Event('visibilitychange')); };
}

/**
 * What a phone user would trip on: how wide the page is (wider than the
 * screen scrolls sideways) and the visible touch targets under 44 px.
 */
export function phoneLayout(page) {
  return page.evaluate(() => {
    const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
    const small = [...document.querySelectorAll('button, a[href], input:not([type=file]), .drop')]
      .filter(visible)
      .map((e) => ({ id: e.id || e.textContent.trim(), box: e.getBoundingClientRect() }))
      .filter(({ box }) => box.width < 44 || box.height < 44)
      .map(({ id, box }) => `${id} ${Math.round(box.width)}x${Math.round(box.height)}`);
    return { scrollWidth: document.documentElement.scrollWidth, small };
  });
}

/**
 * Makes the page's peer serve the echo and sink probes: they pass the
 * contribution gate, so only a contributing peer answers them.
 */
export async function serveProbes(page) {
  const state = await page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 64 * 1024 * 1024 }));
  if (!state.enabled) throw new Error(`could not turn contributing on: ${JSON.stringify(state)}`);
}

/**
 * Seeks the fetch card's video to 5 s, plays a second, pauses; returns
 * its duration, where it stopped and its width.
 */
export function seekAndPlay(page) {
  return page.evaluate(async () => {
    const video = document.querySelector('#fetch-preview video');
    video.muted = true;
    if (video.readyState < 1) await new Promise((r) => video.addEventListener('loadedmetadata', r, { once: true }));
    const seeked = new Promise((r) => video.addEventListener('seeked', r, { once: true }));
    video.currentTime = 5;
    await seeked;
    await video.play();
    await new Promise((r) => setTimeout(r, 1000));
    video.pause();
    return { duration: video.duration, at: video.currentTime, width: video.videoWidth };
  });
}
