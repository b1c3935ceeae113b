// Errors with a stable code. The wasm peer rejects every promise (and
// errors every stream) with an Error that has a string `code` (the list and
// the advice for each: fetch-help.js); the page's own JS raises the few
// codes only it can see with `codedError`. Code decides, never message
// text: the message is for people and may change.
//
// Where an error crosses a boundary (BroadcastChannel between tabs,
// MessagePort between a tab and the service worker, an HTTP response) it
// travels as `{message, code}` (`toWire`) and is rebuilt with `fromWire`.
// An error that has no code (a JS bug, a browser exception) travels as
// `internal`; a code this page does not know is passed on as it is.

/** The service worker serving a download was stopped by the browser. */
export const STREAM_LOST = 'stream-lost';
/** No service worker can stream here and the file is too large for memory. */
export const NO_STREAMING = 'no-streaming';
/** The peer stopped (its page is closing, or the tab running it closed). */
export const STOPPED = 'stopped';
export const TIMEOUT = 'timeout';
export const INVALID_ARGUMENT = 'invalid-argument';
export const INTERNAL = 'internal';

/** The HTTP header on the service worker's error responses. */
export const CODE_HEADER = 'X-Meganet-Error-Code';

/** An Error with `message` and the string `code`. */
export function codedError(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * The string code of an error-like value, or null when it has none (a
 * plain string has none; a DOMException's numeric `code` is not one).
 */
export function codeOf(e) {
  return e !== null && typeof e === 'object' && typeof e.code === 'string' && e.code ? e.code : null;
}

/** The code an error travels with: its own, or `internal` when it has none. */
export function errorCode(e) {
  return codeOf(e) ?? INTERNAL;
}

/** The readable message of an error-like value. */
export function errorMessage(e) {
  return `${(e && e.message) || e}`;
}

/** `{message, code}`: an error as it is posted to another tab or worker. */
export function toWire(e) {
  return { message: errorMessage(e), code: errorCode(e) };
}

/** The Error a `{message, code}` from another tab or worker stands for. */
export function fromWire(data, fallback = 'the operation failed') {
  const message = data && typeof data.message === 'string' && data.message ? data.message : fallback;
  return codedError(errorCode(data), message);
}
