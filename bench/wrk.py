"""HTTP load from wrk (Debian's package), its results read as JSON from a Lua ``done`` hook.

With a token file, every request carries the next token of the file (round robin), so
each one is a token the service has not seen until the list wraps: traffic from many
clients, not one client's token repeated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk's text summary rounds and changes units; its Lua API hands over the exact numbers.
_REPORT_SCRIPT = """
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  local sent, distinct, next_index = 0, 0, 0
  for _, thread in ipairs(threads) do
    sent = sent + (thread:get("sent") or 0)
    distinct = distinct + (thread:get("distinct") or 0)
    next_index = math.max(next_index, thread:get("counter") or 0)
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"bad_status":%d,'
    .. '"tokens_sent":%d,"distinct_tokens":%d,"next_index":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    sent, distinct, next_index))
end
"""

# One wrk thread (run_wrk), so one counter walks the file: request n carries token
# (start + n) mod N. "distinct" counts the token texts themselves, not their indices.
_TOKEN_MIX_SCRIPT = """
function init(args)
  tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  counter = tonumber(args[2])
  sent, distinct, seen = 0, 0, {}
end

function request()
  local header = tokens[counter % #tokens + 1]
  counter = counter + 1
  sent = sent + 1
  if not seen[header] then
    seen[header] = true
    distinct = distinct + 1
  end
  return wrk.format(nil, nil, {["Authorization"] = header})
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
    #: With a token file: requests wrk built (a few more than it counted as completed),
    #: how many different tokens they carried, and where the next run should start.
    tokens_sent: int = 0
    distinct_tokens: int = 0
    next_index: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk (make bench installs it when run as root)")
    return wrk


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    token_file: Path | None = None,
    start: int = 0,
) -> LoadResult:
    """Load ``url`` for ``seconds`` with ``connections`` open connections from one wrk thread.

    One thread is plenty for a few thousand requests a second and leaves the second core
    to the services under test. With ``token_file`` (one access token per line), each
    request sends the next token as its Bearer credential, beginning with line ``start``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script = Path(scratch) / "report.lua"
        script.write_text(_REPORT_SCRIPT + (_TOKEN_MIX_SCRIPT if token_file else ""))
        argv = [find_wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script)]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        if token_file is not None:
            argv += ["--", str(token_file), str(start)]
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    failed = sum(report[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "bad_status"))
    return LoadResult(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        failed=failed,
        tokens_sent=report["tokens_sent"],
        distinct_tokens=report["distinct_tokens"],
        next_index=report["next_index"],
    )
