// Bundles the js-libp2p interop peer (tests/interop/js-peer.js) for the
// browser into build/interop/js-peer.bundle.js, apart from the app in dist/.
// tests/interop.test.mjs builds it through webpack's Node API; by hand:
// `npx webpack --config tests/interop/webpack.config.mjs`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export const OUTPUT = path.join(root, 'build/interop');
export const BUNDLE = 'js-peer.bundle.js';

export default {
  // Unminified: readable stack traces, and terser would be most of the
  // build time on two cores.
  mode: 'development',
  devtool: false,
  target: 'web',
  context: root,
  entry: path.join(here, 'js-peer.js'),
  output: { path: OUTPUT, filename: BUNDLE },
  // Re-runs reuse the parsed modules: a few seconds instead of tens.
  cache: {
    type: 'filesystem',
    cacheDirectory: path.join(OUTPUT, 'cache'),
    buildDependencies: { config: [fileURLToPath(import.meta.url)] },
  },
  performance: { hints: false },
};
