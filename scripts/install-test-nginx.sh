#!/usr/bin/env bash
# Install Debian's nginx (light), which tests/test_docker_compose.py uses to check
# deploy/nginx/nginx.conf (nginx -t) and bench/harden_slow_clients.py runs in front of
# gunicorn. Idempotent: does nothing when nginx is already there. Never starts it.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "==> nginx is already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: nginx is missing; install it: sudo apt-get install -y nginx-light" >&2
  exit 1
fi
echo "==> installing Debian's nginx-light"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends nginx-light || { apt-get update && apt-get install -y --no-install-recommends nginx-light; }
