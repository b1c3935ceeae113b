// Three nodes joined by --peer, run by scripts/bench.sh inside a private
// network namespace:
//   get.MBps.multinode    64 MiB put by a Chromium peer on node A, got by
//                         a fresh Chromium peer on node B: shards come
//                         from all three nodes
//   dht.lookup_ms         median provider lookup of that file, five
//                         `meganet providers` runs against each node (the
//                         lookup only, timed by the CLI)
// Compare with get.MBps (bench/swarm.mjs, one node) from the same run.
// Prints one JSON line per result.
import { rmSync } from 'node:fs';
import { runMeganet, startNode, tcpAddr, waitForMesh } from '../tests/lib/node.mjs';
import { MiB, browsers, emit, peer, timedGet, timedPut } from './lib.mjs';

const nodes = [];
try {
  nodes.push(await startNode());
  for (let i = 0; i < 2; i++) nodes.push(await startNode({ args: ['--peer', await tcpAddr(nodes[0])] }));
  await waitForMesh(nodes);
  const [a, b] = nodes;
  const size = 64 * MiB;
  const put = await timedPut(await peer('chromium', a), size);
  const got = await timedGet(await peer('chromium', b), put.link);
  if (got.size !== size) throw new Error(`got ${got.size} bytes of ${size}`);
  emit('get.MBps.multinode', size / 1e6 / (got.ms / 1000), 'MB/s');

  const lookups = [];
  for (let round = 0; round < 5; round++) {
    for (const node of nodes) {
      const run = await runMeganet(['providers', put.link, '--node', node.url]);
      const m = run.stderr.match(/(\d+) providers found in (\d+) ms/);
      if (run.code !== 0 || !m || Number(m[1]) < 3) throw new Error(`lookup through ${node.url} failed: ${run.stderr}`);
      lookups.push(Number(m[2]));
    }
  }
  lookups.sort((x, y) => x - y);
  emit('dht.lookup_ms', lookups[Math.floor(lookups.length / 2)], 'ms');
} finally {
  for (const browser of browsers) await browser.close().catch(() => {});
  for (const node of nodes) {
    await node.stop();
    rmSync(node.data, { recursive: true, force: true });
  }
}
