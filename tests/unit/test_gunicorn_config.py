"""The gunicorn settings every service shares, as a real gunicorn master reads them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support import free_port


def hello(environ: object, start_response: object) -> list[bytes]:  # a WSGI app for gunicorn
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"hello"]


def test_gunicorn_opens_no_control_socket(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(f'from secure_service.gunicorn_config import *\nbind = ["127.0.0.1:{port}"]\nworkers = 1\n')
    home = tmp_path / "home"
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(config), "tests.unit.test_gunicorn_config:hello"],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": "."},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert requests.get(f"http://127.0.0.1:{port}/", timeout=1).text == "hello"
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        time.sleep(1)  # the control socket comes up beside the workers
        assert list(home.iterdir()) == []  # its default place: $HOME/.gunicorn/gunicorn.ctl
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert "Control server" not in output
