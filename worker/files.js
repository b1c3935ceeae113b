// The service worker's file route: `/meganet/file/<id>/<name>` streams a
// file that a tab has opened (www/downloads.js) to disk (`?save=1`) or into
// `<video>`, `<img>`, `<iframe>`, answering Range requests with only the
// bytes asked for. The tab holding the peer fetches, verifies and decrypts;
// the bytes come here over a MessagePort, one chunk per pull, so neither
// side ever holds the whole file. Keys never reach this worker: it knows
// the download only by a random id.

import { receiveStream } from '../www/port-stream.js';

export const FILE_PREFIX = '/meganet/file/';

/** Types shown inline; everything else is always an attachment. */
const INLINE = /^(image|audio|video)\/|^application\/pdf$|^text\/plain$/;

/** How long a tab may take to answer whether it knows a download. */
const ASK_MS = 5000;

/** Answers a fetch of a file route. */
export async function serveFile(event, url) {
  const id = url.pathname.slice(FILE_PREFIX.length).split('/')[0];
  const range = parseRange(event.request.headers.get('range'));
  if (range === 'invalid') return plain(416, 'This range of bytes cannot be served.');
  const save = url.searchParams.get('save') === '1';
  for (const client of await candidates(event.clientId)) {
    const answer = await ask(client, { id, range });
    if (!answer) continue;
    if (answer.status !== 200) return plain(answer.status, answer.error);
    return response(answer, save);
  }
  return plain(404, 'This download has expired: open the link again in a meganet tab.');
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
function ask(client, request) {
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

function response(answer, save) {
  const { name, type, size, start, end, partial } = answer;
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
  return new Response(receiveStream(answer.port), { status: partial ? 206 : 200, headers });
}

function plain(status, text) {
  return new Response(text, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}
