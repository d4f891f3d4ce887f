"""The example store's output, byte for byte.

The tests build their own copy of the shipped example (tests/fixtures/example-data/),
never data/ itself, which readers of the docs may try things in; one test says when
data/ is no longer that example. Refresh after an intended change of output (or of
the example in data/) with:

    .venv/bin/python -m pytest tests/test_golden.py --update-golden

and review the diff of tests/golden/ and tests/fixtures/example-data/ before committing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (
    EXAMPLE_DATA,
    GOLDEN,
    SHIPPED_DATA,
    files_under,
    render_store,
    snapshot_tree,
)
from .conftest import run_folder as run_build

REFRESH = ".venv/bin/python -m pytest tests/test_golden.py --update-golden"


def golden_files() -> dict[str, bytes]:
    return files_under(GOLDEN)


def example_changes() -> list[str]:
    """The files in which data/ is no longer the tests' copy of the example."""
    shipped, ours = files_under(SHIPPED_DATA), files_under(EXAMPLE_DATA)
    return sorted(n for n in shipped.keys() | ours.keys() if shipped.get(n) != ours.get(n))


def refresh_example() -> None:
    """--update-golden: the tests' copy of the example becomes data/ as it is now."""
    shipped = files_under(SHIPPED_DATA)
    for name in example_changes():
        target = EXAMPLE_DATA / name
        if name not in shipped:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(shipped[name])
        os.replace(temporary, target)  # other workers may be reading it


def test_data_is_still_the_example_the_golden_files_were_made_from(update_golden: bool) -> None:
    """The one test that reads data/: what someone did there must not look like a
    change of output (whose fix, --update-golden, would bless it)."""
    if update_golden:
        refresh_example()
    changed = example_changes()
    if changed:
        pytest.fail(
            "data/ was changed: `git checkout data/` restores the shipped example (and delete"
            " any file you added there).\n"
            f"Not the example tests/golden/ was made from (tests/fixtures/example-data/): "
            f"{', '.join('data/' + name for name in changed)}\n"
            f"Only if you changed the example on purpose: {REFRESH}, then review git diff tests/",
            pytrace=False,
        )


def test_example_output_matches_golden_files(update_golden: bool) -> None:
    if update_golden:
        refresh_example()
    files = render_store(EXAMPLE_DATA)
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in files.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    changed = f"the output changed; if you meant it: {REFRESH}, then review git diff tests/golden"
    assert sorted(files) == sorted(golden_files()), f"files differ: {changed}"
    for name, data in golden_files().items():
        assert files[name] == data, f"{name} differs from tests/golden/{name}: {changed}"


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
