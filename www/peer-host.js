// One peer per origin. Every meganet tab of an origin shares one identity
// and one chunk store, so only one of them runs the wasm peer: the tab that
// holds the exclusive Web Lock `meganet-peer` (the host). The other tabs
// (clients) start no peer; they work through the host over a
// BroadcastChannel (`meganet-peer`), with a stand-in object that has the
// peer's put, get, shards, stopReadAhead, health, renew, resolveName, publishName,
// republishName, status, onStatus, contribute, usage, leave and id.
//
// - Calls go to the host and come back as a result or an error (its message
//   and code, errors.js, rebuilt into an Error with `.code`); onProgress
//   callbacks are forwarded as messages. Arguments and results are
//   structured-cloned (a File is, without copying its bytes); a
//   ReadableStream field of a result (get's `stream`) is served with
//   port-stream.js over a "port" made of addressed channel messages.
// - The host announces itself (its tab, the peer id, status and usage) when
//   it starts and whenever a tab says hello, and broadcasts every status and
//   any usage change, so the stand-in answers status() and usage() at once.
// - Every client waits for the lock. When the host tab closes the browser
//   releases its lock and the first waiting client takes over: it fails the
//   calls and downloads still in flight ("the tab running the peer closed;
//   try again", code `stopped`), starts its own peer, becomes the host and
//   announces itself; the other clients then fail their calls to the old
//   host and follow it.
// - Without Web Locks or BroadcastChannel (plain http on a LAN address, old
//   browsers) every tab starts its own peer, as before.
//
// Channel messages (every one but hello, host, status, usage and bye has
// `to`, the tab it is for; a tab ignores messages for other tabs):
//   hello {from}                           a client asks the host to announce
//   host {from, id, status, usage}         the host's announcement
//   status {from, status} | usage {from, usage}
//   bye {from}                             a tab is going away
//   call {from, to, call, method, args, progress}
//   progress {to, call, value} | result {to, call, value, streams} | error {to, call, message, code}
//   port {to, port, data}                  one port-stream.js message

import { sendStream, receiveStream } from './port-stream.js';
import {
  STOPPED, INVALID_ARGUMENT, INTERNAL, codedError, errorMessage, fromWire, toWire,
} from './errors.js';

export const LOCK = 'meganet-peer';
export const CHANNEL = 'meganet-peer';
export const HOST_CLOSED = 'the tab running the peer closed; try again';
/** The error of a call or download that the host's closing ended. */
const hostClosed = () => codedError(STOPPED, HOST_CLOSED);
/** What a client may ask the host to do. */
export const METHODS = ['put', 'get', 'shards', 'stopReadAhead', 'health', 'repair', 'renew', 'resolveName', 'publishName', 'republishName', 'contribute', 'leave'];

const newId = () => (globalThis.crypto?.randomUUID
  ? crypto.randomUUID()
  : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);

// A status to show until the host's first announcement arrives.
const WAITING = { peerId: '', node: { state: 'connecting' }, connections: [], listenAddrs: [], paths: '' };

/**
 * The messaging between this tab and the others: addressed posts and the
 * "ports" that carry streams (objects with the part of the MessagePort API
 * that port-stream.js uses).
 */
export class Link {
  constructor(channel, me = newId()) {
    this.channel = channel;
    this.me = me;
    this.ports = new Map();
    this.handlers = [];
    channel.onmessage = ({ data }) => this.receive(data);
  }

  post(message) { this.channel.postMessage(message); }

  on(handler) { this.handlers.push(handler); }

  receive(data) {
    if (!data || typeof data !== 'object' || data.from === this.me) return;
    if (data.to !== undefined && data.to !== this.me) return;
    if (data.type === 'port') {
      const port = this.ports.get(data.port);
      if (port && port.onmessage) port.onmessage({ data: data.data });
      return;
    }
    if (data.type === 'bye') this.endPorts(data.from, hostClosed());
    for (const handler of this.handlers) handler(data);
  }

  /** A port to `tab`; `sending` says which end of a stream it is. */
  port(tab, id = newId(), sending = false) {
    const link = this;
    const port = {
      id, tab, sending, onmessage: null, ended: null,
      start() {},
      close() { link.ports.delete(id); },
      postMessage(data) {
        if (port.ended) return;
        link.post({ type: 'port', to: tab, port: id, data });
      },
    };
    this.ports.set(id, port);
    return port;
  }

