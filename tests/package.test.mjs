// The npm package (issue 21): scripts/pack.sh packs `meganet`; a sample
// app (tests/package-app) installs the tarball offline as a user would,
// type-checks against it with tsc --strict (and a file of deliberate
// mistakes must fail), bundles with webpack, and in Chromium, on an origin
// other than the node's, puts 1 MiB and gets it back; a plain module
// script does the same without a bundler. The declarations are checked
// against the crate (error codes) and a running peer (every member).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import ts from 'typescript';
import { ROOT, startNode, tempDir } from './lib/node.mjs';
import { launchChromium, screenshot } from './lib/browser.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const WEBPACK = path.join(ROOT, 'node_modules/webpack/bin/webpack.js');
// Members a running peer has that the package does not declare: the
// web app's own plumbing (service-worker gateway, contribution policy,
// probes) and wasm-bindgen's internals. A new method must be declared in
// package/index.d.ts or listed here.
const UNDECLARED = ['constructor', '__destroy_into_raw', 'applySignals', 'decision', 'echo', 'shards', 'sink', 'stopReadAhead'];
const UNDECLARED_STATIC = ['__wrap'];

let app; // the sample app, installed in a temporary directory
let installed; // app/node_modules/meganet

/** Runs `cmd args` in `cwd`; returns {status, out} (stdout and stderr together). */
function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

before(() => {
  const tarball = execFileSync('bash', [path.join(ROOT, 'scripts/pack.sh')], { cwd: ROOT, encoding: 'utf8' }).trim();
  app = tempDir('meganet-package-app-');
  cpSync(path.join(ROOT, 'tests/package-app'), app, { recursive: true });
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'sample', private: true, type: 'module' }));
  const r = run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], app);
  assert.equal(r.status, 0, `npm install of ${tarball}:\n${r.out}`);
  installed = path.join(app, 'node_modules/meganet');
});

/** The TypeScript syntax tree of one of the installed declaration files. */
const declarations = (file) => {
  const text = readFileSync(path.join(installed, file), 'utf8');
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
};

/** Every `any` keyword in a declaration file (comments do not count). */
function anys(source) {
  const found = [];
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) found.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The names `class Peer` declares: {members, statics}. */
function declaredPeer() {
  const source = declarations('index.d.ts');
  const peer = source.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === 'Peer');
  const members = [];
  const statics = [];
  for (const m of peer.members) {
    if (ts.isConstructorDeclaration(m)) continue;
    const isStatic = m.modifiers?.some((k) => k.kind === ts.SyntaxKind.StaticKeyword);
    (isStatic ? statics : members).push(m.name.getText(source));
  }
  return { members, statics };
}

test('the package: its files, exports and declarations (no any; error codes as the crate has them)', () => {
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
  const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'meganet');
  assert.equal(pkg.version, root.version);
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, './index.d.ts');
  assert.equal(pkg.license, 'MIT OR Apache-2.0');
  assert.equal(pkg.dependencies, undefined, 'no dependencies');
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', default: './index.js' });
  assert.deepEqual(pkg.exports['./widget'], { types: './widget.d.ts', default: './widget.js' });
  for (const f of ['index.js', 'index.d.ts', 'meganet.js', 'meganet_bg.wasm', 'widget.js', 'widget.d.ts', 'README.md']) {
    assert.ok(existsSync(path.join(installed, f)), `${f} is shipped`);
  }
  assert.ok(!existsSync(path.join(installed, 'meganet.d.ts')), "the glue's own declarations (full of any) are not shipped");
  assert.ok(statSync(path.join(installed, 'meganet_bg.wasm')).size > 100_000);

  for (const file of ['index.d.ts', 'widget.d.ts']) {
    assert.deepEqual(anys(declarations(file)), [], `${file}: lines with \`any\``);
    assert.doesNotMatch(readFileSync(path.join(installed, file), 'utf8'), /from '\.\/meganet(\.js)?'/, `${file} re-exports nothing of the glue`);
  }

  // The crate's codes (ErrorCode::as_str), the declared union and the exported list agree.
  const crate = [...readFileSync(path.join(ROOT, 'crate/src/code.rs'), 'utf8').matchAll(/Self::\w+ => "([a-z-]+)"/g)].map((m) => m[1]);
  assert.equal(crate.length, 21);
  const union = readFileSync(path.join(installed, 'index.d.ts'), 'utf8').match(/export type ErrorCode =([^;]+);/)[1];
  assert.deepEqual([...union.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]), crate, 'the ErrorCode union');
  const list = readFileSync(path.join(installed, 'index.js'), 'utf8').match(/ERROR_CODES = Object\.freeze\(\[([^\]]+)\]/)[1];
  assert.deepEqual([...list.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]), crate, 'ERROR_CODES');
});

