// The Contribute card (issue 8): the opt-in switch and the space offered are
// kept across reloads and handed to the peer; the live line follows the
// contribution policy as the browser's state changes.
//
// How the states are made in Chromium: visibility and battery through init
// scripts (DevTools has no battery emulation, and no visibility override
// that leaves the page running: Page.setWebLifecycleState 'frozen' stops
// its scripts); the connection through Network.emulateNetworkConditions,
// which updates navigator.connection.effectiveType (desktop Chromium does
// not expose navigator.connection.type, so `connectionType: 'cellular*'`
// alone changes nothing the page can see). Firefox has neither the Battery
// Status nor the Network Information API: the card says what it assumes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';
import { injectAxe } from './lib/a11y.mjs';
import { BROWSERS, launch, launchChromium, openApp, screenshot } from './lib/browser.mjs';
import { connectToContributors } from './lib/webrtc.mjs';

const GIB = 2 ** 30;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/**
 * Runs in the page before its scripts: a controllable visibility
 * (`__setVisibility`), a fake battery (`__setBattery`, Chromium only: where
 * the browser has no getBattery the page must see none), and a record of
 * every `peer.contribute` call (`__contributeCalls`), wrapping the peer's
 * own method where it has one.
 */
function stateHooks(withBattery) {
  let visibility = 'visible';
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => visibility });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => visibility === 'hidden' });
  window.__setVisibility = (v) => { visibility = v; document.dispatchEvent(new Event('visibilitychange')); };

  if (withBattery) {
    const battery = new EventTarget();
    Object.assign(battery, { charging: true, level: 1, chargingTime: 0, dischargingTime: Infinity });
    Navigator.prototype.getBattery = () => Promise.resolve(battery);
    window.__setBattery = ({ charging, level }) => {
      const changed = battery.charging !== charging;
      Object.assign(battery, { charging, level });
      battery.dispatchEvent(new Event('levelchange'));
      if (changed) battery.dispatchEvent(new Event('chargingchange'));
    };
  }

  window.__contributeCalls = [];
  let peer;
  Object.defineProperty(window, 'meganet', {
    configurable: true,
    get: () => peer,
    set: (p) => {
      const own = typeof p.contribute === 'function' ? p.contribute.bind(p) : null;
      p.contribute = async (settings) => {
        window.__contributeCalls.push(settings);
        return own ? own(settings) : { ...settings, persisted: false };
      };
      peer = p;
    },
  });
}

/** Waits until the card's status line matches `re`; returns the latest decision. */
async function waitForLine(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('contribute-storing').textContent),
    re.source, { timeout: 15_000 });
  return page.evaluate(() => window.meganetContribution.decision);
}

const reasonTexts = (page) => page.evaluate(() =>
  [...document.querySelectorAll('#contribute-reasons li')].map((li) => li.textContent));

/** axe-core on the Contribute card only; fails on anything serious or critical. */
async function assertCardAccessible(page, where) {
  await injectAxe(page);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run('#contribute', { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}; at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `axe on ${where}:\n${violations.join('\n')}`);
}

/** Waits until the decision the peer itself enforces (peer.decision()) has `accept` and `cap`. */
async function enforced(page, accept, cap) {
  await page.waitForFunction(([a, c]) => {
    const d = window.meganet.decision();
    return d && d.acceptNewShards === a && (c === null || d.bandwidthCapBytesPerSec === c);
  }, [accept, cap ?? null], { timeout: 15_000 });
}

