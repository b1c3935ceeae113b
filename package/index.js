// The npm package's entry: the browser peer (Peer) and its error codes.
// The wasm module loads once, on the first Peer.start (or an explicit
// load()), from beside this file: `new URL(..., import.meta.url)` is what
// webpack 5, Vite and a plain <script type="module"> all resolve.
// Types: index.d.ts (hand-written; the wasm-bindgen glue's own .d.ts is
// not part of the API).
import init, { Peer } from './meganet.js';

let loading = null;

/** Loads and instantiates the wasm module (once); `wasm` overrides where it comes from. */
export function load(wasm) {
  loading ??= init({ module_or_path: wasm ?? new URL('./meganet_bg.wasm', import.meta.url) })
    .then(() => undefined, (e) => { loading = null; throw e; });
  return loading;
}

// Peer.start waits for the module first, so users never call init().
const startPeer = Peer.start;
Object.defineProperty(Peer, 'start', {
  value: async function start(options) {
    await load();
    return startPeer.call(Peer, options);
  },
  writable: true,
  configurable: true,
});

export { Peer };

/** Every `code` a rejection (or an errored stream) may carry: crate/src/code.rs. */
export const ERROR_CODES = Object.freeze([
  'link-malformed', 'link-version', 'manifest-tampered', 'wrong-key', 'manifest-malformed',
  'segment-auth', 'not-found', 'unavailable', 'not-connected', 'storage-full', 'over-budget',
  'refused', 'timeout', 'too-large', 'invalid-argument', 'input-failed', 'stopped', 'protocol',
  'internal', 'stream-lost', 'no-streaming',
]);

/** True when `e` is an Error carrying one of ERROR_CODES. */
export function isMeganetError(e) {
  return e instanceof Error && ERROR_CODES.includes(e.code);
}
