# Shared set-up for scripts/demo.sh and scripts/test.sh: a virtual environment in .venv with
# crmine installed (editable) and the extras asked for. Re-installs only when pyproject.toml
# changed since the last install. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"

pick_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "crmine needs Python 3.11 or newer; none found on PATH" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment in $VENV" >&2
    "$(pick_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

STAMP="$VENV/.crmine-installed${EXTRAS:+-$EXTRAS}"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-64)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "installing crmine${EXTRAS:+[$EXTRAS]} into $VENV (first run takes a few minutes)" >&2
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -e "$ROOT${EXTRAS:+[$EXTRAS]}" > "$VENV/pip-install.log" 2>&1; then
        grep -v "^WARNING: Location" "$VENV/pip-install.log" >&2
        echo "installing crmine failed (log above, also in $VENV/pip-install.log)" >&2
        exit 1
    fi
    echo "$WANT" > "$STAMP"
fi
