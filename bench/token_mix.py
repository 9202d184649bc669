"""The token mix: many users with data of their own, each holding many genuine sessions.

Users sign up through the real ``POST /users`` (their ids come from its answers) and
place a few orders through the real ``POST /orders``. Their sessions are minted by
auth_service's own code, built in this process against the running stack's keys and
Redis: ``TokenIssuer.new_session``, what ``/auth/login`` runs once the password has
been checked. Each session is recorded in Redis as a login's is, so the tokens are
genuine in every respect; only the Argon2 check (about 126 ms, by design) is skipped,
which would make 20 000 logins take most of an hour.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

from auth_service import create_app as create_auth_app
from auth_service.state import auth_state
from auth_service.tokens import User
from bench.flows import PASSWORD, TIMEOUT_SECONDS
from tests.support import bearer

#: Parallel orders: each gunicorn worker of orders_service busy, no more. Sign-ups go one
#: at a time: users_service hashes one password at a time (SIGNUP_HASH_CONCURRENCY) and
#: refuses a second sign-up meanwhile with a 503.
CLIENTS = 2


@dataclass(frozen=True)
class TokenMix:
    """A file of access tokens, one per line, and what they are."""

    path: Path
    tokens: int
    distinct: int  # different lines in the file: must equal ``tokens``
    users: int
    orders_per_user: int
    mint_seconds: float
    #: The earliest ``exp`` in the file (Unix time): every figure must be measured before it.
    expires_at: float

    def lines(self) -> list[str]:
        return self.path.read_text().split()

    def seconds_left(self) -> float:
        return self.expires_at - time.time()


def create_users(users_url: str, count: int) -> list[User]:
    """``count`` users signed up through ``POST /users``, as its answers describe them."""

    def sign_up(_number: int) -> User:
        username = f"mix-{uuid.uuid4().hex[:12]}"
        response = requests.post(
            f"{users_url}/users", json={"username": username, "password": PASSWORD}, timeout=TIMEOUT_SECONDS
        )
        response.raise_for_status()
        return User.from_json(response.json())

    return [sign_up(number) for number in range(count)]


class Minter:
    """auth_service's issuer, built in this process against the running stack."""

    def __init__(self, config: dict[str, Any]):
        self.app = create_auth_app(config)

    def access_tokens(self, users: Sequence[User], per_user: int) -> list[str]:
        """``per_user`` new sessions of each user (interleaved), their access tokens."""
        with self.app.app_context():
            issuer = auth_state(self.app).issuer
            return [issuer.new_session(user).access_token for _ in range(per_user) for user in users]


def place_orders(orders_url: str, tokens: Sequence[tuple[User, str]], orders_per_user: int) -> None:
    """``orders_per_user`` orders for each user, through ``POST /orders`` with that user's token."""

    def place(entry: tuple[User, str]) -> None:
        user, token = entry
        for number in range(orders_per_user):
            response = requests.post(
                f"{orders_url}/orders",
                headers=bearer(token),
                json={"item": f"bench-{user.username}-{number}", "quantity": number + 1},
                timeout=TIMEOUT_SECONDS,
            )
            if response.status_code != 201:
                raise RuntimeError(f"POST /orders answered {response.status_code}: {response.text[:200]}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(place, tokens))


def mint_mix(
    minter: Minter,
    users: Sequence[User],
    per_user: int,
    path: Path,
    *,
    orders_per_user: int,
    say: Callable[[str], None],
) -> TokenMix:
    """``per_user`` tokens for each of ``users`` into ``path``, one per line."""
    start = time.perf_counter()
    tokens = minter.access_tokens(users, per_user)
    seconds = time.perf_counter() - start
    path.write_text("\n".join(tokens) + "\n")
    each = seconds / len(tokens) * 1e3
    say(f"minted {len(tokens)} tokens for {len(users)} users in {seconds:.1f}s ({each:.2f} ms each)")
    earliest = min(int(jwt.decode(t, options={"verify_signature": False})["exp"]) for t in tokens)
    return TokenMix(
        path=path,
        tokens=len(tokens),
        distinct=len(set(tokens)),
        users=len(users),
        orders_per_user=orders_per_user,
        mint_seconds=seconds,
        expires_at=earliest,
    )
