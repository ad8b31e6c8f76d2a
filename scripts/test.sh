#!/usr/bin/env bash
# The whole test suite (what CI runs): set-up, lint, types, tests.
# Public datasets are read from ../shared/data (tests needing one skip, saying so, if absent).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh" "dev"
cd "$ROOT"

# The report is checked in a real headless browser: Debian's chromium, driven by Playwright.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the browser tests" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium missing and cannot be installed here: browser tests will be skipped" >&2
    fi
fi

export CRMINE_PROGRESS=0
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/mypy"
# The slowest tests are listed at the end: the suite must stay well under 20 minutes.
"$VENV/bin/pytest" -q -p no:cacheprovider --durations=25 "$@"
