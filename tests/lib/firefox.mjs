// Firefox ESR (Debian's /usr/bin/firefox-esr) through puppeteer-core over
// WebDriver BiDi, wrapped in the subset of Playwright's page API the tests
// use, so one suite drives both browsers.
import puppeteer from 'puppeteer-core';
import { writeTempFiles } from './node.mjs';

class FirefoxPage {
  constructor(page) { this.page = page; }

  goto(url) { return this.page.goto(url); }

  reload() { return this.page.reload(); }

  addInitScript(fn, arg) { return this.page.evaluateOnNewDocument(fn, arg); }

  waitForFunction(fn, arg, { timeout = 30_000, polling = 100 } = {}) {
    return this.page.waitForFunction(fn, { timeout, polling }, arg);
  }

  waitForSelector(selector, { timeout = 30_000 } = {}) {
    return this.page.waitForSelector(selector, { timeout });
  }

  /** A real click; `>>>` in the selector pierces shadow roots (Playwright pierces them by default). */
  click(selector) { return this.page.click(selector); }

  /** A real click on `selector` in the frame whose URL path is `path`, once it shows. */
  async clickInFrame(path, selector) {
    const deadline = Date.now() + 30_000;
    let frame;
    while (!(frame = this.page.frames().find((f) => new URL(f.url()).pathname === path))) {
      if (Date.now() > deadline) throw new Error(`no frame at ${path}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await frame.waitForSelector(`${selector}:not([hidden])`, { timeout: 30_000 });
    return frame.click(selector);
  }

  textContent(selector) { return this.page.$eval(selector, (e) => e.textContent); }

  inputValue(selector) { return this.page.$eval(selector, (e) => e.value); }

  getAttribute(selector, name) { return this.page.$eval(selector, (e, n) => e.getAttribute(n), name); }

  /** Playwright's in-memory files (one or a list): written to temporary files first. */
  async setInputFiles(selector, files) {
    const paths = writeTempFiles(files);
    const input = await this.page.$(selector);
    await input.uploadFile(...paths);
  }

  close() { return this.page.close(); }

  screenshot(options) { return this.page.screenshot(options); }

  evaluate(fn, arg) { return this.page.evaluate(fn, arg); }

  addScriptTag(options) { return this.page.addScriptTag(options); }

  on(event, callback) {
    if (event === 'pageerror') {
      // Over BiDi, Firefox also reports a failed WebSocket connection (which
      // the peer handles by retrying) as a page error; Chromium only logs it.
      // It also reports a streamed service-worker response that the reader
      // cancelled (a <video> seeking, a cancelled download) as "intercepted
      // the request and encountered an unexpected error". Only uncaught
      // exceptions count.
      const noise = /can.t establish a connection to the server at wss?:|A ServiceWorker intercepted the request and encountered an unexpected error/;
      this.page.on(event, (e) => {
        if (!noise.test(e.message)) callback(e);
      });
    } else {
      this.page.on(event, callback);
    }
  }
}

class FirefoxContext {
  constructor(context) { this.context = context; }

  async newPage() { return new FirefoxPage(await this.context.newPage()); }

  // Firefox needs no camera permission to offer host candidates (see the
  // preferences below).
  async grantPermissions() {}
}

class FirefoxBrowser {
  constructor(browser) { this.browser = browser; }

  async newContext() { return new FirefoxContext(await this.browser.createBrowserContext()); }

  close() { return this.browser.close(); }
}

/** Launches one Firefox process; `userDataDir` keeps its profile (default: a fresh one). */
export async function launchFirefox({ userDataDir } = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    userDataDir,
    extraPrefsFirefox: {
      'media.peerconnection.ice.loopback': true,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
    },
  });
  return new FirefoxBrowser(browser);
}

/**
 * Firefox with a profile kept in `dir`, as `{context, page}` like
 * Playwright's persistent contexts: the page is in the default context, whose
 * storage outlives the process (a BiDi user context's does not).
 */
export async function launchFirefoxProfile(dir) {
  const firefox = await launchFirefox({ userDataDir: dir });
  const page = new FirefoxPage(await firefox.browser.newPage());
  return { context: { close: () => firefox.close() }, page };
}
