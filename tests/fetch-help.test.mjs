// www/fetch-help.js: every error code the peer or the page gives gets a
// plain headline and a way forward; only where waiting can help is there
// a "Try again". Advice follows the code (www/errors.js), never the
// message text. No browser needed; the page shows them in putget.test.mjs
// and webapp.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const { helpFor, CODES, FALLBACK } = await import('../www/fetch-help.js');
const { codedError } = await import('../www/errors.js');

/** The contract: every code the wasm API and the page's own JS may raise. */
const CONTRACT = [
  'link-malformed', 'link-version', 'manifest-tampered', 'wrong-key', 'manifest-malformed',
  'segment-auth', 'not-found', 'unavailable', 'not-connected', 'storage-full', 'over-budget', 'refused',
  'timeout', 'too-large', 'invalid-argument', 'input-failed', 'stopped', 'protocol', 'internal',
  'stream-lost', 'no-streaming',
];

test('the table handles exactly the contract\'s codes', () => {
  assert.deepEqual([...CODES].sort(), [...CONTRACT].sort());
});

test('the codes can be read from the source with the Rust test\'s regex', () => {
  const source = readFileSync(new URL('../www/fetch-help.js', import.meta.url), 'utf8');
  const found = source.split('\n').map((line) => /^\s*'([a-z-]+)':\s*\{/.exec(line)).filter(Boolean).map((m) => m[1]);
  assert.deepEqual(found, [...CODES]);
});

test('every code gets a headline, advice and a retry choice, not the fallback', () => {
  for (const code of CONTRACT) {
    const got = helpFor({ code, message: 'x' });
    assert.equal(typeof got.title, 'string', code);
    assert.ok(got.title.length > 10, code);
    assert.ok(got.help.length > 20, code);
    assert.equal(typeof got.retry, 'boolean', code);
    assert.notDeepEqual(got, { ...FALLBACK }, code);
  }
});

test('each kind of failure gets its own headline, advice and retry choice', () => {
  const cases = [
    ['link-malformed', /incomplete or damaged/, /copy the whole link again/, false],
    ['link-version', /newer version/, /Reload this page/, false],
    ['wrong-key', /does not open this file/, /link again/, false],
    ['manifest-tampered', /does not open this file/, /link again/, false],
    ['manifest-malformed', /does not open this file/, /link again/, false],
    ['segment-auth', /does not open this file/, /altered data/, false],
    ['not-found', /Nobody who holds this file/, /Try again later/, true],
    ['unavailable', /Not enough of this file/, /Try again in a few minutes/, true],
    ['not-connected', /cannot reach the network/, /connection/, true],
    ['storage-full', /no room/, /smaller file/, true],
    ['over-budget', /used the storage this network gives/, /Space comes back/, false],
    ['refused', /turned the request down/, /Wait a minute/, true],
    ['timeout', /too long to answer/, /Try again/, true],
    ['too-large', /too large/, /smaller files/, false],
    ['invalid-argument', /cannot do/, /Reload this page/, false],
    ['input-failed', /could not be read/, /Choose the file again/, false],
    ['stopped', /stopped in this tab/, /Try again/, true],
    ['protocol', /does not understand/, /newest version/, true],
    ['internal', /went wrong/, /Try again/, true],
    ['stream-lost', /stopped the download part-way/, /Start it again/, true],
    ['no-streaming', /cannot save large files/, /normal/, false],
  ];
  assert.deepEqual(cases.map(([code]) => code).sort(), [...CONTRACT].sort(), 'every code is checked');
  for (const [code, title, help, retry] of cases) {
    // The three shapes an error comes in: the peer's Error, a rebuilt one, a plain object.
    const fromPeer = Object.assign(new Error('whatever the peer said'), { code });
    for (const error of [fromPeer, codedError(code, 'm'), { code, message: 'm' }, { code }]) {
      const got = helpFor(error);
      assert.match(got.title, title, code);
      assert.match(got.help, help, code);
      assert.equal(got.retry, retry, code);
    }
  }
});

test('the message text is never read: the code decides', () => {
  const got = helpFor(codedError('unavailable', 'file not found: no reachable peer holds it'));
  assert.match(got.title, /Not enough of this file/);
  const tampered = helpFor({ code: 'not-found', message: 'the manifest was tampered with' });
  assert.match(tampered.title, /Nobody who holds this file/);
});

test('a plain string, a missing or unknown code gets the fallback, which still offers a retry', () => {
  const odd = [
    'file not found: no reachable peer holds it',
    'malformed link: the manifest hash must be 43 base64url characters, got 3',
    new Error('unsupported format version 7 (this build reads version 1)'),
    { message: 'wrong key' },
    { code: 'no-such-code', message: 'x' },
    { code: 'constructor' },
    { code: 'toString' },
    Object.assign(new Error('aborted'), { code: 20 }), // a DOMException's numeric code
    null,
    undefined,
    42,
  ];
  for (const error of odd) {
    const got = helpFor(error);
    assert.deepEqual(got, { ...FALLBACK }, String(error));
    assert.match(got.title, /could not be opened/);
    assert.match(got.help, /try again/i);
    assert.equal(got.retry, true);
  }
});

test('the advice returned is a copy: changing it does not change the table', () => {
  helpFor({ code: 'not-found' }).title = 'changed';
  assert.match(helpFor({ code: 'not-found' }).title, /Nobody who holds this file/);
});
