// Plain-language help for a fetch that failed: what happened, in words a
// person who has never heard of meganet understands, and what they can do
// next. The precise error stays beside it for whoever needs it.

/** Whether trying again later can help (the file may come back online). */
const RETRY = 'retry';

const CASES = [
  [/unsupported format version/, 'This link was made by a newer version of meganet.',
    'Reload this page to get the newest version, then open the link again.'],
  [/malformed link/, 'This link is incomplete or damaged.',
    'Links are long and easy to cut short. Ask the sender to copy the whole link again (the Copy button does that) and paste all of it under “Open a link”.'],
  [/wrong key|tampered|malformed manifest|failed authentication/, 'This link does not open this file.',
    'Part of the link was changed, or someone sent altered data. Ask the sender for the link again.'],
  [/file not found/, 'Nobody who holds this file is reachable right now.',
    'The file may have been removed, or everyone holding it is offline. Try again later, or ask the sender to open meganet and share it again.', RETRY],
  [/unavailable/, 'Not enough of this file is reachable right now.',
    'Some of its pieces are held by people who are offline. Try again in a few minutes, or ask the sender to keep meganet open in a tab.', RETRY],
  [/stopped the service worker/, 'This browser stopped the download part-way.',
    'Start it again: Save, or play it again. What the browser kept of the stopped download is incomplete.', RETRY],
  [/cannot stream downloads here/, 'This window cannot save large files.',
    'Open the link in a normal (not private) window of this browser.'],
];

/**
 * `{title, help, retry}` for an error message: a headline, the way
 * forward, and whether a "Try again" button makes sense.
 */
export function helpFor(message) {
  for (const [pattern, title, help, retry] of CASES) {
    if (pattern.test(message)) return { title, help, retry: retry === RETRY };
  }
  return {
    title: 'This file could not be opened.',
    help: 'Check your connection and try again. If it keeps failing, ask the sender for the link again.',
    retry: true,
  };
}
