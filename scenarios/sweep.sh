#!/usr/bin/env bash
# The runs that chose the defaults (docs/DESIGN.md, "Defaults chosen by
# simulation"): each line below is a scenario with some [code] fields
# changed; each prints one row of a Markdown table.
#
#   bash scenarios/sweep.sh [browsers-and-nodes|node-loss|browsers-only] [MEGANET]
#
# MEGANET is the binary (default: the release build under the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-browsers-and-nodes}
bin=${2:-${CARGO_TARGET_DIR:-$HOME/.cache/meganet/target}/release/meganet}

case "$base" in
  browsers-and-nodes) runs=(
    "shards_on_nodes=4 browser_copies=false"
    "shards_on_nodes=4 browser_copies=false lost_after_minutes=1440"
    "shards_on_nodes=4 browser_copies=false lost_after_minutes=1440 prefer_available=true"
    "shards_on_nodes=6 browser_copies=false lost_after_minutes=1440"
    "shards_on_nodes=8 browser_copies=false"
    "shards_on_nodes=8 browser_copies=true lost_after_minutes=60"
    "shards_on_nodes=8 browser_copies=true lost_after_minutes=1440"
    "shards_on_nodes=8 browser_copies=true prefer_available=true"
    "shards_on_nodes=8 browser_copies=true threshold=5"
    "shards_on_nodes=8 browser_copies=true threshold=7"
    "n=6 shards_on_nodes=6 browser_copies=true threshold=5"
    "k=8 n=12 shards_on_nodes=12 browser_copies=false threshold=10"
    "shards_on_nodes=8 browser_copies=true every_hours=168"
  ) ;;
  node-loss) runs=(
    "shards_on_nodes=8 browser_copies=true threshold=5"
    "shards_on_nodes=8 browser_copies=true threshold=6"
    "shards_on_nodes=8 browser_copies=true threshold=7"
    "shards_on_nodes=4 browser_copies=false lost_after_minutes=1440"
    "k=4 n=12 shards_on_nodes=12 threshold=9"
    "k=8 n=16 shards_on_nodes=16 threshold=12"
  ) ;;
  browsers-only) runs=(
    "n=8 threshold=6"
    "n=8 threshold=6 lost_after_minutes=1440"
    "n=16 threshold=12 lost_after_minutes=1440"
    "n=32 threshold=24 lost_after_minutes=1440"
    "n=64 threshold=48 lost_after_minutes=1440"
    "n=64 threshold=48 lost_after_minutes=1440 prefer_available=true"
  ) ;;
  *) echo "unknown base scenario: $base" >&2; exit 2 ;;
esac

value() { grep "\"name\":\"$1\"" <<<"$2" | sed 's/.*"value":\([^,}]*\).*/\1/'; }

echo "| changed from scenarios/$base.toml | availability | files lost | overhead | repair ratio | repair / month | audits / month | on browsers |"
echo "|---|---|---|---|---|---|---|---|"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for run in "${runs[@]}"; do
  cp "scenarios/$base.toml" "$tmp"
  for pair in $run; do
    sed -i "s/^${pair%%=*} = .*/${pair%%=*} = ${pair#*=}/" "$tmp"
  done
  out=$("$bin" simulate "$tmp" 2>/dev/null)
  printf '| %s | %.5f | %.0f | %.2f | %.2f | %.2f | %.3f | %.2f |\n' "$run" \
    "$(value sim.availability "$out")" "$(value sim.files_lost "$out")" \
    "$(value sim.overhead "$out")" "$(value sim.repair_ratio "$out")" \
    "$(value sim.repair_per_month "$out")" "$(value sim.audit_per_month "$out")" \
    "$(value sim.browser_share "$out")"
done
