// Names this browser keeps alive. A browser that opened a site by its name
// link, or published one under a name, keeps the name's signed record in
// this origin's localStorage: the record only, not the link's read key, so
// what is kept does not open the site. While the page is open it puts each
// record back on the nodes (`peer.republishName`): once the node is
// reached, whenever it is reached again, and with every renewal pass
// (renewals.js). So a node that lost its records (a new one, or one whose
// disk was wiped) has them again from any browser that opened the name.
// A node holding a newer record hands it back, and that one is kept
// instead. Nodes check every record as they check a publisher's
// (signature, size, newer version wins).

import { renewEveryMs } from './renewals.js';

const KEY = 'meganet-name-records';
/** Most records kept (the one kept longest ago is forgotten first). */
export const MAX_KEPT = 64;
/** A record is at most 1 KiB (docs/FORMAT.md, "Names"); base64 of it. */
const MAX_RECORD_TEXT = 1400;

const toText = (bytes) => btoa(String.fromCharCode(...bytes));
const fromText = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** [{publisher, record, version}], newest kept first. */
export function keptNames() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(list)
      ? list.filter((e) => typeof e?.publisher === 'string' && typeof e.record === 'string'
        && e.record.length <= MAX_RECORD_TEXT && Number.isSafeInteger(e.version))
      : [];
  } catch {
    return [];
  }
}

function save(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX_KEPT)));
  } catch {
    // Storage full or refused: the name is still on the nodes.
  }
}

/** The publisher part of a name link (`…#n1.<publisher>.<read>`) or its fragment. */
export function publisherOf(nameLink) {
  const m = /(?:^|[#:])n\d+\.([A-Za-z0-9_-]{43})\.[A-Za-z0-9_-]{43}$/.exec(String(nameLink));
  return m ? m[1] : null;
}

/**
 * Keeps the record of what `resolveName` or `publishName` gave
 * (`{record, version}`) for the name `nameLink`, unless a newer one is kept.
 */
export function keepName(nameLink, { record, version }) {
  const publisher = publisherOf(nameLink);
  if (!publisher || !(record instanceof Uint8Array)) return;
  const list = keptNames();
  if (list.some((e) => e.publisher === publisher && e.version > version)) return;
  save([{ publisher, record: toText(record), version }, ...list.filter((e) => e.publisher !== publisher)]);
}

/** Puts every kept record back on the nodes once; keeps what they hand back. */
async function pass(peer) {
  for (const entry of keptNames()) {
    try {
      const got = await peer.republishName(fromText(entry.record));
      if (got.version !== entry.version) {
        save(keptNames().map((e) => (e.publisher === entry.publisher
          ? { ...e, record: toText(got.record), version: got.version } : e)));
      }
    } catch (e) {
      // A record that no longer verifies (altered in storage) is dropped;
      // anything else (no node, a refusal) is tried again next time.
      if (/^manifest-/.test(e?.code || '')) {
        save(keptNames().filter((k) => k.publisher !== entry.publisher));
      }
      console.warn('a kept name record was not put back:', e?.message || e);
    }
  }
}

/** Keeps the records alive while the page is open (see the top of this file). */
export function keepNamesAlive(peer) {
  let running = null;
  const run = () => {
    running ??= pass(peer).finally(() => { running = null; });
    return running;
  };
  let connected = peer.status().node.state === 'connected';
  peer.onStatus((status) => {
    const now = status.node.state === 'connected';
    // Not inside the peer's callback: the call would re-enter the peer.
    if (now && !connected) setTimeout(run, 0);
    connected = now;
  });
  const loop = () => setTimeout(async () => {
    await run();
    loop();
  }, renewEveryMs(peer.status().node.leaseSecs));
  if (connected) run();
  loop();
}
