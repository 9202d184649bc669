"""Argon2id password hashing (argon2-cffi's defaults follow RFC 9106) and what it may cost."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from secure_service import UpstreamUnavailable

#: zxcvbn's "safely unguessable" score (0-4); below it are the passwords of its common and
#: breached-password lists, keyboard walks, repeats and sequences.
MIN_PASSWORD_SCORE = 3
ZXCVBN_MAX_LENGTH = 72

_hasher = PasswordHasher()
# Verified when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("no user has this password, it only equalises timing")


def hash_password(password: str) -> str:
    """A salted Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an unknown user (None) costs the same and fails."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def password_weakness(password: str, *, user_inputs: list[str]) -> str | None:
    """Why ``password`` is refused for a new account (common, breached, guessable), or None."""
    if len(set(password)) == 1:
        return "A password of one repeated character is refused."
    # zxcvbn refuses input over 72 characters; a password is at least as strong as its start.
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=user_inputs)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"].get("warning") or "This password is too easy to guess."
    return f"{warning.rstrip('.')}. Choose a longer, less common password (a few unrelated words work)."


class HashingSlots:
    """At most ``slots`` sign-ups hash at once, across every worker of the service.

    An Argon2id hash costs about 200 ms of CPU and 64 MiB; without a bound, unauthenticated
    sign-ups can occupy every worker while logins wait for the credential check. A sign-up
    that finds no free slot is refused at once (503 + Retry-After) rather than queued.
    Created in create_app, before gunicorn forks its workers (preload_app), so they share
    the one semaphore.
    """

    def __init__(self, slots: int):
        self._semaphore = multiprocessing.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._semaphore.acquire(block=False):
            raise UpstreamUnavailable("Too many sign-ups at once; retry shortly.")
        try:
            yield
        finally:
            self._semaphore.release()
