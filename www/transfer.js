// The upload card: thin wiring over peer.put. (The fetch card: fetch-card.js.)
// A failed upload shows the peer's message; its code (errors.js) is on the
// error line as `data-code`.

import { rememberUpload, renderUploads } from './uploads.js';
import { wireCopyButton } from './clipboard.js';
import { qrSvg } from './qr.js';
import { codeOf, errorMessage } from './errors.js';
import { fromDroppedFolder, fromPicker, publishNamed, publishSite } from './publish.js';

const $ = (id) => document.getElementById(id);

export function formatBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function rateText(done, started) {
  const secs = (performance.now() - started) / 1000;
  return secs > 0.2 ? ` · ${formatBytes(done / secs)}/s` : '';
}

/** Shows why `file` could not be shared in the error line `el`. */
function showUploadError(el, file, error) {
  el.textContent = `Could not share ${file.name}: ${errorMessage(error)}`;
  const code = codeOf(error);
  if (code) el.dataset.code = code;
  else delete el.dataset.code;
  el.hidden = false;
}

function showProgress(bar, detail, verb, started) {
  let placing = null;
  return (p) => {
    bar.hidden = false;
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    const total = p.total ? ` of ${formatBytes(p.total)}` : '';
    if (p.stage === 'connecting') {
      detail.textContent = 'Connecting to the network…';
      return;
    }
    if (p.stage === 'encoding') {
      detail.textContent = `Encrypting ${formatBytes(p.done)}${total}${rateText(p.done, started)}…`;
      return;
    }
    if (p.link) {
      // The link works already (this tab serves the pieces meanwhile).
      placing ??= performance.now();
      const percent = p.total ? Math.floor((100 * p.done) / p.total) : 0;
      detail.textContent = p.stage === 'done'
        ? `${verb} ${formatBytes(p.total)}: safe to close this tab.`
        : `The link works now. Placing the pieces on the network: ${percent}%${rateText(p.done, placing)}. Safe to close this tab when this reaches 100%.`;
      return;
    }
    detail.textContent = p.stage === 'done'
      ? `${verb} ${formatBytes(p.total)}.`
      : `${verb} ${formatBytes(p.done)}${total}${rateText(p.done, started)}…`;
  };
}

// Uploads whose pieces are still being placed from this tab: closing it
// now would leave them only here, so the browser asks first.
let placing = 0;
const holdOpen = (e) => { e.preventDefault(); e.returnValue = ''; };
function placingStarted() {
  placing += 1;
  if (placing === 1) addEventListener('beforeunload', holdOpen);
}
function placingEnded() {
  placing -= 1;
  if (placing === 0) removeEventListener('beforeunload', holdOpen);
}

/**
 * The Share card. Several files may be chosen or dropped at once: the
 * first is shown in the card's own elements (progress, link, QR code), each
 * further one in a row of its own (#put-files) with its progress and link.
 * The files are stored one after the other.
 */
