"""The verifier enforces every rule of the README's "What a request must pass" (one test family per rule)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import jwt
import pytest
import redis
from apiflask import APIFlask
from cryptography.hazmat.primitives import serialization
from flask.testing import FlaskClient
from flask_jwt_extended import jwt_required

from auth_service.sessions import Sessions
from secure_service import InvalidToken, redis_client, verifier_state
from secure_service.settings import MAX_ACCESS_TOKEN_TTL_SECONDS, MAX_REFRESH_TOKEN_TTL_SECONDS
from tests.support import free_port
from tests.unit.shared.tokens import DROP, SERVICE, KeyRing, Minter, make_resource_app, standard_claims


def get(client: FlaskClient, token: str | None = None, header: str | None = None, path: str = "/protected") -> Any:
    headers = {}
    if header is not None:
        headers["Authorization"] = header
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def assert_invalid_token(response: Any) -> None:
    assert response.status_code == 401
    assert response.json["error"] in {"invalid_token", "token_expired", "token_revoked"}
    assert set(response.json) == {"error", "message"}
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="users_service"')
    assert 'error="invalid_token"' in challenge


def test_a_valid_token_is_accepted(client: FlaskClient, mint: Minter) -> None:
    response = get(client, mint())
    assert response.status_code == 200
    assert response.json == {"sub": "user-1"}


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_es256_and_eddsa_keys_are_selectable(redis_url: str, mint: Minter, keyring: KeyRing, algorithm: str) -> None:
    kid = keyring.add(algorithm)
    client = make_resource_app(redis_url, keyring, JWT_ALGORITHMS="RS256 ES256 EdDSA").test_client()
    assert get(client, mint(kid=kid)).status_code == 200


# --- rule 1: the Authorization header -------------------------------------------------


def test_no_credentials_get_a_bare_challenge(client: FlaskClient) -> None:
    response = get(client)
    assert response.status_code == 401
    assert response.json["error"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="users_service"'


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_scheme_is_case_insensitive(client: FlaskClient, mint: Minter, scheme: str) -> None:
    assert get(client, header=f"{scheme} {mint()}").status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "Digest x=y"])
def test_other_schemes_are_no_bearer_credentials(client: FlaskClient, header: str) -> None:
    response = get(client, header=header)
    assert response.status_code == 401
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_two_tokens_in_one_header_are_refused(client: FlaskClient, mint: Minter) -> None:
    token = mint()
    response = get(client, header=f"Bearer {token}, Bearer {token}")
    assert_invalid_token(response)
    assert "Exactly one" in response.json["message"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer <script>", "Bearer\ttoken"])
def test_malformed_bearer_headers_are_invalid_tokens(client: FlaskClient, header: str) -> None:
    assert_invalid_token(get(client, header=header))


# --- rule 2: the header alg and kid ---------------------------------------------------


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}.{signature}"


def test_a_header_outside_strict_base64url_is_refused(client: FlaskClient, mint: Minter) -> None:
    # The quick header parse that picks the key skips the '~'; PyJWT's strict parse must not.
    header, payload, signature = mint().split(".")
    assert get(client, f"{header[:8]}~{header[8:]}.{payload}.{signature}").status_code == 401


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("~~~~", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"[1, 2]").decode(), id="not-an-object"),
        pytest.param(base64.urlsafe_b64encode(b"[" * 5000).decode(), id="deeply-nested"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not-utf8"),
    ],
)
def test_an_unreadable_header_is_an_invalid_token(client: FlaskClient, mint: Minter, segment: str) -> None:
    _, payload, signature = mint().split(".")
    assert_invalid_token(get(client, f"{segment.rstrip('=')}.{payload}.{signature}"))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(client: FlaskClient, signing_kid: str, alg: str) -> None:
    token = _unsigned({"alg": alg, "kid": signing_kid, "typ": "at+jwt"}, standard_claims())
    assert_invalid_token(get(client, token))


def test_hmac_signed_with_the_public_key_is_refused(redis_url: str, keyring: KeyRing, signing_kid: str) -> None:
    # HS256 is allowed here (alone: it never shares a verifier with RS256, see
    # test_settings.py) while the issuer's JWKS still publishes its RSA key.
    client = make_resource_app(
        redis_url, keyring, JWT_ALGORITHMS="HS256", JWT_HS256_SECRET=secrets.token_urlsafe(32)
    ).test_client()
    public_pem = (
        keyring.keys[signing_kid][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": signing_kid, "typ": "at+jwt"}
    signing_input = _unsigned(header, standard_claims())[:-1].encode()
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    assert_invalid_token(get(client, signing_input.decode() + "." + signature.decode()))


def test_a_key_is_only_used_with_its_own_algorithm(
    client: FlaskClient, mint: Minter, keyring: KeyRing, signing_kid: str
) -> None:
    es_kid = keyring.add("ES256")
    rsa_key = keyring.keys[signing_kid][1]
    # A valid RS256 signature, but the header names the ES256 key.
    assert_invalid_token(get(client, mint(kid=es_kid, key=rsa_key, algorithm="RS256")))


def test_the_key_lookup_pins_the_algorithm_to_the_key(client: FlaskClient, signing_kid: str) -> None:
    state = verifier_state(client.application)  # type: ignore[arg-type]
    assert state.decode_key({"alg": "RS256", "kid": signing_kid}, {}) is not None
    with pytest.raises(InvalidToken, match="does not match"):
        state.decode_key({"alg": "ES256", "kid": signing_kid}, {})


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c"])
def test_key_reference_headers_are_never_honoured(client: FlaskClient, mint: Minter, member: str) -> None:
    value: Any = {"kty": "oct", "k": "AAAA"} if member == "jwk" else "https://attacker.test/keys"
    assert_invalid_token(get(client, mint(headers={member: value})))


@pytest.mark.parametrize("kid", ["unknown", "", "../../dev/null", "' OR 1=1 --", "$(reboot)", "x" * 300])
def test_unknown_or_hostile_kid_is_refused(client: FlaskClient, mint: Minter, kid: str) -> None:
    assert_invalid_token(get(client, mint(headers={"kid": kid})))


def test_a_token_without_kid_is_refused(client: FlaskClient, keyring: KeyRing, signing_kid: str) -> None:
    token = jwt.encode(standard_claims(), keyring.keys[signing_kid][1], algorithm="RS256", headers={"typ": "at+jwt"})
    assert_invalid_token(get(client, token))


def test_an_algorithm_outside_the_allow_list_is_refused(redis_url: str, keyring: KeyRing, mint: Minter) -> None:
    es_kid = keyring.add("ES256")
    app = make_resource_app(redis_url, keyring, JWT_ALGORITHMS="RS256")
    assert_invalid_token(get(app.test_client(), mint(kid=es_kid)))


# --- rule 3: the signature ------------------------------------------------------------


def test_a_signature_from_another_key_is_refused(
    client: FlaskClient, mint: Minter, keyring: KeyRing, signing_kid: str
) -> None:
    unpublished = keyring.add("RS256", publish=False)
    assert_invalid_token(get(client, mint(kid=signing_kid, key=keyring.keys[unpublished][1])))


def test_a_tampered_payload_is_refused(client: FlaskClient, mint: Minter) -> None:
    header, _payload, signature = mint().split(".")
    forged = _unsigned({}, standard_claims(roles=["admin"])).split(".")[1]
    assert_invalid_token(get(client, f"{header}.{forged}.{signature}"))


def test_an_empty_signature_is_refused(client: FlaskClient, mint: Minter) -> None:
    header, payload, _signature = mint().split(".")
    assert_invalid_token(get(client, f"{header}.{payload}."))


# --- rule 4: typ and claims -----------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "refresh+jwt", "", None])
def test_typ_must_be_at_jwt(client: FlaskClient, mint: Minter, typ: str | None) -> None:
    assert_invalid_token(get(client, mint(headers={"typ": typ})))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_variants_of_at_jwt_are_accepted(client: FlaskClient, mint: Minter, typ: str) -> None:
    assert get(client, mint(headers={"typ": typ})).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iss": "https://evil.test"}, id="wrong-iss"),
        pytest.param({"aud": ["orders_service"]}, id="wrong-aud"),
        pytest.param({"aud": "orders_service"}, id="wrong-aud-string"),
        pytest.param({"exp": int(time.time()) - 31}, id="expired-beyond-leeway"),
        pytest.param({"nbf": int(time.time()) + 120}, id="nbf-in-future"),
        pytest.param({"iat": int(time.time()) + 120}, id="iat-in-future"),
        pytest.param({"sub": 42}, id="sub-as-number"),
        pytest.param({"exp": str(int(time.time()) + 300)}, id="exp-as-string"),
        pytest.param({"exp": True}, id="exp-as-bool"),
        pytest.param({"roles": "admin"}, id="roles-as-string"),
        pytest.param({"roles": [1]}, id="roles-of-numbers"),
        pytest.param({"scope": ["users:read"]}, id="scope-as-list"),
        pytest.param({"sub": ""}, id="empty-sub"),
    ],
)
def test_bad_claims_are_refused(client: FlaskClient, mint: Minter, overrides: dict[str, Any]) -> None:
    assert_invalid_token(get(client, mint(standard_claims(**overrides))))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id"])
def test_every_required_claim_must_be_present(client: FlaskClient, mint: Minter, claim: str) -> None:
    assert_invalid_token(get(client, mint(standard_claims(**{claim: DROP}))))


def test_an_expired_token_says_so(client: FlaskClient, mint: Minter) -> None:
    response = get(client, mint(standard_claims(exp=int(time.time()) - 60)))
    assert_invalid_token(response)
    assert response.json["error"] == "token_expired"


def test_expiry_within_the_leeway_is_tolerated(client: FlaskClient, mint: Minter) -> None:
    assert get(client, mint(standard_claims(exp=int(time.time()) - 5))).status_code == 200


def test_no_access_token_lives_longer_than_one_can_be_issued_for(client: FlaskClient, mint: Minter) -> None:
    # A leaked key or a misconfigured issuer could mint a token that lives a year.
    now = int(time.time())
    longest = standard_claims(iat=now, nbf=now, exp=now + MAX_ACCESS_TOKEN_TTL_SECONDS)
    assert get(client, mint(longest)).status_code == 200
    for lifetime in (MAX_ACCESS_TOKEN_TTL_SECONDS + 1, 365 * 86400):
        response = get(client, mint(standard_claims(iat=now, nbf=now, exp=now + lifetime)))
        assert_invalid_token(response)
        assert "lifetime" in response.json["message"]


def test_a_refresh_token_lives_at_most_the_longest_session(resource: APIFlask, mint: Minter) -> None:
    now = int(time.time())
    state = verifier_state(resource)

    def refresh_token(lifetime: int) -> str:
        claims = standard_claims(aud=[SERVICE], iat=now, nbf=now, exp=now + lifetime, scope=DROP, roles=DROP)
        return mint(claims, headers={"typ": "refresh+jwt"})

    assert state.verify(refresh_token(MAX_REFRESH_TOKEN_TTL_SECONDS), kind="refresh")["sub"] == "user-1"
    with pytest.raises(InvalidToken, match="lifetime"):
        state.verify(refresh_token(MAX_REFRESH_TOKEN_TTL_SECONDS + 1), kind="refresh")


# --- what a refusal says ----------------------------------------------------------------

#: Attacker-chosen text, placed where the token library would quote it in its errors.
MARKER = "attacker-text-7f3a"


def _library_refusals(mint: Minter, signing_kid: str) -> dict[str, str]:
    """Tokens that PyJWT itself refuses, by the reason the verifier gives."""
    header, payload, signature = mint().split(".")
    rs256 = {"alg": "RS256", "kid": signing_kid, "typ": "at+jwt"}

    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    not_utf8 = segment(MARKER.encode() + b"\xff")
    return {
        "crit-unsigned": _unsigned({**rs256, "crit": [MARKER]}, standard_claims(), signature),
        "crit-not-a-list": _unsigned({**rs256, "crit": MARKER}, standard_claims(), signature),
        "payload-not-utf8": f"{header}.{not_utf8}.{signature}",
        "payload-not-json": f"{header}.{segment(MARKER.encode())}.{signature}",
        "signature-bad-padding": f"{header}.{payload}.A",
        "audience": mint(standard_claims(aud=[MARKER])),
        "issuer": mint(standard_claims(iss=MARKER)),
    }


def assert_in_our_words(response: Any, name: str) -> None:
    """A refusal that quotes neither the token nor the token library."""
    assert_invalid_token(response)
    for where in (response.get_data(as_text=True), response.headers["WWW-Authenticate"]):
        assert MARKER not in where, name
        for library_phrase in ("critical extension", "crit", "codec", "Invalid payload", "padding", "doesn't match"):
            assert library_phrase not in where, (name, library_phrase)


def test_no_text_of_the_token_library_reaches_the_client(client: FlaskClient, mint: Minter, signing_kid: str) -> None:
    for name, token in _library_refusals(mint, signing_kid).items():
        assert_in_our_words(get(client, token), name)


def test_one_reason_one_message(client: FlaskClient, mint: Minter, signing_kid: str) -> None:
    message = {name: get(client, token).json["message"] for name, token in _library_refusals(mint, signing_kid).items()}
    assert message["crit-unsigned"] == message["crit-not-a-list"]
    assert message["payload-not-utf8"] == message["payload-not-json"]  # signed over another payload
    assert "audience" in message["audience"] and "issuer" in message["issuer"]


# --- rule 5: revocation ---------------------------------------------------------------


def _revocation(client: FlaskClient) -> Sessions:
    """auth_service's writer, on the Redis this verifier reads (as in production)."""
    redis_url = verifier_state(client.application).settings.redis_url
    return Sessions(redis_client(redis_url), max_token_lifetime_seconds=MAX_REFRESH_TOKEN_TTL_SECONDS)


