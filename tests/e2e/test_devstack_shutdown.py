"""make dev stops everything it started, whatever signals arrive and however often.

A process manager sends SIGTERM to make's whole process group: devstack gets it from the
group and again from make, which forwards what it got. A terminal's Ctrl-C sends SIGINT to
the foreground group. Whatever the path, no Redis or gunicorn master may outlive the
stack (the next make dev would fail on busy ports), and nothing prints a traceback.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.stacks import ROOT, SHORT_NAMES, LocalProcesses, Secrets, wait_ready
from tests.support import stack_services

SCENARIOS = {
    # name: (command, signal, sent to the whole process group?)
    "sigterm-to-makes-group": (["make", "--no-print-directory", "dev"], signal.SIGTERM, True),
    "sigterm-to-devstack-alone": ([sys.executable, "scripts/devstack.py"], signal.SIGTERM, False),
    "ctrl-c": (["make", "--no-print-directory", "dev"], signal.SIGINT, True),
}


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_make_dev_leaves_no_process_behind(scenario: str, tmp_path: Path) -> None:
    command, signum, to_group = SCENARIOS[scenario]
    processes = LocalProcesses(tmp_path, Secrets.generate())
    output = tmp_path / "output.log"
    with open(output, "wb") as log:
        launched = subprocess.Popen(
            command, cwd=ROOT, env=processes.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(
            [processes.url(n) for n in SHORT_NAMES],
            lambda: launched.poll() is None,
            lambda: output.read_text(errors="replace")[-4000:],
        )
        children = {p.stem: int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")}
        assert set(children) == {"redis", *(s.name for s in stack_services())}
        if to_group:
            os.killpg(launched.pid, signum)
        else:
            launched.send_signal(signum)
        launched.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in children.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [name for name, pid in children.items() if alive(pid)] == []
        printed = output.read_text(errors="replace")
        assert "Traceback" not in printed
        assert "[devstack] stopped" in printed
    finally:
        if launched.poll() is None:
            os.killpg(launched.pid, signal.SIGKILL)
        for pid in children.values() if "children" in locals() else ():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


def test_make_devs_state_is_readable_by_its_user_only(tmp_path: Path) -> None:
    processes = LocalProcesses(tmp_path, Secrets.generate())
    processes.start()
    try:
        written = [tmp_path, *tmp_path.glob("*.db"), *tmp_path.glob("keys/*"), tmp_path / "dev.env"]
        assert len(written) > 4
        assert {path.name: stat.S_IMODE(path.stat().st_mode) & 0o077 for path in written} == {
            path.name: 0 for path in written
        }
    finally:
        processes.stop()
