// Websites on meganet (issue 25): `meganet publish DIR` stores a folder as
// a site and exits; a fresh Chromium, Firefox and WebKit open its link:
// the index shows, relative links, a nested folder, an image, a
// stylesheet and a script work, a video seeks through Range requests,
// a path the site lacks gets a clear 404, and the site's script, which
// tries every way into meganet, reaches nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BROWSERS, ENGINES, launch, openApp, phoneLayout, screenshot, waitForStatus,
} from './lib/browser.mjs';
import {
  ROOT, runMeganet, startNode, tempDir,
} from './lib/node.mjs';

const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

// The site's script: every way a page could try to reach meganet's own
// data or code, and what each gave.
const PROBE = `
async function probe() {
  const reached = [];
  const attempt = async (what, fn) => {
    try { const got = await fn(); if (got) reached.push(what + ': ' + got); } catch (e) { /* refused: good */ }
  };
  await attempt('indexedDB list', async () => (indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name).join(',') : ''));
  for (const name of ['meganet-identity', 'meganet-contributed']) {
    await attempt('indexedDB ' + name, () => new Promise((resolve) => {
      let fresh = false;
      const open = indexedDB.open(name);
      open.onupgradeneeded = () => { fresh = true; };
      open.onsuccess = () => {
        const stores = open.result.objectStoreNames.length;
        open.result.close();
        if (fresh) indexedDB.deleteDatabase(name);
        resolve(stores ? stores + ' stores' : '');
      };
      open.onerror = () => resolve('');
    }));
  }
  await attempt('localStorage', () => Object.keys(localStorage).join(','));
  await attempt('cookie', () => document.cookie);
  await attempt('caches', async () => (await caches.keys()).join(','));
  await attempt('window.meganet', () => (window.meganet ? 'present' : ''));
  await attempt('parent.meganet', () => (window.parent.meganet ? 'present' : ''));
  await attempt('top.meganet', () => (window.top.meganet ? 'present' : ''));
  await attempt('parent.document', () => window.parent.document.title || 'readable');
  await attempt('parent.localStorage', () => String(window.parent.localStorage.length));
  await attempt('same origin as the app', () => (window.origin === window.top.location.origin ? 'yes' : ''));
  document.getElementById('probe').textContent = JSON.stringify({ ran: true, origin: window.origin, reached });
}
probe();
`;