def test_a_revoked_token_is_refused(client: FlaskClient, mint: Minter) -> None:
    claims = standard_claims()
    token = mint(claims)
    assert get(client, token).status_code == 200
    _revocation(client).revoke_session(jti=claims["jti"], expires_at=claims["exp"], sids=[])
    response = get(client, token)
    assert_invalid_token(response)
    assert response.json["error"] == "token_revoked"


def test_a_revoked_session_refuses_its_other_tokens(client: FlaskClient, mint: Minter) -> None:
    first, second = standard_claims(sid="session-a"), standard_claims(sid="session-a")
    other_session = standard_claims(sid="session-b")
    _revocation(client).revoke_session(jti=first["jti"], expires_at=first["exp"], sids=["session-a"])
    assert_invalid_token(get(client, mint(second)))
    assert get(client, mint(other_session)).status_code == 200


def test_user_not_before_refuses_earlier_tokens_only(client: FlaskClient, mint: Minter) -> None:
    now = time.time()
    earlier = standard_claims(sub="user-nb", iat=int(now))
    not_before = _revocation(client).revoke_user("user-nb", now=now)
    assert_invalid_token(get(client, mint(earlier)))
    later = standard_claims(sub="user-nb", iat=not_before, nbf=not_before)
    assert get(client, mint(later)).status_code == 200


