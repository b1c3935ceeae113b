// www/fetch-help.js: every error the peer gives for a failed fetch gets a
// plain headline and a way forward; only where waiting can help is there
// a "Try again". The messages are the peer's own (crate/src/format/error.rs
// and the get path). No browser needed; the page shows them in
// putget.test.mjs and webapp.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const { helpFor } = await import('../www/fetch-help.js');

test('each kind of failure gets its own headline, advice and retry choice', () => {
  const cases = [
    ['malformed link: the manifest hash must be 43 base64url characters, got 3', /incomplete or damaged/, /copy the whole link again/, false],
    ['unsupported format version 7 (this build reads version 1)', /newer version/, /Reload this page/, false],
    ["wrong key: the link's key does not open this file's manifest", /does not open this file/, /link again/, false],
    ['the manifest was tampered with: expected hash a, got b', /does not open this file/, /link again/, false],
    ['file not found: no reachable peer holds it (it may have been removed, or the link is wrong)', /Nobody who holds this file/, /Try again later/, true],
    ['2 shards of segment 3 unavailable: it needs 4, only 2 could be fetched', /Not enough of this file/, /Try again in a few minutes/, true],
    ['the browser stopped the service worker that was serving this file', /stopped the download part-way/, /Start it again/, true],
    ['This browser cannot stream downloads here (no service worker, for example in a private window), and 1 GB is too large to hold in memory. Open the link in a normal window.', /cannot save large files/, /normal/, false],
  ];
  for (const [message, title, help, retry] of cases) {
    const got = helpFor(message);
    assert.match(got.title, title, message);
    assert.match(got.help, help, message);
    assert.equal(got.retry, retry, message);
  }
});

test('an unknown failure still says something useful and offers a retry', () => {
  const got = helpFor('the node: connection reset');
  assert.match(got.title, /could not be opened/);
  assert.match(got.help, /try again/i);
  assert.equal(got.retry, true);
});
