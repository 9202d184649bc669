"""Property tests: whatever an attacker sends, the verifier answers only with its own errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from apiflask import APIFlask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_service import AuthError, authenticate
from tests.unit.shared.tokens import KeyRing

HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
CLAIM_NAMES = st.sampled_from(["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id", "sid"])
CLAIMS = st.dictionaries(CLAIM_NAMES | st.text(max_size=8), JSON_VALUES, max_size=12)
HEADERS = st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jku", "crit"]) | st.text(max_size=8), JSON_VALUES)
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def outcome(app: APIFlask, authorization: str) -> str:
    """'accepted', or the AuthError subclass the verifier raised; anything else propagates."""
    with app.test_request_context(headers={"Authorization": authorization}):
        try:
            authenticate()
        except AuthError as e:
            return type(e).__name__
    return "accepted"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@PROPERTY_SETTINGS
@given(text=HEADER_TEXT)
def test_any_authorization_header_raises_only_auth_errors(resource: APIFlask, text: str) -> None:
    assert outcome(resource, text) != "accepted"
    assert outcome(resource, "Bearer " + text) != "accepted"


@PROPERTY_SETTINGS
@given(header=HEADERS, claims=CLAIMS, signature=st.binary(max_size=300))
def test_arbitrary_unsigned_tokens_raise_only_auth_errors(
    resource: APIFlask, header: dict[str, Any], claims: dict[str, Any], signature: bytes
) -> None:
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"
    assert outcome(resource, f"Bearer {token}") != "accepted"


@PROPERTY_SETTINGS
@given(header=HEADERS, claims=CLAIMS)
def test_validly_signed_tokens_with_arbitrary_claims_raise_only_auth_errors(
    resource: APIFlask, keyring: KeyRing, signing_kid: str, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    # A genuine signature over attacker-chosen claims: only the claim checks stand in the way.
    key = keyring.keys[signing_kid][1]
    headers = {**header, "kid": signing_kid, "typ": "at+jwt"}
    headers.pop("alg", None)
    # JWS over raw bytes: PyJWT's JWT encoder would refuse some of these claims itself.
    token = jwt.api_jws.encode(json.dumps(claims).encode(), key, algorithm="RS256", headers=headers)
    assert outcome(resource, f"Bearer {token}") != "accepted"
