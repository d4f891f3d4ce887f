"""The example store's output, byte for byte.

Refresh after an intended change of output with:

    .venv/bin/python -m pytest tests/test_golden.py --update-golden

and review the diff of tests/golden/ before committing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLE_DATA, GOLDEN, render_store, snapshot_tree
from .conftest import run_folder as run_build


def golden_files() -> dict[str, bytes]:
    return {
        str(p.relative_to(GOLDEN)): p.read_bytes() for p in sorted(GOLDEN.rglob("*")) if p.is_file()
    }


def test_example_output_matches_golden_files(update_golden: bool) -> None:
    files = render_store(EXAMPLE_DATA)
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in files.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    assert sorted(files) == sorted(golden_files()), "files differ: refresh with --update-golden"
    for name, data in golden_files().items():
        assert files[name] == data, f"{name} differs from tests/golden/{name}"


@pytest.mark.parametrize(
    "env",
    [
        {"TZ": "UTC", "LC_ALL": "C"},
        {"TZ": "Pacific/Auckland", "LC_ALL": "C.UTF-8"},
        {"TZ": "America/St_Johns", "LANG": "de_DE.UTF-8"},
    ],
    ids=["UTC", "Auckland", "St_Johns-de"],
)
def test_cli_output_is_identical_whatever_the_machine_zone_and_locale(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "TZ"))}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "feeds",
            "build",
            "--data",
            str(EXAMPLE_DATA),
            "--out",
            str(out),
            "--state",
            str(tmp_path / "state"),
        ],
        env={**clean, **env},
        check=True,
        capture_output=True,
    )
    assert {k: v for k, (v, _) in snapshot_tree(out).items()} == golden_files()


def test_worker_processes_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing and rendering in a process pool (as big builds do) changes nothing."""
    from feeds.build import parallel

    monkeypatch.setattr(parallel, "THRESHOLD", 1)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    run_build(EXAMPLE_DATA, tmp_path / "out", tmp_path / "state")
    assert {k: v for k, (v, _) in snapshot_tree(tmp_path / "out").items()} == golden_files()
