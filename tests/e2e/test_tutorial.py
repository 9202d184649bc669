"""docs/tutorial.md, executed against the running stack by the walkthrough (make walkthrough)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.stacks import ROOT, Stack


def walk(stack: Stack, tutorial: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTH_URL": stack.auth,
        "USERS_URL": stack.users,
        "ORDERS_URL": stack.orders,
        "WEB_URL": stack.web,
        "ADMIN_USERNAME": stack.admin_username,
        "ADMIN_PASSWORD": stack.admin_password,
        # The tutorial's token exchange by hand, as orders_service's client.
        "ORDERS_SERVICE_CLIENT_SECRET": stack.service_environment("orders_service")["ORDERS_SERVICE_CLIENT_SECRET"],
        "TUTORIAL": str(tutorial),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "walkthrough.py")], env=env, capture_output=True, text=True, timeout=300
    )


def test_every_command_of_the_tutorial_behaves_as_written(stack: Stack) -> None:
    result = walk(stack, ROOT / "docs" / "tutorial.md")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "behaved as the tutorial says" in result.stdout


def test_the_walkthrough_fails_when_the_tutorial_says_something_false(stack: Stack, tmp_path: Path) -> None:
    wrong = (ROOT / "docs" / "tutorial.md").read_text().replace('"token_type":"Bearer"}', '"token_type":"Basic"}', 1)
    (tmp_path / "tutorial.md").write_text(wrong)
    result = walk(stack, tmp_path / "tutorial.md")
    assert result.returncode == 1
    assert "does not behave as the tutorial says" in result.stdout
