// Streaming through the service worker: Save streams a fetched file to
// disk, a Range request fetches only the segments it covers (counted by the
// node, the only holder here), a media element seeks to the middle of a
// large file without fetching the rest, a real video plays and seeks, and a
// cancelled download stops fetching. Bad ranges and expired downloads get
// plain answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { startNode, runMeganet, tempDir, ROOT } from './lib/node.mjs';
import { BROWSERS, launch, openApp, seekAndPlay, waitForStatus, screenshot } from './lib/browser.mjs';

const connected = (s) => s.node.state === 'connected';
const MiB = 1 << 20;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

/** Puts bytes made in the page (a WAV of `seconds`, or given bytes); returns the link and digests. */
async function putInPage(page, spec) {
  return page.evaluate(async ({ wav, bytes, name, type, slice }) => {
    let data;
    if (wav) {
      // 16-bit stereo PCM at 48 kHz: noise, so nothing compresses.
      const pcm = wav * 48000 * 4;
      data = new Uint8Array(44 + pcm);
      const v = new DataView(data.buffer);
      const text = (at, s) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
      text(0, 'RIFF'); v.setUint32(4, 36 + pcm, true); text(8, 'WAVEfmt ');
      v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 2, true);
      v.setUint32(24, 48000, true); v.setUint32(28, 48000 * 4, true); v.setUint16(32, 4, true);
      v.setUint16(34, 16, true); text(36, 'data'); v.setUint32(40, pcm, true);
      for (let i = 44; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(i + 65536, data.length)));
    } else {
      data = new Uint8Array(bytes);
    }
    const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))]
      .map((x) => x.toString(16).padStart(2, '0')).join('');
    const link = await window.meganet.put(new File([data], name, { type }), {});
    return { link, size: data.length, sha: await hex(data), sliceSha: await hex(data.slice(slice[0], slice[1])) };
  }, { slice: [0, 0], ...spec });
}

/** Opens `link` in a fresh browser and waits for the card's Save button. */
async function openLink(kind, link) {
  const browser = await launch(kind);
  cleanups.push(() => browser.close());
  const { page, errors } = await openApp(browser, link);
  await page.waitForSelector('#fetch-save:not([hidden])', { timeout: 60_000 });
  return { page, errors };
}

const served = async (node) => (await node.status()).servedBytes;

/** The node's served bytes once they have stopped changing for a second. */
async function settled(node) {
  let last = await served(node);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await served(node);
    if (now === last) return now;
    last = now;
  }
}

/**
 * Seeks the card's audio player to the middle; once it lands, where it is
 * and the node's served bytes at that moment.
 */
function seekToMiddle(page) {
  return page.evaluate(async () => {
    const audio = document.querySelector('#fetch-preview audio');
    if (audio.readyState < 1) await new Promise((r) => audio.addEventListener('loadedmetadata', r, { once: true }));
    const seeked = new Promise((r) => audio.addEventListener('seeked', r, { once: true }));
    audio.currentTime = audio.duration / 2;
    await seeked;
    const { servedBytes } = await (await fetch('/status.json')).json();
    return { duration: audio.duration, at: audio.currentTime, ready: audio.readyState, servedBytes };
  });
}

/** Writes a WAV of `bytes` of noise (16-bit stereo, 48 kHz) to `file`. */
function writeWav(file, bytes) {
  const pcm = bytes - 44;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + pcm, 4); header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(2, 22);
  header.writeUInt32LE(48000, 24); header.writeUInt32LE(48000 * 4, 28); header.writeUInt16LE(4, 32);
  header.writeUInt16LE(16, 34); header.write('data', 36); header.writeUInt32LE(pcm, 40);
  const fd = openSync(file, 'w');
  writeSync(fd, header);
  for (let left = pcm; left > 0; left -= 8 * MiB) writeSync(fd, randomBytes(Math.min(left, 8 * MiB)));
  closeSync(fd);
}

