"""The key directory: which key signs, through rotations and a change of algorithm."""

from __future__ import annotations

from pathlib import Path

import pytest

from auth_service.keystore import KeyStore, KeyStoreError


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
