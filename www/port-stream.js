// A ReadableStream carried over a MessagePort, pulled one chunk at a time:
// other tabs read a download that the peer-host tab produces
// (www/peer-host.js). Backpressure is the pull itself (never more than one
// chunk in flight), and cancelling the reading side cancels the producing
// one. A failure reaches the reader with its code (errors.js).
//
// Messages, reader → producer: {pull: true} | {cancel: reason}
//           producer → reader: {chunk: Uint8Array} | {done: true} | {error: message, code}

import { errorCode, errorMessage, codedError } from './errors.js';

/**
 * Serves `readable` to whoever holds the other end of `port`; `onEnd` runs
 * once with `done`, `cancelled` or `failed` (and then the error).
 */
export function sendStream(port, readable, onEnd = () => {}) {
  const reader = readable.getReader();
  let ended = false;
  const end = (how, error) => {
    if (!ended) { ended = true; port.close(); onEnd(how, error); }
  };
  port.onmessage = async ({ data }) => {
    if (data && 'cancel' in data) {
      reader.cancel(data.cancel).catch(() => {});
      end('cancelled');
      return;
    }
    if (!data || !data.pull) return;
    try {
      const { value, done } = await reader.read();
      if (done) {
        port.postMessage({ done: true });
        end('done');
        return;
      }
      // Transfer the bytes when they own their buffer; copy a view otherwise.
      const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
      const chunk = whole ? value : value.slice();
      port.postMessage({ chunk }, [chunk.buffer]);
    } catch (e) {
      port.postMessage({ error: errorMessage(e), code: errorCode(e) });
      end('failed', e);
    }
  };
  port.start();
}

/** The stream that `sendStream` serves at the other end of `port`. */
export function receiveStream(port) {
  let answer = null;
  port.onmessage = ({ data }) => {
    const resolve = answer;
    answer = null;
    if (resolve) resolve(data);
  };
  port.start();
  return new ReadableStream({
    pull(controller) {
      return new Promise((resolve, reject) => {
        answer = (data) => {
          if (data && data.chunk) {
            controller.enqueue(data.chunk);
          } else if (data && data.done) {
            controller.close();
            port.close();
          } else {
            port.close();
            reject(codedError(errorCode(data), (data && data.error) || 'the download stopped'));
            return;
          }
          resolve();
        };
        port.postMessage({ pull: true });
      });
    },
    cancel(reason) {
      port.postMessage({ cancel: `${reason}` });
      port.close();
    },
  });
}
