// The service worker's file route: `/meganet/file/<id>/<name>` streams a
// file that a tab has opened (www/downloads.js) to disk (`?save=1`) or into
// `<video>`, `<img>`, `<iframe>`, answering Range requests with only the
// bytes asked for. The worker is a gateway (crate/src/gateway.rs, the same
// wasm module as the peer): it reads the shards the range needs from this
// browser's IndexedDB store where it has them, asks the tab running the
// peer for the rest over a MessagePort, and verifies, decodes and decrypts
// them here, one chunk per pull, so nothing holds the whole file. The tab
// knows the download by a random id and hands over its link only when
// asked for it.
//
// Every error response is plain text for people, with the error's stable
// code (www/errors.js) in the `X-Meganet-Error-Code` header; the tab hears
// of a failed stream over its port with the same code.

import init, { gatewayOpen } from '../build/pkg/meganet.js';
import {
  CODE_HEADER, INVALID_ARGUMENT, TIMEOUT, codedError, errorCode, errorMessage, toWire,
} from '../www/errors.js';

export const FILE_PREFIX = '/meganet/file/';

/** Types shown inline; everything else is always an attachment. */
const INLINE = /^(image|audio|video)\/|^application\/pdf$|^text\/plain$/;

/** How long a tab may take to answer whether it knows a download. */
const ASK_MS = 5000;
/** How long a tab may take to fetch one window of shards. */
const SHARDS_MS = 120_000;
const WASM = '/meganet_bg.wasm';

let started = null;
/** Starts the wasm module once (from the cache when offline). */
function startGateway() {
  if (!started) {
    const wasm = fetch(WASM).catch(async (e) => (await caches.match(WASM)) || Promise.reject(e));
    started = init({ module_or_path: wasm }).catch((e) => {
      started = null;
      throw e;
    });
  }
  return started;
}

/** Answers a fetch of a file route. */
export async function serveFile(event, url) {
  const id = url.pathname.slice(FILE_PREFIX.length).split('/')[0];
  const range = parseRange(event.request.headers.get('range'));
  if (range === 'invalid') return plain(416, 'This range of bytes cannot be served.', INVALID_ARGUMENT);
  const save = url.searchParams.get('save') === '1';
  for (const client of await candidates(event.clientId)) {
    const answer = await ask(client, { id, range });
    if (!answer) continue;
    if (answer.status !== 200) return plain(answer.status, answer.error, answer.code);
    return serveRange(answer, { save });
  }
  // No tab knows this id (it was opened in a tab since closed or moved on).
  return plain(404, 'This download has expired: open the link again in a meganet tab.', INVALID_ARGUMENT);
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; null without a header. */
export function parseRange(header) {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]) + 1;
  if (end !== undefined && end <= start) return 'invalid';
  return { start, end };
}

/** The tab that made the request first, then every other tab. */
async function candidates(clientId) {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return all.sort((a, b) => (b.id === clientId) - (a.id === clientId));
}

/**
 * Asks one tab for a download; resolves to its header answer (with the
 * port the bytes will come through), or null when it does not know it.
 */
export function ask(client, request) {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    const timer = setTimeout(() => { port1.close(); resolve(null); }, ASK_MS);
    port1.onmessage = ({ data }) => {
      clearTimeout(timer);
      if (!data || data.unknown) {
        port1.close();
        resolve(null);
        return;
      }
      resolve({ ...data, port: port1 });
    };
    port1.start();
    client.postMessage({ type: 'meganet-open', ...request }, [port2]);
  });
}

/**
 * Runs the gateway for the range the tab agreed to; the tab supplies
 * shards. `save` makes it an attachment; `site` serves a published site's
 * file (sites.js): its type from the site, inline, scripts allowed, and
 * this origin's store never opened.
 */
