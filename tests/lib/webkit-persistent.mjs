// WebKit with a persistent profile: a WebKitGTK page whose website data
// lives in a directory of ours, driven by tests/lib/webkit_persistent.py,
// for tests that kill the browser and reopen its profile. MiniBrowser
// under WebDriver (./webkit.mjs) keeps website data in memory only.
// The page offers the subset of Playwright's page API such tests use.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { xDisplay } from './webkit.mjs';

const HARNESS = fileURLToPath(new URL('./webkit_persistent.py', import.meta.url));
/** Debian's Python, which has python3-gi (a pyenv python3 first on PATH may not). */
const PYTHON = process.env.WEBKIT_PYTHON || '/usr/bin/python3';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether a process of group `pgid` is still running (zombies left unreaped do not count). */
function groupAlive(pgid) {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat;
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

class WebKitProfilePage {
  constructor(send) { this.send = send; }

  /** Runs `fn(arg)` in the page; its source is compiled by WebKit, not by the page (its CSP forbids eval). */
  evaluate(fn, arg) {
    return this.send(`return await (${fn})(${JSON.stringify(arg)});`);
  }

  /** Polls `fn(arg)` until it is truthy; a call that never answers times out too. */
  async waitForFunction(fn, arg, { timeout = 30_000, polling = 100 } = {}) {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${fn}`)), timeout);
    });
    try {
      for (;;) {
        const value = await Promise.race([this.evaluate(fn, arg), expired]);
        if (value) return value;
        await Promise.race([sleep(polling), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Starts the harness on `url` with its website data in `dataDir` and
 * waits for the page to load. The harness and WebKit's processes (the web
 * process, and the network process that holds IndexedDB) share one
 * process group: `kill()` SIGKILLs them all at once and resolves when
 * none runs; `close()` quits cleanly.
 */
export async function launchWebKitProfile(dataDir, url, { timeout = 60_000 } = {}) {
  const child = spawn(PYTHON, [HARNESS, url, dataDir], {
    detached: true,
    env: { ...process.env, DISPLAY: await xDisplay() },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log = (log + d).slice(-2000); });
  child.stdin.on('error', () => {}); // EPIPE once killed: the exit handler reports it.
  const pending = new Map();
  let nextId = 1;
  let gone = null;
  let load;
  const loaded = new Promise((resolve, reject) => { load = { resolve, reject }; });
  loaded.catch(() => {});
  const fail = (error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    load.reject(error);
  };
  const exited = new Promise((resolve) => { child.on('exit', resolve); child.on('error', resolve); });
  child.on('exit', (code, signal) => {
    gone = new Error(`the WebKit harness exited (${signal ?? code}): ${log}`);
    fail(gone);
  });
  child.on('error', (e) => { gone = e; fail(e); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      log = (log + line).slice(-2000); // a library's chatter, not ours
      return;
    }
    if (message.event === 'loaded') load.resolve();
    else if (message.event === 'load-failed') load.reject(new Error(`WebKit could not load ${message.error}`));
    else if (message.event === 'web-process-terminated') fail(new Error(`WebKit's web process ended: ${message.reason}`));
    else if (pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if ('error' in message) reject(new Error(`evaluate failed in WebKit: ${message.error}`));
      else resolve(message.result);
    }
  });

  const send = (body) => new Promise((resolve, reject) => {
    if (gone) return reject(gone);
    const id = nextId++;
    pending.set(id, { resolve, reject });
    child.stdin.write(`${JSON.stringify({ id, body })}\n`);
  });
  const kill = async () => {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    await exited;
    while (groupAlive(child.pid)) await sleep(50);
  };
  const close = async () => {
    // End of input quits the harness; one that does not within 10 s is killed.
    const timer = setTimeout(kill, 10_000);
    child.stdin.end();
    await exited;
    clearTimeout(timer);
  };

  const timer = setTimeout(() => load.reject(new Error(`WebKit did not load ${url} in ${timeout} ms: ${log}`)), timeout);
  try {
    await loaded;
  } catch (e) {
    await kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return { page: new WebKitProfilePage(send), kill, close };
}
