// Gathers what the contribution policy (crate/src/policy.rs) looks at:
// visibility, idleness, battery, connection, storage. Decides nothing: the
// object readSignals() returns goes to the wasm `decideContribution`.
//
// Every API is feature-detected, never inferred from the user agent. An API
// the browser lacks (Battery Status and Network Information in Firefox and
// Safari) or refuses (a permissions policy in an iframe) becomes `null`, and
// the policy says what it assumed. Storage has no change events: read it
// again when deciding.

/** No pointer or keyboard input for this long makes the page idle (policy::IDLE_AFTER_MS). */
export const IDLE_AFTER_MS = 60_000;
const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'];
const EFFECTIVE_TYPES = new Set(['slow-2g', '2g', '3g', '4g']);
const MAX_LISTENERS = 64; // a bound, not a quota

const nav = () => globalThis.navigator;
const doc = () => globalThis.document;

// --- idleness -------------------------------------------------------------

let idle = null; // unknown until tracking starts
let idleAfterMs = IDLE_AFTER_MS;
let lastInput = 0;
let idleTimer = null;
let trackedWindow = null;

function now() {
  return globalThis.performance?.now?.() ?? Date.now();
}

function setIdle(value) {
  if (idle === value) return;
  idle = value;
  notify('idle');
}

// Cheap on purpose (pointermove fires often): the timer, not the input,
// works out when the page went idle.
function onInput() {
  lastInput = now();
  if (idle !== false) {
    setIdle(false);
    armIdleTimer(idleAfterMs);
  }
}

function armIdleTimer(delay) {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    const quiet = now() - lastInput;
    if (quiet >= idleAfterMs) setIdle(true);
    else armIdleTimer(idleAfterMs - quiet);
  }, delay);
}

// Bringing the tab to the front is the user arriving, as good as input.
function onVisibilityForIdle() {
  if (doc()?.visibilityState === 'visible') onInput();
}

/**
 * Starts tracking input so `idle` becomes known: false now, true after
 * `idleAfterMs` without pointer or keyboard input. Idempotent. Without a
 * window (a worker), idleness stays unknown (`null`).
 */
export function startIdleTracking({ idleAfterMs: after = IDLE_AFTER_MS } = {}) {
  const win = globalThis.window;
  if (trackedWindow || typeof win?.addEventListener !== 'function') return;
  trackedWindow = win;
  idleAfterMs = after;
  for (const type of INPUT_EVENTS) win.addEventListener(type, onInput, { passive: true, capture: true });
  doc()?.addEventListener?.('visibilitychange', onVisibilityForIdle);
  onInput();
}

/**
 * Counts as input: activity the page learned of some other way (the
 * widget's frame hears of input on its host page). Only while tracking.
 */
export function noteActivity() {
  if (trackedWindow) onInput();
}

/** Stops tracking; idleness becomes unknown again. */
export function stopIdleTracking() {
  if (!trackedWindow) return;
  for (const type of INPUT_EVENTS) trackedWindow.removeEventListener(type, onInput, { capture: true });
  doc()?.removeEventListener?.('visibilitychange', onVisibilityForIdle);
  trackedWindow = null;
  clearTimeout(idleTimer);
  idleTimer = null;
  setIdle(null);
}

// --- reading --------------------------------------------------------------

// A byte count as the policy takes it: a non-negative safe integer.
function byteCount(n) {
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), Number.MAX_SAFE_INTEGER) : 0;
}

// Asked for once per navigator: the manager is live, and a refusal (a
// permissions policy) lasts as long as the page.
let batteryFor = null;
let batteryManager = null;

function getBattery() {
  const n = nav();
  if (typeof n?.getBattery !== 'function') return Promise.resolve(null);
  if (batteryFor !== n) {
    batteryFor = n;
    batteryManager = n.getBattery().catch(() => null);
  }
  return batteryManager;
}

