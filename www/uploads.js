// "My uploads": the links this browser created, kept in localStorage (only
// here; the links carry the keys, so they are as private as this profile).

import { wireCopyButton } from './clipboard.js';

const KEY = 'meganet-uploads';
const MAX = 200;
const $ = (id) => document.getElementById(id);

export function loadUploads() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(list) ? list.filter((u) => u && typeof u.link === 'string') : [];
  } catch {
    return []; // unreadable storage: start empty rather than fail the page
  }
}

export function rememberUpload(entry) {
  const list = [entry, ...loadUploads().filter((u) => u.link !== entry.link)].slice(0, MAX);
  try { localStorage.setItem(KEY, JSON.stringify(list)); } catch { /* full or disabled: the link is still shown */ }
  renderUploads(list);
}

function forget(link) {
  const list = loadUploads().filter((u) => u.link !== link);
  try { localStorage.setItem(KEY, JSON.stringify(list)); } catch { /* ignore */ }
  renderUploads(list);
}

export function renderUploads(list = loadUploads(), formatBytes = (n) => `${n} B`) {
  $('uploads').hidden = list.length === 0;
  $('uploads-list').replaceChildren(...list.map((u) => {
    const li = document.createElement('li');
    const what = document.createElement('div');
    what.className = 'what';
    const name = document.createElement('strong');
    name.textContent = u.name || 'file';
    const meta = document.createElement('div');
    meta.className = 'muted';
    meta.textContent = `${formatBytes(u.size)} · ${new Date(u.at).toLocaleString()}`;
    what.append(name, meta);
    const actions = document.createElement('div');
    actions.className = 'actions';
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'button secondary';
    copy.textContent = 'Copy link';
    copy.setAttribute('aria-label', `Copy link to ${u.name || 'file'}`);
    wireCopyButton(copy, () => u.link, { status: $('uploads-status') });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'button secondary';
    remove.textContent = 'Forget';
    remove.setAttribute('aria-label', `Forget the link to ${u.name || 'file'} in this browser`);
    remove.addEventListener('click', () => forget(u.link));
    actions.append(copy, remove);
    li.append(what, actions);
    li.dataset.link = u.link;
    return li;
  }));
}
