// "Publish a folder as a website": a folder chosen with the picker (or
// dropped on the Share card) becomes a site, as `meganet publish` makes
// one (docs/FORMAT.md, "Sites"). The whole folder is checked first, with
// placeholder links, by the same rules the crate applies to every site
// (wasm `siteDocument`), so a bad name fails before anything is uploaded;
// then each file is stored with `peer.put`, and last the directory
// document listing them, whose link is the site's. Names starting with a
// dot (.git, .env) are left out, as the CLI leaves them out.
//
// Under a name (`publishNamed`), the site's link is signed into a name
// record by `peer.publishName`: the name's key is made on the first
// publish of a folder and kept in this origin's localStorage by the
// folder's name, so publishing the same folder again here is its next
// version (as `meganet publish --name KEYFILE` keeps it in a file). Sites
// run on another origin and never see it.

import { guessType, siteDocument, siteType } from '../build/pkg/meganet.js';
import { codedError, INVALID_ARGUMENT } from './errors.js';
import { keepName } from './kept-names.js';

export const INDEX = 'index.html';
const PLACEHOLDER = `2.${'A'.repeat(43)}.${'A'.repeat(43)}`;

/**
 * The folder picker's files as [{path, file}], paths inside the folder
 * (`webkitRelativePath` without the folder's own name), hidden ones out;
 * with the folder's name and how many were left out.
 */
export function fromPicker(files) {
  const items = files.map((file) => {
    const [folder, ...rest] = file.webkitRelativePath.split('/');
    return { folder, path: rest.join('/'), file };
  });
  return keepVisible(items, items[0]?.folder || 'site');
}

/** A dropped folder (a FileSystemDirectoryEntry) read whole, as fromPicker gives. */
export async function fromDroppedFolder(entry) {
  const items = [];
  const walk = async (dir, prefix) => {
    const reader = dir.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const e of batch) {
        if (e.isDirectory) await walk(e, `${prefix}${e.name}/`);
        else if (e.isFile) items.push({ path: `${prefix}${e.name}`, file: await new Promise((res, rej) => e.file(res, rej)) });
      }
    }
  };
  await walk(entry, '');
  return keepVisible(items, entry.name);
}

function keepVisible(items, folder) {
  const hidden = (path) => path.split('/').some((segment) => segment.startsWith('.'));
  const kept = items.filter((i) => !hidden(i.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  return { folder, items: kept, left: items.length - kept.length };
}

const NAMES_KEY = 'meganet-names';
/** Most names remembered (the oldest is forgotten first). */
const MAX_NAMES = 64;

function loadNames() {
  try {
    const list = JSON.parse(localStorage.getItem(NAMES_KEY) || '[]');
    return Array.isArray(list) ? list.filter((n) => typeof n?.folder === 'string' && typeof n.key === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Points the name kept for `folder` (a new one the first time) at the site
 * `link`; resolves to `{nameLink, version, signedAt}`. Errors carry a `code`.
 */
export async function publishNamed(peer, folder, link) {
  const known = loadNames().find((n) => n.folder === folder);
  const site = link.slice(link.indexOf('#') + 1);
  const published = await peer.publishName(site, known?.key);
  keepName(published.nameLink, published);
  const entry = { folder, key: published.key, nameLink: published.nameLink, version: published.version };
  const rest = loadNames().filter((n) => n.folder !== folder);
  try {
    localStorage.setItem(NAMES_KEY, JSON.stringify([entry, ...rest].slice(0, MAX_NAMES)));
  } catch {
    throw codedError('storage-full', 'the name was published, but this browser would not keep its key: the next version cannot be published from here');
  }
  return { nameLink: published.nameLink, version: published.version, signedAt: published.signedAt };
}

/**
 * Publishes `items` ([{path, file}]) as a site; resolves to the site's
 * link. `onFile(index, item)` before each file, `onProgress(done, total)`
 * in bytes over the whole folder. Errors carry a `code`.
 */
export async function publishSite(peer, items, { onFile = () => {}, onProgress = () => {} } = {}) {
  if (!items.some((i) => i.path === INDEX)) {
    throw codedError(INVALID_ARGUMENT, `this folder has no ${INDEX} at its top: a site opens on it`);
  }
  const describe = (links) => ({
    index: INDEX,
    entries: items.map((item, i) => ({
      path: item.path, link: links[i], size: item.file.size, type: guessType(item.path),
    })),
  });
  siteDocument(describe(items.map(() => PLACEHOLDER))); // every rule, before any upload
  const total = items.reduce((n, i) => n + i.file.size, 0);
  const links = [];
  let before = 0;
  for (const [i, item] of items.entries()) {
    onFile(i, item);
    links.push(await peer.put(item.file, { onProgress: (p) => onProgress(before + p.done, total) }));
    before += item.file.size;
  }
  const doc = siteDocument(describe(links));
  const link = await peer.put(new File([doc], 'site.json', { type: siteType() }));
  return { link, parts: links };
}
