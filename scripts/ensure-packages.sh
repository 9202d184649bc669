#!/usr/bin/env bash
# Make sure each named command exists, installing Debian's package of the same name when
# we are root: redis-server (the local stack and the tests start real Redis), wrk
# (make bench's load generator, also run by the tests).
set -euo pipefail
missing=()
for command in "$@"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "not found: ${missing[*]}. Install them (e.g. 'sudo apt-get install ${missing[*]}')." >&2
exit 1