/** A three-page site with a nested folder, an image, a stylesheet, a script and a video. */
function makeSite() {
  const dir = tempDir('meganet-site-');
  const write = (name, content) => {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  };
  const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>`
    + `<link rel="stylesheet" href="${title === 'About' ? '../' : ''}style.css"></head><body>${body}</body></html>`;
  write('index.html', page('Home', '<h1 id="title">Home</h1><img id="pixel" src="img/pixel.png" alt="pixel">'
    + '<a id="to-page2" href="page2.html">Page two</a> <a id="to-about" href="about/">About</a>'
    + '<video id="clip" src="media/clip.webm" muted preload="metadata"></video>'
    + '<pre id="probe">not run</pre><script src="app.js"></script>'));
  write('page2.html', page('Page two', '<h1 id="title">Page two</h1><a id="home" href="index.html">Home</a>'));
  write('about/index.html', page('About', '<h1 id="title">About</h1><img id="pixel" src="../img/pixel.png" alt="pixel">'));
  write('style.css', 'body { color: rgb(1, 2, 3); }\n');
  write('app.js', PROBE);
  write('img/pixel.png', PIXEL);
  write('.env', 'SECRET=never published\n');
  mkdirSync(path.join(dir, 'media'));
  copyFileSync(path.join(ROOT, 'tests/fixtures/clip.webm'), path.join(dir, 'media/clip.webm'));
  return dir;
}

/** The site's frame (Playwright's, puppeteer's or the WebKit adapter's), once it shows a site page. */
export async function siteFrame(page) {
  const frames = await (page.page || page).frames();
  return frames.find((f) => /\/meganet\/site\/[0-9a-f]+\//.test(f.url()));
}

/** Polls `fn` in the site's frame until it returns something truthy. */
async function inSite(page, fn, arg, what, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    const frame = await siteFrame(page);
    if (frame) {
      try {
        last = await frame.evaluate(fn, arg);
        if (last) return last;
      } catch (e) {
        last = e.message; // navigating: try again
      }
    }
    if (Date.now() > deadline) {
      const detail = await page.evaluate(() => document.getElementById('fetch')?.innerText).catch(() => '');
      throw new Error(`timed out waiting for ${what}; last: ${last}; the card: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

let node;
let link;
let siteDir;

before(async () => {
  node = await startNode();
  siteDir = makeSite();
  const published = await runMeganet(['publish', siteDir, '--node', node.url], { timeoutMs: 120_000 });
  assert.equal(published.code, 0, published.stderr);
  assert.match(published.stderr, /skipping \.env: hidden/);
  link = published.stdout.trim().split('\n').pop();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#\d\./);
  assert.match(published.stderr, /publishing \d+\/7 /);
});

after(async () => {
  await node?.stop();
});

for (const kind of ENGINES) {
  test(`${kind}: a published site opens by its link, links, images, styles, a script and a seeking video work, and its script reaches nothing of meganet's`, { timeout: 240_000 }, async () => {
    const browser = await launch(kind);
    try {
      const { page, errors } = await openApp(browser, node.url);
      await waitForStatus(page, (s) => s.node.state === 'connected');
      await page.goto(link);
      const probe = JSON.parse(await inSite(page, () => {
        const text = document.getElementById('probe')?.textContent;
        return text && text !== 'not run' ? text : null;
      }, null, 'the site\'s script'));
      assert.equal(probe.ran, true);
      assert.deepEqual(probe.reached, [], `the site reached: ${probe.reached.join('; ')}`);
      assert.notEqual(probe.origin, new URL(node.url).origin);

      const home = await inSite(page, () => {
        const img = document.getElementById('pixel');
        return img && img.complete && img.naturalWidth > 0 && {
          title: document.getElementById('title').textContent,
          color: getComputedStyle(document.body).color,
          pixel: img.naturalWidth,
        };
      }, null, 'the index with its image and stylesheet');
      assert.deepEqual(home, { title: 'Home', color: 'rgb(1, 2, 3)', pixel: 1 });
      const card = await page.evaluate(() => document.getElementById('fetch').innerText);
      assert.match(card, /Website · 7 files/);
      await screenshot(page, `site-${kind}`);

      // The video seeks: only Range requests bring the frames it plays.
      const video = await inSite(page, () => new Promise((resolve) => {
        const v = document.getElementById('clip');
        const seek = () => {
          v.addEventListener('seeked', () => resolve({ at: v.currentTime, duration: v.duration }), { once: true });
          v.currentTime = 5;
        };
        if (v.readyState >= 1) seek();
        else v.addEventListener('loadedmetadata', seek, { once: true });
        setTimeout(() => resolve(null), 20_000);
      }), null, 'the video to seek');
      assert.ok(video.duration > 5 && Math.abs(video.at - 5) < 1, JSON.stringify(video));
      // Ranges, asked for directly: a 206 with exactly the bytes named.
      const range = await inSite(page, async () => {
        const res = await fetch('media/clip.webm', { headers: { Range: 'bytes=1000-1999' } });
        return {
          status: res.status,
          contentRange: res.headers.get('content-range'),
          type: res.headers.get('content-type'),
          length: (await res.arrayBuffer()).byteLength,
        };
      }, null, 'a range of the video');
      assert.deepEqual(range, {
        status: 206, contentRange: 'bytes 1000-1999/218577', type: 'video/webm', length: 1000,
      });

      // A relative link, then a folder without its slash, then back.
      await inSite(page, () => { document.getElementById('to-page2').click(); return true; }, null, 'a click');
      assert.equal(await inSite(page, () => document.getElementById('title')?.textContent === 'Page two' && 'ok', null, 'page two'), 'ok');
      await inSite(page, () => { location.href = 'about'; return true; }, null, 'a folder link');
      const about = await inSite(page, () => {
        const img = document.getElementById('pixel');
        return document.getElementById('title')?.textContent === 'About' && img.complete && img.naturalWidth > 0
          && { path: location.pathname.split('/').slice(4).join('/'), color: getComputedStyle(document.body).color };
      }, null, 'the nested folder\'s index');
      assert.deepEqual(about, { path: 'about/', color: 'rgb(1, 2, 3)' });

      // A path the site lacks: a clear 404 page, in the site's frame.
      await inSite(page, () => { location.href = '../no/such/page.html'; return true; }, null, 'a missing page');
      const missing = await inSite(page, () => /no page or file at \/no\/such\/page\.html/.test(document.body?.innerText || '') && document.title, null, 'the 404 page');
      assert.equal(missing, 'Not in this site');

      // At phone width the site's frame fits the screen.
      if (kind === 'chromium') {
        await page.setViewportSize({ width: 390, height: 844 });
        await inSite(page, () => { location.href = '../../index.html'; return true; }, null, 'home again');
        await inSite(page, () => document.getElementById('title')?.textContent === 'Home', null, 'home');
        const layout = await phoneLayout(page);
        assert.ok(layout.scrollWidth <= 390, `the page scrolls sideways: ${layout.scrollWidth} px`);
        const frame = await page.evaluate(() => document.querySelector('.site-frame').getBoundingClientRect().width);
        assert.ok(frame > 300 && frame <= 390, `the site's frame is ${frame} px wide`);
        await screenshot(page, 'site-phone-chromium');
      }
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
}

test('chromium: Publish a folder on the page makes a site that a fresh browser opens', { timeout: 180_000 }, async () => {
  const browser = await launch('chromium');
  try {
    const { page, errors } = await openApp(browser, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    await page.setInputFiles('#folder', siteDir);
    await page.waitForFunction(() => !document.getElementById('put-result').hidden
      || !document.getElementById('put-error').hidden, null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => document.getElementById('put-error').hidden), true,
      await page.textContent('#put-error'));
    assert.match(await page.textContent('#put-detail'), /is published \(1 hidden file left out\)/);
    const published = await page.inputValue('#put-link');
    const uploads = await page.evaluate(() => JSON.parse(localStorage.getItem('meganet-uploads')));
    assert.equal(uploads[0].parts.length, 7, 'the site\'s files are renewed with it');
    await screenshot(page, 'site-published-chromium');

    const other = await openApp(browser, node.url);
    await other.page.goto(published);
    const home = await inSite(other.page, () => {
      const img = document.getElementById('pixel');
      return img && img.complete && img.naturalWidth > 0 && document.getElementById('title').textContent;
    }, null, 'the index published from the page');
    assert.equal(home, 'Home');

    // A site that names a file nobody holds: that file fails with a clear
    // error, in time; the rest of the site still opens.
    const gap = await page.evaluate(async () => {
      const put = (text, name, type) => window.meganet.put(new File([text], name, { type }));
      const html = '<!doctype html><title>gap</title><h1 id="title">Gap</h1>';
      const index = await put(html, 'index.html', 'text/html');
      const doc = JSON.stringify({
        meganet_site: 1,
        index: 'index.html',
        entries: [
          { path: 'gone.png', link: `2.${'A'.repeat(43)}.${'A'.repeat(43)}`, size: 10, type: 'image/png' },
          { path: 'index.html', link: index.split('#')[1], size: html.length, type: 'text/html; charset=utf-8' },
        ],
      });
      return put(doc, 'site.json', 'application/vnd.meganet.site+json');
    });
    await other.page.goto(gap);
    assert.equal(await inSite(other.page, () => document.getElementById('title')?.textContent, null, 'the gap site'), 'Gap');
    const gone = await inSite(other.page, async () => {
      const res = await fetch('gone.png');
      return { status: res.status, text: await res.text() };
    }, null, 'the missing file', 120_000);
    assert.equal(gone.status, 502);
    assert.match(gone.text, /^The file could not be fetched: /);
    assert.deepEqual([...errors, ...other.errors], []);
  } finally {
    await browser.close();
  }
});

test('a name link opens the newest version: republished under its name, a reload shows the new page, in Chromium and Firefox', { timeout: 240_000 }, async () => {
  const work = tempDir('meganet-named-');
  const key = path.join(work, 'site.key');
  const version = (n, title) => {
    const dir = path.join(work, `v${n}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${title}</title><h1 id="title">${title}</h1>`);
    return dir;
  };
  const publish = async (dir) => {
    const run = await runMeganet(['publish', dir, '--name', key, '--node', node.url], { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.trim().split('\n')[1];
  };
  const name = await publish(version(1, 'One'));
  assert.match(name, /#n1\./);
  const title = (page) => inSite(page, () => document.getElementById('title')?.textContent, null, 'the named site');
  const card = (page) => page.evaluate(() => document.getElementById('fetch-name').textContent);

  const chromium = await launch('chromium');
  const firefox = BROWSERS.includes('firefox') ? await launch('firefox') : null;
  try {
    const { page, errors } = await openApp(chromium, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    await page.goto(name);
    assert.equal(await title(page), 'One');
    assert.match(await card(page), /· version 1, signed /);

    assert.equal(await publish(version(2, 'Two')), name, 'the same name link');
    await page.reload();
    await waitForStatus(page, (s) => s.node.state === 'connected');
    assert.equal(await title(page), 'Two');
    assert.match(await card(page), /· version 2, signed /);
    assert.deepEqual(errors, []);

    if (firefox) {
      const other = await openApp(firefox, node.url);
      await waitForStatus(other.page, (s) => s.node.state === 'connected');
      await other.page.goto(name);
      assert.equal(await title(other.page), 'Two');
    }
  } finally {
    await chromium.close();
    await firefox?.close();
  }
});

test('a folder published from the page under a name: publishing it again is version 2, which a fresh Firefox opens; bad input is refused', { timeout: 240_000 }, async () => {
  const work = tempDir('meganet-page-named-');
  const dir = path.join(work, 'journal');
  mkdirSync(dir);
  const page1 = (title) => writeFileSync(path.join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${title}</title><h1 id="title">${title}</h1>`);
  const title = (page) => inSite(page, () => document.getElementById('title')?.textContent, null, 'the named site');
  const chromium = await launch('chromium');
  const firefox = BROWSERS.includes('firefox') ? await launch('firefox') : null;
  try {
    const { page, errors } = await openApp(chromium, node.url);
    await waitForStatus(page, (s) => s.node.state === 'connected');
    const publish = async () => {
      await page.evaluate(() => { document.getElementById('put-result').hidden = true; });
      await page.setInputFiles('#folder', dir);
      await page.waitForFunction(() => /is published/.test(document.getElementById('put-detail').textContent)
        || !document.getElementById('put-error').hidden, null, { timeout: 120_000 });
      assert.equal(await page.evaluate(() => document.getElementById('put-error').hidden), true, await page.textContent('#put-error'));
      return { link: await page.inputValue('#put-link'), detail: await page.textContent('#put-detail') };
    };
    assert.equal(await page.isChecked('#publish-named'), true, 'a folder is published under a name by default');
    page1('First');
    const first = await publish();
    assert.match(first.link, /#n1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    assert.match(first.detail, /is published as version 1 of its name: the link always opens the newest version, and publishing journal here again updates it\.$/);
    page1('Second');
    const second = await publish();
    assert.equal(second.link, first.link, 'the same name link');
    assert.match(second.detail, /as version 2 of its name/);
    await screenshot(page, 'site-named-chromium');
    const kept = await page.evaluate(() => JSON.parse(localStorage.getItem('meganet-names')));
    assert.equal(kept.length, 1);
    assert.equal(kept[0].version, 2);

    // Bad input: a site link that is not one, and a key that is not one.
    const refusals = await page.evaluate(async (site) => {
      const code = (p) => p.then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
      return [
        await code(window.meganet.publishName('not a link')),
        await code(window.meganet.publishName(site, 'meganet name key 1\nsecret short\nread short\n')),
      ];
    }, (await page.evaluate(() => JSON.parse(localStorage.getItem('meganet-uploads'))[0].link)).split('#')[1]);
    assert.match(refusals[0], /^link-malformed: /);
    assert.match(refusals[1], /^invalid-argument: .*the secret is not 43 base64url characters/);
    assert.deepEqual(errors, []);

    const reader = firefox || chromium;
    const other = await openApp(reader, node.url);
    await waitForStatus(other.page, (s) => s.node.state === 'connected');
    await other.page.goto(first.link);
    assert.equal(await title(other.page), 'Second');
    assert.match(await other.page.evaluate(() => document.getElementById('fetch-name').textContent), /· version 2, signed /);
  } finally {
    await chromium.close();
    await firefox?.close();
  }
});
