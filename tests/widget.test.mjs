// The embeddable widget (issue 8): a site at http://localhost:<port> embeds
// <script src="http://127.0.0.1:<node>/widget.js">. A visitor joins from
// the card; only then a frame of the meganet origin starts a peer, which
// reaches the node; pause, resume, reload and leave work; other windows and
// malformed messages are refused and counted; one frame per page however
// often the widget is embedded; a browser that denies embedded sites
// storage is told why the widget cannot run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { devices } from 'playwright-core';
import { startNode } from './lib/node.mjs';
import { injectAxe } from './lib/a11y.mjs';
import { startHost } from './lib/host.mjs';
import { BROWSERS, ENGINES, backgroundTab, launch, launchChromium, launchChromiumProfile, openApp, screenshot, waitForStatus } from './lib/browser.mjs';
import { connectToContributors } from './lib/webrtc.mjs';

const GIB = 2 ** 30;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function setUp() {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const host = await startHost(node.url);
  cleanups.push(() => host.stop());
  return { node, host };
}

/** A page of a Chromium profile that lets embedded sites store data. */
async function chromiumPage(contextOptions) {
  const context = await launchChromiumProfile(contextOptions);
  cleanups.push(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

/** Waits until the element's (`id`, or the first) latest accepted status satisfies `predicate` (source run in the page). */
async function waitForWidget(page, predicate, { id, timeout = 30_000 } = {}) {
  const find = ([i, src]) => {
    const w = i ? document.getElementById(i) : document.querySelector('meganet-widget');
    return !!w?.status && new Function('s', `return (${src})(s)`)(w.status);
  };
  await page.waitForFunction(find, [id, predicate.toString()], { timeout, polling: 100 });
  return page.evaluate((i) => (i ? document.getElementById(i) : document.querySelector('meganet-widget')).status, id);
}

/** Text of `#part` inside the element's shadow root ('' when hidden). */
const shadowText = (page, part, id) => page.evaluate(([p, i]) => {
  const w = i ? document.getElementById(i) : document.querySelector('meganet-widget');
  const e = w.shadowRoot.getElementById(p);
  return e.hidden ? '' : e.textContent.trim();
}, [part, id]);

/** How many frames the element holds in its shadow root, per element. */
const framesPerElement = (page) => page.evaluate(() =>
  [...document.querySelectorAll('meganet-widget')].map((e) => e.shadowRoot.querySelectorAll('iframe').length));

const peerFrame = (page) => page.frames().find((f) => new URL(f.url()).pathname === '/widget.html');

/** The visitor confirms inside the peer frame: a real click (or tap) on its own button. */
async function confirmInFrame(page, { tap = false } = {}) {
  if (typeof page.clickInFrame === 'function') return page.clickInFrame('/widget.html', '#consent');
  await waitForWidget(page, (st) => st.state === 'asking');
  const frame = peerFrame(page);
  await frame.waitForSelector('#consent:not([hidden])');
  return tap ? frame.tap('#consent') : frame.click('#consent');
}

async function counters(page) {
  const element = await page.evaluate(() => document.querySelector('meganet-widget').debugCounters);
  const frame = await peerFrame(page).evaluate(() => ({ accepted: window.meganetWidgetFrame.accepted, rejected: window.meganetWidgetFrame.rejected }));
  return { element, frame };
}

/** axe-core on the card (host page) and inside the peer frame; fails on anything serious or critical. */
async function assertAccessible(page, where) {
  const run = async (target) => {
    await injectAxe(target);
    return target.evaluate(async () => {
      const context = document.querySelector('meganet-widget') ?? document;
      const result = await window.axe.run(context, { resultTypes: ['violations'], iframes: false });
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help}; at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
  };
  const violations = await run(page);
  const frame = peerFrame(page);
  if (frame) violations.push(...await run(frame));
  assert.deepEqual(violations, [], `axe on ${where}:\n${violations.join('\n')}`);
}

// A well-formed status, to forge.
const FORGED = {
  type: 'meganet:status', state: 'active', node: 'connected', peers: 99, contributedBytes: 5e9, quotaBytes: GIB,
  storing: 'Storing for others: yes', serving: '', persisted: true, rejected: 0, error: '', errorCode: '',
};

test('chromium: join, connect, refuse other windows and bad messages, pause, reload, second tab, leave', async () => {
  const { host } = await setUp();
  const { context, page, errors } = await chromiumPage();
  await page.goto(host.url);
  await page.waitForSelector('meganet-widget #join');
  assert.deepEqual(await framesPerElement(page), [0], 'no frame before the visitor joins');
  assert.match(await shadowText(page, 'invite'), /store encrypted pieces of files for others while this tab is idle/i);
  await assertAccessible(page, 'the consent card');
  await screenshot(page, 'widget-consent-chromium');

  // Join: the card opens the frame, which asks with a button of its own;
  // the host page cannot answer for the visitor, however it posts.
  await page.click('meganet-widget #join');
  await waitForWidget(page, (st) => st.state === 'asking');
  assert.match(await shadowText(page, 'status'), /^Confirm with the button in the meganet box below/);
  const asked = await counters(page);
  await page.evaluate(() => {
    const peer = document.querySelector('meganet-widget').shadowRoot.querySelector('iframe');
    const origin = new URL(peer.src).origin;
    for (const type of ['meganet:join', 'meganet:resume', 'meganet:join']) peer.contentWindow.postMessage({ type }, origin);
  });
  await peerFrame(page).waitForFunction((n) => window.meganetWidgetFrame.accepted === n + 3, asked.frame.accepted);
  assert.equal((await page.evaluate(() => document.querySelector('meganet-widget').status)).state, 'asking', 'a posted join starts nothing');
  assert.equal(await peerFrame(page).evaluate(() => localStorage.getItem('meganet.widget')), null, 'and saves nothing');
  await assertAccessible(page, 'the card asking');
  await screenshot(page, 'widget-asking-chromium');
  // The visitor's click in the frame: the peer starts on the meganet
  // origin and reaches the node.
  await confirmInFrame(page);
  let s = await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected' && st.peers >= 1);
  assert.equal(s.quotaBytes, GIB);
  await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.activeElement?.id === 'pause');
  assert.match(await shadowText(page, 'status'), /^Contributing: 0\.0 MB stored for others, \d+ peers? connected\.$/);
  assert.match(await shadowText(page, 'detail'), /^Storing for others: /);
  const frame = peerFrame(page);
  assert.ok(frame, 'the peer frame is loaded');
  assert.deepEqual(await frame.evaluate(() => JSON.parse(localStorage.getItem('meganet.widget'))), { enabled: true, quotaBytes: GIB });
  // The host page reads none of it.
  assert.equal(await page.evaluate(() => {
    const w = document.querySelector('meganet-widget').shadowRoot.querySelector('iframe').contentWindow;
    try { return String(w.localStorage); } catch (e) { return e.name; }
  }), 'SecurityError');
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), ['meganet-widget:joined']);
  await assertAccessible(page, 'the active card');
  await screenshot(page, 'widget-active-chromium');

  // Hostile scripts. A sibling frame of the host page (not the peer frame's
  // parent) orders leave and pause and forges a status; the host page sends
  // malformed commands and forges statuses; the peer frame (driven by the
  // test) sends a malformed status.
  const before = await counters(page);
  await page.evaluate((forged) => new Promise((resolve) => {
    const sibling = document.createElement('iframe');
    sibling.title = 'sibling';
    sibling.srcdoc = `<script>
      const peer = parent.document.querySelector('meganet-widget').shadowRoot.querySelector('iframe').contentWindow;
      peer.postMessage({ type: 'meganet:leave' }, '*');
      peer.postMessage({ type: 'meganet:pause' }, '*');
      parent.postMessage(${JSON.stringify(forged)}, '*');
    <\/script>`;
    sibling.onload = () => resolve();
    document.body.append(sibling);
  }), FORGED);
  const bad = await page.evaluate((forged) => {
    const peer = document.querySelector('meganet-widget').shadowRoot.querySelector('iframe');
    const origin = new URL(peer.src).origin;
    const messages = [
      { type: 'meganet:leave', now: true },
      { type: 'meganet:join', quotaBytes: -1 },
      { type: 'meganet:join', quotaBytes: 2 ** 60 },
      { type: 'meganet:join', quotaBytes: '1' },
      { type: 'meganet:selfdestruct' },
      { type: 'meganet:status' },
      'meganet:leave',
      null,
      ['meganet:leave'],
      new Map([['type', 'meganet:leave']]),
      {},
    ];
    for (const m of messages) peer.contentWindow.postMessage(m, origin);
    window.postMessage(forged, '*');
    window.postMessage({ ...forged, peers: 'lots' }, '*');
    return messages.length;
  }, FORGED);
  await frame.evaluate(() => parent.postMessage({ type: 'meganet:status', state: 'left' }, '*'));
  await page.waitForFunction(([f, e]) => {
    const w = document.querySelector('meganet-widget');
    return w.status.rejected >= f && w.debugCounters.rejected >= e;
  }, [before.frame.rejected + 2 + bad, before.element.rejected + 4]);
  const afterAttack = await counters(page);
  assert.equal(afterAttack.frame.rejected, before.frame.rejected + 2 + bad, 'the frame refused every command');
  assert.equal(afterAttack.frame.accepted, before.frame.accepted, 'and accepted none');
  assert.equal(afterAttack.element.rejected, before.element.rejected + 4, 'the element refused every forged status');
  s = await page.evaluate(() => document.querySelector('meganet-widget').status);
  assert.equal(s.state, 'active');
  assert.notEqual(s.peers, 99);
  assert.deepEqual(await framesPerElement(page), [1]);
  assert.deepEqual(await frame.evaluate(() => JSON.parse(localStorage.getItem('meganet.widget'))), { enabled: true, quotaBytes: GIB });
  await page.evaluate(() => document.querySelector('iframe[title=sibling]').remove());

  // Input on the host page reaches the frame as activity (the frame sees
  // no input of its own), at most every 15 s.
  await page.keyboard.press('Shift');
  await page.keyboard.press('Shift');
  await frame.waitForFunction((n) => window.meganetWidgetFrame.accepted === n + 1, afterAttack.frame.accepted);

  // Pause and resume; the choice is kept in the frame's storage.
  await page.click('meganet-widget #pause');
  await waitForWidget(page, (st) => st.state === 'paused');
  assert.match(await shadowText(page, 'status'), /^Paused: 0\.0 MB kept, nothing new stored or served\.$/);
  assert.equal(await shadowText(page, 'pause'), 'Resume');
  assert.equal(await frame.evaluate(() => JSON.parse(localStorage.getItem('meganet.widget')).enabled), false);
  await page.click('meganet-widget #pause');
  await confirmInFrame(page);
  await waitForWidget(page, (st) => st.state === 'active');

  // A reload picks the choice up without asking again.
  await page.reload();
  await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected');
  assert.deepEqual(await framesPerElement(page), [1]);

  // A second tab of the site waits: one peer per browser profile and site.
  const other = await context.newPage();
  await other.goto(host.url);
  await waitForWidget(other, (st) => st.state === 'standby');
  assert.equal(await shadowText(other, 'status'), 'Active in another tab of this site.');
  await other.close();

  // Leave: the frame forgets the opt-in and deletes what it stored, then goes.
  await page.click('meganet-widget #leave');
  await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.querySelector('iframe') === null);
  assert.match(await shadowText(page, 'left'), /You left\. What this browser stored for others is deleted\./);
  await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.activeElement?.id === 'join');
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  // Even told (wrongly) that the visitor joined, the reopened frame
  // remembers nothing: the card asks again.
  await page.evaluate(() => localStorage.setItem('meganet-widget:joined', '1'));
  await page.reload();
  await page.waitForFunction(() => {
    const w = document.querySelector('meganet-widget');
    return w.debugCounters.accepted > 0 && w.shadowRoot.querySelector('iframe') === null && !w.shadowRoot.getElementById('invite').hidden;
  });
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  assert.deepEqual(errors, [], 'no page errors');
});

