// Issue 7: the web app for people. axe-core finds nothing serious or critical
// on the idle page, a finished upload (link, copy button, QR code) and a
// failed fetch; upload, copy and fetch work by keyboard alone; phone layouts
// have no sideways scrolling, touch targets of at least 44 px and a QR code
// that fits and reads back as the link; a browser that allows no service
// worker is told so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { assertAccessible } from './lib/a11y.mjs';
import { chromium, devices } from 'playwright-core';
import { startNode } from './lib/node.mjs';
import { BROWSERS, FLAGS, launch, launchChromium, openApp, phoneLayout, waitForStatus, screenshot } from './lib/browser.mjs';

const JSQR = createRequire(import.meta.url).resolve('jsqr/dist/jsQR.js');
const connected = (s) => s.node.state === 'connected';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** Reads the share card's QR code back (rasterized, then jsQR), as a phone camera would. */
async function readQr(page) {
  // Evaluated, not added as a <script>: the app's policy allows only its own scripts.
  if (!await page.evaluate(() => typeof window.jsQR === 'function')) await page.evaluate(readFileSync(JSQR, 'utf8'));
  return page.evaluate(async () => {
    const svg = document.querySelector('#put-qr svg');
    const img = new Image();
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = 400;
    canvas.height = 400;
    const g = canvas.getContext('2d');
    g.drawImage(img, 0, 0, 400, 400);
    const code = window.jsQR(g.getImageData(0, 0, 400, 400).data, 400, 400);
    return code ? code.data : null;
  });
}

async function sha256OfSaved(page) {
  return page.evaluate(async () => {
    const buf = await (await fetch(document.getElementById('fetch-save').href)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', buf);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  });
}

/** Presses Tab until the element with `id` has focus (at most 30 presses). */
async function tabTo(page, id) {
  for (let i = 0; i < 30; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement && document.activeElement.id) === id) return;
  }
  assert.fail(`Tab never reached #${id}`);
}

/**
 * Makes Playwright intercept file choosers from now on. Enabling it takes a
 * round trip of its own, which a key press sent at the same time can beat
 * (then the chooser opens natively and no event comes): enable it early.
 */
function interceptFileChooser(page) {
  page.on('filechooser', () => {});
}

/** The outline the page draws around the focused control (or its drop zone). */
function focusOutline(page, selector) {
  return page.$eval(selector, (e) => {
    const s = getComputedStyle(e);
    return s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth);
  });
}

for (const kind of BROWSERS) {
test(`${kind}: axe finds nothing serious on the idle page, a finished upload and a failed fetch`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page, errors } = await openApp(browser, node.url);
  await waitForStatus(page, connected);
  await page.waitForSelector('#node-state[data-state="connected"]');
  await assertAccessible(page, 'the idle page');

  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello axe') });
  await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  const link = await page.inputValue('#put-link');
  assert.equal(await page.getAttribute('#put-qr svg', 'role'), 'img');
  assert.match(await page.getAttribute('#put-qr svg', 'aria-label'), /QR code of the link to notes\.txt/);
  await page.waitForSelector('#uploads:not([hidden])');
  await assertAccessible(page, 'a finished upload');

  await page.goto(`${node.url}#1.abc.def`);
  await page.waitForSelector('#fetch-problem:not([hidden])');
  // Plain words and a way forward first, the precise error after.
  assert.match(await page.textContent('#fetch-name'), /This link is incomplete or damaged/);
  assert.match(await page.textContent('#fetch-error'), /Ask the sender to copy the whole link again/);
  assert.match(await page.textContent('#fetch-error-detail'), /malformed link/);
  assert.ok(await page.evaluate(() => document.getElementById('fetch-retry').hidden), 'no "Try again" for a damaged link');
  await assertAccessible(page, 'a failed fetch');
  await screenshot(page, `webapp-fetch-error-${kind}`);
  assert.ok(link, 'the upload gave a link');
  assert.deepEqual(errors, [], 'no page errors');
});
}

