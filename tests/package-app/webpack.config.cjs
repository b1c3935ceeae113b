// Bundles the sample app (app.ts, compiled by tsc into out/) as any
// webpack 5 user would: nothing meganet-specific but the size hint (the
// wasm module is a few MB and loads on Peer.start).
const path = require('path');

module.exports = {
  mode: 'production',
  entry: './out/app.js',
  output: { path: path.resolve(__dirname, 'dist'), filename: 'app.js', clean: true },
  performance: { hints: false },
};
