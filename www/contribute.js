// The Contribute card: the opt-in switch, the space offered, the browser's
// persistence answer and a live line saying what this peer contributes now
// and why. Switching off is for good: the pieces held are handed to the
// node and the space is freed (`peer.leave()`), so the files they belong
// to keep their redundancy without waiting for repair; a lowered quota
// hands off what it evicts the same way, and the card says what moved. The choice is kept in localStorage (`meganet.contribute`) and
// handed to the peer; the decision comes from the policy (contribution.js).
// The latest decision is on `window.meganetContribution` for automation.

import {
  MIB, loadSettings, saveSettings, quotaBounds, requestPersistence, isPersisted,
  persistenceText, applyToPeer, contributedBytes, binaryBytes, watchDecision,
} from './contribution.js';
import { startIdleTracking } from './signals.js';

export const SETTINGS_KEY = 'meganet.contribute';
const $ = (id) => document.getElementById(id);

// Shows `text` in `el` only when it changed, so live regions speak only then.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export async function setUpContribution(peer) {
  const toggle = $('contribute-on');
  const range = $('contribute-quota');
  const value = $('contribute-quota-value');
  const note = $('contribute-quota-note');
  const persist = $('contribute-persist');
  const handoff = $('contribute-handoff');
  const state = { settings: loadSettings(SETTINGS_KEY), persisted: null, decision: null, summary: null, signals: null };
  window.meganetContribution = state;

  const used = () => contributedBytes(peer);
  const bounds = await quotaBounds(used());
  const maxMib = Math.max(1, Math.floor(bounds.maxBytes / MIB));
  const chosen = state.settings.quotaBytes ?? bounds.defaultBytes;
  state.settings.quotaBytes = Math.min(chosen, maxMib * MIB);
  range.min = '0';
  range.max = String(maxMib);
  range.step = maxMib >= 256 ? '16' : '1';
  range.value = String(Math.round(state.settings.quotaBytes / MIB));
  setText(note, bounds.known
    ? `This browser lets meganet use up to ${binaryBytes(maxMib * MIB)} more.`
    : 'This browser does not say how much space is free.');
  const showQuota = () => {
    const text = binaryBytes(Number(range.value) * MIB);
    setText(value, text);
    range.setAttribute('aria-valuetext', text);
  };
  showQuota();
  toggle.checked = state.settings.enabled;

  const watcher = watchDecision({
    peer,
    settings: () => state.settings,
    usedBytes: used,
    onDecision: (d) => {
      Object.assign(state, d);
      render(d.summary);
    },
  });
  state.refresh = watcher.refresh;

  // The peer takes the choice where it can (peer.contribute); the page
  // shows the same choice either way.
  const apply = async () => {
    saveSettings(SETTINGS_KEY, state.settings);
    try {
      const result = await applyToPeer(peer, state.settings);
      if (typeof result?.persisted === 'boolean') state.persisted = result.persisted;
      if (result?.evicted && (result.evicted.handedOff || result.evicted.dropped)) {
        setText(handoff, handedOffText(result.evicted, 'Less space offered'));
      }
    } catch (e) {
      console.warn('peer.contribute failed:', e);
    }
    showPersistence();
    await watcher.refresh();
  };

  const showPersistence = () => {
    persist.hidden = !state.settings.enabled;
    setText(persist, state.settings.enabled ? persistenceText(state.persisted) : '');
  };

  // Off for good: hand the pieces on, free the space, then stop.
  const stop = async () => {
    if (used() > 0 && typeof peer?.leave === 'function') {
      toggle.disabled = true;
      setText(handoff, 'Handing the pieces this browser stores to the network…');
      try {
        setText(handoff, handedOffText(await peer.leave(), 'Stopped'));
      } catch (e) {
        setText(handoff, `Could not hand the pieces on (${e?.message ?? e}); repair rebuilds them elsewhere.`);
      } finally {
        toggle.disabled = false;
      }
    }
    await apply();
  };
  toggle.addEventListener('change', () => {
    state.settings = { ...state.settings, enabled: toggle.checked };
    if (toggle.checked) {
      setText(handoff, '');
      askPersistence();
      apply();
    } else {
      stop();
    }
  });
  // Firefox asks the user, and the answer may never come: the card works
  // meanwhile and shows the answer when it does.
  const askPersistence = async () => {
    state.persisted = 'asking';
    showPersistence();
    const answer = await requestPersistence();
    if (state.persisted !== 'asking') return;
    state.persisted = answer;
    showPersistence();
    watcher.refresh();
  };
  range.addEventListener('input', showQuota);
  range.addEventListener('change', () => {
    state.settings = { ...state.settings, quotaBytes: Number(range.value) * MIB };
    apply();
  });

  startIdleTracking();
  state.persisted = await isPersisted();
  await apply();
}

/** What a hand-off did (`{handedOff, handedOffBytes, dropped}`), in words. */
export function handedOffText({ handedOff = 0, handedOffBytes = 0, dropped = 0 }, what) {
  const pieces = (n) => `${n} ${n === 1 ? 'piece' : 'pieces'}`;
  const moved = `${what}: handed ${pieces(handedOff)} (${binaryBytes(handedOffBytes)}) to the network and freed the space.`;
  return dropped ? `${moved} ${pieces(dropped)} could not be handed on; repair rebuilds them elsewhere.` : moved;
}

function render(summary) {
  setText($('contribute-storing'), summary.storing);
  setText($('contribute-serving'), `${summary.serving} ${summary.repair}`);
  const list = $('contribute-reasons');
  const codes = summary.reasons.map((r) => r.code).join(' ');
  if (list.dataset.codes === codes && [...list.children].every((li, i) => li.textContent === summary.reasons[i].message)) return;
  list.dataset.codes = codes;
  list.replaceChildren(...summary.reasons.map((r) => {
    const li = document.createElement('li');
    li.dataset.code = r.code;
    li.textContent = r.message;
    return li;
  }));
}
