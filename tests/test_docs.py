"""The README's promises: its commands are the ones CI runs, every command is documented."""

from __future__ import annotations

import re

from feeds.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    build_cmd, test_cmd = (block.strip() for block in shell_blocks(README)[:2])
    assert build_cmd.endswith("feeds build")
    assert "pytest" in test_cmd
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_every_command_is_in_the_reference() -> None:
    for name in cli.commands:
        assert re.search(rf"^### `feeds {name}\b", README, flags=re.M), f"document `feeds {name}`"
