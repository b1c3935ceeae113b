// WebKit (Debian's WebKitGTK: MiniBrowser driven by WebKitWebDriver, on
// an Xvfb display) through W3C WebDriver classic, wrapped in the subset of
// Playwright's page API the tests use, like the Firefox adapter. One
// WebDriver session is one MiniBrowser process with one page: a context
// is the session itself. See ENVIRONMENT.md's WebKit section.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { writeTempFiles } from './node.mjs';

const DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
/** Where Debian puts MiniBrowser (dpkg -L libwebkit2gtk-4.1-0). */
const MINIBROWSER = process.env.WEBKIT_MINIBROWSER
  || ['/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser']
    .find((p) => existsSync(p));
/** The W3C key of a web element in a WebDriver answer. */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
/** And of a shadow root. */
const SHADOW_ROOT = 'shadow-6066-11e4-a52e-4f735466cecf';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One Xvfb display for every WebKit session of this test process. */
let display = null;
export async function xDisplay() {
  if (display) return display;
  display = new Promise((resolve, reject) => {
    // -displayfd: Xvfb picks a free display number and writes it to fd 3.
    const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    xvfb.stderr.on('data', (d) => { err += d; });
    xvfb.stdio[3].on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      // Started: nothing more is read, and it must not keep this process alive.
      xvfb.stdio[3].destroy();
      xvfb.stderr.destroy();
      xvfb.unref();
      resolve(`:${out.trim()}`);
    });
    xvfb.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${err.slice(-500)}`)));
    process.on('exit', () => xvfb.kill());
  });
  return display;
}

/** A WebDriver session's commands, as `call('POST', '/url', {url})`. */
class Session {
  constructor(base, id) { this.base = base; this.id = id; }

  async call(method, route, body) {
    const res = await fetch(`${this.base}/session/${this.id}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  }
}

/**
 * The script that runs `fn(arg)` in the page (awaited when it returns a
 * promise) and returns its result through JSON, as Playwright's evaluate
 * does. The function's source is part of the script WebDriver compiles:
 * the app's Content-Security-Policy forbids compiling code in the page.
 */
const evaluateScript = (fn) => `
const done = arguments[arguments.length - 1];
const arg = arguments.length > 1 ? arguments[0] : undefined;
Promise.resolve().then(() => (${fn})(arg)).then(
  (value) => done({ ok: true, value: value === undefined ? null : value }),
  (e) => done({ ok: false, error: String(e) + "\\n" + String(e && e.stack) }));`;

class WebKitPage {
  constructor(session, driver) {
    this.session = session;
    this.driver = driver;
    this.initScripts = [];
  }

  async goto(url) {
    await this.session.call('POST', '/url', { url });
    await this.runInitScripts();
  }

  async reload() {
    await this.session.call('POST', '/refresh', {});
    await this.runInitScripts();
  }

  /**
   * WebDriver classic has no preload scripts: each init script runs right
   * after every load, and then the page's uncaught errors are collected
   * (see `errors()`) and a `visibilitychange` tells the page to read again
   * what the scripts changed (the background-tab emulation).
   */
  addInitScript(fn, arg) { this.initScripts.push([fn, arg]); }

  async runInitScripts() {
    await this.evaluate(() => {
      if (window.__errors) return;
      window.__errors = [];
      window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
      window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
    });
    for (const [fn, arg] of this.initScripts) await this.evaluate(fn, arg);
    if (this.initScripts.length) await this.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  }

  async evaluate(fn, arg) {
    const result = await this.session.call('POST', '/execute/async', {
      script: evaluateScript(fn),
      args: arg === undefined ? [] : [arg],
    });
    if (!result.ok) throw new Error(`evaluate failed in WebKit: ${result.error}`);
    return result.value;
  }

  async waitForFunction(fn, arg, { timeout = 30_000, polling = 100 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
      await sleep(polling);
    }
  }

  /** Waits until `selector` matches (`host >>> inner`: `inner` in `host`'s shadow root). */
  waitForSelector(selector, { timeout = 30_000 } = {}) {
    return this.waitForFunction((s) => {
      const [host, inner] = s.split(' >>> ');
      const found = document.querySelector(host);
      return (inner ? found?.shadowRoot?.querySelector(inner) : found) != null;
    }, selector, { timeout });
  }

  async element(selector) {
    const found = await this.session.call('POST', '/element', { using: 'css selector', value: selector });
    return found[ELEMENT];
  }

  /** A real click; `host >>> inner` finds `inner` in `host`'s shadow root. */
  async click(selector) {
    const [host, inner] = selector.split(' >>> ');
    let id = await this.element(host);
    if (inner) {
      const root = (await this.session.call('GET', `/element/${id}/shadow`))[SHADOW_ROOT];
      id = (await this.session.call('POST', `/shadow/${root}/element`, { using: 'css selector', value: inner }))[ELEMENT];
    }
    return this.session.call('POST', `/element/${id}/click`, {});
  }

