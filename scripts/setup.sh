#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for pixelpilot: Chromium, an X server with desktop programs,
# adb, PyTorch and the package itself.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Chromium for web and simulated-Android environments; Xvfb, a window manager and the programs the
# desktop tasks drive; adb for real Android devices.
APT_PACKAGES=(chromium xvfb xdotool x11-utils jwm xterm mousepad pcmanfm galculator
              libtk8.6 adb fonts-dejavu-core)
if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi

# torchvision has no CPU build on PyPI; the CUDA pair runs fine on a CPU. Bypass any local wheel
# folder so that pip does not pick a torch build torchvision cannot load against.
if ! python -c "import torch, torchvision" >/dev/null 2>&1; then
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null pip install -q torch==2.13.0 torchvision==0.28.0
fi
pip install -q -e ".[dev,track,lora]"
