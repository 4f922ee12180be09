#!/usr/bin/env bash
# Installs everything and runs Not One Less on the embedded SQLite database with fictional demo data.
# DEMO=true: the bot talks to the built-in Bot API emulator, and the browser chat simulator is served
# at http://127.0.0.1:8000/simulator. The dashboard login is printed last, in a box, once the server is up.
# The demo refuses a bot token, a non-loopback WEB_HOST and a database with real (non-demo) areas.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEMO=true
bash scripts/install.sh
.venv/bin/notoneless db upgrade
.venv/bin/notoneless demo-data
exec .venv/bin/notoneless run
