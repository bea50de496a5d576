#!/bin/sh
# Entrypoint of dotdesk-demo/app: make the uploads folder writable for the
# moby user, then run the app as that user.
set -eu
UPLOADS_DIR="${UPLOADS_DIR:-/uploads}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$UPLOADS_DIR"
  # Why: a fresh volume from a plugin is an empty root-owned directory, and a
  # restored one may carry another image's uid. Only chown what is wrong.
  if [ -n "$(find "$UPLOADS_DIR" ! -user moby -print -quit)" ]; then
    chown -R moby:moby "$UPLOADS_DIR"
  fi
  exec setpriv --reuid=moby --regid=moby --init-groups "$@"
fi
exec "$@"
