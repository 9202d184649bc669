"""The key directory: which key signs, through rotations and a change of algorithm."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from auth_service import create_app
from auth_service.keystore import KeyStore, KeyStoreError, SigningKey, thumbprint
from auth_service.state import auth_state
from auth_service.tokens import User
from secure_service import verifier_state
from tests.support import bearer
from tests.unit.services import Services


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def opened(directory: Path, algorithm: str, clock: Clock) -> KeyStore:
    """The key directory as a starting auth_service opens it (creating a first key if none)."""
    store = KeyStore(directory, algorithm, clock=clock)
    store.load_or_create()
    return store


def test_a_rotated_key_is_published_first_and_signs_after_the_delay(tmp_path: Path, clock: Clock) -> None:
    store = opened(tmp_path, "RS256", clock)
    first = store.active.kid
    new = store.rotate(activation_delay_seconds=60).kid
    assert store.active.kid == first
    assert {k["kid"] for k in store.public_jwks()["keys"]} == {first, new}
    clock.now += 61
    assert store.active.kid == new
    states = {info.kid: info.state for info in store.list()}
    assert states == {first: "previous", new: "active"}


def test_a_key_is_retirable_only_after_its_last_token_expired(tmp_path: Path, clock: Clock) -> None:
    store = opened(tmp_path, "RS256", clock)
    first = store.active.kid
    clock.now += 1
    store.rotate(activation_delay_seconds=0)
    with pytest.raises(KeyStoreError, match="--force"):
        store.retire(first, max_token_lifetime=3600, force=False)
    clock.now += 3601
    store.retire(first, max_token_lifetime=3600, force=False)
    assert first not in {k["kid"] for k in store.public_jwks()["keys"]}
    with pytest.raises(KeyStoreError, match="active"):
        store.retire(store.active.kid, max_token_lifetime=0, force=True)


def test_changing_the_algorithm_creates_a_key_that_signs_at_once(tmp_path: Path, clock: Clock) -> None:
    rsa_kid = opened(tmp_path, "RS256", clock).active.kid
    clock.now += 10
    es_store = opened(tmp_path, "ES256", clock)
    assert es_store.active.algorithm == "ES256"
    states = {info.kid: (info.algorithm, info.state) for info in es_store.list()}
    assert states[rsa_kid] == ("RS256", "previous")  # still published, for its tokens
    assert {k["kid"] for k in es_store.public_jwks()["keys"]} == set(states)


def test_another_processs_rotation_is_seen_without_a_restart(tmp_path: Path, clock: Clock) -> None:
    serving, operator = opened(tmp_path, "RS256", clock), opened(tmp_path, "RS256", clock)
    clock.now += 1
    new = operator.rotate(activation_delay_seconds=0).kid
    assert serving.active.kid == new


# --- a retire reaches auth_service's own verifier at once -------------------------------


def test_a_retire_by_the_cli_is_refused_by_auth_service_at_the_very_next_request(
    services: Services, tmp_path: Path
) -> None:
    app = create_app({**services.config, "KEYS_DIR": str(tmp_path)})
    leaked = auth_state(app).keys.active.kid
    with app.app_context():
        pair = auth_state(app).issuer.new_session(User("retire-me", "retire-me", ("user",), True))
        # Verified once: its key is cached, and the token itself remembered as verified.
        assert verifier_state(app).verify(pair.access_token)["sub"] == "retire-me"
    operator = KeyStore(tmp_path, "RS256")  # `flask keys …` runs in another process
    operator.rotate(activation_delay_seconds=0)
    operator.retire(leaked, max_token_lifetime=0, force=True)
    client = app.test_client()
    logout = client.post("/auth/logout", headers=bearer(pair.access_token), json={})
    assert logout.status_code == 401
    assert logout.json["message"] == "The token was signed with an unknown key."
    refresh = client.post("/auth/refresh", headers=bearer(pair.refresh_token))
    assert refresh.status_code == 401
    assert refresh.json["message"] == "The token was signed with an unknown key."


# --- kids on the command line -----------------------------------------------------------


def kid_of(private_key: ed25519.Ed25519PrivateKey) -> str:
    return thumbprint(SigningKey(kid="", algorithm="EdDSA", private_key=private_key).public_jwk())


def key_whose_kid_starts_with_a_dash() -> ed25519.Ed25519PrivateKey:
    """A thumbprint is base64url, so 1 key in 64 has a kid that starts with '-'."""
    while True:
        key = ed25519.Ed25519PrivateKey.generate()
        if kid_of(key).startswith("-"):
            return key


def test_a_new_kid_never_starts_with_a_dash(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # A command line takes such a kid for an option (`keys retire -abc…`).
    dashed = key_whose_kid_starts_with_a_dash()
    generated = iter([dashed])
    monkeypatch.setattr(
        "auth_service.keystore._generate", lambda _alg: next(generated, None) or ed25519.Ed25519PrivateKey.generate()
    )
    store = opened(tmp_path, "EdDSA", clock)
    assert not store.active.kid.startswith("-")
    assert store.active.kid != kid_of(dashed)


def plant_key(directory: Path, private_key: ed25519.Ed25519PrivateKey, activates_at: float) -> str:
    """A key as an earlier version wrote it, with whatever kid its thumbprint gave."""
    kid = kid_of(private_key)
    directory.mkdir(parents=True, exist_ok=True)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / f"{kid}.pem").write_bytes(pem)
    (directory / f"{kid}.json").write_text(json.dumps({"created_at": activates_at, "activates_at": activates_at}))
    return kid


def test_keys_retire_takes_a_kid_that_starts_with_a_dash(services: Services, tmp_path: Path) -> None:
    kid = plant_key(tmp_path, key_whose_kid_starts_with_a_dash(), activates_at=time.time() - 60)
    app = create_app(
        {**services.config, "KEYS_DIR": str(tmp_path), "JWT_SIGNING_ALG": "EdDSA", "JWT_ALGORITHMS": "EdDSA"}
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "rotate", "--now"]).exit_code == 0
    listed = runner.invoke(args=["keys", "list"]).output
    copied = next(line.split()[0] for line in listed.splitlines() if " previous " in line)
    assert copied == kid
    result = runner.invoke(args=["keys", "retire", copied, "--force"])
    assert result.exit_code == 0, result.output
    assert f"key {kid} retired" in result.output
    assert kid not in {k["kid"] for k in app.test_client().get("/.well-known/jwks.json").json["keys"]}
    # The option still works in front of the kid too.
    assert runner.invoke(args=["keys", "retire", "--force", copied]).exit_code == 1  # already gone: a clear error
