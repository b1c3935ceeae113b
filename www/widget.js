// <meganet-widget>: the embeddable consent card. A site adds
//   <script src="https://<node>/widget.js" async></script>
//   <meganet-widget></meganet-widget>
// (or, bundled from npm: `import 'meganet/widget'` and
// <meta name="meganet-node" content="https://<node>/"> in the page's head)
// and its visitors may join: only then does the card open a small frame of
// the meganet origin (widget.html, widget-frame.js) that runs the peer,
// once the visitor confirms with the frame's own button (this script
// cannot press it).
// Keys and storage stay in that origin; this script, which runs as the host
// page, only sends commands and shows the frame's status (protocol:
// widget-protocol.js, docs/DESIGN.md 2.1 and 9.9). Styleable with ::part(card),
// ::part(button) and ::part(status).
//
// One frame per page, however many elements or copies of this script: the
// first copy defines the element, and all elements share one controller.

import { parseStatus } from './widget-protocol.js';

const script = document.currentScript;
// Where the frame lives: on the node the page names in <meta
// name="meganet-node" content="https://node.example/"> (needed when this
// script is bundled, as from npm `meganet/widget`: then currentScript is
// the page's bundle, or none), else next to this script, on its origin.
const NODE = document.querySelector('meta[name="meganet-node"]')?.content;
const FRAME_URL = new URL('widget.html', NODE || script?.src || location.href);
const ORIGIN = FRAME_URL.origin;
const JOINED_KEY = 'meganet-widget:joined'; // host-page localStorage: reopen the frame next visit
const LATER_KEY = 'meganet-widget:not-now'; // host-page sessionStorage
const ACTIVITY_EVERY_MS = 15_000;

// --- the controller: one frame, one status, every element ----------------

// Web Storage that may be blocked (sandboxed or privacy-hardened pages): null then.
const storage = (store, op, key, value) => {
  try { return globalThis[store][op](key, value); } catch { return null; }
};

const controller = {
  frame: null,
  host: null, // the element whose shadow root holds the frame
  status: null,
  pending: null, // a command waiting for the frame to be ready
  restoring: false,
  view: 'consent', // consent | running | left | hidden
  elements: new Set(),
  counters: { accepted: 0, rejected: 0 },
  lastActivity: 0,

  attach(el) {
    this.elements.add(el);
    if (storage('sessionStorage', 'getItem', LATER_KEY) === '1' && this.view === 'consent') this.view = 'hidden';
    if (!this.frame && storage('localStorage', 'getItem', JOINED_KEY) === '1') this.open(el, null);
    this.render();
  },

  detach(el) {
    this.elements.delete(el);
    if (this.host !== el) return;
    // The frame (and its peer) went away with its element: reopen it in
    // another element, which picks up the saved choice.
    this.frame = null;
    this.host = null;
    this.status = null;
    const next = this.elements.values().next().value;
    if (next && this.view === 'running') this.open(next, null);
    this.render();
  },

  // `command` null: reopening for a visitor who joined on an earlier visit.
  open(el, command) {
    const frame = document.createElement('iframe');
    // <meganet-widget private>: the visitor's peer reaches other browsers
    // only through nodes' relays (see private-mode.js).
    const url = new URL(FRAME_URL);
    if (el.hasAttribute('private')) url.searchParams.set('private', '1');
    frame.src = url.href;
    frame.title = 'meganet peer: stores encrypted pieces for other visitors';
    frame.setAttribute('part', 'frame');
    frame.loading = 'eager';
    this.frame = frame;
    this.host = el;
    this.pending = command;
    this.restoring = command === null;
    this.view = 'running';
    el.placeFrame(frame);
  },

  close() {
    this.frame?.remove();
    this.frame = null;
    this.host = null;
    this.status = null;
    this.pending = null;
  },

  send(command) {
    if (this.frame?.contentWindow) this.frame.contentWindow.postMessage(command, ORIGIN);
  },

  join(el) {
    storage('sessionStorage', 'removeItem', LATER_KEY);
    storage('localStorage', 'setItem', JOINED_KEY, '1');
    if (this.frame) this.send({ type: 'meganet:join' });
    else this.open(el, { type: 'meganet:join' });
    this.render();
  },

  later() {
    storage('sessionStorage', 'setItem', LATER_KEY, '1');
    this.view = 'hidden';
    this.render();
  },

  onMessage(event) {
    const status = this.frame && event.source === this.frame.contentWindow && event.origin === ORIGIN
      ? parseStatus(event.data)
      : null;
    if (!status) {
      this.counters.rejected += 1;
      return;
    }
    this.counters.accepted += 1;
    // The frame asks: keyboard focus goes to it, where its button waits.
    if (status.state === 'asking' && this.status?.state !== 'asking') this.frame.focus();
    this.status = status;
    if (status.state !== 'ready') this.restoring = false;
    if (this.pending) {
      this.send(this.pending);
      this.pending = null;
    } else if (status.state === 'ready' && this.restoring) {
      // Reopened for a visitor who joined, but the frame remembers no
      // choice (its storage was cleared): ask again.
      this.leftOrCleared('consent');
    } else if (status.state === 'left') {
      this.leftOrCleared('left');
    }
    this.render();
  },

  leftOrCleared(view) {
    storage('localStorage', 'removeItem', JOINED_KEY);
    this.close();
    this.view = view;
  },

  // Input on the host page means the visitor is here: the frame, which
  // sees no input itself, hears of it at most every ACTIVITY_EVERY_MS.
  onActivity() {
    const now = Date.now();
    if (!this.frame || now - this.lastActivity < ACTIVITY_EVERY_MS) return;
    this.lastActivity = now;
    this.send({ type: 'meganet:activity' });
  },

  render() {
    this.frame?.classList.toggle('asking', this.status?.state === 'asking');
    for (const el of this.elements) el.render(this);
  },
};

