#!/usr/bin/env bash
# BrowserGym for bench/web_env.py, in a virtual environment of its own: browsergym-miniwob pins
# Playwright 1.44, which pixelpilot's environment does not share. Chromium is Debian's (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.bench-venv/browsergym
[ -x "$VENV/bin/python" ] || python -m venv "$VENV"
env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$VENV/bin/pip" install -q browsergym-miniwob miniwob
echo "BrowserGym ready in $VENV"