test('tsc --strict accepts the sample app and refuses each deliberate mistake', () => {
  const ok = run('node', [TSC, '--strict', '--noEmit', '-p', 'tsconfig.json'], app);
  assert.equal(ok.status, 0, `tsc on app.ts:\n${ok.out}`);
  // Every statement of bad.ts's function body is a mistake tsc must name.
  const bad = run('node', [TSC, '--strict', '--noEmit', '-p', 'tsconfig.bad.json'], app);
  assert.notEqual(bad.status, 0, 'tsc refuses bad.ts');
  const lines = readFileSync(path.join(app, 'bad.ts'), 'utf8').split('\n')
    .flatMap((line, i) => (/^ {2}\S.*\/\/ /.test(line) ? [i + 1] : []));
  assert.equal(lines.length, 5);
  for (const line of lines) assert.match(bad.out, new RegExp(`bad\\.ts\\(${line},\\d+\\): error TS`), `an error on bad.ts line ${line}:\n${bad.out}`);
});

test("the package README's example type-checks", () => {
  const readme = readFileSync(path.join(installed, 'README.md'), 'utf8');
  const example = readme.match(/```ts\n([\s\S]*?)```/)[1];
  writeFileSync(path.join(app, 'readme.ts'), `declare const file: File;\n${example}`);
  writeFileSync(path.join(app, 'tsconfig.readme.json'), JSON.stringify({ extends: './tsconfig.json', files: ['readme.ts'] }));
  const r = run('node', [TSC, '--strict', '--noEmit', '-p', 'tsconfig.readme.json'], app);
  assert.equal(r.status, 0, `tsc on the README's example:\n${r.out}`);
});

