// Contribution, shared by the app's Contribute card (contribute.js) and the
// widget's peer frame (widget-frame.js): the saved choice, the browser's
// storage bounds and persistence, handing the choice to the peer, and the
// policy's live decision in plain words. What to contribute is decided by
// the wasm `decideContribution` (crate/src/policy.rs); this file only feeds
// it the signals and words its answer.

import init, { decideContribution, defaultQuotaBytes } from '../build/pkg/meganet.js';
import { readSignals, onSignalsChange } from './signals.js';

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
/** Storage has no change events, so the decision is re-read this often too. */
export const RECHECK_MS = 30_000;

// --- the saved choice -----------------------------------------------------

/** `{enabled, quotaBytes}` saved under `key`, or the defaults (`quotaBytes: null` = not chosen). */
export function loadSettings(key) {
  try {
    const s = JSON.parse(localStorage.getItem(key) || 'null');
    if (s && typeof s === 'object') {
      return {
        enabled: s.enabled === true,
        quotaBytes: Number.isSafeInteger(s.quotaBytes) && s.quotaBytes >= 0 ? s.quotaBytes : null,
      };
    }
  } catch { /* unreadable or blocked storage: the defaults */ }
  return { enabled: false, quotaBytes: null };
}

export function saveSettings(key, { enabled, quotaBytes }) {
  try { localStorage.setItem(key, JSON.stringify({ enabled, quotaBytes })); } catch { /* blocked: the choice lasts this visit */ }
}

export function clearSettings(key) {
  try { localStorage.removeItem(key); } catch { /* nothing to clear */ }
}

// --- the browser's storage ------------------------------------------------

/**
 * The most space the user can offer (the browser's quota less what this
 * origin already uses, plus what it holds for others) and the default
 * offer. `known` is false without a storage estimate; the bound then is
 * only a sane ceiling.
 */
export async function quotaBounds(usedContributedBytes = 0) {
  // The default offer is the peer's (the wasm module's): load it if this
  // page has not yet (the widget frame asks before it starts its peer).
  await init();
  let estimate = null;
  try { estimate = await navigator.storage?.estimate?.(); } catch { /* blocked: unknown */ }
  if (!estimate || !Number.isFinite(estimate.quota)) {
    return { maxBytes: 16 * GIB, defaultBytes: defaultQuotaBytes(), known: false };
  }
  const free = Math.max(0, estimate.quota - (estimate.usage || 0)) + usedContributedBytes;
  const maxBytes = Math.floor(Math.min(free, estimate.quota) / MIB) * MIB;
  // Offered by default: the peer's default quota, or less where the
  // browser has less room.
  return { maxBytes, defaultBytes: Math.min(defaultQuotaBytes(), maxBytes), known: true };
}

/**
 * Asks the browser to keep this origin's storage (`navigator.storage.persist`);
 * resolves to its answer, or null where the browser has no such request.
 */
export async function requestPersistence() {
  if (typeof navigator.storage?.persist !== 'function') return null;
  try { return (await navigator.storage.persist()) === true; } catch { return false; }
}

/** Whether storage is already persistent; null where unknown. */
export async function isPersisted() {
  if (typeof navigator.storage?.persisted !== 'function') return null;
  try { return (await navigator.storage.persisted()) === true; } catch { return null; }
}

/** The persistence answer (true, false, null = no such request, 'asking') in plain words. */
export function persistenceText(persisted) {
  if (persisted === 'asking') return 'Asking the browser to keep contributed data; until it agrees, it may clear it under pressure.';
  if (persisted === true) return 'Storage is persistent: the browser keeps contributed data until you remove it.';
  if (persisted === false) return 'The browser may clear contributed data under pressure (it did not make storage persistent), so uploaders give this browser half the copies of a persistent one.';
  return 'This browser cannot promise to keep storage: it may clear contributed data under pressure.';
}

