// www/peer-host.js's messaging between tabs, in Node (its BroadcastChannel
// and ReadableStream are the web's): a stand-in peer calls a host that
// serves a fake peer. Covers what the browser tests cannot yet reach: a
// result carrying a ReadableStream, an error (with its code), forwarded
// progress, and a host
// that goes away in the middle of a call and of a download. The real
// browsers, locks and take-over are in tests/tabs.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const { Link, serve, remotePeer, HOST_CLOSED, CHANNEL } = await import('../www/peer-host.js');
const { codedError } = await import('../www/errors.js');

/** What assert.rejects checks of a coded error. */
const coded = (code, message) => (e) => {
  assert.ok(e instanceof Error, `${e} is an Error`);
  assert.equal(e.code, code);
  assert.match(e.message, message);
  return true;
};

const STATUS = { peerId: 'peer-1', node: { state: 'connected' }, connections: [] };

/** A fake wasm peer: get streams `chunks`, put reports progress. */
function fakePeer({ chunks = [], hang = false, failAfter = -1 } = {}) {
  const listeners = [];
  let contributed = 0;
  return {
    id: 'peer-1',
    status: () => STATUS,
    onStatus: (cb) => listeners.push(cb),
    emit: (s) => listeners.forEach((cb) => cb(s)),
    usage: () => ({ contributed }),
    setContributed: (n) => { contributed = n; },
    async put(file, { onProgress } = {}) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      onProgress?.({ stage: 'store', done: bytes.length / 2, total: bytes.length });
      onProgress?.({ stage: 'done', done: bytes.length, total: bytes.length });
      if (hang) return new Promise(() => {});
      return `http://x/#1.${bytes.length}`;
    },
    async get(link) {
      if (link === 'bad') throw codedError('link-malformed', 'malformed link');
      if (link === 'plain') throw new Error('no code here');
      let i = 0;
      const stream = new ReadableStream({
        pull(c) {
          if (i === failAfter) throw codedError('segment-auth', 'segment 1 failed authentication');
          if (i < chunks.length) c.enqueue(chunks[i++]);
          else if (!hang) c.close();
          else return new Promise(() => {});
          return undefined;
        },
      }, { highWaterMark: 0 });
      return { name: 'a.bin', size: 6, type: 'application/octet-stream', stream };
    },
    async contribute(o) { return { ...o, persisted: false }; },
  };
}

async function pair(peer) {
  const hostLink = new Link(new BroadcastChannel(CHANNEL), 'host-tab');
  const clientLink = new Link(new BroadcastChannel(CHANNEL), 'client-tab');
  const remote = remotePeer(clientLink);
  const stop = serve(peer, hostLink);
  await remote.hostKnown();
  const close = () => { stop(); hostLink.channel.close(); clientLink.channel.close(); };
  return { hostLink, clientLink, remote, close };
}

async function readAll(stream) {
  const parts = [];
  for (const reader = stream.getReader(); ;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(...value);
  }
  return parts;
}

test('a client puts, gets a stream and sees the host\'s status and usage', async () => {
  const peer = fakePeer({ chunks: [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])] });
  const { remote, close } = await pair(peer);
  try {
    const p = remote.peer;
    assert.equal(p.id, 'peer-1');
    assert.deepEqual(p.status(), STATUS);
    const progress = [];
    const link = await p.put(new Blob(['hello']), { onProgress: (x) => progress.push(x.stage) });
    assert.equal(link, 'http://x/#1.5');
    assert.deepEqual(progress, ['store', 'done'], 'progress reaches the client before the result');

    const file = await p.get('http://x/#1.5', {});
    assert.equal(file.name, 'a.bin');
    assert.ok(file.stream instanceof ReadableStream);
    assert.deepEqual(await readAll(file.stream), [1, 2, 3, 4, 5, 6]);

    await assert.rejects(p.get('bad', {}), coded('link-malformed', /^malformed link$/));
    await assert.rejects(p.get('plain', {}), coded('internal', /^no code here$/), 'an error without a code is internal');
    assert.deepEqual(await p.contribute({ enabled: true, quotaBytes: 5 }), { enabled: true, quotaBytes: 5, persisted: false });

    const seen = [];
    p.onStatus((s) => seen.push(s.node.state));
    peer.emit({ ...STATUS, node: { state: 'unreachable' } });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, ['unreachable']);
    assert.equal(p.status().node.state, 'unreachable');
    peer.setContributed(1234);
    await new Promise((r) => setTimeout(r, 2300));
    assert.equal(p.usage().contributed, 1234);
  } finally {
    close();
  }
});

test('a download that fails part-way fails in the client with its code', async () => {
  const peer = fakePeer({ chunks: [new Uint8Array([1]), new Uint8Array([2])], failAfter: 1 });
  const { remote, close } = await pair(peer);
  try {
    const file = await remote.peer.get('http://x/#1.2', {});
    const reader = file.stream.getReader();
    assert.deepEqual([...(await reader.read()).value], [1]);
    await assert.rejects(reader.read(), coded('segment-auth', /failed authentication/));
  } finally {
    close();
  }
});

test('when the host goes, a call and a download in flight fail with a clear error', async () => {
  const peer = fakePeer({ chunks: [new Uint8Array([7])], hang: true });
  const { hostLink, remote, close } = await pair(peer);
  try {
    const p = remote.peer;
    const file = await p.get('http://x/#1.1', {});
    const reader = file.stream.getReader();
    assert.deepEqual([...(await reader.read()).value], [7]);
    const pending = assert.rejects(reader.read(), coded('stopped', new RegExp(HOST_CLOSED)));
    const put = assert.rejects(p.put(new Blob(['x']), {}), coded('stopped', new RegExp(HOST_CLOSED)));
    await new Promise((r) => setTimeout(r, 50));
    hostLink.post({ type: 'bye', from: hostLink.me });
    await put;
    await pending;
  } finally {
    close();
  }
});

test('a client that takes over fails its calls, then uses its own peer', async () => {
  const { remote, close } = await pair(fakePeer({ hang: true }));
  try {
    const p = remote.peer;
    const put = assert.rejects(p.put(new Blob(['x']), {}), coded('stopped', new RegExp(HOST_CLOSED)));
    await new Promise((r) => setTimeout(r, 50));
    const own = fakePeer();
    const taken = remote.takeOver(new Promise((r) => setTimeout(() => r(own), 100)));
    const waiting = p.put(new Blob(['abc']), {}); // made while the peer starts: waits for it
    await put;
    assert.equal(await taken, own);
    assert.equal(await waiting, 'http://x/#1.3');
  } finally {
    close();
  }
});
