"""scripts/audit_summary.py: the anomaly view over the JSON logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import load_script


def line(minutes_ago: float, **fields: object) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return json.dumps({"time": moment.strftime("%Y-%m-%dT%H:%M:%S%z"), "service": "users_service", **fields})


def test_the_summary_counts_recent_events_only(tmp_path: Path) -> None:
    script = load_script("audit_summary")
    log = tmp_path / "stack.log"
    log.write_text(
        "\n".join(
            [
                line(1, event="token_rejected", reason="bad_signature", client_addr="203.0.113.9"),
                line(2, event="token_rejected", reason="bad_signature", client_addr="203.0.113.9"),
                line(3, event="token_rejected", reason="expired", client_addr="198.51.100.1"),
                line(4, event="login_failed", client_addr="203.0.113.9"),
                line(5, event="refresh_reuse_detected", sub="u-1", sid="s-1", client_addr="203.0.113.9"),
                line(6, event="login_succeeded", sub="u-2", client_addr="198.51.100.1"),
                line(90, event="token_rejected", reason="wrong_audience", client_addr="192.0.2.5"),  # too old
                line(1, logger="access", path="/users/me", status=200),  # not an event
                "[devstack] stack ready",  # not JSON
                "users_service-1  | " + line(1, event="logout", sub="u-3"),  # compose's prefix
            ]
        )
    )
    summary = script.summarise(script.events(log.read_text().splitlines(), datetime.now(UTC) - timedelta(minutes=15)))
    assert summary["token_rejections_by_reason"] == {"bad_signature": 2, "expired": 1}
    assert summary["events"]["logout"] == 1 and summary["events"]["login_succeeded"] == 1
    assert list(summary["top_offending_addresses"].items())[0] == ("203.0.113.9", 3)
    assert [r["sid"] for r in summary["refresh_reuse_detected"]] == ["s-1"]
    assert "wrong_audience" not in summary["token_rejections_by_reason"]


def test_the_command_prints_a_readable_report(tmp_path: Path, capsys: object) -> None:
    script = load_script("audit_summary")
    log = tmp_path / "stack.log"
    log.write_text(line(1, event="token_rejected", reason="unknown_key", client_addr="203.0.113.7") + "\n")
    assert script.main(["--minutes", "5", str(log)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "Token rejections by reason" in out and "unknown_key" in out and "203.0.113.7" in out
