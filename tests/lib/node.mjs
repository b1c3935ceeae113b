// Starts and stops real `meganet node` processes for tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const BIN = path.join(ROOT, 'build/bin/meganet');

export function tempDir(prefix = 'meganet-test-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Playwright's in-memory files (`{name, buffer}`, one or a list) written
 * to a fresh temporary directory, for drivers that upload from disk;
 * returns their paths.
 */
export function writeTempFiles(files) {
  const dir = tempDir('meganet-upload-');
  return [files].flat().map(({ name, buffer }) => {
    const file = path.join(dir, name);
    writeFileSync(file, buffer);
    return file;
  });
}

/** Runs `meganet` to completion; resolves to {code, stdout, stderr}. */
export function runMeganet(args, { timeoutMs = 30_000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meganet ${args.join(' ')} did not exit in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts a node with every listener on a free port (unless given) and waits
 * for it to print its web app URL. `ca`: the PEM file of the authority
 * that signed the node's `--tls-cert`, for `status()` over HTTPS.
 */
export async function startNode({
  data = tempDir(), http = '127.0.0.1:0', www = path.join(ROOT, 'dist'), args = [], ca,
} = {}) {
  // A listener named in `args` replaces its default.
  const listeners = ['--ws', '--webrtc', '--tcp', '--sites']
    .filter((flag) => !args.includes(flag))
    .flatMap((flag) => [flag, '127.0.0.1:0']);
  const child = spawn(BIN, [
    'node', '--data', data, '--www', www, '--http', http, ...listeners, ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start:\n${stderr}`)), 30_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/web app: (https?:\/\/\S+)/);
      if (m && /sites: http/.test(stdout)) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node exited with ${code}:\n${stderr}`)); });
  });
  const peerId = stdout.match(/meganet node (\S+)/)[1];
  return {
    url,
    /** The sites' origin (`--sites`), where published sites open. */
    sites: stdout.match(/sites: (https?:\/\/\S+)/)[1],
    peerId,
    data,
    http: new URL(url).host,
    logs: () => stderr,
    async status() {
      const at = new URL('/status.json', url);
      if (ca) return JSON.parse(await getText(at, ca));
      const res = await fetch(at);
      return res.json();
    },
    /** Freezes the node (SIGSTOP): its sockets stay open, nothing answers. */
    freeze() { child.kill('SIGSTOP'); },
    /** Lets a frozen node run on (SIGCONT). */
    thaw() { child.kill('SIGCONT'); },
    /** Sends SIGINT (Ctrl-C) and resolves to the exit code. */
    stop(signal = 'SIGINT') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}

/** The node's TCP multiaddr, ending in its peer id (what `--peer` takes). */
export async function tcpAddr(node) {
  const status = await node.status();
  const addr = status.listenAddrs.find((a) => /^\/ip4\/[^/]+\/tcp\/\d+$/.test(a));
  return `${addr}/p2p/${node.peerId}`;
}

/**
 * Waits until every node's status lists every other as a joined node.
 * Nodes usually meet within a second (Kademlia's own lookup after a
 * join); when that lookup misses, each node looks again 2, 6, 14 and 30 s
 * after its last join (node/membership.rs), so the default wait covers
 * the 30 s one.
 */
export async function waitForMesh(nodes, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(nodes.map((n) => n.status()));
    const joined = views.every((v, i) => nodes.every((other, j) => i === j
      || v.nodes.some((e) => e.peerId === other.peerId)));
    if (joined) return views;
    if (Date.now() > deadline) {
      throw new Error(`nodes did not all join: ${JSON.stringify(views.map((v) => v.nodes.map((e) => e.peerId)))}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** GETs `url` over HTTPS trusting only `ca`: the body, or an error if the status is not 200. */
export function getText(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: readFileSync(ca) }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`))));
    }).on('error', reject);
  });
}
