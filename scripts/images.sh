#!/usr/bin/env bash
# Build the Docker images of the moby-counter demo without any registry.
#
#   debian-local:bookworm     debootstrap --variant=minbase + docker import
#   dotdesk-demo/redis        Debian redis-server (AOF + RDB in /var/lib/redis)
#   dotdesk-demo/postgres     Debian PostgreSQL 15 (data in /var/lib/postgresql/data)
#   dotdesk-demo/app          Debian nodejs + examples/moby-counter
#
# Cache: every image is labelled dotdesk.key=<its key>, a hash of its inputs
# (its Dockerfile and entrypoint; for the app also its sources and lockfile;
# for all of them the base image's key). The set's key hashes the four keys.
# If the daemon already holds all images with their keys, nothing happens.
# Otherwise a `docker save | zstd` archive of an earlier build,
# ${DOTDESK_CACHE:-$HOME/.cache/dotdesk}/images-<set key>.tar.zst, is loaded.
# Only when both miss are images built, and only those whose key changed
# (from nothing: about 1.5-2.5 minutes, depending on the mirror).
#
# Environment:
#   DOTDESK_CACHE           cache directory (default ~/.cache/dotdesk)
#   DOTDESK_DEBIAN_MIRROR   Debian mirror for debootstrap (default: the host's apt sources)
#   DOTDESK_IMAGES_REBUILD  1 = ignore daemon images and cache file, build again
#   DOTDESK_IMAGES_KEEP     how many cache archives to keep (default 3)
# Options:
#   --print-key             print the key of the image set and exit
#   --print-keys            print "image key" for each image and exit
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/examples/moby-counter"
IMAGES_DIR="$DEMO/images"
CACHE="${DOTDESK_CACHE:-$HOME/.cache/dotdesk}"
SUITE=bookworm
BASE_IMAGE="debian-local:$SUITE"
DEMO_IMAGES=(dotdesk-demo/redis dotdesk-demo/postgres dotdesk-demo/app)
# Bump when the base rootfs recipe below changes (it is not hashed with the
# rest, so that editing the demo does not cost a new debootstrap).
BASE_RECIPE=3
# Bump when the way the demo images are built here changes.
DEMO_RECIPE=1

# The legacy builder is what works here: the CLI has no buildx plugin, and
# DOCKER_BUILDKIT=1 would then fail instead of falling back.
export DOCKER_BUILDKIT=0

T0=$(date +%s)
say() { echo "[images] $*"; }
die() { echo "[images] ERROR: $*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

# ---------------------------------------------------------------- helpers ---

# The Debian mirror of the host's apt sources (deb822 *.sources first, then
# one-line *.list / sources.list), for the suite we bootstrap.
host_mirror() {
  local f url
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    url=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^Types:/)  { sub(/^Types:[ \t]*/, "", line);  types = line }
          if (line ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", line);   uris = line }
          if (line ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", line); suites = line }
        }
        if ((" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f")
    [ -n "$url" ] && { echo "$url"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    url=$(awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f")
    [ -n "$url" ] && { echo "$url"; return; }
  done
  echo "http://deb.debian.org/debian"
}

# The host's apt sources that the images should use (same mirror as the host).
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && echo "$f"
  done
  return 0
}

# Hash of the files given on stdin (one path a line), path names included.
hash_files() {
  local list
  list=$(sort)
  [ -n "$list" ] || { echo none; return; }
  (cd "$ROOT" && printf '%s\n' "$list" | while IFS= read -r p; do
    printf '%s\n' "$p"; sha256sum < "$p"
  done) | sha256sum | cut -c1-16
}

label_of() { # image label -> value ("" when the image or the label is missing)
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

image_current() { # image -> is it present with its expected key?
  [ "$(label_of "$1" dotdesk.key)" = "${IMAGE_KEY[$1]}" ]
}

needs_build() { # image -> must this run build it?
  [ "${DOTDESK_IMAGES_REBUILD:-0}" = 1 ] || ! image_current "$1"
}

images_current() { # all four images present with their expected keys?
  local img
  for img in "$BASE_IMAGE" "${DEMO_IMAGES[@]}"; do
    image_current "$img" || return 1
  done
}

# ------------------------------------------------------------------- keys ---

# Inputs of the base image: the recipe version, the suite and the apt sources
# it is configured with.
BASE_KEY=$( { echo "recipe=$BASE_RECIPE suite=$SUITE mirror=${DOTDESK_DEBIAN_MIRROR:-$(host_mirror)}"
              host_sources | xargs -r cat; } | sha256sum | cut -c1-16)

# Inputs of each demo image: its folder under images/ (Dockerfile,
# entrypoint, config); the app's build context too.
demo_key() { # name -> key
  local name="$1"
  { echo "base=$BASE_KEY recipe=$DEMO_RECIPE"
    (cd "$ROOT" && {
      find "examples/moby-counter/images/$name" -type f
      if [ "$name" = app ]; then
        find examples/moby-counter/src examples/moby-counter/public -type f
        for f in package.json package-lock.json .dockerignore; do
          [ -f "examples/moby-counter/$f" ] && echo "examples/moby-counter/$f"
        done
      fi
    }) | LC_ALL=C hash_files
  } | sha256sum | cut -c1-16
}
declare -A IMAGE_KEY=(["$BASE_IMAGE"]="$BASE_KEY")
for name in redis postgres app; do IMAGE_KEY[dotdesk-demo/$name]=$(demo_key "$name"); done
KEY=$(for img in "$BASE_IMAGE" "${DEMO_IMAGES[@]}"; do echo "$img=${IMAGE_KEY[$img]}"; done | sha256sum | cut -c1-16)
CACHE_FILE="$CACHE/images-$KEY.tar.zst"

case "${1:-}" in
  --print-key) echo "$KEY"; exit 0 ;;
  --print-keys) for img in "$BASE_IMAGE" "${DEMO_IMAGES[@]}"; do echo "$img ${IMAGE_KEY[$img]}"; done; exit 0 ;;
  "") ;;
  *) die "unknown option $1 (see the comment at the top of $0)" ;;