def test_redis_down_fails_closed_with_503(keyring: KeyRing, mint: Minter) -> None:
    app = make_resource_app(f"redis://127.0.0.1:{free_port()}/0", keyring)
    response = get(app.test_client(), mint())
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_revocation_is_one_redis_round_trip_without_the_cache(keyring: KeyRing, mint: Minter, redis_url: str) -> None:
    client = make_resource_app(redis_url, keyring, REVOCATION_CACHE_ENTRIES="0").test_client()
    admin = redis.Redis.from_url(redis_url)
    token = mint()
    get(client, token)  # warm the JWKS cache and the connection
    before = admin.info("commandstats")
    assert get(client, token).status_code == 200
    after = admin.info("commandstats")
    calls = {k: after[k]["calls"] - before.get(k, {"calls": 0})["calls"] for k in after}
    data_commands = {k: v for k, v in calls.items() if v and k not in ("cmdstat_info",)}
    assert data_commands == {"cmdstat_mget": 1}


# --- scopes and roles -----------------------------------------------------------------


def test_a_missing_scope_is_403_insufficient_scope(client: FlaskClient, mint: Minter) -> None:
    response = get(client, mint(standard_claims(scope="orders:read")))
    assert response.status_code == 403
    assert response.json["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_a_missing_role_is_403(client: FlaskClient, mint: Minter) -> None:
    assert get(client, mint(), path="/admin").status_code == 403
    assert get(client, mint(standard_claims(roles=["admin", "user"])), path="/admin").status_code == 200


def test_no_token_ever_appears_in_a_response(client: FlaskClient, mint: Minter) -> None:
    header, payload, signature = mint().split(".")
    bad_tokens = [
        mint(standard_claims(exp=int(time.time()) - 60)),
        f"{header}.{payload}.{signature[::-1]}",
        f"{header}.{payload[:-4]}.{signature}",
        f"{header[:-2]}.{payload}.{signature}",
        mint(standard_claims(aud=["elsewhere"])),
    ]
    for token in bad_tokens:
        response = get(client, token)
        assert response.status_code == 401
        for part in token.split("."):
            assert part not in response.get_data(as_text=True)
            assert part not in str(response.headers)


# --- verified tokens remembered per worker ----------------------------------------------


class CountingDecode:
    """Counts full verifications (PyJWT's decode_complete) while passing them through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = jwt.decode_complete

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr("secure_service.verifier.jwt.decode_complete", counting)


def test_a_repeated_token_is_verified_in_full_once(
    client: FlaskClient, mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = CountingDecode(monkeypatch)
    token = mint()
    assert [get(client, token).status_code for _ in range(3)] == [200, 200, 200]
    assert decodes.calls == 1


def test_a_token_past_its_exp_is_verified_in_full_every_time(
    client: FlaskClient, mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = CountingDecode(monkeypatch)
    token = mint(standard_claims(exp=int(time.time()) - 2))  # expired, but inside the leeway
    assert [get(client, token).status_code for _ in range(2)] == [200, 200]
    assert decodes.calls == 2


def test_a_remembered_token_dies_with_its_key(
    resource: APIFlask, client: FlaskClient, mint: Minter, keyring: KeyRing, signing_kid: str
) -> None:
    token = mint()
    assert get(client, token).status_code == 200
    keyring.add()  # rotated...
    keyring.published.remove(signing_kid)  # ...and retired at the issuer
    verifier_state(resource).keys.refresh(force=True)
    assert_invalid_token(get(client, token))


def test_a_remembered_token_is_still_checked_for_revocation(client: FlaskClient, mint: Minter) -> None:
    claims = standard_claims()
    token = mint(claims)
    assert get(client, token).status_code == 200
    _revocation(client).revoke_session(jti=claims["jti"], expires_at=claims["exp"], sids=[])
    assert_invalid_token(get(client, token))


def test_a_remembered_refresh_token_is_still_no_access_token(resource: APIFlask, mint: Minter) -> None:
    token = mint(standard_claims(aud=[SERVICE], scope=DROP, roles=DROP), headers={"typ": "refresh+jwt"})
    assert verifier_state(resource).verify(token, kind="refresh")["sub"] == "user-1"  # now remembered
    client = resource.test_client()
    assert_invalid_token(get(client, token))
    assert_invalid_token(get(client, token))


# --- the token kind: the typ header and the audience, never a claim ---------------------


def test_a_refresh_token_is_told_by_its_typ_and_audience(resource: APIFlask, mint: Minter) -> None:
    state = verifier_state(resource)
    refresh_claims = standard_claims(aud=[SERVICE], scope=DROP, roles=DROP)
    assert state.verify(mint(refresh_claims, headers={"typ": "refresh+jwt"}), kind="refresh")
    with pytest.raises(InvalidToken):  # an access token is no refresh token, whatever it claims
        state.verify(mint(standard_claims(type="refresh")), kind="refresh")
    with pytest.raises(InvalidToken):  # a refresh token is for its issuer alone
        state.verify(mint(standard_claims(scope=DROP, roles=DROP), headers={"typ": "refresh+jwt"}), kind="refresh")


def test_flask_jwt_extended_jwt_required_refuses_a_refresh_token(resource: APIFlask, mint: Minter) -> None:
    # FJE takes a token without a `type` claim for an access token; the claim rules, run as
    # its token_verification_loader, are what refuse a refresh token there.
    @resource.get("/fje")
    @jwt_required()
    def fje_protected() -> dict[str, Any]:
        return {"ok": True}

    client = resource.test_client()
    assert get(client, mint(), path="/fje").status_code == 200
    refresh = mint(standard_claims(aud=[SERVICE], scope=DROP, roles=DROP), headers={"typ": "refresh+jwt"})
    assert_invalid_token(get(client, refresh, path="/fje"))


def test_flask_jwt_extended_refusals_take_the_shared_shape_and_our_words(
    resource: APIFlask, mint: Minter, signing_kid: str
) -> None:
    # FJE's own handlers answer 422 {"msg"|"message": <PyJWT's text>}; the verifier owns them.
    @resource.get("/fje")
    @jwt_required()
    def fje_protected() -> dict[str, Any]:
        return {"ok": True}

    client = resource.test_client()
    for name, token in _library_refusals(mint, signing_kid).items():
        assert_in_our_words(get(client, token, path="/fje"), name)
    expired = get(client, mint(standard_claims(exp=int(time.time()) - 60)), path="/fje")
    assert_invalid_token(expired)
    assert expired.json["error"] == "token_expired"
    missing = get(client, path="/fje")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="users_service"'
