"""make help lists every target the Makefile declares, each with what it does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_help_describes_every_phony_target() -> None:
    declared = re.search(r"^\.PHONY: (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert declared is not None
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", result.stdout, re.MULTILINE))
    assert set(described) == set(declared.group(1).split())


def test_the_dev_requirements_pin_every_service_requirement_alike() -> None:
    # make install installs requirements-dev.txt alone, the images requirements.txt: a pin
    # added to one must be in the other, or the tests run without it (or against another).
    def pins(name: str) -> set[str]:
        lines = (ROOT / name).read_text().splitlines()
        return {line.strip() for line in lines if "==" in line and not line.lstrip().startswith("#")}

    assert pins("requirements.txt") - pins("requirements-dev.txt") == set()
