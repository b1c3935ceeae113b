// Issue 20, headers and privacy: every response of the node carries a
// Content-Security-Policy that allows exactly what the app needs (its own
// scripts and wasm, blob previews, WebSocket to nodes), nosniff and
// no-referrer; no page may be framed but the widget's frame, which the
// sites --widget-frame-ancestors names may embed. The app runs a put and a
// get under that policy with no violation, in every engine, and shows no
// address. /status.json counts peers and names none unless asked to.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, runMeganet } from './lib/node.mjs';
import { startHost } from './lib/host.mjs';
import { BROWSERS, launch, launchChromium, openApp, waitForStatus } from './lib/browser.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function start(args = []) {
  const node = await startNode({ args });
  cleanups.push(() => node.stop());
  return node;
}

/** Records every CSP violation of the page on `window.__violations`. */
function recordViolations() {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
  });
}

test('every response carries the policy, nosniff and no-referrer; only the widget frame may be framed', async () => {
  const node = await start(['--widget-frame-ancestors', 'https://blog.example https://*.shop.example:8443']);
  for (const path of ['/', '/index.html', '/app.js', '/meganet_bg.wasm', '/sw.js', '/status.json', '/bootstrap.json', '/no/such/page', '/widget.html']) {
    const res = await fetch(new URL(path, node.url));
    assert.equal(res.status, 200, path);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /^default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; /, path);
    assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/, path);
    const ancestors = path === '/widget.html' ? 'https://blog.example https://\\*.shop.example:8443' : "'none'";
    assert.match(csp, new RegExp(`; frame-ancestors ${ancestors}$`), path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
    await res.arrayBuffer();
  }
  const widget = await fetch(new URL('/widget.html', (await start()).url));
  assert.match(widget.headers.get('content-security-policy'), /; frame-ancestors \*$/, 'any site by default');
});

test('the sites\' origin serves only the bridge, its worker and the wasm module; only the app may frame the bridge', async () => {
  const node = await start();
  const app = new URL(node.url);
  for (const path of ['/meganet/bridge.html', '/bridge.js', '/site-sw.js', '/meganet_bg.wasm']) {
    const res = await fetch(new URL(path, node.sites));
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-security-policy'),
      `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors http://127.0.0.1:${app.port} http://localhost:${app.port}`, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    await res.arrayBuffer();
  }
  for (const path of ['/', '/index.html', '/app.js', '/status.json', '/meganet/site/abc/index.html']) {
    const res = await fetch(new URL(path, node.sites));
    assert.equal(res.status, 404, path);
    assert.match(await res.text(), /Open a site from its meganet link/, path);
  }
  const bootstrap = await (await fetch(new URL('/bootstrap.json', node.url))).json();
  assert.equal(bootstrap.sitesPort, Number(new URL(node.sites).port));
  const csp = (await fetch(node.url)).headers.get('content-security-policy');
  assert.match(csp, new RegExp(`frame-src 'self' blob: http://\\*:${bootstrap.sitesPort} https://\\*:${bootstrap.sitesPort};`));
});

test('a --widget-frame-ancestors value that could break the header is refused at start, naming it', async () => {
  for (const bad of ['https://a.example; script-src *', 'a.example', "'none' https://a.example"]) {
    const run = await runMeganet(['node', '--widget-frame-ancestors', bad]);
    assert.notEqual(run.code, 0, bad);
    assert.match(run.stderr, /widget-frame-ancestors/, run.stderr);
  }
});

for (const kind of BROWSERS) {
  test(`${kind}: the app puts and gets a file under its policy with no violation`, async () => {
    const node = await start();
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page, errors } = await openApp(browser, node.url, {}, { initScript: recordViolations });
    await waitForStatus(page, (s) => s.node.state === 'connected');
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    await page.setInputFiles('#file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#put-result[data-state=stored]', { timeout: 60_000 });
    const link = await page.inputValue('#put-link');
    await page.goto(link);
    await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
    await page.waitForSelector('#fetch-preview img', { timeout: 30_000 });
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(errors, []);
    // Connections are named by peer and kind, never by address.
    const card = await page.evaluate(() => document.getElementById('connections').textContent);
    assert.match(card, /your node/);
    assert.doesNotMatch(card, /\d+\.\d+\.\d+\.\d+|\/ip[46]\/|\/dns/, card);
    // The node publishes how many peers it has, not who or where they are.
    const id = await page.evaluate(() => window.meganet.id);
    const text = await (await fetch(new URL('/status.json', node.url))).text();
    const status = JSON.parse(text);
    assert.ok(status.peerCount >= 1, text);
    assert.deepEqual(status.peers, []);
    assert.ok(!text.includes(id), 'the browser is not named');
  });
}

test('chromium: a site that frames the app gets an error page, not the app', async () => {
  const node = await start();
  const host = await startHost(node.url);
  cleanups.push(() => host.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const refused = [];
  page.on('console', (m) => { if (/frame-ancestors/.test(m.text())) refused.push(m.text()); });
  await page.goto(new URL('/framed', host.url).href);
  const frame = await (await page.waitForSelector('#app')).contentFrame();
  await frame.waitForLoadState();
  await page.waitForFunction(() => true);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(frame.url(), 'chrome-error://chromewebdata/', 'the framed app was not loaded');
  assert.ok(refused.some((m) => /frame-ancestors 'none'/.test(m)), refused.join('\n'));
});
