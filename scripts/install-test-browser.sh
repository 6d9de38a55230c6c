#!/usr/bin/env bash
# Install the browser the Playwright tests drive: Debian's own Chromium, not
# `playwright install` (which downloads a build from a CDN). Idempotent: does nothing
# when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "==> $CHROMIUM is already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "error: $CHROMIUM is missing and installing it needs root." >&2
  echo "       Run: sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $CHROMIUM is missing and apt-get is not available; install Chromium by hand." >&2
  exit 1
fi

echo "==> installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium

if [ ! -x "$CHROMIUM" ]; then
  echo "error: chromium was installed but $CHROMIUM does not exist" >&2
  exit 1
fi
echo "==> installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
