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


def test_the_writing_walkthrough_runs_as_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every line of the README's "A typical night" block, except the one that opens an editor."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    block = README.split("A typical night:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FEEDS_NOW": "2018-05-17T01:30:00+04:30",
    }
    cwd = tmp_path
    for line in block.strip().splitlines():
        command = line.split("  #")[0].strip()
        if "$EDITOR" in line:
            continue
        if command.startswith("cd "):
            cwd = cwd / command[3:]
            continue
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "kazerun" in done.stdout and "ended" in done.stdout  # the last line: feeds list