export function setUpUpload(peer) {
  renderUploads(undefined, formatBytes);
  const input = $('file');
  const drop = $('drop');
  let batch = 0;

  // The link comes first (onLink), as soon as the file is encrypted; the
  // put resolves once every piece is placed.
  const store = async (file, onProgress, onLink) => {
    let linked = false;
    placingStarted();
    try {
      const link = await peer.put(file, {
        linkFirst: true,
        onProgress: (p) => {
          if (p.link && !linked) { linked = true; onLink(p.link); }
          onProgress(p);
        },
      });
      rememberUpload({ name: file.name, size: file.size, link, at: Date.now() });
      renderUploads(undefined, formatBytes);
      return link;
    } finally {
      placingEnded();
    }
  };

  // The first file: the card's own elements.
  const uploadFirst = async (file, current) => {
    $('put-error').hidden = true;
    $('put-result').hidden = true;
    $('put-detail').textContent = '';
    const show = showProgress($('put-progress'), $('put-detail'), 'Encrypted and stored', performance.now());
    // data-state: placing while the pieces are placed, stored once safe.
    const showLink = (link, state = 'placing') => {
      if (!current()) return;
      $('put-link').value = link;
      $('put-qr').replaceChildren(qrSvg(link, `QR code of the link to ${file.name}`));
      $('put-result').dataset.state = state;
      $('put-result').hidden = false;
    };
    try {
      const link = await store(file, (p) => { if (current()) show(p); }, showLink);
      if (!current()) return;
      showLink(link, 'stored');
      $('put-progress').hidden = true;
      $('put-detail').textContent = `${file.name} (${formatBytes(file.size)}) is stored: safe to close this tab.`;
    } catch (e) {
      if (!current()) return;
      // A link given out first is withdrawn: its pieces are not placed.
      $('put-result').hidden = true;
      showUploadError($('put-error'), file, e);
    }
  };

  const uploadAll = async (files) => {
    if (files.length === 0) return;
    batch += 1;
    const mine = batch;
    const current = () => batch === mine;
    const [first, ...rest] = files;
    const rows = rest.map((file) => fileRow(file, store));
    $('put-files').replaceChildren(...rows.map((r) => r.li));
    $('put-files').hidden = rows.length === 0;
    await uploadFirst(first, current);
    for (const row of rows) await row.upload();
  };

  // A folder: published as a website (publish.js), in the card's own elements.
  const publishFolder = async ({ folder, items, left }) => {
    batch += 1;
    const mine = batch;
    const current = () => batch === mine;
    $('put-files').hidden = true;
    $('put-error').hidden = true;
    $('put-result').hidden = true;
    const bar = $('put-progress');
    const started = performance.now();
    let name = '';
    try {
      const { link, parts } = await publishSite(peer, items, {
        onFile: (i, item) => { name = `${i + 1} of ${items.length}: ${item.path}`; },
        onProgress: (done, total) => {
          if (!current()) return;
          bar.hidden = false;
          bar.max = Math.max(total, 1);
          bar.value = done;
          $('put-detail').textContent = `Publishing ${name} · ${formatBytes(done)} of ${formatBytes(total)}${rateText(done, started)}…`;
        },
      });
      const size = items.reduce((n, i) => n + i.file.size, 0);
      let named = null;
      if (namedInput.checked) {
        if (current()) $('put-detail').textContent = `Publishing ${folder} under its name…`;
        named = await publishNamed(peer, folder, link);
      }
      const version = named ? `, version ${named.version}` : '';
      rememberUpload({ name: `${folder}/ (website${version})`, size, link, at: Date.now(), parts });
      renderUploads(undefined, formatBytes);
      if (!current()) return;
      bar.hidden = true;
      const shared = named ? `${location.origin}${location.pathname}#${named.nameLink}` : link;
      $('put-link').value = shared;
      $('put-qr').replaceChildren(qrSvg(shared, `QR code of the link to the website ${folder}`));
      $('put-result').dataset.state = 'stored';
      $('put-result').hidden = false;
      const skipped = left ? ` (${left} hidden ${left === 1 ? 'file' : 'files'} left out)` : '';
      const follows = named
        ? ` as version ${named.version} of its name: the link always opens the newest version, and publishing ${folder} here again updates it`
        : '';
      $('put-detail').textContent = `The website ${folder} (${items.length} ${items.length === 1 ? 'file' : 'files'}, ${formatBytes(size)}) is published${skipped}${follows}.`;
    } catch (e) {
      if (!current()) return;
      bar.hidden = true;
      showUploadError($('put-error'), { name: `the folder ${folder}` }, e);
    }
  };
  const namedInput = $('publish-named');
  const folderInput = $('folder');
  folderInput.addEventListener('change', () => {
    const files = [...folderInput.files];
    folderInput.value = '';
    if (files.length) publishFolder(fromPicker(files));
  });

  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = ''; // the same file may be chosen again
    uploadAll(files);
  });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    const folder = entries.length === 1 && entries[0].isDirectory ? entries[0] : null;
    if (folder) fromDroppedFolder(folder).then(publishFolder);
    else uploadAll([...e.dataTransfer.files]);
  });
  wireCopyButton($('put-copy'), () => $('put-link').value, {
    status: $('put-copy-status'),
    select: () => $('put-link').select(),
  });
}

/** A row for one more file: its name, progress, and then its link and a Copy button. */
function fileRow(file, store) {
  const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);
  const li = el('li', { className: 'put-file' });
  const name = el('p', { className: 'filename', textContent: `${file.name} · ${formatBytes(file.size)}` });
  const bar = el('progress', { max: 1, value: 0 });
  bar.setAttribute('aria-label', `Upload progress of ${file.name}`);
  const detail = el('p', { className: 'muted', textContent: 'Waiting…' });
  detail.setAttribute('aria-live', 'polite');
  const error = el('p', { className: 'error', hidden: true });
  error.setAttribute('role', 'alert');
  const result = el('div', { className: 'row', hidden: true });
  const link = el('input', { type: 'text', readOnly: true, className: 'put-file-link' });
  link.setAttribute('aria-label', `Link to ${file.name}`);
  const copy = el('button', { type: 'button', className: 'button', textContent: 'Copy' });
  copy.setAttribute('aria-label', `Copy the link to ${file.name}`);
  wireCopyButton(copy, () => link.value, { status: $('put-copy-status'), select: () => link.select() });
  result.append(link, copy);
  li.append(name, bar, detail, error, result);
  li.dataset.name = file.name;
  const upload = async () => {
    const show = showProgress(bar, detail, 'Encrypted and stored', performance.now());
    const showLink = (url) => {
      link.value = url;
      result.hidden = false;
      li.dataset.state = 'placing';
    };
    try {
      showLink(await store(file, show, showLink));
      bar.hidden = true;
      detail.textContent = 'Stored: safe to close. Share this link:';
      li.dataset.state = 'stored';
    } catch (e) {
      result.hidden = true;
      showUploadError(error, file, e);
      li.dataset.state = 'failed';
    }
  };
  return { li, upload };
}