esac

# ------------------------------------------------------------------ start ---

command -v docker >/dev/null || die "docker is not installed (run scripts/ensure-docker.sh)"
docker info >/dev/null 2>&1 || die "docker does not answer (run scripts/ensure-docker.sh)"
command -v zstd >/dev/null || die "zstd is not installed (run scripts/ensure-docker.sh)"

mkdir -p "$CACHE"
# Why a lock: two test suites may call this at once; without it both would
# build, and one would load a cache file the other is still writing.
exec 8>"$CACHE/images.lock"
if command -v flock >/dev/null; then
  flock -n 8 || { say "another images.sh is running; waiting for it"; flock 8; }
fi

save_cache() {
  local tmp="$CACHE_FILE.tmp.$$"
  say "saving images to $CACHE_FILE…"
  # Why temp + rename: an interrupted save must never leave a truncated
  # archive under the final name (the next run would trust and load it).
  if ! docker save "$BASE_IMAGE" "${DEMO_IMAGES[@]}" | zstd -q -T0 -3 -o "$tmp"; then
    rm -f "$tmp"
    die "docker save | zstd failed (the images themselves are fine)"
  fi
  mv -f "$tmp" "$CACHE_FILE"
  # Keep the newest few archives (other checkouts may still want theirs).
  local keep="${DOTDESK_IMAGES_KEEP:-3}" old
  # shellcheck disable=SC2012
  ls -1t "$CACHE"/images-*.tar.zst 2>/dev/null | tail -n "+$((keep + 1))" | while IFS= read -r old; do
    say "removing old cache $old"; rm -f "$old"
  done
  say "saved $(du -h "$CACHE_FILE" | cut -f1) ($(elapsed))"
}

if [ "${DOTDESK_IMAGES_REBUILD:-0}" != 1 ]; then
  if images_current; then
    say "images are up to date (key $KEY)"
    [ -f "$CACHE_FILE" ] || save_cache
    exit 0
  fi
  if [ -f "$CACHE_FILE" ]; then
    say "loading images from $CACHE_FILE…"
    if zstd -q -dc "$CACHE_FILE" | docker load -q >/dev/null && images_current; then
      say "images loaded from cache (key $KEY, $(elapsed))"
      exit 0
    fi
    say "cache file is unusable, removing it and building"
    rm -f "$CACHE_FILE"
  fi
fi

# ------------------------------------------------------------- base image ---

