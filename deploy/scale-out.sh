#!/usr/bin/env bash
# Scale out on one machine: one Chroma server, one OpenAI-compatible model server (llama.cpp via xllamacpp)
# and a `brief serve` replica per port in BRIEF_PORTS, all sharing the Chroma server and the model server.
# Each replica has its own data dir (uploads, lexical cache). Ends them all on exit, on SIGTERM or Ctrl-C, or
# when any one of them ends. Settings (environment):
#   DATA_ROOT=deploy-data  CHROMA_PORT=8000  MODEL_PORT=8080  BRIEF_PORTS="7861 7862"  BRIEF_HOST=127.0.0.1
#   BRIEF_API_KEY / BRIEF_PASSWORD: the replicas' secret (required when BRIEF_HOST is not loopback)
#   PYTHON=.venv/bin/python
# On several machines run the same commands with the Chroma and model servers' host in place of 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DATA_ROOT=$(mkdir -p "${DATA_ROOT:-deploy-data}" && cd "${DATA_ROOT:-deploy-data}" && pwd)
CHROMA_PORT=${CHROMA_PORT:-8000}
MODEL_PORT=${MODEL_PORT:-8080}
BRIEF_PORTS=${BRIEF_PORTS:-"7861 7862"}
BRIEF_HOST=${BRIEF_HOST:-127.0.0.1}

pids=()
stop() {
  trap - EXIT TERM INT
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap stop EXIT
trap 'exit 143' TERM INT

wait_http() {  # URL [PID]: until URL answers 200 (or the process dies, or 120 s pass)
  for _ in $(seq 480); do
    if "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; then
      return 0
    fi
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.25
  done
  echo "scale-out: $1 did not answer; see the logs in $DATA_ROOT" >&2
  return 1
}

"$(dirname "$PYTHON")/chroma" run --path "$DATA_ROOT/chroma" --host 127.0.0.1 --port "$CHROMA_PORT" \
  >"$DATA_ROOT/chroma.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" $!
"$PYTHON" deploy/model_server.py --port "$MODEL_PORT" --parallel 2 >"$DATA_ROOT/model.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$MODEL_PORT/health" $!

# What every replica shares: the store and the model. Nothing else.
export BRIEF_CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
export BRIEF_LLM_BACKEND=openai BRIEF_LLM_BASE_URL="http://127.0.0.1:$MODEL_PORT/v1" BRIEF_LLM_MODEL_NAME=smollm2

# Index seeds/ once, before the replicas start (each would otherwise index an empty store at the same time).
"$PYTHON" -m shells.cli --data-dir "$DATA_ROOT/indexer" index seeds --quiet

for port in $BRIEF_PORTS; do
  "$PYTHON" -m shells.cli --data-dir "$DATA_ROOT/replica-$port" serve --host "$BRIEF_HOST" --port "$port" \
    >"$DATA_ROOT/replica-$port.log" 2>&1 &
  pids+=($!)
done
echo "scale-out: replicas on ports $BRIEF_PORTS (logs in $DATA_ROOT)" >&2
wait -n
