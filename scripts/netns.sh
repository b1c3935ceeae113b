#!/usr/bin/env bash
# Runs a command in a private network namespace: loopback plus a veth pair
# with a default route that leads nowhere outside. Both Chromium and Firefox
# need such a route to gather ICE candidates, and nothing leaves the host
# (ENVIRONMENT.md). Usage: scripts/netns.sh COMMAND [ARGS...]
set -euo pipefail
exec unshare -n sh -c 'ip link set lo up && ip link add v0 type veth peer name v1 &&
  ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.0.2/24 dev v1 &&
  ip link set v0 up && ip link set v1 up && ip route add default via 10.99.0.2 dev v0 &&
  exec "$@"' sh "$@"
