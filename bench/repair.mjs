// Repair throughput, run by scripts/bench.sh inside a private network
// namespace, with two real nodes joined by --peer:
//   repair.MBps               a 32 MiB file put through node A (its shards
//                             dealt 4 and 4 over A and B); B stops for good;
//                             `meganet repair` with the file's capability
//                             checks and audits the holders, fetches 4
//                             shards of every segment, rebuilds the other
//                             4 and places them on A: bytes placed per
//                             second, end to end
//   repair.ceiling.place.MBps the same machine placing shards without
//                             rebuilding: the put's shard bytes per second
// Prints one JSON line per result.
import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { runMeganet, startNode, tcpAddr, tempDir, waitForMesh } from '../tests/lib/node.mjs';
import { MiB, emit } from './lib.mjs';

const nodes = [];
try {
  nodes.push(await startNode());
  nodes.push(await startNode({ args: ['--peer', await tcpAddr(nodes[0])] }));
  await waitForMesh(nodes);
  const [a, b] = nodes;
  const size = 32 * MiB;
  const file = path.join(tempDir(), 'repaired.bin');
  writeFileSync(file, randomBytes(size));
  const started = performance.now();
  const put = await runMeganet(['put', file, '--node', a.url], { timeoutMs: 300_000 });
  const putMs = performance.now() - started;
  if (put.code !== 0) throw new Error(put.stderr);
  // k = 4 of n = 8: the put places twice the file's bytes.
  emit('repair.ceiling.place.MBps', (2 * size) / 1e6 / (putMs / 1000), 'MB/s');

  await b.stop();
  const cap = (await runMeganet(['cap', put.stdout.trim()])).stdout.trim();
  const repair = await runMeganet(['repair', cap, '--node', a.url], { timeoutMs: 300_000 });
  const m = repair.stdout.match(/placed (\d+) shards \((\d+) bytes\) in (\d+) ms/);
  if (repair.code !== 0 || !m || Number(m[2]) < size / 2) throw new Error(`repair failed: ${repair.stdout}${repair.stderr}`);
  emit('repair.MBps', Number(m[2]) / 1e6 / (Number(m[3]) / 1000), 'MB/s');
} finally {
  for (const node of nodes) {
    await node.stop();
    rmSync(node.data, { recursive: true, force: true });
  }
}
