"""What an operator sees on the running stack: metrics, request ids across logs, the audit summary."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

from tests.e2e.client import Client, bearer
from tests.e2e.stacks import ROOT, Stack
from tests.support import stack_services, with_broken_signature

#: The services an order's request crosses (the console is not on its path).
SERVICES = tuple(s.name for s in stack_services() if s.name != "web_service")


def counter(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus series in /metrics text (0 when absent)."""
    wanted = {f'{k}="{v}"' for k, v in labels.items()}
    total = 0.0
    for match in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE):
        if wanted <= set(match.group(1).split(",")):
            total += float(match.group(2))
    return total


def test_metrics_add_up_across_gunicorn_workers_and_replicas(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    bad = with_broken_signature(tokens["access_token"])
    before = counter(stack.metrics("users_service"), "auth_token_rejections_total", reason="bad_signature")
    for _ in range(6):  # spread over the workers (and the replicas)
        assert client.me(bad).status_code == 401
    text = stack.metrics("users_service")
    assert counter(text, "auth_token_rejections_total", reason="bad_signature") == before + 6
    assert counter(text, "http_requests_total", endpoint="/users/me", status="401") >= 6
    failures = counter(stack.metrics("auth_service"), "auth_login_failures_total", reason="invalid_credentials")
    client.http.post(f"{stack.auth}/auth/login", json={"username": user["username"], "password": "not it!"})
    after = counter(stack.metrics("auth_service"), "auth_login_failures_total", reason="invalid_credentials")
    assert after == failures + 1


def test_one_request_id_across_three_services_logs(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    created = client.http.post(
        f"{stack.orders}/orders",
        json={"item": "traced", "quantity": 1},
        headers={**bearer(tokens["access_token"]), "X-Request-ID": request_id},
    )
    assert created.status_code == 201 and created.headers["X-Request-ID"] == request_id
    logout = client.http.post(
        f"{stack.auth}/auth/logout", headers={**bearer(tokens["access_token"]), "X-Request-ID": request_id}
    )
    assert logout.status_code == 204
    time.sleep(1)
    lines = [line for line in stack.logs().splitlines() if request_id in line]
    services = {service for line in lines for service in SERVICES if service in line}
    assert services == set(SERVICES)
    assert any('"event": "logout"' in line for line in lines)


def test_the_audit_summary_reports_reuse_and_rejections(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    client.refresh(tokens["refresh_token"])
    client.refresh(tokens["refresh_token"])  # reuse
    client.me(with_broken_signature(tokens["access_token"]))
    time.sleep(1)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit_summary.py"), "--minutes", "30", "--json"],
        input=stack.logs(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    summary = json.loads(result.stdout)
    assert summary["events"]["refresh_reuse_detected"] >= 1
    assert summary["token_rejections_by_reason"]["bad_signature"] >= 1
    assert summary["top_offending_addresses"]