test('chromium: upload, copy and fetch with the keyboard alone', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const data = randomBytes((1 << 20) + 777);
  const digest = createHash('sha256').update(data).digest('hex');

  const { context, page, errors } = await openApp(browser, node.url);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(node.url).origin });
  await waitForStatus(page, connected);
  interceptFileChooser(page);

  // The file picker: Tab reaches it, the drop zone shows the focus, Enter
  // opens it (Space: the test without a service worker).
  await tabTo(page, 'file');
  assert.ok(await focusOutline(page, '#drop') >= 2, 'the drop zone shows keyboard focus');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
  await chooser.setFiles({ name: 'keyboard.bin', mimeType: 'application/octet-stream', buffer: data });
  await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  const link = await page.inputValue('#put-link');
  assert.match(link, /#2\./);

  // Copy: the button says so, a live region says so, and the clipboard has the link.
  await tabTo(page, 'put-copy');
  assert.ok(await focusOutline(page, '#put-copy') >= 2, 'the copy button shows keyboard focus');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('put-copy').textContent === 'Copied');
  assert.match(await page.textContent('#put-copy-status'), /copied/);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);

  // Another browser profile opens the link from the input.
  const fetcher = await openApp(browser, node.url);
  const fpage = fetcher.page;
  await waitForStatus(fpage, connected);
  await tabTo(fpage, 'open-link');
  assert.ok(await focusOutline(fpage, '#open-link') >= 2, 'the link input shows keyboard focus');
  // Not a link at all: an inline error, and nothing is fetched.
  await fpage.keyboard.type('my holiday pictures');
  await fpage.keyboard.press('Enter');
  await fpage.waitForSelector('#open-error:not([hidden])');
  assert.match(await fpage.textContent('#open-error'), /not a meganet link/);
  assert.equal(await fpage.getAttribute('#open-link', 'aria-invalid'), 'true');
  assert.equal(await fpage.evaluate(() => location.hash), '');
  // A broken link: the peer's verdict appears inline.
  await fpage.keyboard.press('Control+A');
  await fpage.keyboard.type(`${node.url}#1.abc.def`);
  assert.equal(await fpage.isHidden('#open-error'), true, 'typing clears the error');
  await fpage.keyboard.press('Enter');
  await fpage.waitForFunction(() => /could not be opened: malformed link/.test(document.getElementById('open-error').textContent));
  // The real link: fetched, focus moves to Save, the bytes are the uploaded bytes.
  await fpage.keyboard.press('Control+A');
  await fpage.keyboard.type(link);
  await fpage.keyboard.press('Enter');
  await fpage.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  await fpage.waitForFunction(() => document.activeElement.id === 'fetch-save');
  assert.equal(await fpage.isHidden('#open-error'), true);
  assert.match(await fpage.textContent('#fetch-name'), /keyboard\.bin · 1\.0 MB/);
  assert.equal(await sha256OfSaved(fpage), digest, 'the fetched bytes are the uploaded bytes');
  await screenshot(fpage, 'webapp-keyboard-fetched');
  assert.deepEqual([...errors, ...fetcher.errors], [], 'no page errors');
});

for (const device of ['Pixel 7', 'iPhone 13']) {
test(`chromium: phone layout (${device}): no sideways scrolling, touch targets of 44 px, the QR code fits`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const { defaultBrowserType, ...descriptor } = devices[device];
  const { page } = await openApp(browser, node.url, descriptor);
  const slug = device.toLowerCase().replace(/\s+/g, '');
  const width = descriptor.viewport.width;
  const layout = () => phoneLayout(page);

  await waitForStatus(page, connected);
  await page.waitForSelector('#node-state[data-state="connected"]');
  let l = await layout();
  assert.ok(l.scrollWidth <= width, `idle: ${l.scrollWidth} px wide on a ${width} px screen`);
  assert.deepEqual(l.small, [], 'idle: touch targets under 44 px');
  await screenshot(page, `webapp-idle-${slug}`);

  await page.setInputFiles('#file', { name: 'a rather long file name for a phone screen.pdf', mimeType: 'application/pdf', buffer: randomBytes(200_000) });
  await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  l = await layout();
  assert.ok(l.scrollWidth <= width, `shared: ${l.scrollWidth} px wide on a ${width} px screen`);
  assert.deepEqual(l.small, [], 'shared: touch targets under 44 px');
  const fits = await page.evaluate(() => {
    const qr = document.querySelector('#put-qr svg').getBoundingClientRect();
    const card = document.getElementById('put-result').getBoundingClientRect();
    return { qr: qr.width, left: qr.left >= card.left, right: qr.right <= card.right };
  });
  assert.ok(fits.qr >= 150 && fits.left && fits.right, `the QR code fits its card: ${JSON.stringify(fits)}`);
  assert.equal(await readQr(page), await page.inputValue('#put-link'), 'the QR code reads back as the link');
  await screenshot(page, `webapp-shared-${slug}`);
  await screenshot(page, `webapp-shared-card-${slug}`, '#put');
});
}

test('chromium: a page opened over plain HTTP by a name says to open it over HTTPS, and still connects', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  // A name other than localhost: not a secure context.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: [...FLAGS, '--host-resolver-rules=MAP meganet.test 127.0.0.1'],
  });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://meganet.test:${new URL(node.url).port}/`);
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 30_000 });
  assert.match(await page.textContent('#notice'), /opened over plain HTTP.*open it over HTTPS.*--tls-cert/);
  await waitForStatus(page, connected);
  assert.deepEqual(errors, []);
  await screenshot(page, 'webapp-plain-http', '#notice');
});

test('chromium: without a service worker the page says so, and sharing still works', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const context = await browser.newContext();
  await context.addInitScript(() => { delete Navigator.prototype.serviceWorker; });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  interceptFileChooser(page);
  await page.goto(node.url);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 30_000 });
  assert.match(await page.textContent('#notice'), /does not allow offline use here.*Uploads and links still work/);
  assert.equal(await page.evaluate(() => 'serviceWorker' in navigator), false);
  await waitForStatus(page, connected);
  // Space opens the file picker as well as Enter.
  await tabTo(page, 'file');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles({ name: 'b.txt', mimeType: 'text/plain', buffer: Buffer.from('no worker') });
  await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
  await assertAccessible(page, 'the page without a service worker');
  await screenshot(page, 'webapp-no-service-worker');
  assert.deepEqual(errors, [], 'no page errors');
});