test('chromium: the decision follows visibility, battery, connection and the quota; the choice survives a reload', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const { context, page, errors } = await openApp(browser, node.url, {}, { initScript: stateHooks, initArg: true });
  await waitForLine(page, /^Not contributing/);
  assert.deepEqual(await reasonTexts(page), ['not opted in: nothing is stored or served for others']);
  await assertCardAccessible(page, 'the card, not opted in');

  // Opt in by keyboard: the switch is a real, labelled checkbox.
  await page.focus('#contribute-on');
  await page.keyboard.press('Space');
  let d = await waitForLine(page, /^Storing for others: paused: tab is in use\.$/);
  assert.equal(d.acceptNewShards, false);
  await enforced(page, false, 2 ** 20);
  assert.equal(await page.textContent('#contribute-serving'), 'Serving up to 1 MiB/s. Repair: nodes rebuild lost pieces; this browser answers their audits.');
  // Headless Chromium refuses persistent storage without the permission.
  assert.match(await page.textContent('#contribute-persist'), /may clear contributed data under pressure .*so uploaders give this browser half the copies of a persistent one\./);
  assert.deepEqual(await page.evaluate(() => window.__contributeCalls.at(-1)), { enabled: true, quotaBytes: GIB });

  // The tab goes to the background: new data is welcome.
  await page.evaluate(() => window.__setVisibility('hidden'));
  d = await waitForLine(page, /^Storing for others: yes, up to 1 GiB\.$/);
  assert.equal(d.acceptNewShards, true);
  assert.equal(d.bandwidthCapBytesPerSec, 4 * 2 ** 20);
  await enforced(page, true, 4 * 2 ** 20);
  await screenshot(page, 'contribute-accepting-chromium', '#contribute');

  // Unplugged at 23 %: paused, serving slowed.
  await page.evaluate(() => window.__setBattery({ charging: false, level: 0.23 }));
  d = await waitForLine(page, /^Storing for others: paused: on battery \(23%\)\.$/);
  assert.equal(d.acceptNewShards, false);
  await enforced(page, false, 2 ** 20);
  assert.equal(await page.textContent('#contribute-serving'), 'Serving up to 1 MiB/s. Repair: nodes rebuild lost pieces; this browser answers their audits.');
  await screenshot(page, 'contribute-battery-chromium', '#contribute');
  await page.evaluate(() => window.__setBattery({ charging: true, level: 0.25 }));
  await waitForLine(page, /^Storing for others: yes/);

  // A 2g-class connection (DevTools network emulation): paused, trickle.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 2000, downloadThroughput: 30 * 1024 / 8, uploadThroughput: 30 * 1024 / 8, connectionType: 'cellular2g',
  });
  d = await waitForLine(page, /^Storing for others: paused: slow connection \(2g\)\.$/);
  assert.equal(d.bandwidthCapBytesPerSec, 32 * 1024);
  await enforced(page, false, 32 * 1024);
  assert.ok((await reasonTexts(page)).includes('paused: slow connection (2g)'));
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1, connectionType: 'none',
  });
  await waitForLine(page, /^Storing for others: yes/);
  await assertCardAccessible(page, 'the card, contributing');

  // No space offered: the slider's Home key sets 0.
  await page.focus('#contribute-quota');
  await page.keyboard.press('Home');
  await waitForLine(page, /^Storing for others: paused: no space offered \(the quota is 0\)\.$/);
  assert.equal(await page.textContent('#contribute-quota-value'), '0 B');
  assert.equal(await page.getAttribute('#contribute-quota', 'aria-valuetext'), '0 B');
  await page.keyboard.press('PageUp');
  await waitForLine(page, /^Storing for others: yes/);
  const offered = await page.evaluate(() => window.meganetContribution.settings.quotaBytes);
  assert.ok(offered > 0, 'PageUp offers some space again');
  assert.deepEqual(await page.evaluate(() => window.__contributeCalls.at(-1)), { enabled: true, quotaBytes: offered });

  // Reload: the choice comes back from localStorage and goes to the peer.
  await page.reload();
  await page.waitForFunction(() => window.meganetContribution?.decision);
  assert.deepEqual(await page.evaluate(() => JSON.parse(localStorage.getItem('meganet.contribute'))), { enabled: true, quotaBytes: offered });
  assert.equal(await page.isChecked('#contribute-on'), true);
  assert.equal(Number(await page.inputValue('#contribute-quota')) * 2 ** 20, offered);
  await page.waitForFunction(() => window.__contributeCalls.length > 0);
  assert.deepEqual(await page.evaluate(() => window.__contributeCalls[0]), { enabled: true, quotaBytes: offered });
  await waitForLine(page, /^Storing for others: paused: tab is in use\.$/);

  // Opting out stops everything.
  await page.click('#contribute-on');
  await waitForLine(page, /^Not contributing/);
  assert.equal(await page.isHidden('#contribute-persist'), true);
  assert.deepEqual(errors, [], 'no page errors');
});

