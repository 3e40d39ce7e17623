#!/usr/bin/env bash
# Set up a fresh machine for Runtime Hub: a virtualenv in .venv with the project (editable) and
# its dev tools. Safe to run again; it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.runtime-hub-setup
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import hub" 2>/dev/null; then
  # pip warns about package-index mirrors this machine kind configures but does not have.
  quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
  quiet_pip install --quiet --upgrade pip
  quiet_pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
