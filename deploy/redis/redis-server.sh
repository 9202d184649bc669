#!/bin/sh
# The stack's Redis, defined once for docker compose and for `make dev`: one ACL user per
# service, persistence, memory policy. The configuration reaches redis-server on its
# standard input, so no password is ever in the process list.
#
#   REDIS_PASSWORD=… REDIS_AUTH_SERVICE_PASSWORD=… REDIS_USERS_SERVICE_PASSWORD=… \
#   REDIS_ORDERS_SERVICE_PASSWORD=… REDIS_WEB_SERVICE_PASSWORD=… sh deploy/redis/redis-server.sh [redis-server options]
#
# Replicated (compose.scale.yml, deploy/k8s): REDIS_REPLICATION_PASSWORD and
# REDIS_SENTINEL_PASSWORD add the accounts a replica and the sentinels log in with, and
# every node, primary or not, replicates with the first (so any node can be promoted or
# demoted by the sentinels). With REDIS_SENTINELS ("host:port host:port …") a node first
# asks the sentinels which node is the primary (REDIS_PRIMARY_NAME, default jwt-stack) and
# starts as its replica, unless that is itself (REDIS_ANNOUNCE_ADDRESS: "host port", as the
# sentinels name it); when no sentinel answers (the first start), it replicates
# REDIS_INITIAL_PRIMARY ("host port"), or starts as the primary if that is unset.
#
# Options after the script name (where it listens and keeps its files: --bind, --port,
# --dir) are passed on and override the configuration below. REDIS_SERVER names the
# binary (default: redis-server on PATH). Needs Redis 7.0 or newer (read-only key selectors).
set -eu

die() {
    echo "redis-server.sh: $*" >&2
    exit 2
}

# Passwords are written into ACL rules and into the services' REDIS_URLs: URL-safe
# characters only, so none can break a rule or inject one, and distinct, so no service
# can log in as the operator or as another service.
checked_passwords=""
check_password() {
    name=$1 value=$2
    case $value in
        "") die "$name is required (make env or make dev generates one)" ;;
        *[!A-Za-z0-9._~-]*) die "$name may contain only A-Z a-z 0-9 . _ ~ -" ;;
    esac
    [ "${#value}" -ge 16 ] || die "$name must be at least 16 characters"
    case " $checked_passwords " in
        *" $value "*) die "$name is the same as another Redis password; each user needs its own" ;;
    esac
    checked_passwords="$checked_passwords $value"
}
check_password REDIS_PASSWORD "${REDIS_PASSWORD:-}"
check_password REDIS_AUTH_SERVICE_PASSWORD "${REDIS_AUTH_SERVICE_PASSWORD:-}"
check_password REDIS_USERS_SERVICE_PASSWORD "${REDIS_USERS_SERVICE_PASSWORD:-}"
check_password REDIS_ORDERS_SERVICE_PASSWORD "${REDIS_ORDERS_SERVICE_PASSWORD:-}"
check_password REDIS_WEB_SERVICE_PASSWORD "${REDIS_WEB_SERVICE_PASSWORD:-}"
replication=""
if [ -n "${REDIS_REPLICATION_PASSWORD:-}${REDIS_SENTINEL_PASSWORD:-}" ]; then
    check_password REDIS_REPLICATION_PASSWORD "${REDIS_REPLICATION_PASSWORD:-}"
    check_password REDIS_SENTINEL_PASSWORD "${REDIS_SENTINEL_PASSWORD:-}"
    # The commands replication and Sentinel need, as Redis' ACL documentation lists
    # them, and no key at all.
    replication="
masteruser replication
masterauth $REDIS_REPLICATION_PASSWORD
user replication on >$REDIS_REPLICATION_PASSWORD -@all +psync +replconf +ping
user sentinel on >$REDIS_SENTINEL_PASSWORD allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill"
fi

server=${REDIS_SERVER:-redis-server}
version=$("$server" --version) || die "cannot run $server"
version=${version#*v=}
version=${version%% *}
# redis-py names itself with CLIENT SETINFO on every connection (and ignores a refusal);
# Redis 7.0 has no such subcommand and refuses a rule that names it.
case $version in
    [0-6].*) die "Redis $version is too old: the ACL rules need 7.0 or newer" ;;
    7.[01].*) client_setinfo="" ;;
    *) client_setinfo="+client|setinfo" ;;
esac

