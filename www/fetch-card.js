// The fetch card: opening a link shows the file's name, size and type as
// soon as its manifest arrives; Save streams it through the service worker
// to disk, and images, audio, video and PDFs preview inline from the same
// route (video seeks with Range requests, fetching only what it plays).
// Without a service worker the file is assembled in memory instead, up to
// a limit, and the card says so. A failure is worded for people, with the
// way forward chosen by its code (fetch-help.js, errors.js).

import { formatBytes, rateText } from './transfer.js';
import { forgetDownloads, registerDownload, whenStreaming } from './downloads.js';
import { closeSite, openSite } from './site-view.js';
import { siteType } from '../build/pkg/meganet.js';
import { helpFor } from './fetch-help.js';
import { keepName } from './kept-names.js';
import {
  NO_STREAMING, codeOf, codedError, errorMessage,
} from './errors.js';

const $ = (id) => document.getElementById(id);

/** The largest file fetched into memory when it cannot be streamed. */
const MEMORY_LIMIT = 512 * 1024 * 1024;

/** How long a first visit waits for the service worker to take over. */
const WORKER_WAIT_MS = 8000;

const PREVIEW = [
  [/^image\//, 'img'],
  [/^video\//, 'video'],
  [/^audio\//, 'audio'],
  [/^application\/pdf$/, 'iframe'],
];

/** "Details: <message> (<code>)": the precise error, for whoever needs it. */
const details = (e) => `Details: ${errorMessage(e)}${codeOf(e) ? ` (${codeOf(e)})` : ''}`;

/**
 * Opens the file the page's fragment names into the fetch card, then
 * dispatches `meganet-fetched` ({fragment, error, code}: the error's message
 * and code, or nulls) on the document.
 */
export async function fetchFromLocation(peer) {
  if (!location.hash || location.hash.length < 2) return;
  const fragment = location.hash.slice(1);
  const current = () => location.hash.slice(1) === fragment;
  resetCard();
  let error = null;
  let code = null;
  try {
    // A name link (`#n1.…`): the newest version its publisher signed.
    let link = location.href;
    let version = null;
    if (/^n\d+\./.test(fragment)) {
      $('fetch-detail').textContent = 'Looking up the newest version of this name…';
      version = await peer.resolveName(location.href);
      keepName(fragment, version);
      if (!current()) return;
      link = `${location.origin}/#${version.link}`;
    }
    // An empty range: the manifest only, no shards.
    const head = await peer.get(link, { start: 0, end: 0 });
    head.stream.cancel().catch(() => {});
    if (!current()) return; // a newer link has taken the card
    const file = {
      link, name: head.name, size: head.size, type: head.type, version,
    };
    $('fetch-detail').textContent = 'Connecting to the service worker…';
    $('fetch-name').textContent = `${file.name || 'file'} · ${formatBytes(file.size)}${file.type ? ` · ${file.type}` : ''}`;
    if (file.type === siteType()) {
      await showSite(peer, file, current);
    } else if (await whenStreaming(WORKER_WAIT_MS)) {
      if (!current()) return;
      offerStreamed(file);
    } else {
      await fetchIntoMemory(peer, file, current);
    }
  } catch (e) {
    if (!current()) return;
    error = errorMessage(e);
    code = codeOf(e);
    showProblem(e, () => fetchFromLocation(peer));
  }
  document.dispatchEvent(new CustomEvent('meganet-fetched', { detail: { fragment, error, code } }));
}

/** A published site: shown in its own origin's frame (site-view.js). */
async function showSite(peer, file, current) {
  $('fetch-heading').textContent = 'Shared site';
  $('fetch-detail').textContent = 'Opening the site…';
  const preview = $('fetch-preview');
  const shown = await openSite(peer, file, preview);
  if (!current()) return;
  preview.classList.add('site');
  preview.hidden = false;
  const { version } = file;
  const signed = version ? ` · version ${version.version}, signed ${new Date(version.signedAt).toLocaleString()}` : '';
  $('fetch-name').textContent = `Website · ${shown.files} ${shown.files === 1 ? 'file' : 'files'} · ${formatBytes(shown.bytes)}${signed}`;
  $('fetch-detail').textContent = 'The site runs apart from meganet: it cannot read your files, links or storage here.';
}

/** A failed fetch: what happened in plain words, the way forward, the details. */
function showProblem(error, retry) {
  const { title, help, retry: canRetry } = helpFor(error);
  $('fetch-name').textContent = title;
  $('fetch-error').textContent = help;
  $('fetch-error-detail').textContent = details(error);
  $('fetch-retry').hidden = !canRetry;
  $('fetch-retry').onclick = retry;
  $('fetch-problem').hidden = false;
  $('fetch-detail').hidden = true;
  $('fetch-progress').hidden = true;
}

function resetCard() {
  forgetDownloads();
  closeSite();
  $('fetch-heading').textContent = 'Shared file';
  $('fetch-preview').classList.remove('site');
  $('fetch').hidden = false;
  $('fetch-name').textContent = '…';
  $('fetch-problem').hidden = true;
  $('fetch-save').hidden = true;
  $('fetch-preview').hidden = true;
  $('fetch-preview').replaceChildren();
  $('fetch-detail').hidden = false;
  $('fetch-detail').textContent = 'Looking for the file…';
  $('fetch-progress').hidden = true;
  $('fetch-progress').value = 0;
}

/** Save and preview through the service worker's file route. */
function offerStreamed(file) {
  let started = 0;
  const url = registerDownload(file, {
    onProgress: (p, range) => {
      if (p.done === 0 || !started) started = performance.now();
      showStreamProgress(p, range, file, started);
    },
    onFail: (error) => {
      const { help } = helpFor(error);
      $('fetch-error').textContent = `The download stopped. ${help}`;
      $('fetch-error-detail').textContent = details(error);
      $('fetch-retry').hidden = true;
      $('fetch-problem').hidden = false;
      // Not "Fetching…" any more (another stream's progress may follow).
      if (/^Fetching/.test($('fetch-detail').textContent)) $('fetch-detail').textContent = 'Stopped before the end.';
    },
  });
  showSave(`${url}?save=1`, file.name);
  $('fetch-detail').textContent = 'Ready. Save streams it straight to your disk.';
  const preview = previewElement(file.type, url, file.name);
  if (preview) {
    $('fetch-preview').replaceChildren(preview);
    $('fetch-preview').hidden = false;
  }
}

function showStreamProgress(p, range, file, started) {
  const whole = range.start === 0 && range.end === file.size;
  const bar = $('fetch-progress');
  const sources = Object.keys(p.peers || {}).length;
  const parts = [];
  if (sources) parts.push(`${sources} ${sources === 1 ? 'source' : 'sources'}`);
  // Shards this browser stores for others, read by the service worker.
  if (p.localBytes > 0) parts.push('this browser\'s own storage');
  const from = parts.length ? ` from ${parts.join(' and ')}` : '';
  if (whole) {
    bar.hidden = false;
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
  }
  const what = whole ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : `${formatBytes(p.done)} (bytes ${range.start}–${range.end})`;
  $('fetch-detail').textContent = p.stage === 'done'
    ? `Fetched and verified ${formatBytes(p.total)}${from}.`
    : `Fetching ${what}${rateText(p.done, started)}${from}…`;
}

/** Without a service worker: the whole file into a Blob, if it fits. */
async function fetchIntoMemory(peer, file, current) {
  if (file.size > MEMORY_LIMIT) {
    throw codedError(NO_STREAMING, `This browser cannot stream downloads here (no service worker, for example in a private window), and ${formatBytes(file.size)} is too large to hold in memory. Open the link in a normal window.`);
  }
  $('fetch-progress').hidden = false;
  const started = performance.now();
  const whole = { start: 0, end: file.size };
  const opened = await peer.get(file.link, { onProgress: (p) => { if (current()) showStreamProgress(p, whole, file, started); } });
  // Chunk by chunk, so a failure keeps its message.
  const chunks = [];
  const reader = opened.stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const blob = new Blob(chunks);
  if (!current()) return;
  // Only a type the page previews keeps its name: any other (text/html,
  // image/svg+xml) would run as this origin if the blob URL were opened.
  const type = previewTag(file.type) && file.type !== 'image/svg+xml' ? file.type : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob([blob], { type }));
  showSave(url, file.name);
  const preview = previewElement(type, url, file.name);
  if (preview) {
    $('fetch-preview').replaceChildren(preview);
    $('fetch-preview').hidden = false;
  }
}

function showSave(href, name) {
  const save = $('fetch-save');
  save.href = href;
  save.download = name || 'download';
  save.textContent = `Save ${name || 'file'}`;
  save.hidden = false;
}

/** The element that previews `type` (img, video, audio, iframe), or null. */
function previewTag(type) {
  return PREVIEW.find(([re]) => re.test(type || ''))?.[1] ?? null;
}

function previewElement(type, url, name) {
  const tag = previewTag(type);
  if (!tag) return null;
  const el = document.createElement(tag);
  el.src = url;
  if (tag === 'img') el.alt = `Preview of ${name}`;
  if (tag === 'iframe') el.title = `Preview of ${name}`;
  if (tag === 'video' || tag === 'audio') {
    el.controls = true;
    el.preload = 'metadata';
  }
  return el;
}
