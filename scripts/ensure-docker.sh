#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine (idempotent).
#
# 1. Installs docker.io, docker-compose, debootstrap and zstd with apt-get when
#    any of their commands is missing (apt-get update only when needed).
# 2. Starts dockerd in the background when `docker info` fails.
# 3. Waits until `docker info` answers (timeout: DOTDESK_DOCKER_TIMEOUT, 60 s).
#
# Safe to run many times and from several processes at once: a lock file
# serialises concurrent callers so only one of them ever starts dockerd.
set -euo pipefail

TIMEOUT="${DOTDESK_DOCKER_TIMEOUT:-60}"
LOG="${DOTDESK_DOCKERD_LOG:-/var/log/dockerd.log}"
LOCK="${TMPDIR:-/tmp}/dotdesk-ensure-docker.lock"

say() { echo "[ensure-docker] $*" >&2; }
die() { echo "[ensure-docker] ERROR: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root to run: $*"
  fi
}

docker_ok() { docker info >/dev/null 2>&1; }

# Why a lock: the test runner may start several suites in parallel, and two
# dockerd processes on the same /var/lib/docker corrupt each other's state.
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
  flock -w "$((TIMEOUT + 30))" 9 || die "timed out waiting for lock $LOCK"
fi

# --- 1. packages -----------------------------------------------------------
missing=()
command -v dockerd        >/dev/null 2>&1 || missing+=(docker.io)
command -v docker         >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap    >/dev/null 2>&1 || missing+=(debootstrap)
command -v zstd           >/dev/null 2>&1 || missing+=(zstd)
if [ "${#missing[@]}" -gt 0 ]; then
  # de-duplicate (docker.io may be listed twice)
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Only refresh the package lists when apt has none yet or the install fails
  # with stale lists; a fresh `apt-get update` costs several seconds.
  if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
    as_root apt-get update -q
  fi
  if ! as_root apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    say "install failed, refreshing package lists and retrying"
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# --- 2. daemon -------------------------------------------------------------
if docker_ok; then
  exit 0
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  # A dockerd is already starting (or stuck); do not start a second one.
  say "dockerd is running but not answering yet; waiting"
else
  if ! touch "$LOG" 2>/dev/null; then
    LOG="$(mktemp "${TMPDIR:-/tmp}/dockerd.XXXXXX.log")"
  fi
  say "starting dockerd (log: $LOG)"
  # Never pass --bridge=none: it deletes the host's docker0 bridge that other
  # dockerd users on this machine rely on.
  # 9>&- : the daemon must not inherit (and hold forever) our lock file.
  as_root nohup dockerd >>"$LOG" 2>&1 </dev/null 9>&- &
  disown || true
fi

# --- 3. wait ---------------------------------------------------------------
deadline=$(( $(date +%s) + TIMEOUT ))
while ! docker_ok; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "[ensure-docker] ERROR: docker info did not answer within ${TIMEOUT}s." >&2
    echo "[ensure-docker] last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
say "docker is ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
