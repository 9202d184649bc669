"""Run the README's curl session and docs/tutorial.md against a running stack: ``make walkthrough``.

Every ``$ …`` command of every ``console`` block of each page is executed, in order, in one
bash session (a variable set on one page is there on the next, as for a reader who reads
the README first), and its output is checked against the output the page shows. Values that
differ on every run (ids, tokens, times) are written with "…" in the tutorial: a shown
value ``eyJ…`` only requires the real one to start with ``eyJ``. The tutorial cannot rot:
CI runs this against the stack, and it exits 1 at the first step that does not behave as
written.

Environment: AUTH_URL, USERS_URL, ORDERS_URL, WEB_URL (default http://localhost:8001, 8002, 8003, 8000),
ADMIN_PASSWORD (the stack's admin password), ADMIN_USERNAME (its name, default admin),
ORDERS_SERVICE_CLIENT_SECRET (orders_service's client secret, for the token-exchange
section) and DEV_CLIENT_SECRET (the dev client's; make walkthrough reads all four from .env
or var/dev.env). The pages are the
arguments (default: README.md docs/tutorial.md).

The pages make their own users unique (``USERNAME="alice-$RANDOM"``): nothing is renamed
here, so what runs is what a reader pastes, and running it twice on one stack works.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.panel import Panel

ROOT = Path(__file__).resolve().parent.parent
ELLIPSIS = "…"
_ASSIGNMENT = re.compile(r"^([A-Z_]+)=(.*)$", re.DOTALL)
_STATUS = re.compile(r"^HTTP/\d(?:\.\d)? (\d{3})")
_HEADER = re.compile(r"^([A-Za-z-]+): (.*)$")


@dataclass
class Command:
    step: str
    text: str
    expected: list[str] = field(default_factory=list)


def parse(markdown: str) -> list[Command]:
    """The commands of every ``console`` block, with the output shown under each."""
    commands: list[Command] = []
    step = ""
    in_block = False
    pending: list[str] = []
    for line in markdown.splitlines():
        if not in_block and line.startswith("## "):
            step = line[3:].strip()
        elif line.strip() == "```console":
            in_block = True
        elif in_block and line.strip() == "```":
            in_block = False
        elif in_block:
            if pending:  # continuation of a command ending in a backslash
                pending.append(line)
                if not line.endswith("\\"):
                    commands.append(Command(step, "\n".join(pending)))
                    pending = []
            elif line.startswith("$ "):
                if line.endswith("\\"):
                    pending = [line[2:]]
                else:
                    commands.append(Command(step, line[2:]))
            elif commands and line.strip():
                commands[-1].expected.append(line)
    return commands


def value_matches(shown: Any, real: Any) -> bool:
    """Whether ``real`` is what the tutorial shows: equal, with "…" standing for any text."""
    if isinstance(shown, str) and ELLIPSIS in shown:
        pattern = ".+".join(re.escape(part) for part in shown.split(ELLIPSIS))
        return isinstance(real, str) and re.fullmatch(pattern, real, re.DOTALL) is not None
    if isinstance(shown, dict):
        return (
            isinstance(real, dict) and set(shown) == set(real) and all(value_matches(shown[k], real[k]) for k in shown)
        )
    if isinstance(shown, list):
        return isinstance(real, list) and len(shown) == len(real) and all(map(value_matches, shown, real))
    return type(shown) is type(real) and bool(shown == real)


def line_matches(wanted: str, line: str) -> bool:
    if wanted.startswith(("{", "[")):
        try:
            return line.startswith(("{", "[")) and value_matches(json.loads(wanted), json.loads(line))
        except ValueError:
            return False
    wanted_status, status = _STATUS.match(wanted), _STATUS.match(line)
    if wanted_status:
        return status is not None and status.group(1) == wanted_status.group(1)
    wanted_header, header = _HEADER.match(wanted), _HEADER.match(line)
    if wanted_header and header:
        return wanted_header.group(1).lower() == header.group(1).lower() and value_matches(
            wanted_header.group(2), header.group(2)
        )
    return value_matches(wanted, line)


def output_matches(expected: list[str], actual: str) -> str | None:
    """None if ``actual`` shows what ``expected`` does, else what differs.

    Lines must come in the order shown; only HTTP header lines the tutorial leaves out
    (Date, Server, …) may be skipped.
    """
    lines = [line.strip() for line in actual.splitlines() if line.strip()]
    position = 0
    for wanted in (line.strip() for line in expected):
        while True:
            if position >= len(lines):
                return f"expected a line like: {wanted}"
            line = lines[position]
            position += 1
            if line_matches(wanted, line):
                break
            if not (_HEADER.match(line) or _STATUS.match(line)):
                return f"expected a line like: {wanted}\n  got: {line[:300]}"
    return None


class Walkthrough:
    def __init__(self, console: Console):
        self.console = console
        self.env = {**os.environ, "ADMIN_USERNAME": os.environ.get("ADMIN_USERNAME") or "admin"}
        self.replacements: dict[str, str] = {}
        for name, default in (("AUTH_URL", 8001), ("USERS_URL", 8002), ("ORDERS_URL", 8003), ("WEB_URL", 8000)):
            netloc = urlsplit(os.environ.get(name, f"http://localhost:{default}")).netloc
            self.replacements[f"localhost:{default}"] = netloc

    def localise(self, text: str) -> str:
        """The pages' addresses (localhost:8001, …), as this stack publishes them."""
        for old, new in self.replacements.items():
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
        return text

    def run(self, command: Command) -> str | None:
        text = self.localise(command.text)
        assignment = _ASSIGNMENT.match(text)
        # A variable set in one command is kept for the next ones, as in one shell session.
        script = f'{text}\nprintf "%s" "${assignment.group(1)}"' if assignment else text
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", script], env=self.env, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            return f"exit code {result.returncode}: {(result.stderr or result.stdout).strip()[:300]}"
        if assignment:
            value = result.stdout.strip()
            if not value or value == "null":
                return f"{assignment.group(1)} came out empty"
            self.env[assignment.group(1)] = value
            return None
        return output_matches([self.localise(line) for line in command.expected], result.stdout)

    def walk(self, commands: list[Command]) -> bool:
        step = None
        for command in commands:
            if command.step != step:
                step = command.step
                self.console.print(Panel.fit(step, style="bold cyan"))
            self.console.print(f"[dim]$[/dim] {command.text}")
            problem = self.run(command)
            if problem:
                self.console.print(f"  [bold red]✗ does not behave as the tutorial says:[/bold red] {problem}")
                return False
            self.console.print("  [green]✓ as in the tutorial[/green]")
        return True


def main() -> int:
    console = Console(highlight=False)
    if "ADMIN_PASSWORD" not in os.environ:
        console.print("[red]Set ADMIN_PASSWORD to the stack's admin password (see .env or var/dev.env).[/red]")
        return 2
    pages = [Path(arg) for arg in sys.argv[1:]] or [ROOT / "README.md", ROOT / "docs" / "tutorial.md"]
    commands = [command for page in pages for command in parse(page.read_text())]
    empty = [page for page in pages if not parse(page.read_text())]
    if empty:
        console.print(f"[red]no commands found in {', '.join(map(str, empty))}[/red]")
        return 2
    ok = Walkthrough(console).walk(commands)
    console.print(
        f"[bold green]All {len(commands)} commands behaved as the tutorial says.[/bold green]"
        if ok
        else "[bold red]The walkthrough stopped: the tutorial and the stack disagree.[/bold red]"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
