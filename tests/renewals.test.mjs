// Unit tests of the page's renewal timing and wording (www/renewals.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

const { renewEveryMs, renewalText, RENEW_MAX_MS } = await import('../www/renewals.js');

test('renewals come a quarter of the lease apart, between 1 s and 6 hours', () => {
  assert.equal(renewEveryMs(8), 2000);
  assert.equal(renewEveryMs(1), 1000);
  assert.equal(renewEveryMs(30 * 86400), RENEW_MAX_MS);
  assert.equal(renewEveryMs(undefined), RENEW_MAX_MS, 'a node that names no lease');
  assert.equal(renewEveryMs(-5), RENEW_MAX_MS);
});

test('the line says until when the nodes keep the upload, or what went wrong', () => {
  const at = Date.UTC(2026, 11, 6, 12, 0, 0);
  const kept = renewalText({ blocks: 9, renewed: 9, at }, 30 * 86400, at);
  assert.match(kept, /^Kept by the nodes until at least /);
  assert.ok(kept.includes(new Date(at + 30 * 86400_000).toLocaleDateString()), kept);
  assert.match(renewalText({ blocks: 9, renewed: 9, at }, 60, at), new RegExp(new Date(at + 60_000).toLocaleTimeString()));
  assert.equal(renewalText({ blocks: 9, renewed: 7, at }, 60, at), 'Renewed 7 of its 9 pieces; the others were found on no node.');
  assert.equal(renewalText({ error: 'not connected', at }, 60, at), 'Not renewed: not connected');
  assert.equal(renewalText(undefined, 60, at), '');
});
