// The service worker: keeps the app shell available offline. Network first
// (so a new build is picked up at once), falling back to the cached shell.
// Live documents (bootstrap.json, status.json) are never cached. Files
// opened by link stream through it (files.js).

/* global __BUILD_ID__ */
import { FILE_PREFIX, serveFile } from './files.js';

const CACHE = `meganet-shell-${__BUILD_ID__}`;
const SHELL = ['/', '/app.js', '/meganet_bg.wasm', '/style.css', '/manifest.webmanifest', '/icon.svg', '/icon-192.png'];
const LIVE = new Set(['/bootstrap.json', '/status.json']);

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// A tab streaming a file pings every few seconds: the ping (an event) keeps
// this worker alive while a download runs, and only then.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'meganet-keepalive') event.waitUntil(Promise.resolve());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin === self.location.origin && url.pathname.startsWith(FILE_PREFIX)) {
    event.respondWith(serveFile(event, url));
    return;
  }
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || LIVE.has(url.pathname)) {
    return;
  }
  event.respondWith(networkFirst(event.request, url));
});

async function networkFirst(request, url) {
  try {
    const response = await fetch(request);
    if (response.ok && SHELL.includes(url.pathname)) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (e) {
    const cached = await caches.match(request, { ignoreSearch: true })
      || (request.mode === 'navigate' ? await caches.match('/') : undefined);
    if (cached) return cached;
    throw e;
  }
}
