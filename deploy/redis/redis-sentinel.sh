#!/bin/sh
# One Redis Sentinel of the replicated stack (compose.scale.yml, deploy/k8s): it watches the
# primary started by redis-server.sh, and with its peers promotes the replica when the
# primary is lost. Services find the primary by asking the sentinels
# (REDIS_URL=redis+sentinel://<user>:<password>@<sentinel>:26379,…/<primary name>).
#
#   REDIS_PASSWORD=… REDIS_SENTINEL_PASSWORD=… REDIS_<SERVICE>_PASSWORD=… \
#   REDIS_PRIMARY_HOST=redis SENTINEL_DIR=/sentinel sh deploy/redis/redis-sentinel.sh [options]
#
# Sentinel rewrites its configuration file as it learns the topology, so the file lives in
# SENTINEL_DIR (a writable directory; mode 600: it holds passwords), never on its command
# line. Settings: REDIS_PRIMARY_PORT (6379), REDIS_PRIMARY_NAME (jwt-stack),
# SENTINEL_QUORUM (2 of 3), SENTINEL_DOWN_AFTER_MILLISECONDS (5000),
# SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS (20000), SENTINEL_ANNOUNCE_HOSTNAME (the name the
# others reach this one by, where addresses change, as in Kubernetes). Options after the
# script name go to redis-server.
set -eu

die() {
    echo "redis-sentinel.sh: $*" >&2
    exit 2
}

for name in REDIS_PASSWORD REDIS_SENTINEL_PASSWORD REDIS_AUTH_SERVICE_PASSWORD REDIS_USERS_SERVICE_PASSWORD \
    REDIS_ORDERS_SERVICE_PASSWORD REDIS_WEB_SERVICE_PASSWORD; do
    eval "value=\${$name:-}"
    # The same passwords as the nodes' (redis-server.sh checks them there).
    case $value in
        "") die "$name is required" ;;
        *[!A-Za-z0-9._~-]*) die "$name may contain only A-Z a-z 0-9 . _ ~ -" ;;
    esac
done
[ -n "${REDIS_PRIMARY_HOST:-}" ] || die "REDIS_PRIMARY_HOST is required: where the primary starts"
[ -n "${SENTINEL_DIR:-}" ] || die "SENTINEL_DIR is required: a writable directory for the sentinel's own file"

primary=${REDIS_PRIMARY_NAME:-jwt-stack}
server=${REDIS_SERVER:-redis-server}
version=$("$server" --version) || die "cannot run $server"
version=${version#*v=}
case $version in
    7.[01].*) client_setinfo="" ;;
    *) client_setinfo="+client|setinfo" ;;
esac
# What a client asks a sentinel (redis-py's Sentinel, limits' RedisSentinelStorage):
# where the primary and the replicas are. Nothing that changes the topology.
asks="-@all +ping +auth +hello $client_setinfo +sentinel|masters +sentinel|master +sentinel|get-master-addr-by-name +sentinel|slaves +sentinel|replicas +sentinel|sentinels"

announce=""
if [ -n "${SENTINEL_ANNOUNCE_HOSTNAME:-}" ]; then
    announce="sentinel announce-hostnames yes
sentinel announce-ip ${SENTINEL_ANNOUNCE_HOSTNAME}"
fi

config="$SENTINEL_DIR/sentinel.conf"
umask 077
cat >"$config" <<CONFIG
port 26379
# The primary is named by its host name: resolve it now and after every restart.
sentinel resolve-hostnames yes
$announce
sentinel monitor $primary $REDIS_PRIMARY_HOST ${REDIS_PRIMARY_PORT:-6379} ${SENTINEL_QUORUM:-2}
sentinel down-after-milliseconds $primary ${SENTINEL_DOWN_AFTER_MILLISECONDS:-5000}
sentinel failover-timeout $primary ${SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS:-20000}
sentinel parallel-syncs $primary 1
# How this sentinel logs in to the nodes (their sentinel user) and to its peers.
sentinel auth-user $primary sentinel
sentinel auth-pass $primary $REDIS_SENTINEL_PASSWORD
sentinel sentinel-user sentinel
sentinel sentinel-pass $REDIS_SENTINEL_PASSWORD
# Who may log in here: the operator, the peers, and each service, which only asks.
user default on >$REDIS_PASSWORD ~* &* +@all
user sentinel on >$REDIS_SENTINEL_PASSWORD ~* &* +@all
user auth_service on >$REDIS_AUTH_SERVICE_PASSWORD $asks
user users_service on >$REDIS_USERS_SERVICE_PASSWORD $asks
user orders_service on >$REDIS_ORDERS_SERVICE_PASSWORD $asks
user web_service on >$REDIS_WEB_SERVICE_PASSWORD $asks
CONFIG

exec "$server" "$config" --sentinel "$@"
