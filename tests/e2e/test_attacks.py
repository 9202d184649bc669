"""The JWT attack catalogue, forged against the running stack: every forgery gets a 401.

Each case builds the Authorization header an attacker would send, from a genuine login of
the stack (and, for claim checks, the stack's own signing key, so that only the check
under test can refuse the token). Both resource services must answer 401: never 200,
never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.client import Client
from tests.e2e.stacks import CLIENT_ID, Stack

TARGETS = {"users_service": "/users/me", "orders_service": "/orders"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


@dataclass
class Genuine:
    """What an attacker starts from: real tokens of a real user, and the public JWKS."""

    stack: Stack
    access: str
    refresh: str
    users_only: str  # a service token minted for users_service alone
    claims: dict[str, Any]
    header: dict[str, Any]
    jwks: dict[str, Any]

    def resign(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        """The genuine claims (or ``claims``), signed with the stack's real key."""
        now = int(time.time())
        base = {**self.claims, "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 300}
        return self.stack.sign(claims if claims is not None else base, headers=header or None)

    def fresh_claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {**self.claims, "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 300}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def attacker_signed(genuine: Genuine, **header: Any) -> str:
    return jwt.encode(genuine.fresh_claims(), ATTACKER_KEY, algorithm="RS256", headers={"typ": "at+jwt", **header})


def alg_none(alg: str) -> Callable[[Genuine], str]:
    def build(g: Genuine) -> str:
        return f"{b64json({**g.header, 'alg': alg})}.{b64json(g.fresh_claims())}."

    return build


def empty_signature(g: Genuine) -> str:
    header, payload, _ = g.access.split(".")
    return f"{header}.{payload}."


def hs256_with_public_key(g: Genuine) -> str:
    """Key confusion: HMAC 'signed' with the service's own RSA public key as the secret."""
    jwk = next(k for k in g.jwks["keys"] if k["kid"] == g.header["kid"])
    pem = RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({**g.header, 'alg': 'HS256'})}.{b64json(g.fresh_claims())}"
    return f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def embedded_jwk(g: Genuine) -> str:
    """CVE-2018-0114 style: the token carries the attacker's public key as 'jwk'."""
    public = RSAAlgorithm.to_jwk(ATTACKER_KEY.public_key(), as_dict=True)
    return attacker_signed(g, kid=g.header["kid"], jwk=public)


def tampered_payload(g: Genuine) -> str:
    header, _, signature = g.access.split(".")
    return f"{header}.{b64json({**g.claims, 'roles': ['admin'], 'scope': g.claims['scope'] + ' admin'})}.{signature}"


def missing_claim(name: str) -> Callable[[Genuine], str]:
    def build(g: Genuine) -> str:
        return g.resign(g.fresh_claims(**{name: _DROP}))

    return build


def other_segments(header: str, payload: str) -> Callable[[Genuine], str]:
    def build(g: Genuine) -> str:
        real_header, real_payload, signature = g.access.split(".")
        return f"{header or real_header}.{payload or real_payload}.{signature}"

    return build


ATTACKS: dict[str, Callable[[Genuine], str]] = {
    **{f"alg-{alg}": alg_none(alg) for alg in ("none", "None", "NONE", "nOnE")},
    "empty-signature": empty_signature,
    "signature-from-another-key": lambda g: attacker_signed(g, kid=g.header["kid"]),
    "hs256-key-confusion-with-public-key": hs256_with_public_key,
    "embedded-jwk-header": embedded_jwk,
    "jku-pointing-elsewhere": lambda g: attacker_signed(g, kid="attacker", jku="http://127.0.0.1:9/jwks.json"),
    "x5u-pointing-elsewhere": lambda g: attacker_signed(g, kid="attacker", x5u="http://127.0.0.1:9/cert.pem"),
    "jku-on-a-genuine-signature": lambda g: g.resign(jku="http://127.0.0.1:9/jwks.json"),
    "kid-unknown": lambda g: g.resign(kid="no-such-key"),
    "kid-empty": lambda g: g.resign(kid=""),
    "kid-path-traversal": lambda g: g.resign(kid="../../dev/null"),
    "kid-sql-injection": lambda g: g.resign(kid="' UNION SELECT 'secret' --"),
    "kid-shell-injection": lambda g: g.resign(kid="$(touch /tmp/pwned); `id`"),
    "tampered-payload-original-signature": tampered_payload,
    "expired": lambda g: g.resign(g.fresh_claims(iat=int(time.time()) - 900, exp=int(time.time()) - 120)),
    "nbf-in-the-future": lambda g: g.resign(g.fresh_claims(nbf=int(time.time()) + 600)),
    "iat-in-the-future-beyond-leeway": lambda g: g.resign(g.fresh_claims(iat=int(time.time()) + 600)),
    "wrong-issuer": lambda g: g.resign(g.fresh_claims(iss="https://evil.example")),
    "wrong-audience-made-up": lambda g: g.resign(g.fresh_claims(aud=["payments_service"])),
    "typ-jwt": lambda g: g.resign(typ="JWT"),
    "typ-refresh": lambda g: g.resign(typ="refresh+jwt"),
    "refresh-token-as-access-token": lambda g: g.refresh,
    **{
        f"missing-claim-{claim}": missing_claim(claim)
        for claim in ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id")
    },
    "sub-as-number": lambda g: g.resign(g.fresh_claims(sub=12345)),
    "exp-as-string": lambda g: g.resign(g.fresh_claims(exp=str(int(time.time()) + 300))),
    "roles-as-string": lambda g: g.resign(g.fresh_claims(roles="admin")),
    "non-base64-header": other_segments("!!!not-base64!!!", ""),
    "non-json-header": other_segments(b64(b"not json at all"), ""),
    "non-json-payload": other_segments("", b64(b"\xff\xfe binary")),
    "header-is-a-json-list": other_segments(b64json(["RS256"]), ""),
    "two-segments-only": lambda g: ".".join(g.access.split(".")[:2]),
    "hundred-kilobyte-token": lambda g: g.access + "A" * 100_000,
}


@pytest.fixture(scope="module")
def genuine(stack: Stack) -> Genuine:
    client = Client(stack)
    _user, tokens = client.new_user()
    users_only = requests.post(
        f"{stack.auth}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": stack.client_secret,
            "scope": "users:read",
        },
        timeout=10,
    ).json()["access_token"]
    return Genuine(
        stack=stack,
        access=tokens["access_token"],
        refresh=tokens["refresh_token"],
        users_only=users_only,
        claims=jwt.decode(tokens["access_token"], options={"verify_signature": False}),
        header=jwt.get_unverified_header(tokens["access_token"]),
        jwks=requests.get(f"{stack.auth}/.well-known/jwks.json", timeout=10).json(),
    )


