// A published site, opened by its link: the link names an ordinary file
// whose type is the site type, holding the site's directory document
// (docs/FORMAT.md, "Sites"). This tab reads and checks it (wasm
// `parseSite`), then shows the site in a frame of the sites' origin (the
// node's `--sites` port, on this page's host name): never this origin, so
// a site's scripts cannot reach the app's IndexedDB, identity, uploads or
// `window.meganet`. The frame is sandboxed too (no top navigation).
//
// The sites' origin has its own service worker (worker/site-sw.js); it
// reaches this tab through a hidden bridge page of that origin
// (www/bridge.js): for each request it asks which file a path is, and this
// tab answers from the directory with the file's link, then supplies the
// shards (downloads.js `answerFile`). Only the site shown now is
// answered, under a random id that changes with every opening.

import { parseSite } from '../build/pkg/meganet.js';
import { answerFile } from './downloads.js';
import { formatBytes } from './transfer.js';
import { codedError, INVALID_ARGUMENT } from './errors.js';

/** The directory document's cap (as the crate's `MAX_SITE_DOCUMENT`). */
const MAX_DOCUMENT = 4 * 1024 * 1024;
/** How long the sites' origin may take to install its worker. */
const BRIDGE_MS = 20_000;
const SANDBOX = 'allow-scripts allow-same-origin allow-forms allow-popups allow-downloads allow-modals';

/** The site shown now: {id, index, entries: Map, origin, bridge}, or null. */
let shown = null;
let listening = false;

/** Closes the site shown, if any (a new link took the page). */
export function closeSite() {
  if (!shown) return;
  shown.bridge.remove();
  shown = null;
}

/**
 * Opens the site whose directory `file` ({link, size}) holds into
 * `container`; resolves once its index is asked for, with
 * {files, frame}.
 */
export async function openSite(peer, file, container) {
  closeSite();
  if (file.size > MAX_DOCUMENT) {
    throw codedError(INVALID_ARGUMENT, `this site's directory is ${formatBytes(file.size)}, over the ${formatBytes(MAX_DOCUMENT)} a site may have`);
  }
  // The bridge (and the sites' worker behind it) starts while the
  // directory is read: the two are the slow steps of opening a site.
  const origin = await sitesOrigin();
  const id = randomId();
  const bridge = document.createElement('iframe');
  bridge.hidden = true;
  bridge.title = 'meganet sites bridge';
  bridge.src = `${origin}/meganet/bridge.html?app=${encodeURIComponent(location.origin)}`;
  shown = {
    id, index: null, entries: new Map(), origin, bridge,
  };
  const mine = shown;
  listen(peer);
  const ready = bridgeReady(bridge, origin);
  document.body.append(bridge);
  let site;
  try {
    [site] = await Promise.all([readAll(peer, file.link).then(parseSite), ready]);
  } catch (e) {
    if (shown === mine) closeSite();
    throw e;
  }
  if (shown !== mine) throw codedError(INVALID_ARGUMENT, 'another link was opened meanwhile');
  mine.index = site.index;
  mine.entries = new Map(site.entries.map((e) => [e.path, e]));
  const frame = document.createElement('iframe');
  frame.className = 'site-frame';
  frame.title = 'Published site';
  frame.setAttribute('sandbox', SANDBOX);
  frame.src = `${origin}/meganet/site/${id}/`;
  container.replaceChildren(frame);
  return { files: site.entries.length, bytes: site.entries.reduce((n, e) => n + e.size, 0), frame };
}

/** The whole (small) file `link` names, as bytes. */
async function readAll(peer, link) {
  const opened = await peer.get(link);
  const reader = opened.stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_DOCUMENT) {
      reader.cancel().catch(() => {});
      throw codedError(INVALID_ARGUMENT, 'this site\'s directory is larger than its manifest said');
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** The sites' origin: this host name, the port the node publishes. */
async function sitesOrigin() {
  const response = await fetch('/bootstrap.json', { cache: 'no-store' });
  const { sitesPort } = await response.json();
  if (!sitesPort) throw codedError(INVALID_ARGUMENT, 'this node does not serve sites (it has no sites origin): update it, or open the link on another node');
  return `${location.protocol}//${location.hostname}:${sitesPort}`;
}

function bridgeReady(bridge, origin) {
  return new Promise((resolve, reject) => {
    const done = (error) => {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => done(codedError(INVALID_ARGUMENT, `the sites' origin (${origin}) did not start its service worker within ${BRIDGE_MS / 1000} s`)), BRIDGE_MS);
    const onMessage = (event) => {
      if (event.source !== bridge.contentWindow || event.origin !== origin) return;
      if (event.data && event.data.type === 'meganet-bridge-ready') done();
      if (event.data && event.data.type === 'meganet-bridge-failed') {
        done(codedError(INVALID_ARGUMENT, `this browser cannot show sites here: ${event.data.message}`));
      }
    };
    window.addEventListener('message', onMessage);
  });
}

/** Answers the sites' worker, through the bridge, for the site shown. */
function listen(peer) {
  if (listening) return;
  listening = true;
  window.addEventListener('message', (event) => {
    const port = event.ports && event.ports[0];
    if (!shown || !port || event.source !== shown.bridge.contentWindow || event.origin !== shown.origin) return;
    const { type, id, path, range } = event.data || {};
    if (type !== 'meganet-site-open') return;
    if (id !== shown.id) {
      port.postMessage({ unknown: true });
      port.close();
      return;
    }
    const found = resolvePath(shown, String(path));
    if (!found.entry) {
      port.postMessage(found);
      port.close();
      return;
    }
    const { entry } = found;
    answerFile(peer, {
      link: entry.link,
      name: entry.path,
      size: entry.size,
      type: entry.type,
      onProgress: () => {},
      onFail: (e) => console.warn(`site file ${entry.path} failed:`, e),
    }, range, port);
  });
}

/**
 * What a request path (percent-encoded, after the site's id) names:
 * {entry}, {redirect} (a folder asked without its slash) or a 404.
 */
export function resolvePath(site, raw) {
  let path;
  try {
    path = raw.split('/').map(decodeURIComponent).join('/');
  } catch {
    return { status: 404, error: 'This address is not a valid path.' };
  }
  if (path === '') path = site.index;
  else if (path.endsWith('/')) path += 'index.html';
  const entry = site.entries.get(path);
  if (entry) return { entry };
  if (site.entries.has(`${path}/index.html`)) return { redirect: `${path.split('/').pop()}/` };
  return { status: 404, error: `This site has no page or file at /${path}.` };
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
