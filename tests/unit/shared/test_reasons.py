"""Reason codes are metric labels and audit values: a closed set, the one docs/operations.md lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secure_service import AuthError, InvalidToken, Reason
from secure_service.library_errors import LIBRARY_REFUSALS

OPERATIONS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"

#: Reasons no ``token_rejected`` event carries: a 403 for a genuine token, and a 503
#: (not the token's fault) are not refusals of the token.
NOT_TOKEN_REJECTIONS = {Reason.INSUFFICIENT_SCOPE, Reason.REVOCATION_UNAVAILABLE}


def _all_subclasses(cls: type[AuthError]) -> list[type[AuthError]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _all_subclasses(direct))]


def test_the_documented_reasons_are_the_enum() -> None:
    row = next(line for line in OPERATIONS.read_text().splitlines() if line.startswith("| `token_rejected`"))
    listed = row.split("which check failed:", 1)[1].split("; the client sees", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", listed))
    assert documented == {r.value for r in Reason} - {r.value for r in NOT_TOKEN_REJECTIONS}


def test_every_auth_error_carries_a_member_of_the_enum() -> None:
    for cls in _all_subclasses(AuthError):
        assert isinstance(cls.default_reason, Reason), cls
        assert isinstance(cls().reason, Reason), cls
    assert all(isinstance(reason, Reason) for _, reason, _ in LIBRARY_REFUSALS)


def test_a_reason_outside_the_set_is_refused() -> None:
    assert InvalidToken("x", Reason.BAD_SIGNATURE).reason is Reason.BAD_SIGNATURE
    with pytest.raises(ValueError):
        InvalidToken("x", "made_up")  # type: ignore[arg-type]


def test_metric_labels_and_audit_values_are_the_plain_strings() -> None:
    assert Reason.BAD_SIGNATURE == "bad_signature"
    assert f"{Reason.WRONG_AUDIENCE}" == "wrong_audience"
