"""Key rotation without downtime, on the running stack, with the operator's commands."""

from __future__ import annotations

import threading
import time

import jwt
import requests

from tests.e2e.client import Client
from tests.e2e.stacks import KEY_TIMINGS, Stack
from tests.support import eventually


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


class Caller(threading.Thread):
    """A client that keeps calling users and orders with its tokens while keys change."""

    def __init__(self, client: Client, tokens: list[str]):
        super().__init__(daemon=True)
        self.client, self.tokens = client, tokens
        self.calls, self.failures = 0, []
        self.halt = threading.Event()

    def run(self) -> None:
        http = requests.Session()
        while not self.halt.is_set():
            for token in list(self.tokens):
                for url in (f"{self.client.stack.users}/users/me", f"{self.client.stack.orders}/orders"):
                    response = http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    self.calls += 1
                    if response.status_code != 200:
                        self.failures.append((kid_of(token), url, response.status_code, response.text[:200]))
            time.sleep(0.02)


def test_rotation_then_retirement(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    old_token, old_kid = tokens["access_token"], kid_of(tokens["access_token"])
    caller = Caller(client, [old_token])
    caller.start()
    try:
        stack.auth_cli(["keys", "rotate"])
        states = {key["kid"]: key["state"] for key in stack.keys()}
        new_kid = next(kid for kid, state in states.items() if state == "pending")
        assert states[old_kid] == "active"
        # The new key is in the JWKS before it signs anything.
        jwks = requests.get(f"{stack.auth}/.well-known/jwks.json", timeout=10).json()
        assert new_kid in {key["kid"] for key in jwks["keys"]}

        time.sleep(KEY_TIMINGS["KEY_ACTIVATION_DELAY_SECONDS"] + 0.5)
        new_token = client.login(user["username"])["access_token"]
        assert kid_of(new_token) == new_kid
        caller.tokens.append(new_token)
        time.sleep(3)  # both generations of tokens in use at once
    finally:
        caller.halt.set()
        caller.join(timeout=30)
    assert caller.calls > 50
    assert caller.failures == []

    # Retiring the old key early needs --force; its tokens then stop verifying everywhere.
    assert {key["kid"]: key["state"] for key in stack.keys()}[old_kid] == "previous"
    stack.auth_cli(["keys", "retire", old_kid, "--force"])
    assert old_kid not in {
        k["kid"] for k in requests.get(f"{stack.auth}/.well-known/jwks.json", timeout=10).json()["keys"]
    }
    drop_within = KEY_TIMINGS["JWKS_MAX_AGE_SECONDS"] + KEY_TIMINGS["JWKS_REFETCH_COOLDOWN_SECONDS"] + 10
    assert eventually(lambda: client.me(old_token).status_code == 401, drop_within)
    assert eventually(lambda: client.orders(old_token).status_code == 401, drop_within)
    assert client.me(new_token).status_code == 200 and client.orders(new_token).status_code == 200
