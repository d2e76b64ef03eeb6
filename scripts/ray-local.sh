#!/usr/bin/env bash
# A local Ray cluster on this machine (a head node on 127.0.0.1 with this machine's CPUs), for
# `make test-cluster` and for trying --executor ray:
#   scripts/ray-local.sh start    `ray start --head`; prints the `export RAY_ADDRESS=...` that drivers use
#   scripts/ray-local.sh stop     `ray stop` (this machine's Ray processes of this user)
#   scripts/ray-local.sh status   exit 0 when the head answers
# Workers inherit this shell's environment (PYTHONPATH included): start it from the environment that runs
# the code. RAY (default: ray on PATH) picks the ray CLI of another venv.
set -euo pipefail
RAY=${RAY:-ray}
PORT=${RAY_LOCAL_PORT:-6390}
CPUS=${RAY_LOCAL_CPUS:-$(nproc)}
TMP=${RAY_LOCAL_TMP:-/tmp/minireason-ray}
export RAY_USAGE_STATS_ENABLED=0

case "${1:-}" in
  start)
    if ! "$RAY" status --address "127.0.0.1:$PORT" >/dev/null 2>&1; then
      # no dashboard (it needs extra packages and a port); the object store stays small on a small machine
      "$RAY" start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus "$CPUS" --include-dashboard false \
        --object-store-memory 200000000 --temp-dir "$TMP" --disable-usage-stats >"$TMP.log" 2>&1 \
        || { cat "$TMP.log" >&2; exit 1; }
    fi
    echo "export RAY_ADDRESS=127.0.0.1:$PORT"
    ;;
  stop) "$RAY" stop --force >/dev/null 2>&1 || true ;;
  status) "$RAY" status --address "127.0.0.1:$PORT" >/dev/null 2>&1 ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
