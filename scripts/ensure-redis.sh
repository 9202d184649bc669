#!/usr/bin/env bash
# Make sure a redis-server binary exists: the local stack and the tests start real Redis.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server not found; installing Debian's redis-server" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    exit 0
fi
echo "redis-server not found. Install it (e.g. 'sudo apt-get install redis-server' or 'brew install redis')." >&2
exit 1
