"""Where a worker's time goes under load: py-spy flame graphs and the shares behind them.

``make bench BENCH_ARGS=--profile`` runs each profiled row under wrk, exactly as a load
round does, while py-spy samples the service's gunicorn master and its workers
(``--subprocesses``; ``--nonblocking``, so the workers are never paused). Each row is
sampled twice: once written as an SVG flame graph to read, once as collapsed stacks from
which the shares below are computed (then deleted), so the figures in docs/performance.md
come from the run and not from reading a picture. py-spy needs ptrace rights over the workers: root, or
``kernel.yama.ptrace_scope`` 0.

A share is the fraction of on-CPU samples of the workers whose stack holds a frame of
that part (idle samples are not taken), so shares of nested parts overlap.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

#: What each share counts: a stack counts for a part if any of its frames' text holds one
#: of these (py-spy writes a frame as ``function (path:line)``).
PARTS: dict[str, tuple[str, ...]] = {
    # Parsing, writing headers and body, closing the connection (a sync worker has no keep-alive).
    "gunicorn: HTTP parse and write": ("gunicorn/http/", "gunicorn/util.py"),
    "access log (JSON line)": ("secure_service/gunicorn_logging.py", "gunicorn/glogging.py"),
    "metrics": ("secure_service/metrics.py", "prometheus_client/"),
    "verifier (all of it)": ("secure_service/verifier.py",),
    "PyJWT decode and signature check": ("jwt/",),
    "revocation check": ("secure_service/revocation",),
    "Redis round trips": ("redis/connection.py", "redis/client.py"),
    "database (SQLAlchemy)": ("sqlalchemy/",),
    "JSON encoding of the answer": ("flask/json/", "json/encoder.py"),
    "request ids and input guard": ("secure_service/request_ids.py", "secure_service/input_guard.py"),
}


def py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, which need not be on PATH
    path = str(beside) if beside.exists() else shutil.which("py-spy")
    if path is None:
        raise RuntimeError("py-spy is not installed (make install puts it in the venv)")
    return path


def record(pid: int, seconds: float, output: Path, fmt: str) -> None:
    """Sample ``pid`` and its children for ``seconds`` into ``output`` (flamegraph or raw)."""
    subprocess.run(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--rate",
            "200",
            "--duration",
            str(max(1, round(seconds))),
            "--format",
            fmt,
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )


def shares(collapsed: str) -> dict[str, float]:
    """Each part's share of the samples in py-spy's collapsed (raw) stacks."""
    total = 0
    counts = dict.fromkeys(PARTS, 0)
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        for part, needles in PARTS.items():
            if any(needle in stack for needle in needles):
                counts[part] += count
    return {part: (counts[part] / total if total else 0.0) for part in PARTS} | {"samples": float(total)}


def profile_row(load: Callable[[float], object], pid: int, seconds: float, folder: Path, slug: str) -> dict[str, float]:
    """Run ``load`` (wrk on one row) around two samplings of ``pid``: the flame graph, then the shares."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"flame-{slug}.txt"
    for output, fmt in ((folder / f"flame-{slug}.svg", "flamegraph"), (raw, "raw")):
        loader = threading.Thread(target=load, args=(seconds + 2,))
        loader.start()
        try:
            record(pid, seconds, output, fmt)
        finally:
            loader.join()
    result = shares(raw.read_text())
    raw.unlink()  # megabytes of text; the flame graph holds the same stacks
    return result
