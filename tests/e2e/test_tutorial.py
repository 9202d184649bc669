"""The README's curl session and docs/tutorial.md, executed against the running stack by the
walkthrough (make walkthrough), in one shell session, as a reader would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.stacks import ROOT, Stack

PAGES = [ROOT / "README.md", ROOT / "docs" / "tutorial.md"]


def walk(stack: Stack, *pages: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **stack.reader_environment,
        "AUTH_URL": stack.auth,
        "USERS_URL": stack.users,
        "ORDERS_URL": stack.orders,
        "WEB_URL": stack.web,
        "ADMIN_USERNAME": stack.admin_username,
        "ADMIN_PASSWORD": stack.admin_password,
        # The tutorial's token exchange by hand, as orders_service's client.
        "ORDERS_SERVICE_CLIENT_SECRET": stack.service_environment("orders_service")["ORDERS_SERVICE_CLIENT_SECRET"],
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "walkthrough.py"), *map(str, pages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_command_of_the_readme_then_the_tutorial_behaves_as_written(stack: Stack) -> None:
    result = walk(stack, *PAGES)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "behaved as the tutorial says" in result.stdout


def test_the_tutorial_can_be_followed_again_on_the_same_stack(stack: Stack) -> None:
    # The test above ran it once; a reader who starts over meets no sign-up conflict, no lockout.
    result = walk(stack, PAGES[1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_walkthrough_fails_when_the_tutorial_says_something_false(stack: Stack, tmp_path: Path) -> None:
    wrong = (ROOT / "docs" / "tutorial.md").read_text().replace('"token_type":"Bearer"}', '"token_type":"Basic"}', 1)
    (tmp_path / "tutorial.md").write_text(wrong)
    result = walk(stack, tmp_path / "tutorial.md")
    assert result.returncode == 1
    assert "does not behave as the tutorial says" in result.stdout
