#!/usr/bin/env bash
# The whole test suite: lint, format, types, then unit, integration (one shared Ray runtime),
# end-to-end (notebooks) tests. Needs PostgreSQL on 127.0.0.1:5432 (database `test`).
set -euo pipefail
cd "$(dirname "$0")/.."

HUB_EXTRAS=dev,desktop,ocr bash .ci/setup.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== ruff format"; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest --durations=30 "$@"
