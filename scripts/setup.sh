#!/usr/bin/env bash
# Installs what Dotdesk and its tests need on a fresh Debian machine and starts dockerd.
#   scripts/setup.sh          everything the tests need (databases, browser, Docker, reference tools)
#   scripts/setup.sh --app    only what running the app needs (Docker)
# Idempotent: a second run installs nothing and returns in a second.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
app=(docker.io docker-compose zstd debootstrap python3 make g++)
tests=(postgresql redis-server chromium restic borgbackup rsync time xvfb b3sum bsdutils)
want=("${app[@]}"); [ "${1:-}" = "--app" ] || want+=("${tests[@]}")
missing=()
for p in "${want[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/ensure-docker.sh
# The Docker tests and the tutorial e2e spec need the demo's images (no registry here): build
# them, or load them from the cache in ~/.cache/dotdesk (seconds; 0.2 s when already current).
if [ "${1:-}" != "--app" ]; then bash scripts/images.sh; fi
echo "[setup] ok"
