""".env.example and the docs state the defaults and ranges the code really has.

The settings code records every setting it reads (``secure_service.settings.DECLARED``);
loading each service's settings fills that record, and the documents are checked
against it, so a default changed in one place cannot silently disagree elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secure_service.settings import Declared
from tests.support import load_every_service_setting

ROOT = Path(__file__).resolve().parents[2]
_SETTING_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$")


@pytest.fixture(scope="module")
def declared() -> dict[str, Declared]:
    return load_every_service_setting()


def env_example() -> list[tuple[str, str, bool, str]]:
    """(name, value, commented out, the comment block above it) for each setting line."""
    entries: list[tuple[str, str, bool, str]] = []
    comments: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = _SETTING_LINE.match(line)
        if match:
            entries.append((match.group(2), match.group(3).strip(), bool(match.group(1)), " ".join(comments)))
            if not match.group(1):
                comments = []
        elif line.startswith("#"):
            comments.append(line)
        else:
            comments = []
    return entries


def test_every_setting_the_services_read_is_in_env_example(declared: dict[str, Declared]) -> None:
    listed = {name for name, *_ in env_example()}
    assert set(declared) - listed == set()


def test_env_example_states_the_code_defaults(declared: dict[str, Declared]) -> None:
    for name, value, commented, _comment in env_example():
        setting = declared.get(name)
        if setting is None or commented:
            continue
        assert value == (setting.default or ""), name


def test_env_example_states_the_code_ranges(declared: dict[str, Declared]) -> None:
    for name, _value, _commented, comment in env_example():
        setting = declared.get(name)
        if setting is None or setting.minimum is None:
            continue
        assert f"{setting.minimum}-{setting.maximum}" in comment, name


def test_the_docs_state_the_code_defaults(declared: dict[str, Declared]) -> None:
    stated = [
        (name, default, path.name)
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for name, default in re.findall(r"`([A-Z][A-Z0-9_]+)` defaults to (\d+)", path.read_text())
    ]
    assert stated  # the pattern still finds the statements
    for name, default, where in stated:
        assert declared[name].default == default, (name, where)