# Keys and channel, as shared/src/secure_service/revocation.py, revocation_cache.py and
# rate_limits.py and auth_service/sessions.py (refresh:*, session:*, sessions:*) name them.
# The services' commands, and nothing more (each rule starts from -@all): what redis-py
# sends (AUTH is always allowed; PING is its health check and the revocation cache's
# confirmation), the verifier's MGET and SUBSCRIBE and the ZRANGE that loads its deny-list
# from the revocation index, auth_service's writes (no SCAN: ACL key patterns do not bind
# it, so it would list every key), its session
# records (hashes: HSET, HMGET) and each user's index of them (a sorted set: ZADD, ZRANGE,
# ZREM, ZREMRANGEBYSCORE, and EXPIRE), MULTI/EXEC pipelines and Lua scripts (EVALSHA,
# SCRIPT LOAD after a NOSCRIPT; every command a script calls is checked against the same
# rules), the moving-window rate limiter's scripts (LINDEX, LPUSH, LTRIM, EXPIRE), and
# WAIT, which holds a revocation's answer until a replica has it (REVOCATION_MIN_REPLICAS).
# No EVAL: nothing sends it.
revocation_keys="~revoked:* ~user:not-before:* ~revocation:index"
revocation_keys_read_only="%R~revoked:* %R~user:not-before:* %R~revocation:index"
channel="&revocation:invalidated"
verifier="+ping +mget +zrange +subscribe $client_setinfo"
rate_limiter="+evalsha +script|load +lindex +lpush +ltrim +expire"
session_records="~session:* ~sessions:*"
session_commands="+hset +hmget +expire +zadd +zrange +zrem +zremrangebyscore"

# A node restarted after a failover must follow the primary the sentinels elected, not
# the role it was first given: as a second primary it would take no client (they ask the
# sentinels) and leave the real one without the replica its revocations wait for.
if [ -n "${REDIS_SENTINELS:-}" ]; then
    [ -n "${REDIS_ANNOUNCE_ADDRESS:-}" ] || die "REDIS_ANNOUNCE_ADDRESS is required with REDIS_SENTINELS"
    primary=""
    for sentinel in $REDIS_SENTINELS; do
        # A sentinel that is not up yet must not hold the start for long.
        primary=$(REDISCLI_AUTH=$REDIS_SENTINEL_PASSWORD timeout 2 redis-cli --no-auth-warning --user sentinel \
            -h "${sentinel%:*}" -p "${sentinel##*:}" --raw SENTINEL GET-MASTER-ADDR-BY-NAME "${REDIS_PRIMARY_NAME:-jwt-stack}" \
            2>/dev/null | tr '\n' ' ') || primary=""
        case $primary in
            *[0-9]" ") break ;;  # "host port "
            *) primary="" ;;
        esac
    done
    [ -n "$primary" ] || primary=${REDIS_INITIAL_PRIMARY:-}
    set -- $primary -- "$@"
    if [ "$1" != -- ]; then
        primary_host=$1 primary_port=$2
        shift 2
    else
        primary_host=""
    fi
    shift  # the --
    role="the primary"
    if [ -n "$primary_host" ] && [ "$primary_host $primary_port" != "$REDIS_ANNOUNCE_ADDRESS" ]; then
        set -- "$@" --replicaof "$primary_host" "$primary_port"
        role="a replica of $primary_host:$primary_port"
    fi
    echo "redis-server.sh: starting as $role" >&2
fi

exec "$server" - "$@" <<CONFIG
# AOF with an fsync per write: a revocation acknowledged to a client survives a crash or
# restart. No RDB snapshots: the AOF is the one copy.
appendonly yes
appendfsync always
save ""
# Never evict: an evicted revocation key would silently accept its token again. Full
# memory makes writes fail instead, and a revocation that fails answers 503.
maxmemory-policy noeviction

# The operator's account (compose's healthcheck, redis-cli): every right. No service has it.
user default on >$REDIS_PASSWORD ~* &* +@all
# The issuer: writes revocations, sessions' refresh families and records and its login
# limits, and publishes the invalidations that keep every verifier's cache exact.
user auth_service on >$REDIS_AUTH_SERVICE_PASSWORD resetkeys $revocation_keys ~refresh:* $session_records ~LIMITS:LIMITER/login/* resetchannels $channel -@all $verifier +get +set +del +exists +multi +exec +discard +publish +wait $session_commands $rate_limiter
# Resource services: read revocation state and listen for invalidations; users_service
# also keeps its own sign-up limits. Neither can write, delete or expire a revocation.
user users_service on >$REDIS_USERS_SERVICE_PASSWORD resetkeys $revocation_keys_read_only ~LIMITS:LIMITER/signup/* resetchannels $channel -@all $verifier $rate_limiter
user orders_service on >$REDIS_ORDERS_SERVICE_PASSWORD resetkeys $revocation_keys_read_only resetchannels $channel -@all $verifier
# The browser console: its own session store (hashes under web:session:, the refresh lock
# under web:refresh:, taken with SET NX PX and released by redis-py's Lock script, which GETs it) and no
# revocation key or channel at all: it verifies no token, it holds them.
user web_service on >$REDIS_WEB_SERVICE_PASSWORD resetkeys ~web:* resetchannels -@all +ping $client_setinfo +hset +hgetall +expire +del +multi +exec +set +get +evalsha +script|load
$replication
CONFIG