// --- the element ----------------------------------------------------------

const STYLE = `
:host { display: block; max-width: 30rem; font: inherit; color: var(--meganet-fg, #14213d); }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.card { background: var(--meganet-bg, #fff); border: 1px solid #c9cfdd; border-radius: 0.75rem;
        padding: 0.9rem 1rem; box-shadow: 0 1px 3px rgb(0 0 0 / 0.08); }
.title { margin: 0 0 0.35rem; font-weight: 700; }
p { margin: 0 0 0.5rem; line-height: 1.45; }
a { color: var(--meganet-accent, #2541b2); }
.status { font-weight: 600; }
.detail, .note { color: #4a5168; font-size: 0.9em; }
iframe { display: block; width: 100%; height: 2.75rem; border: 0; border-radius: 0.4rem; margin: 0 0 0.6rem; }
iframe.asking { height: 4.5rem; outline: 3px solid var(--meganet-accent, #2541b2); }
.buttons { display: flex; flex-wrap: wrap; gap: 0.5rem; }
button { min-height: 44px; min-width: 44px; padding: 0.5rem 1.1rem; border-radius: 0.5rem; font: inherit;
         font-weight: 600; cursor: pointer; border: 2px solid var(--meganet-accent, #2541b2);
         background: var(--meganet-accent, #2541b2); color: #fff; }
button.secondary { background: transparent; color: var(--meganet-accent, #2541b2); }
button:focus-visible, a:focus-visible { outline: 3px solid var(--meganet-accent, #2541b2); outline-offset: 2px; }
`;

const TEMPLATE = `
<section part="card" class="card" aria-label="meganet: share storage with this site's visitors">
  <p class="title">Help this site's visitors share files</p>
  <p id="invite">Store encrypted pieces of files for others while this tab is idle. Nobody can read them, this
    site never sees them, and you can leave at any time. <a id="about" target="_blank" rel="noopener">About meganet</a></p>
  <p id="left" hidden>You left. What this browser stored for others is deleted.</p>
  <p id="status" part="status" class="status" role="status"></p>
  <p id="detail" class="detail"></p>
  <p id="note" class="note" hidden>Already active on this page.</p>
  <p id="elsewhere" hidden><a id="site" target="_blank" rel="noopener">Contribute from the meganet site instead</a></p>
  <div id="slot"></div>
  <div class="buttons">
    <button id="join" type="button" part="button join">Join</button>
    <button id="later" type="button" part="button later" class="secondary">Not now</button>
    <button id="pause" type="button" part="button pause">Pause</button>
    <button id="leave" type="button" part="button leave" class="secondary">Leave</button>
  </div>
</section>`;