  /**
   * A real click on `selector` in the frame whose URL path is `path`
   * (looked for in the page and in open shadow roots), once it shows.
   */
  async clickInFrame(path, selector) {
    const frame = await this.waitForFunction((p) => {
      const frames = [...document.querySelectorAll('iframe'),
        ...[...document.querySelectorAll('*')].flatMap((e) => [...(e.shadowRoot?.querySelectorAll('iframe') ?? [])])];
      return frames.find((f) => f.src && new URL(f.src).pathname === p) ?? null;
    }, path);
    await this.session.call('POST', '/frame', { id: frame });
    try {
      await this.waitForSelector(`${selector}:not([hidden])`);
      await this.click(selector);
    } finally {
      await this.session.call('POST', '/frame', { id: null });
    }
  }

  /**
   * The page's iframes, one level deep, as Playwright-like frames:
   * `url()` (the frame's src) and `evaluate(fn, arg)`, which switches
   * into the frame for the call and back.
   */
  async frames() {
    const count = await this.evaluate(() => document.querySelectorAll('iframe').length);
    const frames = [];
    for (let i = 0; i < count; i += 1) {
      const src = await this.evaluate((n) => document.querySelectorAll('iframe')[n].src, i);
      frames.push({
        url: () => src,
        evaluate: async (fn, arg) => {
          const element = await this.evaluate((n) => document.querySelectorAll('iframe')[n], i);
          await this.session.call('POST', '/frame', { id: element });
          try {
            return await this.evaluate(fn, arg);
          } finally {
            await this.session.call('POST', '/frame', { id: null });
          }
        },
      });
    }
    return frames;
  }

  textContent(selector) { return this.evaluate((s) => document.querySelector(s).textContent, selector); }

  inputValue(selector) { return this.evaluate((s) => document.querySelector(s).value, selector); }

  getAttribute(selector, name) {
    return this.evaluate(([s, n]) => document.querySelector(s).getAttribute(n), [selector, name]);
  }

  /** Playwright's in-memory files (one): written to a temporary file, then typed into the input. */
  async setInputFiles(selector, files) {
    const paths = writeTempFiles(files);
    const id = await this.element(selector);
    return this.session.call('POST', `/element/${id}/value`, { text: paths.join('\n') });
  }

  /** The visible viewport as a PNG (WebDriver has no full-page screenshot). */
  async screenshot({ path: file } = {}) {
    const png = Buffer.from(await this.session.call('GET', '/screenshot'), 'base64');
    if (file) writeFileSync(file, png);
    return png;
  }

  async setViewportSize({ width, height }) {
    await this.session.call('POST', '/window/rect', { width, height });
  }

  /**
   * Events: WebDriver classic reports none. Uncaught errors after each
   * load are collected in the page and read by `errors()`.
   */
  on() {}

  errors() { return this.evaluate(() => window.__errors || []); }

  close() { return this.driver.close(); }
}

class WebKitBrowser {
  constructor(driver) { this.driver = driver; }

  /** The session's one page (WebDriver classic has no isolated contexts). */
  async newContext() {
    const page = new WebKitPage(this.driver.session, this.driver);
    return {
      newPage: async () => page,
      grantPermissions: async () => {},
      close: async () => {},
    };
  }

  close() { return this.driver.close(); }
}

/** Launches WebKitWebDriver and one MiniBrowser session. */
export async function launchWebKit() {
  if (!MINIBROWSER) throw new Error('MiniBrowser not found: apt-get install webkit2gtk-driver xvfb');
  const port = await freePort();
  const env = { ...process.env, DISPLAY: await xDisplay() };
  const child = spawn(DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log = (log + d).slice(-2000); });
  const base = `http://127.0.0.1:${port}`;
  let created;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${base}/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          capabilities: {
            alwaysMatch: {
              'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
              unhandledPromptBehavior: 'dismiss',
            },
          },
        }),
      });
      created = await res.json();
      if (!res.ok) throw new Error(`${created.value?.error}: ${created.value?.message}`);
      break;
    } catch (e) {
      if (i >= 100) {
        child.kill();
        throw new Error(`WebKitWebDriver did not start a session: ${e.message}; ${log}`);
      }
      await sleep(100);
    }
  }
  const session = new Session(base, created.value.sessionId);
  await session.call('POST', '/timeouts', { script: 120_000, pageLoad: 60_000 });
  const driver = {
    session,
    async close() {
      await session.call('DELETE', '').catch(() => {});
      child.kill();
    },
  };
  return new WebKitBrowser(driver);
}

/** Whether this machine can drive WebKit (the driver and MiniBrowser are installed). */
export function webkitInstalled() {
  try {
    execFileSync(DRIVER, ['--version'], { stdio: 'ignore' });
    return Boolean(MINIBROWSER);
  } catch {
    return false;
  }
}
