// Bundles the web app (www/), the service worker (worker/) and the
// embeddable widget (widget.js for host pages, widget-frame.js for its
// frame, widget.html) and the sites' origin (site-sw.js, bridge.js,
// bridge.html) into dist/.
// The service worker is emitted unhashed at the site root so its scope is "/";
// every other asset keeps a fixed name too, so the worker can precache the
// app shell from a known list.
const path = require('path');
const webpack = require('webpack');
const CopyPlugin = require('copy-webpack-plugin');

module.exports = (env, argv) => ({
  mode: argv.mode || 'production',
  devtool: false,
  entry: {
    app: './www/app.js',
    sw: './worker/sw.js',
    'site-sw': './worker/site-sw.js',
    bridge: './www/bridge.js',
    widget: './www/widget.js',
    'widget-frame': './www/widget-frame.js',
  },
  output: {
    path: path.resolve(__dirname, 'dist'),
    filename: '[name].js',
    assetModuleFilename: '[name][ext]',
    clean: true,
  },
  experiments: { asyncWebAssembly: false },
  module: {
    rules: [{ test: /\.wasm$/, type: 'asset/resource' }],
  },
  performance: { hints: false },
  plugins: [
    new webpack.DefinePlugin({ __BUILD_ID__: JSON.stringify(String(Date.now())) }),
    new CopyPlugin({
      patterns: [{ from: 'www/static', to: '.' }],
    }),
  ],
});
