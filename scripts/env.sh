# Shared settings for the scripts: sourced, not run.
# Builds are cached outside the clone so repeated runs are fast.
export MEGANET_CACHE="${MEGANET_CACHE:-$HOME/.cache/meganet}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MEGANET_CACHE/target}"
export MEGANET_TOOLS="$MEGANET_CACHE/tools"
export PATH="$MEGANET_TOOLS/bin:$HOME/.cargo/bin:$PATH"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