test('chromium: a visitor who joins through the widget stores shards of an upload made elsewhere, once the tab is in the background', async () => {
  const { node, host } = await setUp();
  const { page } = await chromiumPage();
  // The visitor's tab (and the widget's frame in it) starts in use.
  await page.addInitScript(backgroundTab, 'visible');
  await page.goto(host.url);
  await page.click('meganet-widget #join');
  await confirmInFrame(page);
  await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected');
  // Someone else, in another browser, shares a file on the meganet site.
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const app = await openApp(browser, node.url);
  await waitForStatus(app.page, (st) => st.node.state === 'connected');
  await connectToContributors(app.page, 1);
  const share = (fill) => app.page.evaluate(async (f) => {
    let last;
    await window.meganet.put(new File([new Uint8Array(3 << 20).fill(f)], 'shared.bin'), { onProgress: (p) => { last = p; } });
    return last.peers;
  }, fill);
  // While the visitor is using the tab, its peer refuses new shards (the
  // policy: "paused: ..."); the node keeps the upload whole.
  const refused = await share(6);
  assert.deepEqual(Object.keys(refused), ['node'], `only the node took shards: ${JSON.stringify(refused)}`);
  assert.equal((await waitForWidget(page, (st) => st.state === 'active')).contributedBytes, 0);
  // The visitor switches tabs: the next upload's shards are taken.
  await page.evaluate(() => window.__setVisibility('hidden'));
  for (const frame of page.frames()) await frame.evaluate(() => window.__setVisibility && window.__setVisibility('hidden')).catch(() => {});
  await new Promise((r) => setTimeout(r, 500));
  await share(7);
  // The card reports every 2 s while shards arrive: wait for all of them.
  const s = await waitForWidget(page, (st) => st.contributedBytes >= 3 * 1024 * 1024);
  assert.ok(s.contributedBytes >= 3 << 20, `the widget's peer holds ${s.contributedBytes} bytes`);
  assert.match(await shadowText(page, 'status'), /^Contributing: [1-9][0-9.]* MB stored for others/);
});

