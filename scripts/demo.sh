#!/usr/bin/env bash
# crmine demo on a synthetic company, end to end: warehouse, every analysis, HTML report.
# Usage: bash scripts/demo.sh [FOLDER] [--customers N] [--seed S]   (default FOLDER: demo-workspace)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh" ""
cd "$ROOT"
FOLDER="demo-workspace"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then FOLDER="$1"; shift; fi
export CRMINE_PROGRESS="${CRMINE_PROGRESS:-1}"
"$VENV/bin/crmine" demo "$FOLDER" "$@"
echo "open $ROOT/$FOLDER/reports/index.html in a browser"
