#!/usr/bin/env bash
# Packs the npm package `meganet` (package/ + the wasm peer from build/pkg +
# the widget from dist/): assembles build/npm/, runs `npm pack` into build/
# and prints the tarball's path. Needs `npm run build` first; works offline.
# The staging directory and the tarball are written beside their final
# names and renamed, so nothing that reads them sees a half-written copy.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

for f in build/pkg/meganet.js build/pkg/meganet_bg.wasm dist/widget.js; do
  [ -f "$f" ] || { echo "pack: $f is missing: run npm run build first" >&2; exit 1; }
done

version=$(node -p 'require("./package.json").version')
rm -rf build/npm.next
mkdir -p build/npm.next
cp package/index.js package/index.d.ts package/widget.d.ts package/README.md build/npm.next/
cp build/pkg/meganet.js build/pkg/meganet_bg.wasm build/npm.next/
cp dist/widget.js build/npm.next/widget.js
for f in LICENSE-MIT LICENSE-APACHE LICENSE; do [ -f "$f" ] && cp "$f" build/npm.next/; done
# The template's version is a placeholder: the root package.json decides.
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package/package.json", "utf8"));
  pkg.version = process.argv[1];
  fs.writeFileSync("build/npm.next/package.json", JSON.stringify(pkg, null, 2) + "\n");
' "$version"
rm -rf build/npm.old
[ -d build/npm ] && mv build/npm build/npm.old
mv build/npm.next build/npm
rm -rf build/npm.old

mkdir -p build/pack.next
rm -f build/pack.next/*
(cd build/npm && npm pack --silent --pack-destination ../pack.next >/dev/null)
tarball="meganet-$version.tgz"
mv -f "build/pack.next/$tarball" "build/$tarball"
rmdir build/pack.next
echo "$ROOT/build/$tarball"
