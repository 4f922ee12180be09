#!/usr/bin/env bash
# Static checks, each of which must pass: ruff (lint and formatting) and mypy (settings in pyproject.toml).
# Uses the .venv that scripts/install.sh makes with the test extras (scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/ruff ] || [ ! -x .venv/bin/mypy ]; then
  echo "lint.sh: .venv has no ruff or mypy; run: PIP_EXTRAS=\"[test]\" bash scripts/install.sh" >&2
  exit 1
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
