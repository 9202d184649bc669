"""A bare Flask app beside the stack: the floor the services' endpoints are measured against.

Two endpoints, each returning the same small JSON object as auth_cost_app's:

- ``/plain``: Flask alone, no middleware, no extension;
- ``/naive``: the auth-only app anyone would write first: PyJWT's RS256 decode against
  the stack's JWKS (fetched once at start), audience and issuer pinned, then one Redis
  round trip for ``revoked:jti:<jti>``.

It connects to Redis as users_service's ACL user, which may not run ``EXISTS``
(deploy/redis/redis-server.sh gives resource services ``+mget`` only), so the one round
trip is an ``MGET`` of the one key: the same single-key read, answered the same way.
Only ``make bench`` runs it, under gunicorn with the services' process model
(bench/bare_gunicorn.conf.py).
"""

from __future__ import annotations

import os
from typing import Any

import jwt
import redis
import requests
from flask import Flask, request

#: Access tokens are issued for users_service (among others); this app checks that audience.
AUDIENCE = "users_service"


def create_app() -> Flask:
    """The bare app, reading JWT_ISSUER, JWKS_URL and REDIS_URL from the environment."""
    issuer, jwks_url = os.environ["JWT_ISSUER"], os.environ["JWKS_URL"]
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(requests.get(jwks_url, timeout=10).json()).keys}
    store = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    app = Flask(__name__)

    @app.get("/plain")
    def plain() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/naive")
    def naive() -> tuple[dict[str, Any], int] | dict[str, Any]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return {"error": "unauthorized"}, 401
        try:
            key = keys[jwt.get_unverified_header(token).get("kid")]
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
        except (jwt.InvalidTokenError, KeyError):
            return {"error": "unauthorized"}, 401
        if store.mget([f"revoked:jti:{claims['jti']}"])[0] is not None:
            return {"error": "unauthorized"}, 401
        return {"status": "ok"}

    return app
