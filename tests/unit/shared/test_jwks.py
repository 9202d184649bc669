"""The JWKS cache: refetch on unknown kid with a cool-down, keep keys while the issuer is down."""

from __future__ import annotations

from typing import Any

import pytest

from secure_service.jwks import KeyCache, parse_jwks
from tests.unit.shared.tokens import KeyRing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_for(keyring: KeyRing, clock: Clock, **kwargs: Any) -> KeyCache:
    options = {"cooldown_seconds": 10, "max_age_seconds": 300, **kwargs}
    # Background refreshes run inline here, so each test sees their effect at once.
    return KeyCache(keyring.jwks, ("RS256", "ES256"), clock=clock, in_background=lambda work: work(), **options)


def test_keys_are_fetched_once_and_served_from_memory(keyring: KeyRing, clock: Clock) -> None:
    kid = keyring.add()
    cache = cache_for(keyring, clock)
    assert cache.get(kid) is not None
    assert cache.get(kid) is not None
    assert keyring.fetches == 1


def test_an_unknown_kid_refetches_at_most_once_per_cooldown(keyring: KeyRing, clock: Clock) -> None:
    keyring.add()
    cache = cache_for(keyring, clock)
    cache.get("first-unknown")
    for _ in range(50):
        assert cache.get("forged-kid") is None
    assert keyring.fetches == 1
    clock.now += 11
    cache.get("forged-kid")
    assert keyring.fetches == 2


def test_a_new_key_is_picked_up_by_refetch(keyring: KeyRing, clock: Clock) -> None:
    keyring.add()
    cache = cache_for(keyring, clock)
    cache.get("anything")
    clock.now += 11
    rotated = keyring.add()
    assert cache.get(rotated) is not None


def test_cached_keys_survive_the_issuer_going_down(keyring: KeyRing, clock: Clock) -> None:
    kid = keyring.add()
    cache = cache_for(keyring, clock)
    assert cache.get(kid) is not None
    keyring.down = True
    clock.now += 3600  # stale: a refetch is attempted and fails
    assert cache.get(kid) is not None
    assert cache.has_keys()


def test_the_cache_refreshes_by_age_without_making_the_request_wait(keyring: KeyRing, clock: Clock) -> None:
    kid = keyring.add()
    deferred: list[object] = []
    cache = KeyCache(
        keyring.jwks, ("RS256",), cooldown_seconds=10, max_age_seconds=300, clock=clock, in_background=deferred.append
    )
    assert cache.get(kid) is not None
    keyring.add()  # rotated...
    keyring.published.remove(kid)  # ...and retired at the issuer
    clock.now += 301
    assert cache.get(kid) is not None  # the stale key still answers this request...
    assert len(deferred) == 1 and keyring.fetches == 1  # ...while a refresh is scheduled, once
    assert cache.get(kid) is not None and len(deferred) == 1
    deferred.pop()()  # type: ignore[operator]
    assert cache.get(kid) is None  # after it, the retired key is gone


def test_parse_keeps_only_allowed_public_signing_keys(keyring: KeyRing) -> None:
    rs, es, ed = keyring.add("RS256"), keyring.add("ES256"), keyring.add("EdDSA")
    document = keyring.jwks()
    document["keys"].append({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"})
    enc = dict(document["keys"][0], kid="enc", use="enc")
    private = dict(document["keys"][0], kid="leaky", d="private-exponent")
    document["keys"] += [enc, private, "not-a-dict", {"kid": 5, "alg": "RS256"}]
    keys = parse_jwks(document, ("RS256", "ES256"))
    assert set(keys) == {rs, es}
    assert keys[rs].algorithm == "RS256" and keys[es].algorithm == "ES256"
    assert ed not in keys


def test_a_document_without_keys_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_jwks({"nope": []}, ("RS256",))


def test_until_a_first_fetch_succeeds_it_retries_every_second(keyring: KeyRing, clock: Clock) -> None:
    kid = keyring.add()
    keyring.down = True  # auth_service not up yet when this service starts
    cache = cache_for(keyring, clock)
    assert cache.get(kid) is None and cache.get(kid) is None
    assert keyring.fetches == 1
    keyring.down = False
    clock.now += 1.1
    assert cache.get(kid) is not None


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"keys": []}, id="no-keys"),
        pytest.param({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"}]}, id="only-unusable"),
    ],
)
def test_a_document_without_a_usable_key_keeps_the_cached_keys(
    keyring: KeyRing, clock: Clock, caplog: pytest.LogCaptureFixture, document: dict[str, Any]
) -> None:
    kid = keyring.add()
    good = keyring.jwks()
    served = [good]
    cache = KeyCache(lambda: served[-1], ("RS256",), cooldown_seconds=10, max_age_seconds=300, clock=clock)
    assert cache.get(kid) is not None
    served.append(document)  # auth_service misconfigured, or a proxy answering for it
    clock.now += 11
    with caplog.at_level("WARNING", logger="secure_service.jwks"):
        assert cache.refresh(force=True)
    assert cache.get(kid) is not None
    assert cache.kids() == [kid]
    assert "no usable key" in caplog.text
