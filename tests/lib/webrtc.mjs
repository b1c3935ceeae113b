// Helpers for browser-to-browser WebRTC tests and benchmarks: record every
// RTCPeerConnection a page creates (so tests can read its real ICE state and
// data-channel counters), and find a peer's dialable /webrtc address.

/** Init script: keeps each RTCPeerConnection in `window.__pcs`. */
export function recordPeerConnections() {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
}

/**
 * Init script: every RTCPeerConnection may only use TURN relays, and none
 * are configured, so ICE gathers no candidate and finds no path (what two
 * peers behind strict NATs without a TURN server see). `window.__pcCount`
 * counts the peer connections made.
 */
export function noDirectPath() {
  const Original = window.RTCPeerConnection;
  window.__pcCount = 0;
  window.RTCPeerConnection = class extends Original {
    constructor(config = {}, ...rest) {
      super({ ...config, iceTransportPolicy: 'relay' }, ...rest);
      window.__pcCount += 1;
    }
  };
}

/** Waits for the peer's `/ws/.../p2p-circuit/webrtc` listen address; returns it dialable. */
export async function webrtcAddr(page) {
  const pick = () => window.meganet?.status().listenAddrs
    .find((a) => a.includes('/ws/') && a.endsWith('/p2p-circuit/webrtc'));
  await page.waitForFunction(pick, null, { timeout: 30_000, polling: 100 });
  return `${await page.evaluate(pick)}/p2p/${await page.evaluate(() => window.meganet.id)}`;
}

/**
 * For each connected RTCPeerConnection in the page: the selected candidate
 * pair's local and remote candidate types and addresses, and how many data
 * channels are open now (opened minus closed).
 */
export function iceReport(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      let pair; let opened = 0; let closed = 0;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
        if (s.type === 'peer-connection') { opened = s.dataChannelsOpened; closed = s.dataChannelsClosed; }
      });
      // Firefox has no transport stats: take the nominated, succeeded pair.
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      const local = pair && stats.get(pair.localCandidateId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      out.push({
        local: local && { type: local.candidateType, address: local.address ?? local.ip },
        remote: remote && { type: remote.candidateType, address: remote.address ?? remote.ip },
        openChannels: opened - closed,
      });
    }
    return out;
  });
}

// Waits until the DHT lists `n` contributors (a loop in the page: an async
// predicate would look truthy to waitForFunction at once).
export function waitForContributors(page, n) {
  return page.evaluate(async (want) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = (await window.meganet.contributors()).length;
      if (found >= want) return found;
      if (Date.now() > deadline) throw new Error(`only ${found} contributors after 30 s`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }, n);
}

/**
 * Waits for `n` contributors and connects to each directly, as a peer that
 * has been open a while is (a get then draws on them from its first window).
 */
export async function connectToContributors(page, n) {
  await waitForContributors(page, n);
  for (const addr of await page.evaluate(() => window.meganet.contributors())) await dialRetrying(page, addr);
}

/**
 * `peer.dial(addr)` in the page, tried up to three times, 300 ms apart and
 * then 600, as the peer itself connects to contributors: a setup can fail
 * transiently (a busy peer, a lost race, a relayed connection closed under
 * the signaling). Resolves to the failed attempts' errors (usually none);
 * rejects with all of them when every attempt failed.
 */
export function dialRetrying(page, addr) {
  return page.evaluate(async ({ target, attempts }) => {
    const errors = [];
    for (let i = 1; i <= attempts; i++) {
      try {
        await window.meganet.dial(target);
        return errors;
      } catch (e) {
        errors.push(e.message);
      }
      if (i < attempts) await new Promise((r) => setTimeout(r, 300 * i));
    }
    throw new Error(errors.join('\n'));
  }, { target: addr, attempts: 3 });
}