test('chromium: the script twice and two elements make one frame', async () => {
  const { host } = await setUp();
  const { page, errors } = await chromiumPage();
  await page.goto(`${host.url}twice`);
  await page.waitForSelector('#second #join');
  assert.equal(await page.evaluate(() => document.querySelectorAll('script[src$="/widget.js"]').length), 2);
  await page.click('#second #join');
  await confirmInFrame(page);
  await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected', { id: 'first' });
  await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected', { id: 'second' });
  assert.deepEqual(await framesPerElement(page), [0, 1]);
  assert.equal(page.frames().filter((f) => new URL(f.url()).pathname === '/widget.html').length, 1);
  assert.equal(await shadowText(page, 'note', 'first'), 'Already active on this page.');
  assert.equal(await shadowText(page, 'note', 'second'), '');
  assert.equal(await shadowText(page, 'status', 'first'), await shadowText(page, 'status', 'second'));
  // Either card controls the one peer.
  await page.click('#first #pause');
  await waitForWidget(page, (st) => st.state === 'paused', { id: 'second' });
  await screenshot(page, 'widget-twice-chromium');
  assert.deepEqual(errors, [], 'no page errors');
});

test('chromium: <meganet-widget private> runs the visitor\'s peer in private mode', async () => {
  const { host } = await setUp();
  const { page, errors } = await chromiumPage();
  await page.goto(`${host.url}private`);
  await page.click('meganet-widget #join');
  await confirmInFrame(page);
  await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected');
  assert.equal(await peerFrame(page).evaluate(() => window.meganetWidgetFrame.paths), 'private');
  assert.match(peerFrame(page).url(), /\/widget\.html\?private=1$/);
  assert.deepEqual(errors, [], 'no page errors');
});