build_base() {
  command -v debootstrap >/dev/null || die "debootstrap is not installed (run scripts/ensure-docker.sh)"
  [ "$(id -u)" = 0 ] || die "building $BASE_IMAGE needs root (debootstrap creates device nodes and owners)"
  local mirror="${DOTDESK_DEBIAN_MIRROR:-$(host_mirror)}"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/var/tmp}/dotdesk-rootfs.XXXXXX")
  # Why unmount before rm: an interrupted debootstrap leaves proc/sys mounted
  # inside the rootfs, and rm -rf must never walk into them.
  # shellcheck disable=SC2064
  trap "cleanup_rootfs '$dir'" EXIT
  say "building $BASE_IMAGE: debootstrap --variant=minbase $SUITE from $mirror…"
  if ! debootstrap --variant=minbase "$SUITE" "$dir/root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
    tail -n 30 "$dir/debootstrap.log" >&2
    die "debootstrap failed (full log above, last 30 lines)"
  fi
  local r="$dir/root"
  # Use the host's apt sources (same mirror, security and updates suites).
  rm -f "$r/etc/apt/sources.list"
  host_sources | while IFS= read -r f; do cp "$f" "$r$f"; done
  # Replicate the host's apt settings that decide whether the mirror is
  # reachable and accepted (proxy, snapshot mirrors with expired Release files).
  apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
    > "$r/etc/apt/apt.conf.d/90dotdesk-host" || true
  # Container conventions (as in Debian's official images): no daemons started
  # by package scripts, no recommends, no docs or man pages, no apt caches.
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$r/etc/apt/apt.conf.d/90dotdesk-norecommends"
  printf 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' > "$r/etc/apt/apt.conf.d/90dotdesk-clean"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    > "$r/etc/dpkg/dpkg.cfg.d/90dotdesk-excludes"
  # The same excludes for what debootstrap already installed (about 45 MB:
  # less to save, load and snapshot).
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/*
  find "$r/usr/share/doc" ! -type d ! -name copyright -delete
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
  say "importing $BASE_IMAGE…"
  tar --numeric-owner -C "$r" -c . | docker import \
    --change "LABEL dotdesk.key=$BASE_KEY" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$BASE_IMAGE" >/dev/null
  cleanup_rootfs "$dir"
  trap - EXIT
  say "built $BASE_IMAGE ($(elapsed))"
}

cleanup_rootfs() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$dir"
}

if needs_build "$BASE_IMAGE"; then
  build_base
else
  say "$BASE_IMAGE is up to date"
fi

# ------------------------------------------------------------ demo images ---

# The app image ships the demo's node_modules from the host: build containers
# reach the Debian mirror but not the npm registry.
if [ ! -d "$DEMO/node_modules" ] || [ "$DEMO/package-lock.json" -nt "$DEMO/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null || die "npm is needed once to install the demo's dependencies"
  say "installing the demo's npm dependencies (npm ci)…"
  (cd "$DEMO" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/dotdesk-images.XXXXXX")
BUILD_FLAGS=(--pull=false)
[ "${DOTDESK_IMAGES_REBUILD:-0}" = 1 ] && BUILD_FLAGS+=(--no-cache)
build_one() { # name dockerfile context
  local name="$1" file="$2" ctx="$3"
  docker build "${BUILD_FLAGS[@]}" --label "dotdesk.key=${IMAGE_KEY[dotdesk-demo/$name]}" \
    -t "dotdesk-demo/$name" -f "$file" "$ctx" >"$LOGS/$name.log" 2>&1
  say "built dotdesk-demo/$name ($(elapsed))"
}

# The builds are independent and mostly wait on the mirror: run them in
# parallel. Images whose key did not change are kept.
declare -A PIDS=()
for name in redis postgres app; do
  if ! needs_build "dotdesk-demo/$name"; then
    say "dotdesk-demo/$name is up to date"
    continue
  fi
  say "building $name…"
  case "$name" in
    app) build_one app "$IMAGES_DIR/app/Dockerfile" "$DEMO" & ;;
    *)   build_one "$name" "$IMAGES_DIR/$name/Dockerfile" "$IMAGES_DIR/$name" & ;;
  esac
  PIDS[$name]=$!
done
failed=()
for name in "${!PIDS[@]}"; do
  if ! wait "${PIDS[$name]}"; then
    failed+=("$name")
    echo "[images] ---- build log of $name (last 40 lines) ----" >&2
    tail -n 40 "$LOGS/$name.log" >&2
  fi
done
[ "${#failed[@]}" -eq 0 ] || die "failed to build: ${failed[*]} (logs in $LOGS)"
rm -rf "$LOGS"

# Images replaced by this build keep our label but lose their tag.
docker image prune -f --filter "label=dotdesk.key" >/dev/null 2>&1 || true

images_current || die "built images do not carry their expected keys (see --print-keys)"
save_cache
say "done (key $KEY, $(elapsed))"
