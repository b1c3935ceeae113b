// Put and get between browsers over WebRTC, run by scripts/bench.sh inside a
// private network namespace: a real node, 3 contributing Chromium
// processes, an uploader and a fetcher.
//   put.link_ms           64 MiB put with the link first: drop to link
//                         (compare with 64 MiB at format.encode.wasm)
//   put.safe_ms           the same put until every piece is placed
//   put.MBps              the same put, plaintext MB/s until safe to close
//   get.MBps              64 MiB get by a fresh Chromium peer
//   get.MBps.firefox      the same get by a Firefox peer
//   get.MBps.webkit       the same get by a WebKit peer (no WebRTC in
//                         Debian's WebKitGTK: contributors over the relay)
//   get.first_byte_ms     link handed to a running peer until the first
//                         plaintext bytes are ready
//   get.cpu_ms_per_MB     CPU time of every Chromium process (fetcher,
//                         contributors, uploader), read from /proc, per MB
//                         of the 64 MiB Chromium get
//   get.longtask_ms       the fetcher page's long tasks (over 50 ms), in all,
//                         during that get
//   serve.longtask_max_ms the longest task in a contributor's page while it
//                         serves that get (background tabs, at the policy's cap)
//   put.MBps.256MiB       256 MiB put, streamed from the page (never whole in
//                         memory), each segment placed as it is encoded
//   get.MBps.256MiB       256 MiB get by a fresh Chromium peer
//   get.sw.MBps           the 64 MiB file saved through the service worker's
//                         gateway (shards through the tab, decrypted in the
//                         worker) by another fresh Chromium peer
// Prints one JSON line per result.
import { rmSync } from 'node:fs';
import { startNode } from '../tests/lib/node.mjs';
import { connectToContributors } from '../tests/lib/webrtc.mjs';
import {
  MiB, browserCpuMs, browsers, emit, peer, takeLongTasks, timedGet, timedPut, timedSave, watchLongTasks,
} from './lib.mjs';

const node = await startNode();
try {
  const contributors = [];
  for (let i = 0; i < 3; i++) {
    const page = await peer('chromium', node, { hidden: true });
    await page.evaluate(() => window.meganet.contribute({ enabled: true, quotaBytes: 1 << 30 }));
    contributors.push(page);
  }
  const uploader = await peer('chromium', node);
  await connectToContributors(uploader, 3);
  for (const size of [64 * MiB, 256 * MiB]) {
    const suffix = size === 64 * MiB ? '' : '.256MiB';
    const put = await timedPut(uploader, size, { linkFirst: !suffix });
    if (!suffix) {
      emit('put.link_ms', put.linkMs, 'ms');
      emit('put.safe_ms', put.ms, 'ms');
    }
    emit(`put.MBps${suffix}`, size / 1e6 / (put.ms / 1000), 'MB/s');
    for (const kind of suffix ? ['chromium'] : ['chromium', 'firefox', 'webkit']) {
      const fetcher = await peer(kind, node);
      const measured = kind === 'chromium' && !suffix;
      if (measured) await Promise.all([fetcher, ...contributors].map(watchLongTasks));
      const cpuBefore = browserCpuMs();
      const got = await timedGet(fetcher, put.link);
      const cpuMs = browserCpuMs() - cpuBefore;
      if (got.size !== size) throw new Error(`got ${got.size} bytes of ${size}`);
      emit(kind === 'chromium' ? `get.MBps${suffix}` : `get.MBps.${kind}`, size / 1e6 / (got.ms / 1000), 'MB/s');
      if (measured) {
        emit('get.first_byte_ms', got.first, 'ms');
        emit('get.cpu_ms_per_MB', cpuMs / (size / 1e6), 'ms/MB');
        emit('get.longtask_ms', (await takeLongTasks(fetcher)).total, 'ms');
        const served = await Promise.all(contributors.map(takeLongTasks));
        emit('serve.longtask_max_ms', Math.max(...served.map((t) => t.max)), 'ms');
      }
    }
    if (!suffix) {
      // The same file saved through the service worker, by another fresh peer.
      const saved = await timedSave(await peer('chromium', node), put.link);
      if (saved.size !== size) throw new Error(`saved ${saved.size} bytes of ${size}`);
      emit('get.sw.MBps', size / 1e6 / (saved.ms / 1000), 'MB/s');
    }
  }
} finally {
  for (const b of browsers) await b.close().catch(() => {});
  await node.stop();
  // The node's copies of 320 MiB of files.
  rmSync(node.data, { recursive: true, force: true });
}
