// Keeping uploads alive. Nodes keep a block for a lease after its last
// renewal (`status.node.leaseSecs`, 30 days by default) and remove expired
// blocks only when they need the room. While this page is open it renews
// every upload it lists: at start, then every quarter of the lease (at
// most every RENEW_MAX_MS). Each upload's line says until when the nodes
// keep it.

export const RENEW_MAX_MS = 6 * 3600_000;
const RENEW_MIN_MS = 1000;

/** How often to renew under a lease of `leaseSecs` seconds. */
export function renewEveryMs(leaseSecs) {
  if (!(leaseSecs > 0)) return RENEW_MAX_MS;
  return Math.min(RENEW_MAX_MS, Math.max(RENEW_MIN_MS, (leaseSecs * 1000) / 4));
}

/** The line an upload shows after a renewal (or a failed one). */
export function renewalText(r, leaseSecs, now = Date.now()) {
  if (!r) return '';
  if (r.error) return `Not renewed: ${r.error}`;
  if (r.renewed < r.blocks) {
    return `Renewed ${r.renewed} of its ${r.blocks} pieces; the others were found on no node.`;
  }
  if (!(leaseSecs > 0)) return 'Renewed on the nodes.';
  const until = new Date(r.at + leaseSecs * 1000);
  const sameDay = until.toDateString() === new Date(now).toDateString();
  const when = sameDay ? until.toLocaleTimeString() : until.toLocaleDateString();
  return `Kept by the nodes until at least ${when}; renewed while this page is open.`;
}

/**
 * Renews every upload `list()` returns with `peer`, now and then on;
 * `onRenewed(link, result)` hears each outcome ({blocks, renewed, at} or
 * {error, code, at}). Returns a function that stops it.
 */
export function keepAlive(peer, list, onRenewed, { errorMessage, errorCode }) {
  let timer = null;
  let stopped = false;
  const leaseSecs = () => peer.status().node.leaseSecs;
  async function pass() {
    for (const u of list()) {
      if (stopped) return;
      let result;
      try {
        // A website's files (`parts`) are renewed with its directory.
        result = { blocks: 0, renewed: 0, at: Date.now() };
        for (const link of [u.link, ...(Array.isArray(u.parts) ? u.parts : [])]) {
          const r = await peer.renew(link);
          result.blocks += r.blocks;
          result.renewed += r.renewed;
        }
      } catch (e) {
        result = { error: errorMessage(e), code: errorCode(e), at: Date.now() };
      }
      onRenewed(u.link, result);
    }
  }
  async function loop() {
    await pass();
    if (!stopped) timer = setTimeout(loop, renewEveryMs(leaseSecs()));
  }
  loop();
  return () => { stopped = true; clearTimeout(timer); };
}
