"""HTTP load from wrk (Debian's package), its results read as JSON from a Lua ``done`` hook."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk's text summary rounds and changes units; its Lua API hands over the exact numbers.
_REPORT_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"bad_status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run against one URL."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx/3xx answers, timeouts and socket errors

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk (make bench installs it when run as root)")
    return wrk


def run_wrk(url: str, *, seconds: float, connections: int, headers: dict[str, str] | None = None) -> LoadResult:
    """Load ``url`` for ``seconds`` with ``connections`` open connections from one wrk thread.

    One thread is plenty for a few thousand requests a second and leaves the second core
    to the services under test.
    """
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script = Path(scratch) / "report.lua"
        script.write_text(_REPORT_SCRIPT)
        argv = [find_wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script)]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        completed = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    failed = sum(report[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "bad_status"))
    return LoadResult(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        failed=failed,
    )
