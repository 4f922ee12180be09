#!/usr/bin/env bash
# Installs everything (Chromium and the CJK font included) and runs the whole pytest suite, on SQLite
# and on the PostgreSQL server at 127.0.0.1:5432 (database `test`, used to create per-run databases).
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 PIP_EXTRAS="[test]" bash scripts/install.sh
mkdir -p test-artifacts
set +e
# Two workers (the machines have two cores): the suite's long parts (the no-silent-case property test on
# each database, the end-to-end journeys, the drills) run side by side.
.venv/bin/python -m pytest -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "test.sh: pytest collected no tests; failing so CI never passes on nothing" >&2
  exit 1
fi
exit "$rc"
