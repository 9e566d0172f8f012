#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for pixelpilot: Chromium, Xvfb, PyTorch and the package itself.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v chromium >/dev/null || ! command -v Xvfb >/dev/null || ! command -v xdotool >/dev/null || ! command -v adb >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium xvfb xdotool adb fonts-dejavu-core >/dev/null
fi

# torchvision has no CPU build on PyPI; the CUDA pair runs fine on a CPU. Bypass any local wheel
# folder so that pip does not pick a torch build torchvision cannot load against.
if ! python -c "import torch, torchvision" >/dev/null 2>&1; then
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null pip install -q torch==2.13.0 torchvision==0.28.0
fi
pip install -q -e ".[dev]"
