// The state of each piece in an upload's picture, from the latest audit
// and what this tab remembers of earlier ones:
//   n  live on a node
//   b  live on browsers only (one that keeps it: persistent storage)
//   e  live only on browsers that may clear it (storage not persistent)
//   a  away: not proven now, but live within AWAY_MS while some holder
//      does not answer; it may come back, and repair waits for it
//   r  being repaired: this tab is rebuilding the part it belongs to
//   -  lost: on no holder that proved it
// Pure functions over the strings `peer.health()` returns (`pieces`: one
// string per part, one character per piece: n, b, e or -).

/** How long a piece stays away before it counts as lost: the nodes' default `--repair-lost-after-secs`. */
export const AWAY_MS = 60 * 60 * 1000;

const isLive = (c) => c === 'n' || c === 'b' || c === 'e';

/**
 * When each piece was last live, one number (ms) per piece in part order:
 * `memory` (from the last call, or undefined) updated with `pieces` at `now`.
 */
export function remember(memory, pieces, now) {
  const cells = pieces.join('');
  const next = memory?.length === cells.length ? memory.slice() : new Array(cells.length).fill(0);
  for (let i = 0; i < cells.length; i += 1) if (isLive(cells[i])) next[i] = now;
  return next;
}

/**
 * The picture's rows: `pieces` with each piece that is not live marked
 * away (`a`) or being repaired (`r`) where that applies. `anyAway`: some
 * holder asked did not answer; `repairing`: this tab is repairing the
 * file, so every piece not live of a part below `threshold` is rebuilt.
 */
export function pieceStates(pieces, n, threshold, memory, now, { anyAway = false, repairing = false } = {}) {
  return pieces.map((row, part) => {
    const weak = repairing && [...row].filter(isLive).length < threshold;
    return [...row].map((c, i) => {
      if (isLive(c)) return c;
      if (weak) return 'r';
      const at = memory?.[part * n + i] ?? 0;
      return anyAway && at > 0 && now - at < AWAY_MS ? 'a' : '-';
    }).join('');
  });
}

/** The picture as one sentence for screen readers. */
export function pictureSentence(rows, { segments, n, k, threshold }) {
  const all = rows.join('');
  const count = (c) => [...all].filter((x) => x === c).length;
  const plural = (x, one) => `${x} ${one}${x === 1 ? '' : 's'}`;
  const drawn = rows.length < segments ? ` (the first ${rows.length} parts drawn)` : '';
  const states = [`${count('n')} on nodes`, `${count('b')} on browsers only`];
  if (count('e')) states.push(`${count('e')} only on browsers that may clear them`);
  if (count('a')) states.push(`${count('a')} away (their holders may come back)`);
  if (count('r')) states.push(`${count('r')} being repaired`);
  states.push(`${count('-')} not found`);
  return `${plural(segments, 'part')} of ${n} pieces${drawn}: ${states.join(', ')}. A part needs ${k}; nodes rebuild a part below ${threshold}.`;
}
