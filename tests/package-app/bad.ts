// Deliberate type errors: tsc must refuse each (tests/package.test.mjs),
// which proves the package's types are real, not `any`.
import { Peer } from 'meganet';
import type { WidgetStatus } from 'meganet/widget';

export async function wrong(peer: Peer, status: WidgetStatus): Promise<void> {
  await peer.get(42);                                                  // a link is a string
  await peer.put(new Blob([]), { onProgress: (p) => p.percent });     // Progress has no `percent`
  await Peer.start({ bootstrap: 'http://node/bootstrap.json' });       // the option is bootstrapUrl
  const code: 'no-such-code' = (await peer.health('x')).state;         // not a health state
  if (status.state === 'running') console.log(code);                   // not a widget state
}
