// www/signals.js against stand-in browser APIs: absent APIs become null,
// present ones take the shape policy::Signals reads, and changes are
// reported. No browser needed; the real APIs are exercised by the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const { readSignals, onSignalsChange, startIdleTracking, stopIdleTracking } = await import('../www/signals.js');

function setGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function eventTarget(fields) {
  return Object.assign(new EventTarget(), fields);
}

test('a browser without the optional APIs yields nulls, never guesses', async () => {
  setGlobal('navigator', {});
  setGlobal('document', undefined);
  const s = await readSignals({ optedIn: true, quotaBytes: 2 ** 30 + 0.5, usedContributedBytes: -5 });
  assert.deepEqual(s, {
    optedIn: true,
    quotaBytes: 2 ** 30,
    usedContributedBytes: 0,
    visibility: 'visible',
    idle: null,
    battery: null,
    network: null,
    storageEstimate: null,
    persisted: null,
  });
  assert.equal((await readSignals()).optedIn, false);
});

test('refused or failing APIs also yield nulls', async () => {
  setGlobal('navigator', {
    getBattery: () => Promise.reject(new DOMException('not allowed', 'NotAllowedError')),
    storage: { estimate: () => Promise.reject(new Error('blocked')), persisted: () => Promise.resolve(undefined) },
  });
  const s = await readSignals({ optedIn: true });
  assert.equal(s.battery, null);
  assert.equal(s.storageEstimate, null);
  assert.equal(s.persisted, null);
});

test('present APIs take the shape the policy reads, and changes are reported', async () => {
  const battery = eventTarget({ charging: false, level: 0.23 });
  const connection = eventTarget({ saveData: true, type: 'cellular', effectiveType: '2g' });
  const document = eventTarget({ visibilityState: 'hidden' });
  setGlobal('navigator', {
    getBattery: () => Promise.resolve(battery),
    connection,
    storage: {
      estimate: () => Promise.resolve({ quota: 10_000_000.7, usage: 1234 }),
      persisted: () => Promise.resolve(true),
    },
  });
  setGlobal('document', document);
  const s = await readSignals({ optedIn: true, quotaBytes: 5e6, usedContributedBytes: 100 });
  assert.deepEqual(s, {
    optedIn: true,
    quotaBytes: 5e6,
    usedContributedBytes: 100,
    visibility: 'hidden',
    idle: null,
    battery: { charging: false, level: 0.23 },
    network: { saveData: true, meteredOrCellular: true, effectiveType: '2g' },
    storageEstimate: { quota: 10_000_000, usage: 1234 },
    persisted: true,
  });
  // A speed class the policy does not know is not known to be slow.
  connection.effectiveType = '5g';
  assert.equal((await readSignals()).network.effectiveType, '4g');

  const seen = [];
  const stop = onSignalsChange((what) => seen.push(what));
  onSignalsChange(() => { throw new Error('a broken listener'); });
  await sleep(0); // the battery listeners attach once getBattery resolves
  document.dispatchEvent(new Event('visibilitychange'));
  battery.dispatchEvent(new Event('levelchange'));
  battery.dispatchEvent(new Event('chargingchange'));
  connection.dispatchEvent(new Event('change'));
  assert.deepEqual(seen, ['visibility', 'battery', 'battery', 'network']);
  stop();
  connection.dispatchEvent(new Event('change'));
  assert.equal(seen.length, 4);
  assert.throws(() => onSignalsChange('not a function'), TypeError);
});

test('idleness: active on start, idle after the quiet time, active on input', async () => {
  const window = new EventTarget();
  setGlobal('window', window);
  setGlobal('document', eventTarget({ visibilityState: 'visible' }));
  const seen = [];
  const stop = onSignalsChange((what) => seen.push(what));
  // Wide margins: timers run late on a busy machine.
  startIdleTracking({ idleAfterMs: 300 });
  assert.equal((await readSignals()).idle, false);
  await sleep(100);
  window.dispatchEvent(new Event('pointermove')); // pushes idleness back
  await sleep(150);
  assert.equal((await readSignals()).idle, false);
  await sleep(400);
  assert.equal((await readSignals()).idle, true);
  window.dispatchEvent(new Event('keydown'));
  assert.equal((await readSignals()).idle, false);
  stopIdleTracking();
  assert.equal((await readSignals()).idle, null);
  assert.deepEqual(seen, ['idle', 'idle', 'idle', 'idle']);
  stop();
});
