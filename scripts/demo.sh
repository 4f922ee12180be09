#!/usr/bin/env bash
# Installs everything and runs Not One Less on the embedded SQLite database with fictional demo data.
# Without TELEGRAM_BOT_TOKEN the bot talks to the built-in Bot API emulator, and the browser chat
# simulator is served at http://127.0.0.1:8000/simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/notoneless db upgrade
.venv/bin/notoneless demo-data
exec .venv/bin/notoneless run