async function readBattery() {
  const b = await getBattery();
  if (!b || !Number.isFinite(b.level)) return null;
  return { charging: b.charging === true, level: Math.min(Math.max(b.level, 0), 1) };
}

function readNetwork() {
  const c = nav()?.connection;
  if (!c) return null;
  return {
    saveData: c.saveData === true,
    // `metered` left the spec but some browsers had it; `type` is mostly
    // Android-only. Absent means not known to be metered.
    meteredOrCellular: c.type === 'cellular' || c.metered === true,
    // A connection without a (known) speed class is not known to be slow.
    effectiveType: EFFECTIVE_TYPES.has(c.effectiveType) ? c.effectiveType : '4g',
  };
}

async function readEstimate() {
  try {
    const e = await nav()?.storage?.estimate?.();
    if (!e || !Number.isFinite(e.quota) || !Number.isFinite(e.usage ?? 0)) return null;
    return { quota: byteCount(e.quota), usage: byteCount(e.usage ?? 0) };
  } catch {
    return null; // e.g. storage blocked in a sandboxed frame
  }
}

async function readPersisted() {
  try {
    const persisted = await nav()?.storage?.persisted?.();
    return typeof persisted === 'boolean' ? persisted : null;
  } catch {
    return null;
  }
}

/**
 * Everything the policy looks at, shaped like `policy::Signals` (camelCase,
 * `null` for unknown). The caller supplies the user's choices and what the
 * store holds for others.
 */
export async function readSignals({ optedIn, quotaBytes, usedContributedBytes } = {}) {
  const [battery, storageEstimate, persisted] = await Promise.all([readBattery(), readEstimate(), readPersisted()]);
  return {
    optedIn: optedIn === true,
    quotaBytes: byteCount(quotaBytes),
    usedContributedBytes: byteCount(usedContributedBytes),
    // Without a document (a worker) nothing is shown, but not knowing is
    // treated as visible: the cautious side.
    visibility: doc()?.visibilityState === 'hidden' ? 'hidden' : 'visible',
    idle,
    battery,
    network: readNetwork(),
    storageEstimate,
    persisted,
  };
}

// --- changes --------------------------------------------------------------

const listeners = new Set();
let watchedBattery = null;
let watchedConnection = null;
const onVisibility = () => notify('visibility');
const onBattery = () => notify('battery');
const onConnection = () => notify('network');

function notify(what) {
  for (const callback of [...listeners]) {
    try {
      callback(what);
    } catch (e) {
      console.warn('signals listener failed:', e); // the others still run
    }
  }
}

function watch() {
  doc()?.addEventListener?.('visibilitychange', onVisibility);
  watchedConnection = nav()?.connection ?? null;
  watchedConnection?.addEventListener?.('change', onConnection);
  getBattery().then((b) => {
    if (!b || listeners.size === 0 || watchedBattery) return;
    watchedBattery = b;
    b.addEventListener('chargingchange', onBattery);
    b.addEventListener('levelchange', onBattery);
  });
}

function unwatch() {
  doc()?.removeEventListener?.('visibilitychange', onVisibility);
  watchedConnection?.removeEventListener?.('change', onConnection);
  watchedConnection = null;
  watchedBattery?.removeEventListener('chargingchange', onBattery);
  watchedBattery?.removeEventListener('levelchange', onBattery);
  watchedBattery = null;
}

/**
 * Calls `callback(what)` when a signal may have changed: `'visibility'`,
 * `'battery'` (charging or level), `'network'` or `'idle'` (a transition,
 * with tracking started). Read the signals again then. Returns a function
 * that unsubscribes.
 */
export function onSignalsChange(callback) {
  if (typeof callback !== 'function') throw new TypeError('onSignalsChange needs a function');
  if (listeners.size >= MAX_LISTENERS) throw new Error(`at most ${MAX_LISTENERS} signal listeners`);
  if (listeners.size === 0) watch();
  listeners.add(callback);
  return () => {
    if (listeners.delete(callback) && listeners.size === 0) unwatch();
  };
}
