// Plain-language help for a fetch that failed: what happened, in words a
// person who has never heard of meganet understands, and what they can do
// next. The precise error stays beside it for whoever needs it.
//
// Advice is chosen by the error's stable `code` (errors.js), never by its
// message text. ADVICE has one entry for every code the peer or the page
// can give. Keep each entry's key on a line of its own, exactly in the form
//   'some-code': {
// (two spaces, the code in single quotes, a colon, an opening brace): a
// Rust test reads the set of handled codes from this file with the regex
// ^\s*'([a-z-]+)':\s*\{ and checks it against the crate's list.

import { codeOf } from './errors.js';

/** `retry`: whether trying again later can help (the file may come back online). */
const ADVICE = {
  'link-malformed': {
    title: 'This link is incomplete or damaged.',
    help: 'Links are long and easy to cut short. Ask the sender to copy the whole link again (the Copy button does that) and paste all of it under “Open a link”.',
    retry: false,
  },
  'link-version': {
    title: 'This link was made by a newer version of meganet.',
    help: 'Reload this page to get the newest version, then open the link again.',
    retry: false,
  },
  'manifest-tampered': {
    title: 'This link does not open this file.',
    help: 'Part of the link was changed, or someone sent altered data. Ask the sender for the link again.',
    retry: false,
  },
  'wrong-key': {
    title: 'This link does not open this file.',
    help: 'Part of the link was changed, or someone sent altered data. Ask the sender for the link again.',
    retry: false,
  },
  'manifest-malformed': {
    title: 'This link does not open this file.',
    help: 'Part of the link was changed, or someone sent altered data. Ask the sender for the link again.',
    retry: false,
  },
  'segment-auth': {
    title: 'This link does not open this file.',
    help: 'Part of the link was changed, or someone sent altered data. Ask the sender for the link again.',
    retry: false,
  },
  'not-found': {
    title: 'Nobody who holds this file is reachable right now.',
    help: 'The file may have been removed, or everyone holding it is offline. Try again later, or ask the sender to open meganet and share it again.',
    retry: true,
  },
  'unavailable': {
    title: 'Not enough of this file is reachable right now.',
    help: 'Some of its pieces are held by people who are offline. Try again in a few minutes, or ask the sender to keep meganet open in a tab.',
    retry: true,
  },
  'not-connected': {
    title: 'This page cannot reach the network right now.',
    help: 'Check your internet connection. The page keeps trying to connect on its own; try again in a moment.',
    retry: true,
  },
  'storage-full': {
    title: 'The people storing files have no room left right now.',
    help: 'Try again later, when others have made room, or try a smaller file.',
    retry: true,
  },
  'over-budget': {
    title: 'You have used the storage this network gives each person.',
    help: 'Space comes back as older uploads are no longer kept (each upload is kept while its uploader is online to renew it, and for some weeks after). Try again later, or ask the node\'s operator for more.',
    retry: false,
  },
  'refused': {
    title: 'The network turned the request down for now.',
    help: 'Too many requests may have been made in a short time. Wait a minute and try again.',
    retry: true,
  },
  'timeout': {
    title: 'The network took too long to answer.',
    help: 'Someone holding the file may be slow or offline, or your connection is slow. Try again in a moment.',
    retry: true,
  },
  'too-large': {
    title: 'This file is too large for meganet.',
    help: 'Split it into smaller files and share those instead.',
    retry: false,
  },
  'invalid-argument': {
    title: 'This page asked for something meganet cannot do.',
    help: 'Reload this page and try again. If it keeps happening, the page has a fault: please report it.',
    retry: false,
  },
  'input-failed': {
    title: 'The file could not be read.',
    help: 'It may have been moved, changed or deleted while it was being read. Choose the file again.',
    retry: false,
  },
  'stopped': {
    title: 'meganet stopped in this tab.',
    help: 'This happens when the page is closing, or when the tab that ran meganet for this browser was closed. Try again.',
    retry: true,
  },
  'protocol': {
    title: 'Someone on the network answered in a way this page does not understand.',
    help: 'They may run a different version of meganet. Reload this page to get the newest version, then try again.',
    retry: true,
  },
  'internal': {
    title: 'Something went wrong in this page.',
    help: 'Try again. If it keeps failing, reload the page, or ask the sender for the link again.',
    retry: true,
  },
  'stream-lost': {
    title: 'This browser stopped the download part-way.',
    help: 'Start it again: Save, or play it again. What the browser kept of the stopped download is incomplete.',
    retry: true,
  },
  'no-streaming': {
    title: 'This window cannot save large files.',
    help: 'Open the link in a normal (not private) window of this browser.',
    retry: false,
  },
};

/** Every code ADVICE handles. */
export const CODES = Object.freeze(Object.keys(ADVICE));

/** The advice for an error without a code, or with one this page does not know. */
export const FALLBACK = Object.freeze({
  title: 'This file could not be opened.',
  help: 'Check your connection and try again. If it keeps failing, ask the sender for the link again.',
  retry: true,
});

/**
 * `{title, help, retry}` for an error: a headline, the way forward, and
 * whether a "Try again" button makes sense. `error` is anything with a
 * string `code` (an Error from the peer, `{code, message}`); a plain string,
 * a missing or unknown code gets FALLBACK. The message is never read.
 */
export function helpFor(error) {
  const code = codeOf(error);
  return { ...(code !== null && Object.hasOwn(ADVICE, code) ? ADVICE[code] : FALLBACK) };
}
