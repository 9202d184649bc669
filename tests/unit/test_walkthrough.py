"""The walkthrough executes every command of the README's session and docs/tutorial.md, and
checks what they show."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import load_script

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
PAGES = [ROOT / "README.md", TUTORIAL]


@pytest.fixture(scope="module")
def walkthrough() -> ModuleType:
    return load_script("walkthrough")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_command_block_of_a_page_is_one_the_walkthrough_executes(walkthrough: ModuleType, page: Path) -> None:
    text = page.read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.DOTALL)
    command_blocks = [(kind, body) for kind, body in blocks if re.search(r"^\$ ", body, re.MULTILINE)]
    assert command_blocks, f"{page.name} shows no commands"
    # Commands only ever appear in console blocks, the ones the walkthrough runs...
    assert {kind for kind, _ in command_blocks} == {"console"}
    if page == TUTORIAL:  # the README also shows how to start the stack, which is not run
        assert not [kind for kind, _ in blocks if kind in ("sh", "bash", "shell")]
    # ...and it runs each of them.
    shown = sum(len(re.findall(r"^\$ ", body, re.MULTILINE)) for _, body in command_blocks)
    assert len(walkthrough.parse(text)) == shown


def test_the_tutorial_runs_commands_in_each_of_its_five_steps(walkthrough: ModuleType) -> None:
    steps = {command.step for command in walkthrough.parse(TUTORIAL.read_text())}
    assert len([s for s in steps if s.startswith("Step")]) == 5


def test_continuation_lines_and_outputs_are_parsed(walkthrough: ModuleType) -> None:
    commands = walkthrough.parse('## Step 9: x\n```console\n$ curl a \\\n    -d b\n{"k":"v"}\n$ echo hi\nhi\n```\n')
    assert [c.text for c in commands] == ["curl a \\\n    -d b", "echo hi"]
    assert commands[0].expected == ['{"k":"v"}'] and commands[1].step == "Step 9: x"


@pytest.mark.parametrize(
    ("shown", "printed", "ok"),
    [
        (['{"id":"…","name":"alice"}'], '{"id":"1234","name":"alice"}', True),
        (['{"id":"…","name":"alice"}'], '{"id":"1234","name":"bob"}', False),
        (['{"id":"…"}'], '{"id":"1234","extra":1}', False),
        (['{"t":"eyJ…"}'], '{"t":"abc"}', False),
        (
            ["HTTP/1.1 401 UNAUTHORIZED", 'WWW-Authenticate: Bearer realm="x"'],
            'HTTP/1.1 401 X\r\nDate: now\r\nWWW-Authenticate: Bearer realm="x"',
            True,
        ),
        (["HTTP/1.1 401 UNAUTHORIZED"], "HTTP/1.1 200 OK", False),
        (["204"], "204", True),
        (['counter{a="b"} …'], 'counter{a="b"} 3.0', True),
        (['{"id":"…"}'], '{"id":""}', False),
        (['{"t":"eyJ…x"}'], '{"t":"eyJabc"}', False),
        (['{"ok":true}'], '{"ok":1}', False),
        (['{"status":"ok"}'], '{"status":"degraded"}\n{"status":"ok"}', False),
        (["X-Request-ID: abc"], "HTTP/1.1 200 OK\nX-Request-ID: abcd", False),
    ],
)
def test_outputs_are_compared_by_what_the_tutorial_shows(
    walkthrough: ModuleType, shown: list[str], printed: str, ok: bool
) -> None:
    assert (walkthrough.output_matches(shown, printed) is None) is ok


def test_the_readme_and_the_tutorial_draw_the_same_topology() -> None:
    def topology(page: Path) -> str:
        match = re.search(r"```mermaid\nflowchart LR\n(.*?)```", page.read_text(), re.DOTALL)
        assert match, f"{page.name} draws no topology"
        return match.group(1)

    assert topology(ROOT / "README.md") == topology(TUTORIAL)
    assert "client -->|Bearer token| users" in topology(TUTORIAL)  # the edge the old drawing lacked
