#!/usr/bin/env bash
# Builds everything and runs a node serving the web app.
# Arguments pass through: npm start -- --http 127.0.0.1:9000 --data ./data
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
exec build/bin/meganet node "$@"
