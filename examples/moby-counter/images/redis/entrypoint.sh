#!/bin/sh
# Entrypoint of dotdesk-demo/redis: make the data dir usable, then run Redis
# as the redis user (exec, so Redis is PID 1 and gets docker stop's SIGTERM).
set -eu
DATA=/var/lib/redis
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DATA"
  # Why: a fresh volume from a plugin is an empty root-owned directory, and a
  # restored one may carry another image's uid. Only chown what is wrong: a
  # blanket chown -R would touch every file's ctime on every start.
  if [ -n "$(find "$DATA" ! -user redis -print -quit)" ]; then
    chown -R redis:redis "$DATA"
  fi
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