test('webpack bundles the sample app, with no warning', () => {
  const emit = run('node', [TSC, '-p', 'tsconfig.json'], app);
  assert.equal(emit.status, 0, emit.out);
  const pack = run('node', [WEBPACK, '--config', 'webpack.config.cjs'], app);
  assert.equal(pack.status, 0, pack.out);
  assert.match(pack.out, /compiled successfully/);
  assert.doesNotMatch(pack.out, /WARNING|ERROR/, pack.out);
});

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves the sample app's directory on 127.0.0.1 (another origin than the node's, which `node` runs). */
async function serveApp() {
  const server = createServer((req, res) => {
    const file = path.join(app, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const ok = file.startsWith(`${app}/`) && existsSync(file) && statSync(file).isFile();
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(ok ? 200 : 404, { 'content-type': type });
    if (!ok) return res.end('not found');
    // The pages name their node in a meta tag: this one.
    return res.end(type.startsWith('text/html') ? readFileSync(file, 'utf8').replaceAll('http://node.invalid/', node.url) : readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return `http://127.0.0.1:${server.address().port}`;
}

let node;
let appUrl;
let browser;

/** Opens `page` of the sample app against the node; resolves to {page, outcome, errors}. */
async function openSample(name) {
  if (!node) {
    node = await startNode();
    cleanups.push(() => node.stop());
  }
  appUrl ??= await serveApp();
  if (!browser) {
    browser = await launchChromium();
    cleanups.push(() => browser.close());
  }
  const context = await browser.newContext();
  cleanups.push(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(`${appUrl}/${name}`);
  try {
    await page.waitForFunction(() => window.sample !== undefined, null, { timeout: 120_000, polling: 200 });
  } catch (e) {
    const state = await page.evaluate(() => ({ text: document.body.innerText, status: window.samplePeer?.status() }));
    throw new Error(`${name} did not finish: ${e.message}\n${JSON.stringify(state, null, 1)}\n${errors.join('\n')}`);
  }
  const outcome = await page.evaluate(() => window.sample);
  return { page, outcome, errors };
}

/** The put and get worked: the same SHA-256 back, progress through storing and fetching. */
function assertRoundTrip(outcome, errors) {
  assert.equal(outcome.error, undefined, `${outcome.error}\n${errors.join('\n')}`);
  assert.ok(outcome.ok, 'the bytes came back');
  assert.equal(outcome.received, outcome.sent);
  assert.equal(outcome.size, 2 ** 20);
  assert.ok(outcome.link.startsWith(`${appUrl}/#2.`), `a link on the sample app's origin: ${outcome.link}`);
  assert.ok(outcome.stages.includes('storing') && outcome.stages.includes('fetching'), `progress stages: ${outcome.stages}`);
  assert.deepEqual(errors, []);
}

test('chromium: the webpack-bundled sample app puts and gets 1 MiB against a node on another origin', async () => {
  const { page, outcome, errors } = await openSample('index.html');
  assertRoundTrip(outcome, errors);
  assert.ok(['healthy', 'at-risk'].includes(outcome.health), `health: ${outcome.health}`);
  assert.equal(typeof outcome.providers, 'number');
  assert.equal(outcome.badLinkCode, 'link-malformed');
  assert.match(await page.textContent('#result'), /identical/);
  assert.equal(await page.evaluate(() => document.getElementById('bar').value), 2 ** 20, 'the progress bar ends full');

  // meganet/widget, bundled too: the card shows, and joining opens the
  // frame on the node's origin (named by the meta tag), not the app's.
  await page.click('meganet-widget #join');
  const frameSrc = await page.waitForFunction(() => document.querySelector('meganet-widget').shadowRoot.querySelector('iframe')?.src);
  assert.equal(new URL(await frameSrc.jsonValue()).origin, new URL(node.url).origin);
  await page.waitForFunction(() => document.querySelector('meganet-widget').status?.state === 'asking');
  await screenshot(page, 'package-sample-app');

  // The declarations tell the truth: every declared member exists on a
  // running peer, and every member it has is declared (or known internal).
  const declared = declaredPeer();
  const runtime = await page.evaluate(() => {
    const Peer = window.samplePeerClass;
    const peer = window.samplePeer;
    return {
      instance: peer instanceof Peer,
      members: Object.getOwnPropertyNames(Object.getPrototypeOf(peer)),
      statics: Object.getOwnPropertyNames(Peer).filter((n) => typeof Peer[n] === 'function'),
      id: typeof peer.id,
    };
  });
  assert.ok(runtime.instance, 'Peer.start resolves to a Peer');
  assert.equal(runtime.id, 'string');
  assert.deepEqual(declared.members.filter((m) => !runtime.members.includes(m)), [], 'declared members missing at run time');
  assert.deepEqual(declared.statics.filter((m) => !runtime.statics.includes(m)), [], 'declared statics missing at run time');
  assert.deepEqual(runtime.members.filter((m) => !declared.members.includes(m)).sort(), [...UNDECLARED].sort(), 'undeclared members');
  assert.deepEqual(runtime.statics.filter((m) => !declared.statics.includes(m)).sort(), [...UNDECLARED_STATIC].sort(), 'undeclared statics');
});

test('chromium: a plain module script imports the package from node_modules and does the same', async () => {
  const { page, outcome, errors } = await openSample('plain.html');
  assertRoundTrip(outcome, errors);
  assert.match(await page.textContent('#result'), /identical/);
  await screenshot(page, 'package-plain-module');
});
