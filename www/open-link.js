// The "Open a link" form: a pasted link becomes this page's fragment, so the
// usual hashchange fetch (transfer.js) runs. Whether the fragment is a valid
// link is the peer's call; this file only checks that there is a fragment,
// and shows the outcome of the fetch it started next to the input, with the
// advice for its error code (fetch-help.js).

import { helpFor } from './fetch-help.js';

const $ = (id) => document.getElementById(id);

/** The part after `#` of a pasted link, or an error sentence. */
export function fragmentOf(text) {
  const t = text.trim();
  if (!t) return { error: 'Paste a link first.' };
  const i = t.indexOf('#');
  if (i < 0 || i === t.length - 1) {
    return { error: 'This is not a meganet link: a link ends in a part after “#” that holds its key. Copy the whole link and try again.' };
  }
  return { fragment: t.slice(i + 1) };
}

export function setUpOpenLink() {
  const form = $('open-form');
  const input = $('open-link');
  const error = $('open-error');
  let pending = null; // the fragment this form asked for, until its fetch ends

  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { fragment, error: problem } = fragmentOf(input.value);
    if (problem) {
      showError(problem);
      return;
    }
    showError('');
    pending = fragment;
    if (location.hash === `#${fragment}`) {
      window.dispatchEvent(new HashChangeEvent('hashchange')); // same link again: fetch again
    } else {
      location.hash = fragment;
    }
  });
  input.addEventListener('input', () => { if (!error.hidden) showError(''); });

  // transfer.js reports every fetch's end; only the one this form started
  // changes the form.
  document.addEventListener('meganet-fetched', ({ detail }) => {
    if (pending === null || detail.fragment !== pending) return;
    pending = null;
    if (detail.error) showError(`This link could not be opened: ${detail.error}. ${helpFor({ code: detail.code }).help}`);
    else $('fetch-save').focus();
  });
}