  /**
   * Ends every stream shared with `tab` (or with any tab): a reading end
   * fails with `error` (its message and code), a serving end is cancelled.
   */
  endPorts(tab, error) {
    const { message, code } = toWire(error);
    for (const port of [...this.ports.values()]) {
      if (tab !== undefined && port.tab !== tab) continue;
      this.ports.delete(port.id);
      const deliver = port.onmessage;
      if (deliver) deliver({ data: port.sending ? { cancel: message } : { error: message, code } });
      port.ended = message;
      // A reader that pulls again gets the same error.
      if (!port.sending) port.postMessage = () => queueMicrotask(() => deliver && deliver({ data: { error: message, code } }));
    }
  }
}

/**
 * Serves `peer` to the other tabs over `link`. Returns `stop()` (for
 * tests: a page serves until it goes away).
 */
export function serve(peer, link) {
  let status = peer.status();
  let usage = readUsage(peer);
  let usageJson = JSON.stringify(usage);
  const announce = () => link.post({ type: 'host', from: link.me, id: peer.id, status, usage });
  peer.onStatus((s) => {
    status = s;
    link.post({ type: 'status', from: link.me, status: s });
  });
  // Stored bytes change without a status change: send usage when it does.
  const timer = setInterval(() => {
    usage = readUsage(peer);
    const json = JSON.stringify(usage);
    if (json === usageJson) return;
    usageJson = json;
    link.post({ type: 'usage', from: link.me, usage });
  }, 2000);

  link.on((m) => {
    if (m.type === 'hello') announce();
    else if (m.type === 'call') run(m);
  });

  async function run({ from, call, method, args, progress }) {
    const reply = (message) => {
      try {
        link.post({ ...message, to: from, call });
      } catch (e) {
        link.post({ type: 'error', to: from, call, message: `the result could not be passed on: ${errorMessage(e)}`, code: INTERNAL });
      }
    };
    if (!METHODS.includes(method) || typeof peer[method] !== 'function') {
      reply({ type: 'error', message: `the peer has no ${method}`, code: INVALID_ARGUMENT });
      return;
    }
    const list = Array.isArray(args) ? [...args] : [];
    if (Number.isInteger(progress) && progress >= 0 && progress < 8) {
      list[progress] = { ...(list[progress] || {}), onProgress: (value) => reply({ type: 'progress', value }) };
    }
    try {
      const value = await peer[method](...list);
      const { wire, streams } = encodeResult(value, (readable) => {
        const port = link.port(from, undefined, true);
        sendStream(port, readable);
        return port.id;
      });
      reply({ type: 'result', value: wire, streams });
    } catch (e) {
      reply({ type: 'error', ...toWire(e) });
    }
  }

  announce();
  return () => clearInterval(timer);
}

function readUsage(peer) {
  try {
    return typeof peer.usage === 'function' ? peer.usage() : null;
  } catch {
    return null;
  }
}

/** A result with each ReadableStream field replaced by what `share` returns for it. */
function encodeResult(value, share) {
  const streams = [];
  if (!value || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) {
    return { wire: value, streams };
  }
  const wire = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof ReadableStream === 'function' && v instanceof ReadableStream) {
      wire[key] = share(v);
      streams.push(key);
    } else {
      wire[key] = v;
    }
  }
  return { wire, streams };
}

/**
 * The stand-in a client tab uses as its peer. It works through the host
 * until `takeOver(started)` hands it this tab's own peer.
 */
