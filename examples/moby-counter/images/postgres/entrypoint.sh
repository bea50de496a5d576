#!/bin/sh
# Entrypoint of dotdesk-demo/postgres.
#  - fixes the ownership of the data directory (fresh or restored volumes),
#  - creates a cluster when the data directory is empty (initdb), with the
#    password $POSTGRES_PASSWORD for $POSTGRES_USER and database $POSTGRES_DB,
#  - then execs the command as the postgres user. setpriv (not runuser or su)
#    replaces this shell, so PostgreSQL is PID 1 and docker stop takes 0.2 s.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ "$(id -u)" != 0 ]; then
  echo "dotdesk-postgres-entrypoint: must start as root (it drops to postgres)" >&2
  exit 1
fi

mkdir -p "$PGDATA" /var/run/postgresql
# Why only when wrong: a fresh volume from a plugin is an empty root-owned
# directory and a restored one may carry another image's uid; but a blanket
# chown -R would touch every file's ctime at every start.
if [ -n "$(find "$PGDATA" ! -user postgres -print -quit)" ]; then
  chown -R postgres:postgres "$PGDATA"
fi
# PostgreSQL refuses to start unless the data directory is 0700 (or 0750).
case "$(stat -c %a "$PGDATA")" in 700|750) ;; *) chmod 700 "$PGDATA" ;; esac
chown postgres:postgres /var/run/postgresql

case "$POSTGRES_DB$POSTGRES_USER" in
  *[!A-Za-z0-9_]*) echo "POSTGRES_DB and POSTGRES_USER may only use A-Z a-z 0-9 _" >&2; exit 1 ;;
esac

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "dotdesk-postgres-entrypoint: set POSTGRES_PASSWORD to create the database" >&2
    exit 1
  fi
  echo "dotdesk-postgres-entrypoint: creating a new cluster in $PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_pg initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  # Other containers reach it over the compose network, with a password.
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  printf "%s\n" "listen_addresses = '*'" "jit = off" >> "$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
      | as_pg postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
