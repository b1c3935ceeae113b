// Accessibility checks with axe-core, shared by the end-to-end tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Loads axe-core into `target` (a page or frame) unless it is there:
 * evaluated, not added as a <script>, which the app's Content-Security-
 * Policy would refuse.
 */
export async function injectAxe(target) {
  if (await target.evaluate(() => typeof window.axe === 'object')) return;
  await target.evaluate(readFileSync(AXE, 'utf8'));
}

/** Runs axe-core in the page; fails listing every serious or critical violation. */
export async function assertAccessible(page, where) {
  await injectAxe(page);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}; at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `axe on ${where}:\n${violations.join('\n')}`);
}
