// The widget's peer frame (widget.html, on the meganet origin): hosts the
// peer for a page that embeds <meganet-widget>. Keys, identity and stored
// pieces stay in this origin's storage; the host page only sends commands
// (widget-protocol.js) and receives status. Commands count only from the
// parent window; anything else is refused and counted.
//
// The opt-in is kept in this origin's localStorage (`meganet.widget`,
// `{enabled, quotaBytes}`): present means joined, `enabled: false` paused.
//
// Consent a host page cannot fake: its `join` and `resume` only make this
// frame ask (`asking`, with a button of its own); the peer starts on a
// trusted click of that button, an input event no script of another
// origin can send into this frame.

import init, { Peer } from '../build/pkg/meganet.js';
import { parseCommand } from './widget-protocol.js';
import {
  loadSettings, saveSettings, clearSettings, quotaBounds, requestPersistence, isPersisted,
  applyToPeer, contributedBytes, watchDecision,
} from './contribution.js';
import { startIdleTracking, noteActivity } from './signals.js';
import { INTERNAL, errorCode, errorMessage } from './errors.js';

const KEY = 'meganet.widget';
// One peer per storage partition: other tabs of the same site wait.
const LOCK = 'meganet.widget.peer';

const frame = {
  state: 'ready',
  error: '',
  errorCode: '', // the code of `error` (errors.js), '' without one
  accepted: 0,
  rejected: 0,
  persisted: null,
  summary: null,
  paths: '', // how the peer reaches other browsers (status().paths)
};
window.meganetWidgetFrame = frame; // for automation
let peer = null;
let peerStatus = null; // the latest snapshot: calling peer.status() inside onStatus panics (a RefCell re-borrow)
let watcher = null;
let settings = null;
let starting = null;

// Browsers that block third-party cookies (Chromium's setting, Chrome's
// incognito windows) also deny embedded sites all storage: no identity, no
// pieces, no peer. Say so rather than fail later.
const BLOCKED = 'this browser does not let sites embedded in other sites store data (third-party cookies are blocked)';

function storageAllowed() {
  try {
    return typeof localStorage.getItem(KEY) !== 'undefined' && typeof indexedDB?.open === 'function';
  } catch {
    return false;
  }
}
const STORAGE_ALLOWED = storageAllowed();

function joined() {
  try { return localStorage.getItem(KEY) !== null; } catch { return false; }
}

// --- reporting ------------------------------------------------------------

function nodeState() {
  if (!peerStatus) return 'off';
  const s = peerStatus.node?.state;
  return ['connecting', 'connected', 'unreachable'].includes(s) ? s : 'connecting';
}

function report() {
  const peers = new Set((peerStatus?.connections ?? []).map((c) => c.peerId)).size;
  const message = {
    type: 'meganet:status',
    state: frame.state,
    node: nodeState(),
    peers,
    contributedBytes: contributedBytes(peer),
    quotaBytes: settings?.quotaBytes ?? 0,
    storing: frame.summary?.storing ?? '',
    serving: frame.summary?.serving ?? '',
    persisted: frame.persisted,
    rejected: frame.rejected,
    error: frame.error.slice(0, 300),
    errorCode: frame.errorCode,
  };
  render(message);
  // Any origin may read this: it says only what the card shows. Commands,
  // which matter, are checked on the way in.
  if (window.parent !== window) window.parent.postMessage(message, '*');
}

// Refused messages are reported in one status a little later, so a flood
// of them does not become a flood of reports.
let reportTimer = null;
function reportSoon() {
  reportTimer ??= setTimeout(() => { reportTimer = null; report(); }, 250);
}

// The frame's own line: a note from the meganet origin, whatever the host
// page says around it.
function render(m) {
  const el = document.getElementById('line');
  const text = {
    ready: 'meganet is not running on this page.',
    asking: 'Confirm here: only this button, from meganet, lets it run.',
    standby: 'meganet is active in another tab of this site.',
    starting: 'Starting meganet…',
    active: 'Run by meganet. Keys and pieces never reach this site.',
    paused: 'meganet is paused here.',
    left: 'You left meganet. What it stored for others is deleted.',
    failed: 'meganet cannot run in this page.',
  }[m.state];
  if (el && el.textContent !== text) el.textContent = text;
}

/** `error`: why the frame failed (an Error with its code), or none. */
function setState(state, error = null) {
  frame.state = state;
  frame.error = error ? errorMessage(error) : '';
  frame.errorCode = error ? errorCode(error) : '';
  report();
}

// --- the peer -------------------------------------------------------------

// Resolves once this frame holds the peer lock (at once where the browser
// has no Web Locks or refuses them).
function holdLock(onWait) {
  if (typeof navigator.locks?.request !== 'function') return Promise.resolve();
  const hold = () => new Promise(() => {}); // released when this frame goes away
  return new Promise((resolve) => {
    navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
      if (lock) { resolve(); return hold(); }
      onWait();
      navigator.locks.request(LOCK, () => { resolve(); return hold(); }).catch(resolve);
      return undefined;
    }).catch(resolve);
  });
}