let parsed = null;
function template() {
  if (!parsed) {
    parsed = document.createElement('template');
    parsed.innerHTML = `<style>${STYLE}</style>${TEMPLATE}`;
  }
  return parsed;
}

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

function describe(s) {
  if (!s) return ['Starting meganet…', ''];
  const peers = `${s.peers} ${s.peers === 1 ? 'peer' : 'peers'} connected`;
  switch (s.state) {
    case 'asking': return ['Confirm with the button in the meganet box below: only a click there lets it run.', ''];
    case 'standby': return ['Active in another tab of this site.', ''];
    case 'starting': return ['Starting meganet…', ''];
    case 'active': {
      const node = s.node === 'connected' ? peers : s.node === 'unreachable' ? 'cannot reach the network, retrying' : 'connecting…';
      return [`Contributing: ${mb(s.contributedBytes)} stored for others, ${node}.`, s.storing];
    }
    case 'paused': return [`Paused: ${mb(s.contributedBytes)} kept, nothing new stored or served.`, s.node === 'connected' ? peers : ''];
    case 'failed': return [`meganet cannot run here: ${s.error}.`, ''];
    default: return ['', ''];
  }
}

class MeganetWidget extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.append(template().content.cloneNode(true));
    this.$ = (id) => root.getElementById(id);
    this.$('about').href = new URL('/', ORIGIN).href;
    this.$('site').href = new URL('/', ORIGIN).href;
    this.$('join').addEventListener('click', () => { this.focusNext = 'pause'; controller.join(this); });
    this.$('later').addEventListener('click', () => controller.later());
    this.$('pause').addEventListener('click', () => {
      controller.send({ type: controller.status?.state === 'paused' ? 'meganet:resume' : 'meganet:pause' });
    });
    this.$('leave').addEventListener('click', () => { this.focusNext = 'join'; controller.send({ type: 'meganet:leave' }); });
  }

  connectedCallback() { controller.attach(this); }

  disconnectedCallback() { controller.detach(this); }

  /** Counts of status messages accepted and refused, for tests. */
  get debugCounters() { return { ...controller.counters }; }

  /** The latest accepted status from the frame (null before any). */
  get status() { return controller.status; }

  placeFrame(frame) { this.$('slot').replaceChildren(frame); }

  render(c) {
    this.hidden = c.view === 'hidden';
    const running = c.view === 'running';
    const [line, detail] = running ? describe(c.status) : ['', ''];
    const paused = c.status?.state === 'paused';
    this.$('invite').hidden = running || c.view === 'left';
    this.$('left').hidden = c.view !== 'left';
    this.$('status').hidden = !running;
    if (this.$('status').textContent !== line) this.$('status').textContent = line;
    this.$('detail').hidden = !detail;
    this.$('detail').textContent = detail;
    this.$('note').hidden = !running || c.host === this;
    this.$('elsewhere').hidden = !running || c.status?.state !== 'failed';
    this.$('join').hidden = running;
    this.$('later').hidden = c.view !== 'consent';
    this.$('pause').hidden = !running || !['active', 'paused'].includes(c.status?.state);
    this.$('pause').textContent = paused ? 'Resume' : 'Pause';
    this.$('leave').hidden = !running || c.status?.state === 'standby';
    if (this.focusNext && !this.$(this.focusNext).hidden) {
      this.$(this.focusNext).focus();
      this.focusNext = null;
    }
  }
}

if (window.customElements && 'attachShadow' in Element.prototype && !customElements.get('meganet-widget')) {
  window.addEventListener('message', (e) => controller.onMessage(e));
  for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
    window.addEventListener(type, () => controller.onActivity(), { passive: true, capture: true });
  }
  customElements.define('meganet-widget', MeganetWidget);
}
