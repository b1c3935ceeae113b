// The widget's postMessage protocol (docs/DESIGN.md 2.1 and 9.9), shared by the
// element on the host page (widget.js) and the peer frame on the meganet
// origin (widget-frame.js). Commands go down, status goes up; everything
// else is refused. A message must be a plain object with exactly the listed
// fields, each of the listed type: extra fields, missing fields or wrong
// types make the whole message invalid. Nothing in this protocol carries a
// key, a link or stored bytes, so the host page learns only what the
// visitor could read off the card.

const MAX_TEXT = 300;
const MAX_PEERS = 100_000;

const isBytes = (v) => Number.isSafeInteger(v) && v >= 0;
const isText = (v) => typeof v === 'string' && v.length <= MAX_TEXT;
// An error code (www/errors.js), or '' for none. Any kebab-case word, so a
// frame with codes newer than this script still passes.
const isCode = (v) => typeof v === 'string' && /^([a-z][a-z-]{0,39})?$/.test(v);
const oneOf = (...values) => (v) => values.includes(v);
const optional = (check) => Object.assign((v) => v === undefined || check(v), { optional: true });

/** Commands the frame accepts from its parent window, with their fields. */
export const COMMANDS = {
  // The visitor pressed Join on the card: the frame asks them to confirm
  // with its own button ('asking'); only that click, inside the meganet
  // origin, saves the choice and starts the peer. `quotaBytes` may lower
  // the frame's default offer, never raise it.
  'meganet:join': { quotaBytes: optional(isBytes) },
  // Stop contributing, keep what is held; remembered for the next visit.
  'meganet:pause': {},
  // Contribute again: confirmed inside the frame, as joining is.
  'meganet:resume': {},
  // Stop contributing, delete what was stored for others, forget the opt-in.
  'meganet:leave': {},
  // The visitor used the host page: the frame's tab is not idle.
  'meganet:activity': {},
};

/** What the frame is doing. */
export const STATES = ['ready', 'asking', 'standby', 'starting', 'active', 'paused', 'left', 'failed'];

/** The frame's status report, sent to its parent on every change. */
export const STATUS = {
  type: oneOf('meganet:status'),
  state: oneOf(...STATES),
  node: oneOf('off', 'connecting', 'connected', 'unreachable'),
  peers: (v) => Number.isSafeInteger(v) && v >= 0 && v <= MAX_PEERS,
  contributedBytes: isBytes,
  quotaBytes: isBytes,
  storing: isText,
  serving: isText,
  persisted: (v) => v === true || v === false || v === null,
  rejected: isBytes,
  error: isText,
  // The code of `error` ('' when there is none), e.g. 'not-connected'.
  errorCode: isCode,
};

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

// True when `data` has exactly the fields of `spec` (optional ones may be
// absent), each passing its check.
function matches(data, spec) {
  if (!isPlainObject(data)) return false;
  for (const key of Object.keys(data)) {
    if (!Object.hasOwn(spec, key)) return false;
  }
  return Object.entries(spec).every(([key, check]) => (Object.hasOwn(data, key) || check.optional) && check(data[key]));
}

/** The command in `data`, or null when it is not one the frame accepts. */
export function parseCommand(data) {
  if (!isPlainObject(data) || typeof data.type !== 'string' || !Object.hasOwn(COMMANDS, data.type)) return null;
  return matches(data, { type: oneOf(data.type), ...COMMANDS[data.type] }) ? data : null;
}

/** The status report in `data`, or null when it is malformed. */
export function parseStatus(data) {
  return matches(data, STATUS) ? data : null;
}