def url_of(stack: Stack, service: str) -> str:
    base = stack.users if service == "users_service" else stack.orders
    return base + TARGETS[service]


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 401, response.text[:300]
    assert response.json()["error"] in {"invalid_token", "token_expired", "token_revoked", "missing_token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_the_genuine_token_is_accepted(genuine: Genuine, stack: Stack) -> None:
    """The control case: without it, every 401 below could be an accident."""
    for service in TARGETS:
        assert requests.get(url_of(stack, service), headers={"Authorization": f"Bearer {genuine.access}"}).ok
    assert requests.get(url_of(stack, "users_service"), headers={"Authorization": f"Bearer {genuine.resign()}"}).ok


@pytest.mark.parametrize("service", list(TARGETS))
@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_forged_token_is_refused(genuine: Genuine, stack: Stack, attack: str, service: str) -> None:
    token = ATTACKS[attack](genuine)
    assert_refused(requests.get(url_of(stack, service), headers={"Authorization": f"Bearer {token}"}, timeout=10))


# The endpoints of auth_service that take a token: its own (the session list), and the
# OAuth ones that judge a token for a client (introspection, exchange as a subject).
#: A genuine refresh token is active at introspection: that one "attack" is a real token.
GENUINE_AT_INTROSPECTION = {"refresh-token-as-access-token"}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_forged_token_is_refused_at_the_session_list(genuine: Genuine, stack: Stack, attack: str) -> None:
    token = ATTACKS[attack](genuine)
    assert_refused(requests.get(f"{stack.auth}/auth/sessions", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("attack", sorted(set(ATTACKS) - GENUINE_AT_INTROSPECTION))
def test_forged_token_is_never_active_at_introspection(genuine: Genuine, stack: Stack, attack: str) -> None:
    response = requests.post(
        f"{stack.auth}/oauth/introspect",
        data={"token": ATTACKS[attack](genuine)},
        auth=(CLIENT_ID, stack.client_secret),
        timeout=10,
    )
    # A body beyond the size limit never reaches the check: 413, which says nothing either.
    assert response.status_code == 413 or response.json() == {"active": False}, response.text[:300]


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_forged_token_is_never_exchanged(genuine: Genuine, stack: Stack, attack: str) -> None:
    response = requests.post(
        f"{stack.auth}/auth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": ATTACKS[attack](genuine),
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "audience": "users_service",
        },
        auth=("orders_service", stack.service_environment("orders_service")["ORDERS_SERVICE_CLIENT_SECRET"]),
        timeout=10,
    )
    assert response.status_code in (400, 413), response.text[:300]
    assert response.json()["error"] in ("invalid_grant", "payload_too_large")


def test_a_token_minted_for_users_service_is_refused_by_orders_service(genuine: Genuine, stack: Stack) -> None:
    assert jwt.decode(genuine.users_only, options={"verify_signature": False})["aud"] == ["users_service"]
    # users_service accepts it (a client has no profile: 404, not 401)...
    accepted = requests.get(url_of(stack, "users_service"), headers={"Authorization": f"Bearer {genuine.users_only}"})
    assert accepted.status_code == 404
    # ...orders_service is not in its audience.
    assert_refused(
        requests.get(url_of(stack, "orders_service"), headers={"Authorization": f"Bearer {genuine.users_only}"})
    )


def test_an_access_token_cannot_refresh(genuine: Genuine, stack: Stack) -> None:
    assert_refused(requests.post(f"{stack.auth}/auth/refresh", headers={"Authorization": f"Bearer {genuine.access}"}))


HEADER_ATTACKS = {
    "bearer-without-token": "Bearer",
    "bearer-with-spaces-only": "Bearer    ",
    "basic-scheme": "Basic " + b64(b"admin:admin"),
    "token-scheme": "Token abc.def.ghi",
    "token-without-scheme": "eyJhbGciOiJub25lIn0.e30.",
}


@pytest.mark.parametrize("service", list(TARGETS))
@pytest.mark.parametrize("header", list(HEADER_ATTACKS.values()), ids=list(HEADER_ATTACKS))
def test_malformed_authorization_headers_are_refused(stack: Stack, service: str, header: str) -> None:
    assert_refused(requests.get(url_of(stack, service), headers={"Authorization": header}, timeout=10))


@pytest.mark.parametrize("service", list(TARGETS))
def test_duplicate_authorization_headers_are_refused(genuine: Genuine, stack: Stack, service: str) -> None:
    url = urlsplit(url_of(stack, service))
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.putrequest("GET", url.path)
    connection.putheader("Authorization", f"Bearer {genuine.access}")
    connection.putheader("Authorization", f"Bearer {genuine.access}")
    connection.endheaders()
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 401
    assert body["error"] == "invalid_token"
