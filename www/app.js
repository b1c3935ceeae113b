// The page: starts the wasm peer (or works through the tab that runs it,
// see peer-host.js) and renders its status. Every decision is made by the
// peer in Rust; this file only wires the page to it.
import init, { Peer, LocalStore } from '../build/pkg/meganet.js';
import { render, renderRole, showError, showNotice } from './render.js';
import { startPeerOnce } from './peer-host.js';
import { setUpUpload } from './transfer.js';
import { watchUploadHealth } from './uploads.js';
import { keepNamesAlive } from './kept-names.js';
import { fetchFromLocation } from './fetch-card.js';
import { serveDownloads, recentRequests } from './downloads.js';
import { setUpOpenLink } from './open-link.js';
import { setUpContribution } from './contribute.js';
import { privateMode, wirePrivateSwitch } from './private-mode.js';

async function main() {
  if (typeof WebAssembly !== 'object') {
    showError('This browser cannot run WebAssembly, which meganet needs.');
    return;
  }
  // Every tab needs the module (the contribution policy is wasm too); only
  // the tab that runs the peer starts one.
  const wasm = await init();
  // window.meganetTab.role: 'host', 'client', 'starting' or 'alone'.
  window.meganetTab = { role: 'starting' };
  const { peer } = await startPeerOnce({
    start: () => startPeer(wasm),
    onRole: (role) => { window.meganetTab.role = role; renderRole(role); },
    onError: (e) => showError(`meganet could not start in this tab: ${e && e.message ? e.message : e}`),
  });
  window.meganet = peer;
  render(peer.status());
  peer.onStatus(render);
  setUpUpload(peer);
  setUpOpenLink();
  wirePrivateSwitch(document.getElementById('private-on'), document.getElementById('private-note'));
  setUpContribution(peer).catch((e) => console.warn('the Contribute card failed:', e));
  registerServiceWorker();
  serveDownloads(peer);
  await waitForNode(peer);
  watchUploadHealth(peer);
  keepNamesAlive(peer);
  fetchFromLocation(peer);
  window.addEventListener('hashchange', () => fetchFromLocation(peer));
}

// Starts the wasm peer in this tab.
async function startPeer(wasm) {
  // For the console and automation: the local chunk store, the wasm heap
  // size (leak checks), what the service worker streamed lately.
  window.meganetApi = { LocalStore, memoryBytes: () => wasm.memory.buffer.byteLength, recentRequests };
  return Peer.start({ private: privateMode() });
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

// The page works without a service worker (private windows, some embedded
// browsers, plain http on a LAN address), but cannot start offline: say so.
const NO_OFFLINE = 'This browser does not allow offline use here (private mode?). Uploads and links still work.';

// Over plain HTTP (not localhost) the browser gives a page no service
// worker and no install: say what to do about it.
const INSECURE = 'This page was opened over plain HTTP, so the browser allows no offline use, '
  + 'no streaming Save and no install here: open it over HTTPS (a node serves HTTPS with --tls-cert, '
  + 'or behind a TLS proxy). Uploads and links still work.';

function registerServiceWorker() {
  if (window.isSecureContext === false) {
    showNotice(INSECURE);
    return;
  }
  if (!('serviceWorker' in navigator) || !navigator.serviceWorker) {
    showNotice(NO_OFFLINE);
    return;
  }
  navigator.serviceWorker.register('/sw.js').catch((e) => {
    console.warn('service worker not registered:', e);
    showNotice(NO_OFFLINE);
  });
}

main().catch((e) => {
  showError(`meganet could not start: ${e && e.message ? e.message : e}`);
  document.getElementById('node-state').dataset.state = 'failed';
  document.getElementById('node-state').textContent = 'failed';
});
