// The sites' service worker, on the sites' origin (the node's `--sites`
// port: not the app's origin). It serves `/meganet/site/<id>/<path>`: a
// file of the published site the app opened under `<id>`. It asks the
// bridge page (www/bridge.js, framed by the app) which file a path is;
// the bridge hands the question, with its MessagePort, to the app, which
// answers from the site's directory (www/site-view.js) with the file's
// link and then supplies its shards over the same port, as for a file
// (downloads.js). Verifying, decoding and decrypting happen here, in this
// origin's copy of the wasm module (files.js), which never opens a store:
// nothing of the app's is in this origin for a site's scripts to find.

import { ask, parseRange, plain, serveRange } from './files.js';
import { INVALID_ARGUMENT } from '../www/errors.js';

export const SITE_PREFIX = '/meganet/site/';
const BRIDGE = '/meganet/bridge.html';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The bridge pings while a site is open: an event keeps this worker alive.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'meganet-keepalive') event.waitUntil(Promise.resolve());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SITE_PREFIX)) return;
  event.respondWith(serveSite(event.request, url));
});

async function serveSite(request, url) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return plain(405, 'A published site is read-only.', INVALID_ARGUMENT);
  }
  const [id, ...rest] = url.pathname.slice(SITE_PREFIX.length).split('/');
  const path = rest.join('/');
  const range = parseRange(request.headers.get('range'));
  if (range === 'invalid') return plain(416, 'This range of bytes cannot be served.', INVALID_ARGUMENT);
  for (const bridge of await bridges()) {
    const answer = await ask(bridge, { type: 'meganet-site-open', id, path, range });
    if (!answer) continue;
    if (answer.redirect) {
      answer.port.close();
      return Response.redirect(new URL(answer.redirect, url).href, 301);
    }
    if (answer.status === 404) {
      answer.port.close();
      return page(404, 'Not in this site', answer.error);
    }
    if (answer.status !== 200) {
      answer.port.close();
      return plain(answer.status, answer.error, answer.code);
    }
    return serveRange(answer, { site: true });
  }
  return page(404, 'This site is closed', 'Open its meganet link again in the meganet app.');
}

/** The bridge pages open now (one per app tab showing a site). */
async function bridges() {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return all.filter((c) => new URL(c.url).pathname === BRIDGE);
}

/** A small page for people: `title`, then `text`. */
function page(status, title, text) {
  const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">`
    + `<title>${escape(title)}</title><h1>${escape(title)}</h1><p>${escape(text)}</p>`;
  return new Response(body, {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'",
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
