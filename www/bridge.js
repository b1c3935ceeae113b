// The bridge: a blank page of the sites' origin that the app frames while
// it shows a site (site-view.js). It installs the sites' service worker
// (worker/site-sw.js) and passes the worker's questions, each with its
// MessagePort, to the app that framed it, and nothing else: the app
// answers on the port directly. The node lets only the app's origins
// frame this page (`frame-ancestors`), and the bridge posts only to the
// origin the app named.

const KEEPALIVE_MS = 10_000;
const app = new URLSearchParams(location.search).get('app');

async function start() {
  if (!app || window.parent === window) throw new Error('the bridge runs only inside the meganet app');
  if (!navigator.serviceWorker) throw new Error('this browser has no service workers here (a private window?)');
  navigator.serviceWorker.addEventListener('message', (event) => {
    const port = event.ports && event.ports[0];
    if (event.data && event.data.type === 'meganet-site-open' && port) {
      const { id, path, range } = event.data;
      window.parent.postMessage({ type: 'meganet-site-open', id, path, range }, app, [port]);
    }
  });
  navigator.serviceWorker.startMessages();
  const registration = await navigator.serviceWorker.register('/site-sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  // An event keeps the worker alive while a site streams from it.
  setInterval(() => {
    const worker = registration.active;
    if (worker) worker.postMessage({ type: 'meganet-keepalive' });
  }, KEEPALIVE_MS);
  window.parent.postMessage({ type: 'meganet-bridge-ready' }, app);
}

start().catch((e) => {
  if (app && window.parent !== window) {
    window.parent.postMessage({ type: 'meganet-bridge-failed', message: String(e && e.message ? e.message : e) }, app);
  }
});
