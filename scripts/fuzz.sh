#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for a set time each,
# one after the other; `npm test` runs only a 10-second smoke run of each.
#
#   npm run fuzz                        every target, 10 minutes each
#   npm run fuzz -- --time 60           60 seconds each (also 90s, 5m, 2h)
#   FUZZ_TIME=5m npm run fuzz           5 minutes each, set in the environment
#   npm run fuzz -- block signal        only these targets
#   npm run fuzz -- --list              the targets
#
# The flag wins over FUZZ_TIME. Each target keeps its corpus in
# fuzz/corpus/<target>/: the committed seeds (seed-*, written by
# `cd fuzz && cargo run --example seeds`) and what earlier runs found
# (ignored by git), so a run carries on where the last one stopped. A crash
# is saved in fuzz/artifacts/<target>/; the run goes on with the other
# targets, and the script ends with how to reproduce each crash and exits 1.
# Extra libFuzzer flags: FUZZ_ARGS (e.g. FUZZ_ARGS=-max_len=70000 to try
# signaling frames up to their 64 KiB limit).
set -euo pipefail
source "$(dirname "$0")/env.sh"
self="$ROOT/scripts/fuzz.sh"
cd "$ROOT/fuzz"

time_spec="${FUZZ_TIME:-10m}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_spec="${2:?--time needs a duration}"; shift 2 ;;
    --time=*) time_spec="${1#--time=}"; shift ;;
    --list) RUSTC_BOOTSTRAP=1 cargo fuzz list; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

case "$time_spec" in
  *[0-9]s) seconds=${time_spec%s} ;;
  *[0-9]m) seconds=$(( ${time_spec%m} * 60 )) ;;
  *[0-9]h) seconds=$(( ${time_spec%h} * 3600 )) ;;
  *) seconds=$time_spec ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "not a duration: $time_spec (seconds, or a number ending in s, m or h)" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: run bash scripts/setup.sh --test" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$MEGANET_CACHE/target-fuzz"
mapfile -t all < <(cargo fuzz list)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for target in "${targets[@]}"; do
  if ! printf '%s\n' "${all[@]}" | grep -qx "$target"; then
    echo "no fuzz target $target (there are: ${all[*]})" >&2
    exit 2
  fi
done

log "building the fuzz targets"
cargo fuzz build
failed=()
for target in "${targets[@]}"; do
  log "fuzzing $target for $seconds s (corpus fuzz/corpus/$target)"
  mkdir -p "corpus/$target"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if ! cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 ${FUZZ_ARGS:-}; then
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  log "failed: ${failed[*]} (the output above says why); to reproduce:"
  for target in "${failed[@]}"; do
    for crash in "artifacts/$target"/*; do
      [ -e "$crash" ] || continue
      echo "  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target $crash"
    done
  done
  exit 1
fi
log "no crash in ${targets[*]} ($seconds s each)"
