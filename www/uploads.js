// "My uploads": the links this browser created, kept in localStorage (only
// here; the links carry the keys, so they are as private as this profile).

import { wireCopyButton } from './clipboard.js';
import { errorCode, errorMessage } from './errors.js';
import { remember, pieceStates, pictureSentence } from './piece-states.js';
import { keepAlive, renewalText } from './renewals.js';

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
  checkHealth();
}

function forget(link) {
  const list = loadUploads().filter((u) => u.link !== link);
  try { localStorage.setItem(KEY, JSON.stringify(list)); } catch { /* ignore */ }
  renderUploads(list);
}

// Health: where each upload lives, as audits show it (peer.health: every
// holder reached proves a random sample of the pieces it claims), checked
// when the list shows and every HEALTH_MS. Healthy means every part could
// still be rebuilt after losing any one holder. A failed check keeps the
// error's message and code (errors.js); the code is on the line as
// `data-code`.
const HEALTH_MS = 60_000;
const HEALTH_CHECKED = 20;
// An open picture is audited again this often, so it follows repairs.
const PICTURE_MS = 15_000;
const health = new Map();
// When each piece of each upload was last live (piece-states.js).
const lastLive = new Map();
let healthPeer = null;
// The last renewal of each upload's leases (renewals.js).
const renewals = new Map();

/** Starts checking the listed uploads' health with `peer`, and renewing them. */
export function watchUploadHealth(peer) {
  healthPeer = peer;
  checkHealth();
  setInterval(checkHealth, HEALTH_MS);
  if (typeof peer.renew === 'function') {
    keepAlive(peer, loadUploads, (link, result) => {
      renewals.set(link, result);
      showRenewal(link);
    }, { errorMessage, errorCode });
  }
}

function showRenewal(link) {
  for (const li of $('uploads-list').children) {
    if (li.dataset.link !== link) continue;
    const el = li.querySelector('.renewal');
    const r = renewals.get(link);
    el.textContent = renewalText(r, healthPeer?.status().node.leaseSecs);
    if (r?.code) el.dataset.code = r.code;
    else delete el.dataset.code;
  }
}

async function checkHealth() {
  if (!healthPeer) return;
  for (const u of loadUploads().slice(0, HEALTH_CHECKED)) await checkOne(u.link);
}

// One check at a time per upload: an open picture and the periodic pass
// share it.
const checking = new Map();
function checkOne(link) {
  if (!checking.has(link)) {
    checking.set(link, auditAndRepair(link).finally(() => checking.delete(link)));
  }
  return checking.get(link);
}

async function auditAndRepair(link) {
  if (!healthPeer) return;
  await audit(link);
  await repairIfWeak(link);
}

async function audit(link) {
  try {
    const h = { ...await healthPeer.health(link), checkedAt: Date.now() };
    lastLive.set(link, remember(lastLive.get(link), h.pieces, h.checkedAt));
    health.set(link, h);
  } catch (e) {
    health.set(link, { state: 'unknown', error: errorMessage(e), code: errorCode(e) });
  }
  showHealth(link);
}

// A part below the nodes' repair threshold is rebuilt by this tab too,
// when the contribution policy allows background work (the peer refuses
// otherwise, and the line says why).
async function repairIfWeak(link) {
  const h = health.get(link);
  if (!h?.pieces || h.weakest < h.k || h.weakest >= h.repairThreshold) return;
  if (typeof healthPeer.repair !== 'function') return;
  // Drawn as being repaired only when the policy lets this tab work now
  // (otherwise the peer refuses at once, with the reason).
  h.repairing = healthPeer.decision?.()?.runBackgroundWork === true;
  if (h.repairing) showHealth(link);
  let placed = 0;
  try {
    const r = await healthPeer.repair(link);
    placed = r.shards;
    h.repairNote = r.shards ? `This browser placed ${plural(r.shards, 'piece')} again.` : '';
  } catch (e) {
    h.repairNote = `Not repaired here: ${errorMessage(e)}`;
  }
  h.repairing = false;
  showHealth(link);
  // The picture shows the new holders at once.
  if (placed) {
    await audit(link);
    health.get(link).repairNote = h.repairNote;
    showHealth(link);
  }
}

const plural = (n, one) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Where the pieces are: "2 nodes and 3 browsers". */
function holdersText(h) {
  const live = (h.holderList || []).filter((x) => x.counted > 0);
  const nodes = live.filter((x) => x.kind === 'node').length;
  const browsers = live.length - nodes;
  const evictable = live.filter((x) => x.kind === 'browser' && x.storage === 'evictable').length;
  const mayClear = evictable && ` (${evictable === browsers ? (browsers === 1 ? 'it' : 'all') : evictable} may clear them)`;
  const browserText = browsers && `${plural(browsers, 'browser')}${mayClear || ''}`;
  return [nodes && plural(nodes, 'node'), browserText].filter(Boolean).join(' and ') || 'no holder';
}

