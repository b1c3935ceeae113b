// The picture's piece states (www/piece-states.js): away within the hour
// while a holder is silent, being repaired while this tab rebuilds a weak
// part, lost otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWAY_MS, remember, pieceStates, pictureSentence } from '../www/piece-states.js';

test('a piece live at the last audit and missing now is away while a holder is silent, for an hour', () => {
  const before = ['nnnnnnnn', 'nnnnbbbb'];
  const now = ['nnnnn---', 'nnnn-bbb'];
  const memory = remember(remember(undefined, ['--------', '--------'], 0), before, 1000);
  assert.deepEqual(pieceStates(now, 8, 6, memory, 2000, { anyAway: true }), ['nnnnnaaa', 'nnnnabbb']);
  // Every holder answered: whatever is missing is lost.
  assert.deepEqual(pieceStates(now, 8, 6, memory, 2000, { anyAway: false }), now);
  // An hour after it was last seen, an away piece is lost.
  assert.deepEqual(pieceStates(now, 8, 6, memory, 1000 + AWAY_MS, { anyAway: true }), now);
  // Never seen live: lost.
  assert.deepEqual(pieceStates(['-nnnnnnn'], 8, 6, undefined, 5, { anyAway: true }), ['-nnnnnnn']);
});

test('while the tab repairs, the pieces not live of a part below the threshold are being repaired', () => {
  const rows = ['nnnnn---', 'nnnnnnn-'];
  assert.deepEqual(pieceStates(rows, 8, 6, undefined, 0, { repairing: true }), ['nnnnnrrr', 'nnnnnnn-']);
});

test('remember keeps the last time each piece was live, and starts afresh when the layout differs', () => {
  const m = remember(undefined, ['nb-'], 10);
  assert.deepEqual(m, [10, 10, 0]);
  assert.deepEqual(remember(m, ['-bn'], 20), [10, 20, 20]);
  assert.deepEqual(remember(m, ['nn'], 30), [30, 30]);
});

test('the sentence names away and repaired pieces only when there are some', () => {
  const shape = { segments: 2, n: 4, k: 2, threshold: 3 };
  assert.equal(pictureSentence(['nnnn', 'nnb-'], shape), '2 parts of 4 pieces: 6 on nodes, 1 on browsers only, 1 not found. A part needs 2; nodes rebuild a part below 3.');
  assert.equal(pictureSentence(['nnaa', 'nnr-'], { ...shape, segments: 3 }), '3 parts of 4 pieces (the first 2 parts drawn): 4 on nodes, 0 on browsers only, 2 away (their holders may come back), 1 being repaired, 1 not found. A part needs 2; nodes rebuild a part below 3.');
});

test('pieces only on browsers that may clear them are live, and named apart', () => {
  const shape = { segments: 1, n: 4, k: 2, threshold: 3 };
  assert.equal(pictureSentence(['nbe-'], shape), '1 part of 4 pieces: 1 on nodes, 1 on browsers only, 1 only on browsers that may clear them, 1 not found. A part needs 2; nodes rebuild a part below 3.');
  assert.deepEqual(remember(undefined, ['e-'], 7), [7, 0]);
  assert.deepEqual(pieceStates(['ee--'], 4, 3, undefined, 0, { repairing: true }), ['eerr']);
});