test('chromium: where an upload\'s shards land follows the contributor\'s state: refused on battery, taken once it charges', async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const holderBrowser = await launchChromium();
  cleanups.push(() => holderBrowser.close());
  const holder = await openApp(holderBrowser, node.url, {}, { initScript: stateHooks, initArg: true });
  await holder.page.waitForFunction(() => window.meganet?.status().node.state === 'connected', null, { timeout: 30_000 });
  const holderId = await holder.page.evaluate(() => window.meganet.id);
  await holder.page.evaluate(() => window.__setVisibility('hidden'));
  await holder.page.click('#contribute-on');
  await waitForLine(holder.page, /^Storing for others: yes/);
  await holder.page.evaluate(() => window.__setBattery({ charging: false, level: 0.23 }));
  await waitForLine(holder.page, /^Storing for others: paused: on battery \(23%\)\.$/);
  await enforced(holder.page, false, 2 ** 20);

  const uploaderBrowser = await launchChromium();
  cleanups.push(() => uploaderBrowser.close());
  const uploader = await openApp(uploaderBrowser, node.url);
  const warnings = [];
  uploader.page.on('console', (m) => { if (/WARN/.test(m.text())) warnings.push(m.text()); });
  await uploader.page.waitForFunction(() => window.meganet?.status().node.state === 'connected', null, { timeout: 30_000 });
  await connectToContributors(uploader.page, 1);
  const putFrom = (page) => page.evaluate(async () => {
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    let last;
    const link = await window.meganet.put(new Blob([data]), { onProgress: (p) => { last = p; } });
    return { link, peers: last.peers };
  });
  const onBattery = await putFrom(uploader.page);
  assert.equal(onBattery.peers[holderId], undefined, `nothing stored on a holder on battery: ${JSON.stringify(onBattery.peers)}`);
  assert.ok(onBattery.peers.node > 0, 'the node holds the upload');
  assert.ok(warnings.some((w) => /did not take a shard/.test(w) && /on battery/.test(w)), warnings.join('\n'));
  assert.equal((await holder.page.evaluate(() => window.meganet.usage())).entries, 0, 'the holder stored nothing');

  await holder.page.evaluate(() => window.__setBattery({ charging: true, level: 0.25 }));
  await waitForLine(holder.page, /^Storing for others: yes/);
  await enforced(holder.page, true, null);
  const charging = await putFrom(uploader.page);
  assert.ok(charging.peers[holderId] > 0, `the charging holder took shards: ${JSON.stringify(charging.peers)}`);

  // Switching off is for good: the pieces go to the node, the space is freed.
  const held = (await holder.page.evaluate(() => window.meganet.usage())).entries;
  await holder.page.click('#contribute-on');
  await waitForLine(holder.page, /^Not contributing/);
  const said = await holder.page.waitForFunction(() => document.getElementById('contribute-handoff').textContent.match(/^Stopped: handed (\d+) pieces? \(.+\) to the network and freed the space\.$/)?.[1], null, { timeout: 30_000 });
  assert.equal(Number(await said.jsonValue()), held, 'every piece handed on');
  assert.equal((await holder.page.evaluate(() => window.meganet.usage())).entries, 0);
});

for (const kind of BROWSERS.filter((k) => k === 'firefox')) {
  test(`${kind}: without Battery and Network Information the card says what it assumes`, async () => {
    const node = await startNode();
    cleanups.push(() => node.stop());
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    const { page, errors } = await openApp(browser, node.url, {}, { initScript: stateHooks, initArg: false });
    await waitForLine(page, /^Not contributing/);
    assert.equal(await page.evaluate(() => typeof navigator.getBattery), 'undefined');
    assert.equal(await page.evaluate(() => 'connection' in navigator), false);
    await page.click('#contribute-on');
    await waitForLine(page, /^Storing for others: paused: tab is in use\.$/);
    let reasons = await reasonTexts(page);
    assert.ok(reasons.includes('battery status unknown: assuming plugged in'), reasons.join('\n'));
    assert.ok(reasons.includes('connection type unknown: assuming unmetered'), reasons.join('\n'));
    assert.match(await page.textContent('#contribute-persist'), /contributed data/);
    // Unknown battery and network do not hold contribution back.
    await page.evaluate(() => window.__setVisibility('hidden'));
    const d = await waitForLine(page, /^Storing for others: yes, up to /);
    assert.equal(d.acceptNewShards, true);
    reasons = await reasonTexts(page);
    assert.ok(reasons.includes('battery status unknown: assuming plugged in'));
    await assertCardAccessible(page, 'the card in Firefox');
    await screenshot(page, `contribute-${kind}`);
    assert.deepEqual(errors, [], 'no page errors');
  });
}

