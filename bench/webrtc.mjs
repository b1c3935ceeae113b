// Browser-to-browser WebRTC benchmark, run by scripts/bench.sh inside a
// private network namespace. Two Chromium processes and a real node:
//   webrtc.connect_ms    dial start to the first echoed byte on a new stream
//   webrtc.stream.MBps   64 MiB through one libp2p stream (/meganet/sink)
//   webrtc.ceiling.MBps  the same 64 MiB over a raw RTCDataChannel between
//                        the same two processes, signaled by this script,
//                        16 KiB messages (the libp2p framing limit) and the
//                        same 1 MiB send-buffer high-water mark.
//   webrtc.ceiling.cpu_ms_per_MB  CPU time of both Chromium processes, read
//                        from /proc, per MB over that raw channel
//   webrtc.stream.cpu_ms_per_MB   the same through the libp2p stream
// Prints one JSON line per result.
import { startNode } from '../tests/lib/node.mjs';
import { launchChromium, openApp, serveProbes, waitForStatus } from '../tests/lib/browser.mjs';
import { webrtcAddr } from '../tests/lib/webrtc.mjs';
import { browserCpuMs } from './lib.mjs';

const BYTES = 64 << 20;
const ROUNDS = 3;
const emit = (name, value, unit) => console.log(JSON.stringify({ name, value: Math.round(value * 10) / 10, unit }));
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function rawChannelMBps(a, b) {
  await a.evaluate(async () => {
    const pc = new RTCPeerConnection();
    window.__raw = { pc, channel: pc.createDataChannel('raw') };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
  });
  const offer = await a.evaluate(() => window.__raw.pc.localDescription.toJSON());
  const answer = await b.evaluate(async (o) => {
    const pc = new RTCPeerConnection();
    window.__raw = { pc };
    pc.ondatachannel = ({ channel }) => {
      channel.binaryType = 'arraybuffer';
      let got = 0; let want = 0;
      channel.onmessage = ({ data }) => {
        if (typeof data === 'string') { want = Number(data); got = 0; return; }
        got += data.byteLength;
        if (got === want) channel.send('done');
      };
    };
    await pc.setRemoteDescription(o);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
    return pc.localDescription.toJSON();
  }, offer);
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    times.push(await a.evaluate(async ([ans, total, first]) => {
      const { pc, channel } = window.__raw;
      if (first) await pc.setRemoteDescription(ans);
      if (channel.readyState !== 'open') await new Promise((r) => { channel.onopen = r; });
      const message = new Uint8Array(16 * 1024);
      channel.bufferedAmountLowThreshold = 256 * 1024;
      const done = new Promise((r) => { channel.onmessage = r; });
      const start = performance.now();
      channel.send(String(total));
      for (let sent = 0; sent < total; sent += message.length) {
        if (channel.bufferedAmount > 1024 * 1024) await new Promise((r) => { channel.onbufferedamountlow = r; });
        channel.send(message);
      }
      await done;
      return performance.now() - start;
    }, [answer, BYTES, i === 0]));
  }
  return BYTES / 1e6 / (median(times) / 1000);
}

const node = await startNode();
const browsers = [await launchChromium(), await launchChromium()];
try {
  const [a, b] = await Promise.all(browsers.map((br) => openApp(br, node.url)));
  await Promise.all([a, b].map((p) => waitForStatus(p.page, (s) => s.node.state === 'connected')));
  await Promise.all([a, b].map((p) => serveProbes(p.page)));
  const bAddr = await webrtcAddr(b.page);
  const bId = await b.page.evaluate(() => window.meganet.id);
  const connectMs = await a.page.evaluate(async ([addr, peer]) => {
    const start = performance.now();
    await window.meganet.dial(addr);
    await window.meganet.echo(peer, new Uint8Array([7]));
    return performance.now() - start;
  }, [bAddr, bId]);
  const streamTimes = [];
  const streamCpu = browserCpuMs();
  for (let i = 0; i < ROUNDS; i++) {
    streamTimes.push(await a.page.evaluate(async ([peer, total]) => {
      const start = performance.now();
      const got = await window.meganet.sink(peer, total);
      if (got !== total) throw new Error(`sink confirmed ${got} of ${total}`);
      return performance.now() - start;
    }, [bId, BYTES]));
  }
  const streamCpuMs = browserCpuMs() - streamCpu;
  const rawCpu = browserCpuMs();
  const ceiling = await rawChannelMBps(a.page, b.page);
  const rawCpuMs = browserCpuMs() - rawCpu;
  const movedMB = (ROUNDS * BYTES) / 1e6;
  const stream = BYTES / 1e6 / (median(streamTimes) / 1000);
  emit('webrtc.connect_ms', connectMs, 'ms');
  emit('webrtc.stream.MBps', stream, 'MB/s');
  emit('webrtc.ceiling.MBps', ceiling, 'MB/s');
  emit('webrtc.stream.ratio', stream / ceiling, 'ratio');
  emit('webrtc.stream.cpu_ms_per_MB', streamCpuMs / movedMB, 'ms/MB');
  emit('webrtc.ceiling.cpu_ms_per_MB', rawCpuMs / movedMB, 'ms/MB');
} finally {
  for (const br of browsers) await br.close().catch(() => {});
  await node.stop();
}
