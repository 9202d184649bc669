"""A service with a missing or unsafe setting stops at start-up with a one-line reason."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port, stack_services

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("service", "settings", "reason"),
    [
        ("users_service", {}, "ADMIN_PASSWORD is required"),
        ("users_service", {"ADMIN_PASSWORD": "changeme-changeme"}, "ADMIN_PASSWORD is a placeholder"),
        (
            "auth_service",
            {"JWT_ALGORITHMS": "HS256", "JWT_SIGNING_ALG": "HS256", "JWT_HS256_SECRET": "x" * 10},
            "JWT_HS256_SECRET must be at least 32 bytes",
        ),
        ("auth_service", {"SERVICE_CLIENTS": '{"svc": {"scopes": "users:read"}}'}, "no client secret"),
        ("orders_service", {"JWT_LEEWAY_SECONDS": "600"}, "JWT_LEEWAY_SECONDS must be between 5 and 30"),
        *[
            (service, {"LOG_LEVEL": "VERBOSE", "ADMIN_PASSWORD": secrets.token_urlsafe(18)}, "LOG_LEVEL must be one of")
            for service in (s.name for s in stack_services())
        ],
    ],
)
def test_gunicorn_refuses_to_start_with_a_one_line_reason(
    tmp_path: Path, service: str, settings: dict[str, str], reason: str
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ADMIN_PASSWORD", "JWT_ALGORITHMS", "JWT_HS256_SECRET", "SERVICE_CLIENTS"}
    }
    env.update(
        PORT=str(free_port()),
        HOST="127.0.0.1",
        KEYS_DIR=str(tmp_path / "keys"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        **settings,
    )
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", f"{service}/gunicorn.conf.py", f"{service}:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert reason in lines[0]
