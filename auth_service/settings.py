"""auth_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secure_service import SettingsError, Source, VerifierSettings
from secure_service.rate_limits import rate_limit_setting
from secure_service.scopes import CREDENTIALS_SCOPE, SIGNUP_SCOPE
from secure_service.service_app import trusted_proxy_hops
from secure_service.settings import (
    MAX_ACCESS_TOKEN_TTL_SECONDS,
    MAX_REFRESH_TOKEN_TTL_SECONDS,
    MIN_CLIENT_SECRET_BYTES,
    MIN_HMAC_SECRET_BYTES,
    check_secret,
)

SERVICE_NAME = "auth_service"
#: Which resource service a scope is for, by the scope's prefix.
AUDIENCE_BY_SCOPE_PREFIX = {"users": "users_service", "orders": "orders_service"}
USER_SCOPES = ("users:read", "users:write", "orders:read", "orders:write")
#: The longest a rotated refresh token may be retried for the same answer (a lost response).
MAX_REFRESH_REUSE_GRACE_SECONDS = 300


#: orders_service's client: it exchanges a caller's token for one that only users_service
#: takes (RFC 8693), to check the caller is an active user, and may do nothing else.
ORDERS_CLIENT_ID = "orders_service"
ORDERS_EXCHANGE_SCOPES = frozenset({"users:read"})
#: The console's client (a backend-for-frontend): at login it names the browser's address
#: (secure_service/end_user.py), and its own service token may sign browsers' users up.
WEB_CLIENT_ID = "web_service"


@dataclass(frozen=True)
class ServiceClient:
    """A confidential client (a service): what it may do at the token and introspection endpoints."""

    client_id: str
    secret: str
    #: What the client-credentials grant may give it (empty: that grant is not its).
    scopes: frozenset[str] = frozenset()
    #: What a token exchange may give it, out of the subject token's scopes (empty: no exchange).
    exchange_scopes: frozenset[str] = frozenset()
    #: Whether it may ask whether a token is active (RFC 7662).
    may_introspect: bool = False
    #: Whether, at login, it may name the end user's address (a BFF: end_user.py).
    names_end_users: bool = False


@dataclass(frozen=True)
class AuthSettings:
    verifier: VerifierSettings
    signing_algorithm: str
    keys_dir: Path
    users_service_url: str
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_reuse_grace_seconds: int
    revocation_min_replicas: int
    revocation_replica_timeout_ms: int
    access_audience: tuple[str, ...]
    public_client_id: str
    clients: Mapping[str, ServiceClient]
    peer_timeout_seconds: float
    login_limit_per_username: str
    login_limit_per_address: str
    key_activation_delay_seconds: int
    log_level: str
    proxy_hops: int

    @property
    def issued_audiences(self) -> frozenset[str]:
        """Every audience a token issued here can name: this service, the user tokens', the scopes'."""
        return frozenset({SERVICE_NAME, *self.access_audience, *AUDIENCE_BY_SCOPE_PREFIX.values()})

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> AuthSettings:
        source = Source(config)
        verifier = VerifierSettings.load(source, SERVICE_NAME)
        signing_algorithm = source.string("JWT_SIGNING_ALG", "RS256")
        if signing_algorithm not in verifier.algorithms:
            raise SettingsError(
                f"JWT_SIGNING_ALG {signing_algorithm} is not in JWT_ALGORITHMS ({' '.join(verifier.algorithms)})"
            )
        if signing_algorithm == "HS256" and verifier.hs256_secret is None:
            raise SettingsError(f"HS256 needs JWT_HS256_SECRET of at least {MIN_HMAC_SECRET_BYTES} random bytes")
        audience = source.words("ACCESS_TOKEN_AUDIENCE", "auth_service users_service orders_service")
        if SERVICE_NAME not in audience:
            raise SettingsError("ACCESS_TOKEN_AUDIENCE must include auth_service (logout needs the access token)")
        activation_delay = source.integer("KEY_ACTIVATION_DELAY_SECONDS", 60, 0, 86400)
        if activation_delay < verifier.jwks_cooldown_seconds:
            # A verifier that fetched the JWKS just before a rotation must be allowed to
            # refetch by the time the new key signs, or it refuses the first new tokens.
            raise SettingsError(
                f"KEY_ACTIVATION_DELAY_SECONDS ({activation_delay}) must be at least "
                f"JWKS_REFETCH_COOLDOWN_SECONDS ({verifier.jwks_cooldown_seconds})"
            )
        return cls(
            verifier=verifier,
            signing_algorithm=signing_algorithm,
            keys_dir=Path(source.string("KEYS_DIR", "var/keys")).resolve(),
            users_service_url=source.string("USERS_SERVICE_URL", "http://127.0.0.1:8002"),
            # The maxima are the verifiers' too: they refuse a token that lives longer.
            access_token_ttl=source.integer("ACCESS_TOKEN_TTL_SECONDS", 600, 300, MAX_ACCESS_TOKEN_TTL_SECONDS),
            refresh_token_ttl=source.integer(
                "REFRESH_TOKEN_TTL_SECONDS", 7 * 86400, 900, MAX_REFRESH_TOKEN_TTL_SECONDS
            ),
            # Opt-in, and short: within it, a replayed refresh token gets the successor pair
            # instead of revoking the family (RFC 9700 §4.14.2; SECURITY.md).
            refresh_reuse_grace_seconds=source.integer(
                "REFRESH_REUSE_GRACE_SECONDS", 0, 0, MAX_REFRESH_REUSE_GRACE_SECONDS
            ),
            # With a replicated Redis: a revocation is answered only once this many replicas
            # hold it (WAIT), so a failover cannot forget it (docs/operations.md).
            revocation_min_replicas=source.integer("REVOCATION_MIN_REPLICAS", 0, 0, 5),
            revocation_replica_timeout_ms=source.integer("REVOCATION_REPLICA_TIMEOUT_MILLISECONDS", 500, 10, 5000),
            access_audience=audience,
            public_client_id=source.string("PUBLIC_CLIENT_ID", "web-app"),
            clients=_clients(source),
            peer_timeout_seconds=float(source.integer("PEER_TIMEOUT_SECONDS", 3, 1, 30)),
            login_limit_per_username=rate_limit_setting(source, "LOGIN_LIMIT_PER_USERNAME", "5 per 15 minutes"),
            login_limit_per_address=rate_limit_setting(source, "LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
            # A rotated key is published this long before it signs, so every verifier can
            # learn it first.
            key_activation_delay_seconds=activation_delay,
            log_level=verifier.log_level,
            proxy_hops=trusted_proxy_hops(source),
        )


def _clients(source: Source) -> dict[str, ServiceClient]:
    """The stack's own clients (orders_service and web_service, when their secrets are set) and SERVICE_CLIENTS'."""
    clients = _parse_clients(source.optional("SERVICE_CLIENTS"))
    own = {
        ORDERS_CLIENT_ID: lambda secret: ServiceClient(
            ORDERS_CLIENT_ID, secret, exchange_scopes=ORDERS_EXCHANGE_SCOPES
        ),
        WEB_CLIENT_ID: lambda secret: ServiceClient(
            WEB_CLIENT_ID, secret, scopes=frozenset({SIGNUP_SCOPE}), names_end_users=True
        ),
    }
    for client_id, client in own.items():
        variable = f"{client_id.upper()}_CLIENT_SECRET"
        secret = source.optional(variable)
        if secret is None:
            continue
        check_secret(variable, secret, MIN_CLIENT_SECRET_BYTES)
        if client_id in clients:
            raise SettingsError(f"SERVICE_CLIENTS may not define {client_id}: {variable} does")
        clients[client_id] = client(secret)
    return clients


def _scopes(client_id: str, entry: dict[str, Any], name: str) -> frozenset[str]:
    scopes = frozenset(str(entry.get(name, "")).split())
    unknown = [s for s in scopes if s.split(":")[0] not in AUDIENCE_BY_SCOPE_PREFIX or s == CREDENTIALS_SCOPE]
    if unknown:
        raise SettingsError(f"SERVICE_CLIENTS[{client_id}].{name} has scopes it may not have: {unknown}")
    return scopes


def _parse_clients(raw: str | None) -> dict[str, ServiceClient]:
    """SERVICE_CLIENTS: {"<client_id>": {"secret": "...", "scopes": "users:read ...",
    "exchange_scopes": "users:read", "introspect": true, "names_end_users": true}}; each but
    the secret optional, and a client must be allowed at least one of them."""
    if raw is None:
        return {}
    try:
        document = json.loads(raw)
    except ValueError as e:
        raise SettingsError("SERVICE_CLIENTS is not valid JSON") from e
    if not isinstance(document, dict):
        raise SettingsError("SERVICE_CLIENTS must be a JSON object of client_id -> {secret, scopes}")
    clients: dict[str, ServiceClient] = {}
    for client_id, entry in document.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", client_id):
            raise SettingsError(f"SERVICE_CLIENTS has an invalid client_id {client_id!r} (letters, digits, _ . -)")
        if not isinstance(entry, dict) or not isinstance(entry.get("secret"), str):
            raise SettingsError(f"SERVICE_CLIENTS[{client_id}] has no client secret")
        check_secret(f"SERVICE_CLIENTS[{client_id}].secret", entry["secret"], MIN_CLIENT_SECRET_BYTES)
        introspect, names_end_users = (entry.get(name, False) for name in ("introspect", "names_end_users"))
        for name, value in (("introspect", introspect), ("names_end_users", names_end_users)):
            if not isinstance(value, bool):
                raise SettingsError(f"SERVICE_CLIENTS[{client_id}].{name} must be true or false")
        client = ServiceClient(
            client_id,
            entry["secret"],
            scopes=_scopes(client_id, entry, "scopes"),
            exchange_scopes=_scopes(client_id, entry, "exchange_scopes"),
            may_introspect=introspect,
            names_end_users=names_end_users,
        )
        if not (client.scopes or client.exchange_scopes or client.may_introspect or client.names_end_users):
            raise SettingsError(
                f"SERVICE_CLIENTS[{client_id}] has no scopes, exchange_scopes, introspect or names_end_users"
            )
        clients[client_id] = client
    return clients