export async function serveRange(answer, { save = false, site = false } = {}) {
  const tab = tabConnection(answer.port);
  let opened;
  try {
    await startGateway();
  } catch (e) {
    tab.end('failed', e);
    return plain(503, `This browser could not start the download: ${errorMessage(e)}. Reload the page and try again.`, errorCode(e));
  }
  try {
    opened = await gatewayOpen(answer.link, {
      start: answer.start, end: answer.end, shards: tab.shards, onProgress: tab.progress, local: !site,
    });
  } catch (e) {
    tab.end('failed', e);
    return plain(502, `The file could not be fetched: ${errorMessage(e)}`, errorCode(e));
  }
  const body = watched(opened.stream, tab);
  if (site) return siteResponse({ ...opened, type: answer.type, partial: answer.partial }, body);
  return response({ ...opened, partial: answer.partial }, body, save);
}

/**
 * The tab's side of one download, after its header answer:
 *   worker → tab: {call, hashes} | {progress} | {alive} | {end: 'done'|'cancelled'} | {end: 'failed', message, code}
 *   tab → worker: {call, shards: (Uint8Array|null)[]} | {call, error: message, code} | {ping}
 * A ping is answered on this port, so it tells the tab whether the worker
 * serving this very stream still runs (not merely the page's controller).
 */
function tabConnection(port) {
  const calls = new Map();
  let next = 0;
  let ended = false;
  port.onmessage = ({ data }) => {
    if (data && data.ping) {
      if (!ended) port.postMessage({ alive: true });
      return;
    }
    const call = data && calls.get(data.call);
    if (!call) return;
    calls.delete(data.call);
    clearTimeout(call.timer);
    if (Array.isArray(data.shards)) call.resolve(data.shards);
    else call.reject(codedError(errorCode(data), data.error || 'the tab could not fetch the shards'));
  };
  port.start();
  return {
    /** Shards by hash; `ahead`: the ones the next window will want. */
    shards(hashes, ahead) {
      return new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          calls.delete(id);
          reject(codedError(TIMEOUT, 'the tab running the peer stopped answering'));
        }, SHARDS_MS);
        calls.set(id, { resolve, reject, timer });
        port.postMessage({ call: id, hashes, ahead });
      });
    },
    progress(progress) {
      if (!ended) port.postMessage({ progress });
    },
    /** `error` (an Error with its code) when `how` is 'failed'. */
    end(how, error) {
      if (ended) return;
      ended = true;
      port.postMessage({ end: how, ...(how === 'failed' ? toWire(error) : {}) });
      port.close();
    },
  };
}

/** `stream`, telling the tab when it ends, fails or is cancelled. */
function watched(stream, tab) {
  const reader = stream.getReader();
  return new ReadableStream({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          tab.end('done');
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        tab.end('failed', e);
        controller.error(e);
      }
    },
    cancel(reason) {
      tab.end('cancelled');
      return reader.cancel(reason);
    },
  });
}

/** A site's file: inline, of the type the site gives it, scripts allowed (its origin is not the app's). */
function siteResponse({ type, size, start, end, partial }, body) {
  const headers = new Headers({
    'Content-Type': type || 'application/octet-stream',
    'Content-Length': String(end - start),
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  if (partial) headers.set('Content-Range', `bytes ${start}-${end - 1}/${size}`);
  return new Response(body, { status: partial ? 206 : 200, headers });
}

function response(opened, body, save) {
  const { name, type, size, start, end, partial } = opened;
  const mime = type || 'application/octet-stream';
  const inline = !save && INLINE.test(mime);
  const headers = new Headers({
    'Content-Type': mime,
    'Content-Length': String(end - start),
    'Accept-Ranges': 'bytes',
    'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(name || 'download')}`,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  // A shared file must never run script on this origin.
  if (mime !== 'application/pdf') headers.set('Content-Security-Policy', "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'");
  if (partial) headers.set('Content-Range', `bytes ${start}-${end - 1}/${size}`);
  return new Response(body, { status: partial ? 206 : 200, headers });
}

/** An error response: `text` for people, `code` (errors.js) in CODE_HEADER. */
export function plain(status, text, code) {
  const headers = { 'Content-Type': 'text/plain; charset=utf-8', [CODE_HEADER]: errorCode({ code }) };
  return new Response(text, { status, headers });
}
