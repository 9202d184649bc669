"""Key management: ``flask --app auth_service keys list | rotate | retire KID``.

Also runs inside the container: ``docker compose exec auth_service flask --app auth_service keys rotate``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from secure_service import audit

from .keystore import KeyStore, KeyStoreError
from .settings import AuthSettings
from .state import auth_state

keys_command = AppGroup("keys", help="List, rotate and retire auth_service's signing keys.")


def _keystore() -> KeyStore:
    keys = auth_state().keys
    if not isinstance(keys, KeyStore):
        raise click.ClickException("JWT_SIGNING_ALG is HS256: there are no signing keys to manage (rotate the secret)")
    return keys


def _max_token_lifetime(settings: AuthSettings) -> int:
    # A key's last token is a refresh token issued just before the key was superseded.
    return max(settings.access_token_ttl, settings.refresh_token_ttl) + settings.verifier.leeway_seconds


def _when(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@keys_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_keys(as_json: bool) -> None:
    """Every key: active (signs), pending (published, signs soon), previous (verifies only)."""
    lifetime = _max_token_lifetime(auth_state().settings)
    infos = _keystore().list()
    if as_json:
        click.echo(json.dumps([{**asdict(i), "retirable_at": i.retirable_at(lifetime)} for i in infos]))
        return
    click.echo(f"{'kid':<45} {'alg':<6} {'state':<9} {'signs from':<21} {'retirable from'}")
    for info in infos:
        click.echo(
            f"{info.kid:<45} {info.algorithm:<6} {info.state:<9} {_when(info.activates_at):<21} "
            f"{_when(info.retirable_at(lifetime))}"
        )


@keys_command.command("rotate")
@click.option("--now", "immediately", is_flag=True, help="Sign with the new key at once (skip pre-publication).")
def rotate(immediately: bool) -> None:
    """Create a new signing key; it is published at once and signs after the activation delay."""
    settings = auth_state().settings
    delay = 0 if immediately else settings.key_activation_delay_seconds
    key = _keystore().rotate(delay)
    audit("key_rotated", kid=key.kid, alg=key.algorithm, activation_delay_seconds=delay)
    click.echo(
        f"new key {key.kid} ({key.algorithm}) is published and signs from {_when(_keystore().list()[-1].activates_at)}"
    )


# A kid is taken as it is, even one that starts with '-' (one in 64 of the keys made before
# new kids stopped starting with it): an unknown option is passed on as the argument.
@keys_command.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@click.option("--force", is_flag=True, help="Retire even though tokens it signed may still be valid.")
def retire(kid: str, force: bool) -> None:
    """Remove a previous key from the JWKS once every token it signed has expired."""
    try:
        info = _keystore().retire(kid, _max_token_lifetime(auth_state().settings), force=force)
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from e
    audit("key_retired", kid=info.kid, forced=force)
    click.echo(
        f"key {kid} retired: it is no longer published; auth_service refuses its tokens at once, "
        "other verifiers at their next JWKS refresh"
    )