test('chromium: "Not now" puts the card away for the visit and loads nothing', async () => {
  const { host } = await setUp();
  const { page, errors } = await chromiumPage();
  await page.goto(host.url);
  await page.click('meganet-widget #later');
  await page.waitForFunction(() => document.querySelector('meganet-widget').hidden);
  assert.equal(await page.isVisible('meganet-widget'), false);
  await page.reload();
  await page.waitForFunction(() => customElements.get('meganet-widget') && document.querySelector('meganet-widget').hidden);
  assert.equal(page.frames().length, 1, 'no frame');
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
  assert.deepEqual(errors, [], 'no page errors');
});

test('chromium: where embedded sites may not store data, the card says why', async () => {
  const { host } = await setUp();
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(host.url);
  await page.click('meganet-widget #join');
  await waitForWidget(page, (st) => st.state === 'failed');
  assert.equal(await shadowText(page, 'status'),
    'meganet cannot run here: this browser does not let sites embedded in other sites store data (third-party cookies are blocked).');
  assert.equal(await shadowText(page, 'elsewhere'), 'Contribute from the meganet site instead');
  await assertAccessible(page, 'the card when storage is denied');
  await screenshot(page, 'widget-blocked-chromium');
  await page.click('meganet-widget #leave');
  await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.querySelector('iframe') === null);
  assert.deepEqual(errors, [], 'no page errors');
});

