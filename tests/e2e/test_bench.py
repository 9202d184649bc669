"""`make bench` runs end to end (its short mode) and reports every measurement it promises.

Only behaviour is asserted here: the figures themselves live in docs/performance.md, and
timing assertions have no place on a shared machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_measures_everything_it_reports(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())

    for pair in ("auth_cost_app", "users_service"):
        summary = results["http"][pair]["summary"]
        # wrk's non-2xx answers abort the run, so these are successful requests only.
        assert summary["plain"]["per_second"] > 0 and summary["authenticated"]["per_second"] > 0
    assert results["verifier"]["verifier_us"] > 0 and results["verifier"]["floor_us"] > 0
    assert results["login"]["samples"] > 0 and results["refresh"]["samples"] > 0
    # A logged-out token was refused by the very first request after logout returned.
    assert results["revocation"]["accepted_after_logout"] == 0
    assert results["revocation"]["users"]["samples"] > 0 and results["revocation"]["orders"]["samples"] > 0
    assert results["introspect"]["samples"] > 0 and results["exchange"]["samples"] > 0
    # orders_service exchanges a caller's token once per worker and keeps the result, so
    # one token over many orders costs a few exchanges, and a fresh token one per order.
    cache = results["exchange_cache"]
    assert cache["one_token"]["latency"]["samples"] > 0 and cache["fresh_tokens"]["latency"]["samples"] > 0
    assert 1 <= cache["one_token"]["exchanges"] and cache["one_token"]["exchanges_per_order"] < 0.5
    assert cache["fresh_tokens"]["exchanges_per_order"] == 1
    assert cache["ratio_p50"] > 0
    assert results["cold_start_seconds"]
    assert {t["name"] for t in results["targets"]} and all("met" in t for t in results["targets"])
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    assert "targets" in completed.stdout and "exchanged-token cache" in completed.stdout
