// A sample app using the `meganet` npm package as a user would: typed
// against its declarations (tsc --strict), bundled by webpack, served on an
// origin other than the node's (named in index.html's meganet-node meta
// tag). It puts 1 MiB of random bytes, shows the progress, gets them back,
// checks the SHA-256, asks for health and providers, shows a coded error,
// and shows the consent widget. tests/package.test.mjs drives it.
import { Peer, ERROR_CODES, isMeganetError } from 'meganet';
import 'meganet/widget';
import type { ErrorCode, Health, Link, OpenedFile, Progress, Status } from 'meganet';
import type { MeganetWidgetElement, WidgetStatus } from 'meganet/widget';

/** What the test reads when the run ends. */
interface Outcome {
  ok: boolean;
  link?: Link;
  sent?: string;
  received?: string;
  size?: number;
  stages: string[];
  health?: Health['state'];
  providers?: number;
  badLinkCode?: ErrorCode;
  error?: string;
}

declare global {
  interface Window {
    sample?: Outcome;
    samplePeer?: Peer;
    samplePeerClass?: typeof Peer;
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing`);
  return e as T;
};
const bar = $<HTMLProgressElement>('bar');
const log = (line: string): void => { $('log').textContent += `${line}\n`; };

const hex = async (bytes: Uint8Array<ArrayBuffer>): Promise<string> =>
  [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
    .map((b) => b.toString(16).padStart(2, '0')).join('');

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB a call.
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

function connected(peer: Peer): Promise<Status> {
  return new Promise((resolve) => {
    const check = (s: Status): void => { if (s.node.state === 'connected') resolve(s); };
    peer.onStatus(check);
    check(peer.status());
  });
}

async function run(outcome: Outcome): Promise<void> {
  const node = document.querySelector<HTMLMetaElement>('meta[name="meganet-node"]')?.content;
  if (!node) throw new Error('name the node in <meta name="meganet-node">');
  const peer = await Peer.start({ bootstrapUrl: new URL('/bootstrap.json', node).href });
  window.samplePeer = peer;
  window.samplePeerClass = Peer;
  const status = await connected(peer);
  log(`peer ${peer.id} connected to ${status.node.peerId ?? '?'} over ${status.node.transport ?? '?'}`);

  const onProgress = (p: Progress): void => {
    if (outcome.stages.at(-1) !== p.stage) { outcome.stages.push(p.stage); log(`${p.stage}…`); }
    bar.max = p.total || 1;
    bar.value = p.done;
    const holders = Object.keys(p.peers).length;
    $('progress').textContent = `${p.stage}: ${p.done} of ${p.total} bytes, ${holders} holder${holders === 1 ? '' : 's'}`;
  };
  const bytes = randomBytes(1 << 20);
  outcome.sent = await hex(bytes);
  const link: Link = await peer.put(new File([bytes], 'random.bin', { type: 'application/octet-stream' }), { onProgress });
  outcome.link = link;
  log(`stored: ${link}`);

  const opened: OpenedFile = await peer.get(link, { onProgress });
  const back = new Uint8Array(await new Response(opened.stream).arrayBuffer());
  outcome.size = opened.size;
  outcome.received = await hex(back);
  log(`fetched ${opened.name} (${opened.size} bytes, ${opened.type}): ${outcome.received === outcome.sent ? 'same SHA-256' : 'DIFFERENT'}`);

  const health = await peer.health(link);
  outcome.health = health.state;
  log(`health: ${health.state}, weakest segment ${health.weakest} of ${health.n} shards (k = ${health.k})`);
  outcome.providers = (await peer.providers(link)).length;

  try {
    await peer.get('not a link');
  } catch (e) {
    if (!isMeganetError(e)) throw e;
    outcome.badLinkCode = e.code;
    log(`a bad link is refused with "${e.code}" (one of ${ERROR_CODES.length} codes)`);
  }
  outcome.ok = outcome.received === outcome.sent;
}

/** The widget's state, typed. */
export function widgetState(): WidgetStatus['state'] | 'absent' {
  const widget: MeganetWidgetElement | null = document.querySelector('meganet-widget');
  return widget?.status?.state ?? 'absent';
}

const outcome: Outcome = { ok: false, stages: [] };
run(outcome)
  .catch((e: unknown) => {
    outcome.error = isMeganetError(e) ? `${e.code}: ${e.message}` : String(e);
    log(`failed: ${outcome.error}`);
  })
  .finally(() => {
    $('result').textContent = outcome.ok ? 'Put and got 1 MiB: identical.' : `Failed: ${outcome.error ?? 'bytes differ'}`;
    window.sample = outcome;
  });
