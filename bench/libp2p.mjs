// The js-libp2p anchor, run by scripts/bench.sh inside a private network
// namespace beside bench/webrtc.mjs: two js-libp2p nodes (@libp2p/webrtc,
// tests/interop/js-peer.js) in two Chromium processes, each with a
// reservation on a real meganet node's relay, as our peers do.
//   anchor.libp2p.connect_ms  dial of the other's /p2p-circuit/webrtc
//                             address to the first echoed byte on a new
//                             stream: what webrtc.connect_ms measures for
//                             meganet's peers
// Prints one JSON line per result.
import { startNode } from '../tests/lib/node.mjs';
import { launchChromium } from '../tests/lib/browser.mjs';
import { bundleJsPeer, openJsPeer, serveJsPeer } from '../tests/interop/harness.mjs';
import { emit } from './lib.mjs';

await bundleJsPeer();
const node = await startNode();
const server = await serveJsPeer();
const browsers = [await launchChromium(), await launchChromium()];
try {
  const bootstrap = await (await fetch(new URL('/bootstrap.json', node.url))).json();
  // As for webrtc.connect_ms: one first dial between the two processes.
  const [a, b] = await Promise.all(browsers.map((br) => openJsPeer(br, server.url, bootstrap)));
  const target = b.addrs.find((addr) => addr.includes('/p2p-circuit/webrtc'));
  const connectMs = await a.page.evaluate(async ([addr, peer]) => {
    const start = performance.now();
    await window.jsPeer.dial(addr);
    const echoed = await window.jsPeer.echo(peer, 1);
    if (!echoed.ok) throw new Error(`the echo came back wrong: ${JSON.stringify(echoed)}`);
    return performance.now() - start;
  }, [target, b.id]);
  emit('anchor.libp2p.connect_ms', connectMs, 'ms');
} finally {
  for (const br of browsers) await br.close().catch(() => {});
  await server.close();
  await node.stop();
}