// One 256 MiB recording, put once with the command line peer (the browsers'
// own put is measured elsewhere), seeked into by each browser.
let big = null;
async function bigRecording() {
  if (big) return big;
  const node = await startNode();
  const dir = tempDir();
  cleanups.push(async () => {
    try {
      await node.stop();
    } finally {
      // 512 MiB of shards: never left behind.
      rmSync(node.data, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const file = path.join(dir, 'long.wav');
  writeWav(file, 256 * MiB);
  const put = await runMeganet(['put', file, '--node', node.url], { timeoutMs: 300_000 });
  assert.equal(put.code, 0, put.stderr);
  rmSync(file);
  big = { node, link: put.stdout.trim() };
  return big;
}

for (const kind of BROWSERS) {
test(`${kind}: a seek to the middle of a 256 MiB recording fetches only the segments around it`, async () => {
  const { node, link } = await bigRecording();
  const { page, errors } = await openLink(kind, link);
  assert.match(await page.textContent('#fetch-name'), /long\.wav · 268\.4 MB · audio\/wav/);
  const before = await settled(node);
  const seek = await seekToMiddle(page);
  const fetched = (await settled(node)) - before;
  const asked = await page.evaluate(() => window.meganetApi.recentRequests());
  console.log(`${kind}: the seek in 256 MiB fetched ${fetched} shard bytes for ${JSON.stringify(asked)}`);
  assert.ok(Math.abs(seek.at - seek.duration / 2) < 1 && seek.ready >= 2, `seeked to ${seek.at} of ${seek.duration}, readyState ${seek.ready}`);
  assert.ok(asked.some((r) => r.start >= 0.45 * 256 * MiB), `a request from the middle: ${JSON.stringify(asked)}`);
  // Opening the player and seeking: a few segments of 256, whatever each
  // browser reads ahead (bounded by the stream's backpressure).
  assert.ok(fetched < 48 * MiB, `seeking fetched ${fetched} shard bytes of a 256 MiB file`);
  assert.deepEqual(errors, [], 'no page errors');
});

test(`${kind}: Save streams through the service worker; a range fetches only its segments; a seek in a large file fetches little`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const uploader = await launch(kind);
  const up = await openApp(uploader, node.url);
  await waitForStatus(up.page, connected);
  const slice = [12_000_000, 13_000_000];
  const file = await putInPage(up.page, { wav: 130, name: 'noise.wav', type: 'audio/wav', slice });
  await uploader.close();
  assert.ok(file.size > 20 * MiB);

  const { page, errors } = await openLink(kind, file.link);
  const href = await page.getAttribute('#fetch-save', 'href');
  assert.match(href, /^\/meganet\/file\/[0-9a-f]{32}\/noise\.wav\?save=1$/, 'Save goes through the service worker');
  assert.match(await page.textContent('#fetch-name'), /noise\.wav · 25\.0 MB · audio\/wav/);

  // A range: 206, exactly those bytes, and only its two segments fetched
  // (after the inline player has loaded what it wants).
  let before = await settled(node);
  const part = await page.evaluate(async ([url, from, to]) => {
    const r = await fetch(url, { headers: { Range: `bytes=${from}-${to - 1}` } });
    const buf = await r.arrayBuffer();
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((x) => x.toString(16).padStart(2, '0')).join('');
    return { status: r.status, range: r.headers.get('content-range'), length: buf.byteLength, sha };
  }, [href.replace('?save=1', ''), ...slice]);
  assert.deepEqual(part, { status: 206, range: `bytes ${slice[0]}-${slice[1] - 1}/${file.size}`, length: 1_000_000, sha: file.sliceSha });
  let fetched = (await served(node)) - before;
  // The worker took its two segments' shards from the tab, and the node
  // served at most those: the tab may hold some already, read ahead for
  // the inline player (Firefox's buffers several MB).
  const ranged = (await page.evaluate(() => window.meganetApi.recentRequests())).find((r) => r.start === slice[0]);
  assert.ok(ranged && ranged.remoteBytes > 0.9 * MiB && ranged.remoteBytes < 4 * MiB, `the range's stream: ${JSON.stringify(ranged)}`);
  assert.ok(fetched < 4 * MiB, `a 1 MB range fetched ${fetched} shard bytes`);

  // The inline player seeks to the middle: when it lands, a little around
  // that point has been fetched, not the file. (What a browser reads ahead
  // afterwards is its own choice: Chromium stops soon, Firefox reads on
  // while the stream lets it.)
  before = await settled(node);
  const seek = await seekToMiddle(page);
  assert.ok(Math.abs(seek.duration - 130) < 1, `duration ${seek.duration}`);
  assert.ok(Math.abs(seek.at - 65) < 1 && seek.ready >= 2, `seeked to ${seek.at}, readyState ${seek.ready}`);
  fetched = seek.servedBytes - before;
  const seekEnd = await settled(node);
  const asked = await page.evaluate(() => window.meganetApi.recentRequests());
  console.log(`${kind}: seeking fetched ${fetched} bytes when it landed, ${seekEnd - before} in all, for ${JSON.stringify(asked.slice(2))}`);
  // Reading up to the middle would fetch half the file; the player asked
  // from the middle instead. Firefox reads several MB on past the seek
  // point before `seeked` fires (6.3 MB once in CI), so the bound is loose.
  assert.ok(asked.some((r) => r.start >= 0.45 * file.size && r.start !== slice[0]), `a request from the middle: ${JSON.stringify(asked)}`);
  assert.ok(fetched < 0.4 * file.size, `seeking to the middle fetched ${fetched} of ${file.size} bytes`);

  // Cancelling a download stops the fetching.
  const cancelled = await page.evaluate(async (url) => {
    // Bytes not fetched yet (the shards of what was read stay cached).
    const reader = (await fetch(url, { headers: { Range: 'bytes=18000000-' } })).body.getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    return true;
  }, href.replace('?save=1', ''));
  assert.ok(cancelled);
  before = await settled(node);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(await served(node), before, 'no shard is fetched after the reader cancelled');
  assert.ok(before - seekEnd < 8 * MiB, `the cancelled download fetched ${before - seekEnd} bytes`);

  // The whole file, saved: an attachment with every byte right.
  const whole = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const buf = await r.arrayBuffer();
    const sha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((x) => x.toString(16).padStart(2, '0')).join('');
    return { status: r.status, disposition: r.headers.get('content-disposition'), length: r.headers.get('content-length'), sha };
  }, href);
  assert.deepEqual(whole, { status: 200, disposition: "attachment; filename*=UTF-8''noise.wav", length: String(file.size), sha: file.sha });
  await page.waitForFunction(() => /Fetched and verified 25\.0 MB/.test(document.getElementById('fetch-detail').textContent));
  await screenshot(page, `stream-saved-${kind}`);

  assert.deepEqual(errors, [], 'no page errors');
});

test(`${kind}: a video plays and seeks through the service worker; bad ranges and expired downloads are explained`, async () => {
  const node = await startNode();
  cleanups.push(() => node.stop());
  const uploader = await launch(kind);
  const up = await openApp(uploader, node.url);
  await waitForStatus(up.page, connected);
  const clip = readFileSync(`${ROOT}/tests/fixtures/clip.webm`);
  const file = await putInPage(up.page, { bytes: [...clip], name: 'clip.webm', type: 'video/webm' });
  assert.equal(file.sha, createHash('sha256').update(clip).digest('hex'));
  await uploader.close();

  const { page, errors } = await openLink(kind, file.link);
  const played = await seekAndPlay(page);
  assert.ok(Math.abs(played.duration - 10) < 0.5, `duration ${played.duration}`);
  assert.ok(played.at > 5.3 && played.at < 7.5, `played on from 5 s to ${played.at}`);
  assert.equal(played.width, 320);
  await screenshot(page, `stream-video-${kind}`);

  const href = await page.getAttribute('#fetch-save', 'href');
  const answers = await page.evaluate(async (url) => {
    const text = async (r) => `${r.status} ${await r.text()}`;
    return {
      beyond: await text(await fetch(url, { headers: { Range: 'bytes=999999999-' } })),
      backwards: (await fetch(url, { headers: { Range: 'bytes=9-3' } })).status,
      expired: await text(await fetch('/meganet/file/0123456789abcdef0123456789abcdef/x.bin')),
    };
  }, href.replace('?save=1', ''));
  assert.match(answers.beyond, /^416 These bytes are outside the file/);
  assert.equal(answers.backwards, 416);
  assert.match(answers.expired, /^404 This download has expired: open the link again/);
  assert.deepEqual(errors, [], 'no page errors');
});
}
