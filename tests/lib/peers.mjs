// Browser peers for tests: a page of a node's web app in a fresh browser
// process (closed through the test's `cleanups`), contributors, and put and
// get in a page with their last progress report.
import assert from 'node:assert/strict';
import { backgroundTab, launch, openApp, waitForStatus } from './browser.mjs';

/** The helpers, closing every browser they launch through `cleanups`. */
export function peers(cleanups) {
  async function peerIn(kind, node, { hidden = false } = {}) {
    const browser = await launch(kind);
    cleanups.push(() => browser.close());
    // Contributors are background tabs: the policy takes new shards only there.
    const app = await openApp(browser, node.url, {}, hidden ? { initScript: backgroundTab } : {});
    // Warnings (unreachable contributors, refused shards) explain failures.
    const warnings = [];
    app.page.on('console', (m) => { if (/WARN|ERROR/.test(m.text())) warnings.push(m.text().slice(0, 600)); });
    await waitForStatus(app.page, (s) => s.node.state === 'connected');
    return { browser, ...app, warnings, id: await app.page.evaluate(() => window.meganet.id) };
  }

  async function contributor(kind, node) {
    const peer = await peerIn(kind, node, { hidden: true });
    const state = await peer.page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 512 * 1024 * 1024 }));
    assert.equal(state.enabled, true);
    return peer;
  }

  // Puts `size` random bytes from the page; returns the link, the SHA-256 and
  // the last progress report.
  function putRandom(page, size) {
    return page.evaluate(async (n) => {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(n, i + 65536)));
      const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))]
        .map((b) => b.toString(16).padStart(2, '0')).join('');
      let last;
      const link = await window.meganet.put(new File([data], 'random.bin'), { onProgress: (p) => { last = p; } });
      return { link, digest, progress: last };
    }, size);
  }

  function getAndHash(page, link) {
    return page.evaluate(async (l) => {
      let last;
      const file = await window.meganet.get(l, { onProgress: (p) => { last = p; } });
      // Read it chunk by chunk: a stream's own error keeps its message.
      const chunks = [];
      const reader = file.stream.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      const buf = await new Blob(chunks).arrayBuffer();
      const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))]
        .map((b) => b.toString(16).padStart(2, '0')).join('');
      return { digest, size: file.size, progress: last };
    }, link);
  }

  return { peerIn, contributor, putRandom, getAndHash };
}
