#!/usr/bin/env bash
# Set everything up (once), then run the whole test suite with the real models, store and browser.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup
if [ -x .ci/install-browser ]; then .ci/install-browser; fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
