// The page: starts the wasm peer and renders its status. Every decision is
// made by the peer in Rust; this file only wires the page to it.
import init, { Peer, LocalStore } from '../build/pkg/meganet.js';
import { render, showError } from './render.js';
import { setUpUpload, fetchFromLocation } from './transfer.js';

async function main() {
  if (typeof WebAssembly !== 'object') {
    showError('This browser cannot run WebAssembly, which meganet needs.');
    return;
  }
  const wasm = await init();
  const peer = await Peer.start({});
  window.meganet = peer;
  // For the console and automation: the local chunk store, and the wasm
  // heap size (leak checks).
  window.meganetApi = { LocalStore, memoryBytes: () => wasm.memory.buffer.byteLength };
  render(peer.status());
  peer.onStatus(render);
  setUpUpload(peer);
  registerServiceWorker();
  await waitForNode(peer);
  fetchFromLocation(peer);
  window.addEventListener('hashchange', () => fetchFromLocation(peer));
}

// Resolves once the peer reaches its node (or after 15 s, so a fetch
// still reports why it failed).
function waitForNode(peer) {
  return new Promise((resolve) => {
    const done = () => { clearInterval(timer); clearTimeout(limit); resolve(); };
    const timer = setInterval(() => { if (peer.status().node.state === 'connected') done(); }, 100);
    const limit = setTimeout(done, 15000);
    if (peer.status().node.state === 'connected') done();
  });
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return; // the page works without it
  navigator.serviceWorker.register('/sw.js').catch((e) => {
    console.warn('service worker not registered:', e);
  });
}

main().catch((e) => {
  showError(`meganet could not start: ${e && e.message ? e.message : e}`);
  document.getElementById('node-state').dataset.state = 'failed';
  document.getElementById('node-state').textContent = 'failed';
});