for (const device of ['Pixel 7', 'iPhone 13']) {
  test(`chromium: the card on a phone (${device}): no sideways scrolling, touch targets of 44 px`, async () => {
    const { host } = await setUp();
    const { defaultBrowserType, ...descriptor } = devices[device];
    const { page } = await chromiumPage(descriptor);
    const slug = device.toLowerCase().replace(/\s+/g, '');
    const layout = () => page.evaluate(() => {
      const root = document.querySelector('meganet-widget').shadowRoot;
      const small = [...root.querySelectorAll('button, iframe')]
        .filter((e) => e.getClientRects().length > 0)
        .map((e) => ({ id: e.id || e.tagName, box: e.getBoundingClientRect() }))
        .filter(({ box }) => box.width < 44 || box.height < 44)
        .map(({ id, box }) => `${id} ${Math.round(box.width)}x${Math.round(box.height)}`);
      return { scrollWidth: document.documentElement.scrollWidth, small };
    });
    await page.goto(host.url);
    await page.waitForSelector('meganet-widget #join');
    let l = await layout();
    assert.ok(l.scrollWidth <= descriptor.viewport.width, `consent: ${l.scrollWidth} px wide`);
    assert.deepEqual(l.small, [], 'consent: touch targets under 44 px');
    await screenshot(page, `widget-consent-${slug}`);
    await page.tap('meganet-widget #join');
    await confirmInFrame(page, { tap: true });
    await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected');
    l = await layout();
    assert.ok(l.scrollWidth <= descriptor.viewport.width, `active: ${l.scrollWidth} px wide`);
    assert.deepEqual(l.small, [], 'active: touch targets under 44 px');
    await screenshot(page, `widget-active-${slug}`);
    await screenshot(page, `widget-card-${slug}`, 'meganet-widget');
  });
}

for (const kind of ENGINES.filter((k) => k === 'firefox' || k === 'webkit')) {
  test(`${kind}: join, connect, pause and leave`, async () => {
    const { host } = await setUp();
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(host.url);
    await page.waitForSelector('meganet-widget >>> #join');
    await page.click('meganet-widget >>> #join');
    await confirmInFrame(page);
    await waitForWidget(page, (st) => st.state === 'active' && st.node === 'connected' && st.peers >= 1);
    assert.match(await shadowText(page, 'status'), /^Contributing: 0\.0 MB stored for others, \d+ peers? connected\.$/);
    await screenshot(page, `widget-active-${kind}`);
    await page.click('meganet-widget >>> #pause');
    await waitForWidget(page, (st) => st.state === 'paused');
    await page.click('meganet-widget >>> #leave');
    await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.querySelector('iframe') === null);
    assert.match(await shadowText(page, 'left'), /You left/);
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
    assert.deepEqual(errors, [], 'no page errors');
  });
}
