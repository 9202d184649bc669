#!/usr/bin/env bash
# CI only, for machines with a Docker engine but no image registry.
#
# Builds local stand-ins for the public base images the project uses (python, redis,
# postgres, haproxy) from a debootstrapped Debian bookworm, with this machine's proxy CA
# inside the stand-ins (never in the project's own images), and prints the variables that
# point the build arguments and image names at them. A user with a registry never runs this: the
# defaults in docker-compose.yml are the real public images.
#
#   eval "$(.ci/build-standin-images.sh)"
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=jwt-stack-standin
BASE=$PREFIX/debian:bookworm
ROOTFS=${STANDIN_ROOTFS:-/var/tmp/jwt-stack-standin-rootfs}

log() { echo "[standin] $*" >&2; }

debian_mirror() {
    # The mirror apt on this machine already uses (deb822 or one-line sources).
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have_image "$BASE"; then
    mirror=$(debian_mirror)
    log "debootstrap bookworm from $mirror"
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >/dev/null
    tar -C "$ROOTFS" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$ROOTFS"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/ca"
cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true
cp "$HERE/standin/"* "$context/"

build() {
    local tag=$1 dockerfile=$2
    if have_image "$tag"; then
        return
    fi
    log "building $tag"
    if ! docker build --build-arg "BASE=$BASE" -t "$tag" -f "$context/$dockerfile" "$context" >"$context/build.log" 2>&1; then
        tail -40 "$context/build.log" >&2
        exit 1
    fi
}

build "$PREFIX/python:3.11" python.Dockerfile
build "$PREFIX/redis:7" redis.Dockerfile
build "$PREFIX/postgres:15" postgres.Dockerfile
build "$PREFIX/haproxy:2.6" haproxy.Dockerfile

cat <<VARS
export PYTHON_IMAGE=$PREFIX/python:3.11
export REDIS_IMAGE=$PREFIX/redis:7
export POSTGRES_IMAGE=$PREFIX/postgres:15
export HAPROXY_IMAGE=$PREFIX/haproxy:2.6
export IMAGE_PULL_POLICY=never
VARS