function start() {
  starting ??= (async () => {
    await holdLock(() => setState('standby'));
    setState('starting');
    await init();
    peer = await Peer.start({ private: new URLSearchParams(location.search).get('private') === '1' });
    peerStatus = peer.status();
    frame.paths = peerStatus.paths;
    peer.onStatus((status) => { peerStatus = status; report(); });
    // Stored bytes change without a status change (shards arrive): report
    // them every few seconds while the peer runs.
    let lastBytes = 0;
    setInterval(() => {
      const bytes = contributedBytes(peer);
      if (bytes !== lastBytes) { lastBytes = bytes; report(); }
    }, 2000);
    startIdleTracking();
    frame.persisted = await isPersisted();
    watcher = watchDecision({
      peer,
      settings: () => settings,
      usedBytes: () => contributedBytes(peer),
      onDecision: ({ summary }) => { frame.summary = summary; report(); },
    });
  })().catch((e) => {
    starting = null; // a later join or resume tries again
    throw e;
  });
  return starting;
}

async function apply() {
  const result = await applyToPeer(peer, settings);
  if (typeof result?.persisted === 'boolean') frame.persisted = result.persisted;
  await watcher?.refresh();
}

// --- commands -------------------------------------------------------------

async function join(quotaBytes) {
  const bounds = await quotaBounds();
  settings = { enabled: true, quotaBytes: Math.min(quotaBytes ?? bounds.defaultBytes, bounds.defaultBytes) };
  saveSettings(KEY, settings);
  // Not awaited: Firefox asks the visitor, and may never answer.
  requestPersistence().then((p) => { if (p !== null) { frame.persisted = p; report(); } });
  await resume();
}

async function resume() {
  settings = { ...settings, enabled: true };
  saveSettings(KEY, settings);
  await start();
  await apply();
  setState('active');
}

async function pause() {
  asked = null;
  document.getElementById('consent').hidden = true;
  settings = { ...settings, enabled: false };
  saveSettings(KEY, settings);
  if (peer) await apply();
  setState('paused');
}

async function leave() {
  asked = null;
  document.getElementById('consent').hidden = true;
  settings = { ...settings, enabled: false };
  if (peer) {
    await apply();
    if (typeof peer.leave === 'function') await peer.leave();
  }
  clearSettings(KEY);
  setState('left');
}

// What the visitor is asked to confirm: {kind: 'join' | 'resume', quotaBytes}.
let asked = null;

function ask(kind, quotaBytes) {
  if (frame.state === 'active' || frame.state === 'starting') return;
  asked = { kind, quotaBytes };
  const button = document.getElementById('consent');
  button.textContent = kind === 'join' ? 'Join meganet' : 'Resume meganet';
  button.hidden = false;
  button.focus();
  setState('asking');
}

// The one way in: a click the visitor made on this frame's button.
function onConsent(event) {
  if (!event.isTrusted || !asked) return;
  const { kind, quotaBytes } = asked;
  asked = null;
  document.getElementById('consent').hidden = true;
  queue = queue
    .then(() => (kind === 'join' ? join(quotaBytes) : resume()))
    .catch((e) => setState('failed', e));
}

const HANDLERS = {
  'meganet:join': (c) => {
    if (!joined()) ask('join', c.quotaBytes);
    else if (!settings.enabled) ask('resume');
  },
  'meganet:pause': () => (joined() ? pause() : undefined),
  'meganet:resume': () => (joined() && !settings.enabled ? ask('resume') : undefined),
  'meganet:leave': () => leave(),
  'meganet:activity': () => noteActivity(),
};

// One command at a time, in order of arrival.
let queue = Promise.resolve();

window.addEventListener('message', (event) => {
  const command = event.source === window.parent && window.parent !== window ? parseCommand(event.data) : null;
  if (!command) {
    frame.rejected += 1;
    reportSoon();
    return;
  }
  frame.accepted += 1;
  if (!STORAGE_ALLOWED) {
    if (command.type === 'meganet:leave') setState('left');
    else report();
    return;
  }
  queue = queue
    .then(() => HANDLERS[command.type](command))
    .catch((e) => setState('failed', e));
});

document.getElementById('consent').addEventListener('click', onConsent);

// On load: pick up where the last visit left off. The state is set before
// anything can report it, so the parent never sees a joined frame as 'ready'.
settings = loadSettings(KEY);
if (!STORAGE_ALLOWED) {
  setState('failed', { message: BLOCKED, code: INTERNAL });
} else if (!joined()) {
  report();
} else if (settings.enabled) {
  frame.state = 'starting';
  queue = queue.then(resume).catch((e) => setState('failed', e));
} else {
  setState('paused');
}
