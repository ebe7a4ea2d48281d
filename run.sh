#!/usr/bin/env bash
# Set everything up (once), index the brief, then answer the question given, or start the web chat.
#   ./run.sh "Which critical minerals does Mali hold reserves of?"
#   ./run.sh            # web chat on http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup
.venv/bin/brief index seeds --quiet
if [ $# -gt 0 ]; then
  exec .venv/bin/brief ask "$@"
fi
exec .venv/bin/brief serve
