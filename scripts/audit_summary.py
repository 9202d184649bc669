"""Summarise the security events of the last N minutes from the stack's JSON logs.

    make audit                       # the composed stack if it runs, else var/logs of make dev
    python scripts/audit_summary.py --minutes 60 var/logs/*.log
    docker compose logs --no-log-prefix | python scripts/audit_summary.py

Reads JSON lines (anything else is skipped) and prints: events by name, token rejections
by reason, the client addresses behind most rejections and failed logins, and every
refresh-token reuse. Exits 0; it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import fileinput
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
# revoked_token_presented is not listed: the same request also logs a token_rejected.
SUSPICIOUS = {"token_rejected", "login_failed", "login_rate_limited"}


def events(lines: Iterable[str], since: datetime) -> Iterator[dict[str, Any]]:
    """Audit events (records with an ``event`` field) logged at or after ``since``."""
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
            moment = datetime.strptime(record["time"], TIME_FORMAT)
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(record, dict) and "event" in record and moment >= since:
            yield record


def summarise(records: Iterable[dict[str, Any]], top: int = 5) -> dict[str, Any]:
    by_event: Counter[str] = Counter()
    rejections: Counter[str] = Counter()
    offenders: Counter[str] = Counter()
    reuse: list[dict[str, Any]] = []
    for record in records:
        by_event[record["event"]] += 1
        if record["event"] == "token_rejected":
            rejections[str(record.get("reason"))] += 1
        if record["event"] in SUSPICIOUS:
            offenders[str(record.get("client_addr"))] += 1
        if record["event"] == "refresh_reuse_detected":
            reuse.append({k: record.get(k) for k in ("time", "sub", "sid", "client_addr", "request_id")})
    return {
        "events": dict(by_event.most_common()),
        "token_rejections_by_reason": dict(rejections.most_common()),
        "top_offending_addresses": dict(offenders.most_common(top)),
        "refresh_reuse_detected": reuse,
    }


def render(summary: dict[str, Any], minutes: int, out: TextIO) -> None:
    def section(title: str, rows: dict[str, Any]) -> None:
        out.write(f"\n{title}\n")
        if not rows:
            out.write("  (none)\n")
        for name, count in rows.items():
            out.write(f"  {count:>7}  {name}\n")

    out.write(f"Security events in the last {minutes} minutes\n")
    section("Events", summary["events"])
    section("Token rejections by reason", summary["token_rejections_by_reason"])
    section("Top offending client addresses (rejections, failed or limited logins)", summary["top_offending_addresses"])
    out.write("\nRefresh-token reuse (a session was revoked; one of its holders was an attacker)\n")
    if not summary["refresh_reuse_detected"]:
        out.write("  (none)\n")
    for item in summary["refresh_reuse_detected"]:
        out.write(f"  {item['time']}  sub={item['sub']} sid={item['sid']} from {item['client_addr']}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="log files (default: standard input)")
    parser.add_argument("--minutes", type=int, default=15, help="how far back to look (default 15)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    since = datetime.now(UTC) - timedelta(minutes=args.minutes)
    with fileinput.input(files=args.files or ("-",), encoding="utf-8", errors="replace") as lines:
        summary = summarise(events(lines, since))
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        render(summary, args.minutes, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