export function remotePeer(link) {
  let host = null; // {tab, id, status, usage}
  let local = null; // this tab's own peer, once it took over
  let starting = null; // the promise of it, while it starts
  let status = WAITING;
  let usage = null;
  const listeners = [];
  const calls = new Map(); // call id -> {resolve, reject, onProgress, tab}
  let waiters = [];

  const emit = (s) => {
    status = s;
    for (const listener of listeners) {
      try { listener(s); } catch (e) { console.error('status listener failed:', e); }
    }
  };

  // Fails the calls in flight (but those to `keepTab`): the host closed.
  const failCalls = (keepTab) => {
    for (const [id, c] of [...calls]) {
      if (keepTab !== undefined && c.tab === keepTab) continue;
      calls.delete(id);
      c.reject(hostClosed());
    }
  };

  link.on((m) => {
    if (local || starting) return;
    switch (m.type) {
      case 'host':
        if (host && host.tab !== m.from) {
          failCalls(m.from);
          link.endPorts(host.tab, hostClosed());
        }
        host = { tab: m.from, id: m.id };
        usage = m.usage;
        emit(m.status);
        for (const w of waiters) w();
        waiters = [];
        break;
      case 'status':
        if (host && m.from === host.tab) emit(m.status);
        break;
      case 'usage':
        if (host && m.from === host.tab) usage = m.usage;
        break;
      case 'bye':
        if (host && m.from === host.tab) {
          failCalls();
          host = null;
        }
        break;
      case 'progress': {
        const c = calls.get(m.call);
        if (c && c.onProgress) {
          try { c.onProgress(m.value); } catch (e) { console.error('onProgress failed:', e); }
        }
        break;
      }
      case 'result': {
        const c = calls.get(m.call);
        if (!c) break;
        calls.delete(m.call);
        const value = m.value;
        for (const key of m.streams || []) value[key] = receiveStream(link.port(c.tab, value[key]));
        c.resolve(value);
        break;
      }
      case 'error': {
        const c = calls.get(m.call);
        if (!c) break;
        calls.delete(m.call);
        c.reject(fromWire(m));
        break;
      }
      default:
    }
  });

  const hostKnown = () => (host ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve)));

  async function invoke(method, args) {
    if (!local && starting) await starting;
    if (!local) await hostKnown();
    if (local) return local[method](...args);
    const tab = host.tab;
    let onProgress = null;
    let progress;
    const wire = args.map((a, i) => {
      if (!a || typeof a !== 'object' || Object.getPrototypeOf(a) !== Object.prototype) return a;
      const plain = {};
      for (const [k, v] of Object.entries(a)) {
        if (typeof v !== 'function') plain[k] = v;
        else if (k === 'onProgress') { onProgress = v; progress = i; }
      }
      return plain;
    });
    const call = newId();
    return new Promise((resolve, reject) => {
      calls.set(call, { resolve, reject, onProgress, tab });
      try {
        link.post({ type: 'call', from: link.me, to: tab, call, method, args: wire, progress });
      } catch (e) {
        // The arguments cannot be posted (a DataCloneError): a bad call.
        calls.delete(call);
        reject(codedError(INVALID_ARGUMENT, errorMessage(e)));
      }
    });
  }

  const peer = {
    get id() { return local ? local.id : (host ? host.id : ''); },
    status: () => status,
    onStatus(callback) { listeners.push(callback); },
    usage: () => (local ? local.usage() : usage),
  };
  for (const method of METHODS) peer[method] = (...args) => invoke(method, args);

  return {
    peer,
    /** Says hello, so the host announces itself. */
    hello() { link.post({ type: 'hello', from: link.me }); },
    hostKnown,
    /**
     * This tab takes over: calls and downloads in flight fail with
     * HOST_CLOSED (code `stopped`), and from now on the stand-in uses the peer `started`
     * resolves to (calls made meanwhile wait for it).
     */
    async takeOver(started) {
      starting = started;
      failCalls();
      link.endPorts(undefined, hostClosed());
      host = null;
      try {
        local = await started;
      } finally {
        starting = null;
      }
      local.onStatus(emit);
      emit(local.status());
      return local;
    },
  };
}

/**
 * Starts this origin's peer in this tab, or connects to the tab that runs
 * it. `start()` starts a peer here (resolves to a Peer). `onRole(role)` hears
 * this tab's role whenever it changes: 'host' (runs the peer for the
 * origin), 'client' (works through another tab), 'starting' (taking over
 * from a host that closed) or 'alone' (no Web Locks: every tab runs its
 * own peer). `onError(e)` hears a failed take-over. Resolves to `{peer}`: the Peer itself in a host or lone tab,
 * the stand-in in a client tab (it stays usable after the tab takes over).
 */
export async function startPeerOnce({
  start, onRole = () => {}, onError = console.error, locks = globalThis.navigator?.locks, waitMs = 10_000,
}) {
  if (typeof locks?.request !== 'function' || typeof BroadcastChannel !== 'function') {
    onRole('alone');
    return { peer: await start() };
  }
  const link = new Link(new BroadcastChannel(CHANNEL));
  addEventListener('pagehide', () => {
    try { link.post({ type: 'bye', from: link.me }); } catch { /* closing anyway */ }
  });
  const hold = () => new Promise(() => {}); // held until this tab goes away

  const first = await new Promise((resolve, reject) => {
    locks.request(LOCK, { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock));
      return lock ? hold() : undefined;
    }).catch(reject);
  });
  if (first) {
    const peer = await start();
    serve(peer, link);
    onRole('host');
    return { peer };
  }

  const remote = remotePeer(link);
  onRole('client');
  locks.request(LOCK, () => {
    onRole('starting');
    const started = Promise.resolve().then(start);
    remote.takeOver(started).then((peer) => {
      serve(peer, link);
      onRole('host');
    }, onError);
    return hold();
  }).catch((e) => console.error('the peer lock failed:', e));
  remote.hello();
  // Show the page once the host has answered (it may still be starting).
  await Promise.race([remote.hostKnown(), new Promise((r) => setTimeout(r, waitMs))]);
  return { peer: remote.peer };
}