// --- the peer ---------------------------------------------------------------

/**
 * Hands the choice to the peer: `peer.contribute({enabled, quotaBytes})`
 * where the peer has it (it resolves to `{enabled, quotaBytes, persisted}`);
 * null where it does not yet.
 */
export async function applyToPeer(peer, { enabled, quotaBytes }) {
  if (typeof peer?.contribute !== 'function') return null;
  return peer.contribute({ enabled, quotaBytes });
}

/**
 * Bytes this peer holds for others: `peer.usage().contributed` where the
 * peer reports it (the shape of `LocalStore.usage()`), else 0.
 */
export function contributedBytes(peer) {
  try {
    const n = typeof peer?.usage === 'function' ? peer.usage()?.contributed : 0;
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

// --- the decision in words ------------------------------------------------

/** Binary units as the policy writes them, without a trailing ".0": "1 MiB", "1.5 GiB". */
export function binaryBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Math.max(0, n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  const text = i === 0 ? String(Math.floor(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[i]}`;
}

/**
 * The decision as the lines the user reads: `storing` (new data, and why
 * not), `serving` (the cap), `repair`, and every reason's message.
 */
export function summarize(decision) {
  const reasons = Array.isArray(decision?.reasons) ? decision.reasons : [];
  if (!decision?.serveRequests) {
    return {
      storing: 'Not contributing: nothing is stored or served for others.',
      serving: 'Not serving.',
      repair: 'Repair: off.',
      reasons,
    };
  }
  // The first reason that stops new data heads the status line (each
  // reason says so itself: policy::Reason::pauses_new_data).
  const pausedBy = reasons.find((r) => r.pausesNewData);
  return {
    storing: decision.acceptNewShards
      ? `Storing for others: yes, up to ${binaryBytes(decision.effectiveQuotaBytes)}.`
      : `Storing for others: ${pausedBy ? pausedBy.message : 'paused'}.`,
    serving: `Serving up to ${binaryBytes(decision.bandwidthCapBytesPerSec)}/s.`,
    // What repair really does today: the nodes on duty rebuild; a browser
    // answers their audits (docs/DESIGN.md 9.10.1).
    repair: 'Repair: nodes rebuild lost pieces; this browser answers their audits.',
    reasons,
  };
}

/**
 * Keeps a decision current: decides now, again on every signal change and
 * every RECHECK_MS, and calls `onDecision({decision, signals, summary})`.
 * `settings()` gives `{enabled, quotaBytes}`; `usedBytes()` what the peer
 * holds for others. With a peer, the signals go to `peer.applySignals` and
 * its answer (decided with its own opt-in and usage) is what the page
 * shows, so the page shows what the peer enforces. Returns
 * `{refresh, stop}`; `refresh()` resolves once the fresh decision has been
 * delivered.
 */
export function watchDecision({ peer, settings, usedBytes = () => 0, onDecision }) {
  let latest = 0;
  const refresh = async () => {
    const ticket = ++latest;
    const { enabled, quotaBytes } = settings();
    const signals = await readSignals({ optedIn: enabled, quotaBytes, usedContributedBytes: usedBytes() });
    if (ticket !== latest) return; // overtaken by a newer read
    let decision;
    try {
      // The peer's own decision (its opt-in, quota and usage) is the one it
      // enforces, so that is the one shown; without a peer here, the same
      // policy decides from the page's settings.
      decision = peer && typeof peer.applySignals === 'function'
        ? peer.applySignals(signals)
        : decideContribution(signals);
    } catch (e) {
      console.warn('contribution policy refused the signals:', e);
      return;
    }
    onDecision({ decision, signals, summary: summarize(decision) });
  };
  const unsubscribe = onSignalsChange(() => { refresh(); });
  const timer = setInterval(refresh, RECHECK_MS);
  refresh();
  return {
    refresh,
    stop() { unsubscribe(); clearInterval(timer); },
  };
}
