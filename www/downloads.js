// Files this tab has opened, served by the service worker (worker/files.js)
// under a random id. The worker asks which file an id is and gets its link;
// it verifies and decrypts in its own copy of the wasm module (the
// gateway), reading shards this browser stores from IndexedDB itself and
// asking this tab, where the peer's connections are, for the rest by hash
// (`peer.shards`). It reports progress and how the stream ended over the
// same MessagePort. While any stream is open the tab pings the worker so
// the browser does not stop it mid-download (an event keeps a worker
// alive, a port message does not), and pings each stream over its own
// port, which the worker serving it answers: a stream that answers none of
// LOST_AFTER pings in a row was lost with its worker (the browser ended it
// anyway), and the tab says so and stops pinging. Pings are counted, not
// seconds, so a background tab whose timers the browser slows is not
// mistaken for a dead worker; and each stream asks its own worker, so one
// still served by a worker that an update replaced is not lost either.
// Failures carry their code (errors.js) both ways: a failed shards call
// goes to the worker as {call, error, code}, a failed stream comes back as
// {end: 'failed', message, code}, and a lost one is `stream-lost`.

import {
  STREAM_LOST, INVALID_ARGUMENT, codedError, errorCode, errorMessage, fromWire,
} from './errors.js';

const downloads = new Map();
/** The last requests served, for the console and tests: {name, start, end, sent, localBytes, remoteBytes, state}. */
const recent = [];
const RECENT_MAX = 100;

/** What the service worker asked this tab for lately. */
export function recentRequests() {
  return recent.map((r) => ({ ...r }));
}
const KEEPALIVE_MS = 10_000;
/** Pings in a row an open stream may leave unanswered before it counts as lost. */
const LOST_AFTER = 3;
const LOST_MESSAGE = 'the browser stopped the service worker that was serving this file';
/** Streams open now: {heard, missed, ping, lose}. */
const open = new Set();
let pinger = null;
let lastPing = 0;

/** True when a service worker controls this page (file routes work). */
export function canStream() {
  return Boolean(navigator.serviceWorker && navigator.serviceWorker.controller);
}

/** Waits up to `ms` for a service worker to take control of this page. */
export function whenStreaming(ms) {
  if (!navigator.serviceWorker) return Promise.resolve(false);
  if (canStream()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(canStream()); };
    const timer = setTimeout(done, ms);
    navigator.serviceWorker.addEventListener('controllerchange', done, { once: true });
  });
}

/** Starts answering the service worker's requests for this tab's files. */
export function serveDownloads(peer) {
  if (!navigator.serviceWorker) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    const port = event.ports && event.ports[0];
    if (event.data && event.data.type === 'meganet-open' && port) answer(peer, event.data, port);
  });
  navigator.serviceWorker.startMessages();
}

/**
 * Registers an opened file ({link, name, size, type}); returns its URL on
 * this origin. `onProgress(progress, range)` follows every stream of it,
 * `onFail(error, range)` hears of one that failed (an Error with `.code`).
 */
export function registerDownload(file, { onProgress, onFail }) {
  const id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  downloads.set(id, { ...file, onProgress, onFail });
  return `/meganet/file/${id}/${encodeURIComponent(file.name || 'download')}`;
}

/** Forgets every registered file (a new link took the page). */
export function forgetDownloads() {
  downloads.clear();
}

function answer(peer, { id, range }, port) {
  const file = downloads.get(id);
  if (!file) {
    port.postMessage({ unknown: true });
    port.close();
    return;
  }
  answerFile(peer, file, range, port);
}

/**
 * Answers a worker's request for `range` of `file` ({link, name, size,
 * type, onProgress, onFail}) on `port`: the link and the bytes agreed,
 * then the shards the worker asks for, until the stream ends. The file
 * route and the sites' worker (site-view.js) both come through here.
 */
export function answerFile(peer, file, range, port) {
  const bytes = resolveRange(range, file.size);
  if (!bytes) {
    port.postMessage({ status: 416, error: `These bytes are outside the file (${file.size} bytes).`, code: INVALID_ARGUMENT });
    port.close();
    return;
  }
  port.postMessage({
    status: 200, link: file.link, type: file.type, ...bytes, partial: range !== null,
  });
  const record = { name: file.name, ...bytes, sent: 0, localBytes: 0, remoteBytes: 0, state: 'open' };
  recent.push(record);
  if (recent.length > RECENT_MAX) recent.shift();
  let peers = {};
  const progress = (stage) => file.onProgress({
    stage, done: record.sent, total: bytes.end - bytes.start, peers, localBytes: record.localBytes,
  }, bytes);
  // 'done', 'cancelled', 'failed' (the worker says so) or 'lost' (silence);
  // `error` (with its code) for the last two.
  const finish = (how, error) => {
    if (record.state !== 'open') return;
    record.state = how;
    port.close();
    stopped(stream);
    if (how === 'done') progress('done');
    // Shards read ahead for a stream that stopped early would be wasted.
    else peer.stopReadAhead(file.link).catch(() => {});
    if (how === 'failed' || how === 'lost') file.onFail(error, bytes);
  };
  const stream = {
    heard: Date.now(),
    missed: 0,
    ping: () => port.postMessage({ ping: true }),
    lose: () => finish('lost', codedError(STREAM_LOST, LOST_MESSAGE)),
  };
  started(stream);
  port.onmessage = async ({ data }) => {
    stream.heard = Date.now();
    if (!data) return;
    if (Array.isArray(data.hashes)) {
      try {
        const ahead = Array.isArray(data.ahead) ? data.ahead : [];
        const found = await peer.shards(file.link, data.hashes, ahead);
        peers = found.peers || peers;
        const buffers = [...new Set(found.shards.filter(Boolean).map((s) => s.buffer))];
        port.postMessage({ call: data.call, shards: found.shards }, buffers);
      } catch (e) {
        port.postMessage({ call: data.call, error: errorMessage(e), code: errorCode(e) });
      }
    } else if (data.progress) {
      Object.assign(record, { sent: data.progress.done, localBytes: data.progress.localBytes, remoteBytes: data.progress.remoteBytes });
      progress('fetching');
    } else if (data.end) {
      finish(data.end, data.end === 'failed' ? fromWire(data, 'the download failed') : null);
    }
  };
  port.start();
}

/** The byte range a request names, or null when it lies outside the file. */
function resolveRange(range, size) {
  if (range === null || range === undefined) return { start: 0, end: size };
  if ('suffix' in range) return { start: Math.max(0, size - range.suffix), end: size };
  if (range.start >= size && size > 0) return null;
  return { start: range.start, end: Math.min(range.end === undefined ? size : range.end, size) };
}

function started(stream) {
  open.add(stream);
  if (!pinger) {
    pinger = setInterval(() => {
      for (const s of [...open]) {
        s.missed = s.heard < lastPing ? s.missed + 1 : 0;
        if (s.missed >= LOST_AFTER) s.lose();
      }
      lastPing = Date.now();
      for (const s of open) s.ping();
      const worker = navigator.serviceWorker.controller;
      if (worker && open.size > 0) worker.postMessage({ type: 'meganet-keepalive' });
    }, KEEPALIVE_MS);
  }
}

function stopped(stream) {
  open.delete(stream);
  if (open.size === 0 && pinger) {
    clearInterval(pinger);
    pinger = null;
  }
}