function auditText(h) {
  const when = new Date(h.checkedAt).toLocaleTimeString();
  const failed = h.failedAudits ? `, ${h.failedAudits} failed` : '';
  const silent = h.unreached ? `; ${plural(h.unreached, 'holder')} did not answer` : '';
  return `Last audit ${when}: ${plural(h.audits - (h.failedAudits || 0), 'piece')} proven${failed}${silent}.`;
}

function healthText(h) {
  if (!h) return 'Auditing where the pieces are…';
  if (h.state === 'unknown') return `Health unknown: ${h.error}`;
  const where = holdersText(h);
  if (h.state === 'healthy') {
    return `Healthy: ${h.weakest} of ${h.n} pieces of every part live (${h.k} needed, rebuilt below ${h.repairThreshold}) on ${where}; losing any one leaves at least ${h.weakestAfterOneLoss}. ${auditText(h)}`;
  }
  if (h.state === 'at-risk') {
    return `At risk: ${h.weakest} of ${h.n} pieces of every part live (${h.k} needed, rebuilt below ${h.repairThreshold}), but on ${where}: losing one could leave ${h.weakestAfterOneLoss}. ${auditText(h)}`;
  }
  return `Unavailable now: some part has ${h.weakest} of the ${h.k} pieces it needs. ${auditText(h)}`;
}

function showHealth(link) {
  for (const li of $('uploads-list').children) {
    if (li.dataset.link !== link) continue;
    const el = li.querySelector('.health');
    const h = health.get(link);
    renderMap(li.querySelector('.piece-map'), h, link);
    const repairLine = h?.repairing ? 'Rebuilding its weak parts from this browser…' : h?.repairNote;
    el.textContent = [healthText(h), repairLine].filter(Boolean).join(' ');
    el.dataset.state = h ? h.state : 'checking';
    if (h?.code) el.dataset.code = h.code;
    else delete el.dataset.code;
  }
}

const CELL = { n: 'node', b: 'browser', e: 'evictable', a: 'away', r: 'repairing', '-': 'missing' };

/**
 * The picture of where an upload lives: each part (segment) a column of
 * its pieces, each piece coloured by its holder's kind and state (on a
 * node, on browsers only, on browsers that may clear it, away, being repaired, or found on no holder
 * that proved it; piece-states.js), redrawn with each audit; screen
 * readers get the counts as one sentence.
 */
function renderMap(el, h, link) {
  if (!el) return;
  if (!h?.pieces) {
    el.textContent = h?.state === 'unknown' ? 'No picture: the last audit failed.' : 'Waiting for the first audit…';
    return;
  }
  const anyAway = (h.holderList || []).some((x) => x.reached === false);
  const rows = pieceStates(h.pieces, h.n, h.repairThreshold, lastLive.get(link), h.checkedAt, { anyAway, repairing: h.repairing });
  const sentence = pictureSentence(rows, { segments: h.segments, n: h.n, k: h.k, threshold: h.repairThreshold });
  const grid = document.createElement('div');
  grid.className = 'grid';
  grid.setAttribute('role', 'img');
  grid.setAttribute('aria-label', sentence);
  for (const [i, row] of rows.entries()) {
    const part = document.createElement('div');
    part.className = 'part';
    part.title = `Part ${i + 1}`;
    for (const c of row) {
      const cell = document.createElement('span');
      cell.className = `cell ${CELL[c] || 'missing'}`;
      part.append(cell);
    }
    grid.append(part);
  }
  const text = document.createElement('p');
  text.className = 'muted';
  text.textContent = sentence;
  text.setAttribute('aria-hidden', 'true');
  el.replaceChildren(grid, text);
}

/** While `details` is open, its upload is audited every PICTURE_MS. */
function followWhileOpen(details, link) {
  let timer = null;
  details.addEventListener('toggle', () => {
    clearInterval(timer);
    timer = null;
    if (!details.open) return;
    checkOne(link);
    timer = setInterval(() => {
      if (!details.isConnected || !details.open) {
        clearInterval(timer);
        return;
      }
      checkOne(link);
    }, PICTURE_MS);
  });
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
    const state = document.createElement('div');
    state.className = 'health muted';
    state.textContent = healthText(health.get(u.link));
    state.dataset.state = health.get(u.link)?.state || 'checking';
    if (health.get(u.link)?.code) state.dataset.code = health.get(u.link).code;
    const renewal = document.createElement('div');
    renewal.className = 'renewal muted';
    renewal.textContent = renewalText(renewals.get(u.link), healthPeer?.status().node.leaseSecs);
    const where = document.createElement('details');
    where.className = 'where';
    const label = document.createElement('summary');
    label.textContent = 'Where it lives';
    const map = document.createElement('div');
    map.className = 'piece-map';
    renderMap(map, health.get(u.link), u.link);
    where.append(label, map);
    followWhileOpen(where, u.link);
    what.append(name, meta, state, renewal, where);
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
