// Files this tab has opened, served to the service worker (worker/files.js)
// by a random id: the worker asks, this tab fetches the asked-for bytes
// with `peer.get` (verified and decrypted here) and streams them back
// through a MessagePort. While any such stream is open the tab pings the
// worker so the browser does not stop it mid-download.

import { sendStream } from './port-stream.js';

const downloads = new Map();
/** The last requests served, for the console and tests: {name, start, end, sent, state}. */
const recent = [];
const RECENT_MAX = 100;

/** What the service worker asked this tab for lately. */
export function recentRequests() {
  return recent.map((r) => ({ ...r }));
}
const KEEPALIVE_MS = 10_000;
let streaming = 0;
let pinger = null;

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
 * `onFail(message, range)` hears of one that failed.
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

async function answer(peer, { id, range }, port) {
  const file = downloads.get(id);
  if (!file) {
    port.postMessage({ unknown: true });
    port.close();
    return;
  }
  const bytes = resolveRange(range, file.size);
  if (!bytes) {
    port.postMessage({ status: 416, error: `These bytes are outside the file (${file.size} bytes).` });
    port.close();
    return;
  }
  try {
    const opened = await peer.get(file.link, { ...bytes, onProgress: (p) => file.onProgress(p, bytes) });
    const { name, type, size, start, end } = opened;
    port.postMessage({ status: 200, name, type, size, start, end, partial: range !== null });
    const record = { name, start, end, sent: 0, state: 'open' };
    recent.push(record);
    if (recent.length > RECENT_MAX) recent.shift();
    started();
    const counted = opened.stream.pipeThrough(new TransformStream({
      transform(chunk, controller) { record.sent += chunk.byteLength; controller.enqueue(chunk); },
    }));
    sendStream(port, counted, (how, message) => {
      record.state = how;
      stopped();
      if (how === 'failed') file.onFail(message, bytes);
    });
  } catch (e) {
    const message = `${(e && e.message) || e}`;
    port.postMessage({ status: 502, error: `The file could not be fetched: ${message}` });
    port.close();
    file.onFail(message, bytes);
  }
}

/** The byte range a request names, or null when it lies outside the file. */
function resolveRange(range, size) {
  if (range === null || range === undefined) return { start: 0, end: size };
  if ('suffix' in range) return { start: Math.max(0, size - range.suffix), end: size };
  if (range.start >= size && size > 0) return null;
  return { start: range.start, end: Math.min(range.end === undefined ? size : range.end, size) };
}

function started() {
  streaming += 1;
  if (!pinger) {
    pinger = setInterval(() => {
      const worker = navigator.serviceWorker.controller;
      if (worker) worker.postMessage({ type: 'meganet-keepalive' });
    }, KEEPALIVE_MS);
  }
}

function stopped() {
  streaming -= 1;
  if (streaming === 0 && pinger) {
    clearInterval(pinger);
    pinger = null;
  }
}
