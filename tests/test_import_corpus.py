"""The importer on the evaluation corpus (eval/import/): pages written for this
project in many house styles, languages and zones, each with the updates a
reader sees. The score must stay at or above 95% of pages exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCORE = REPO / "eval" / "import" / "score.py"
HALVES = sorted(p.name for p in (REPO / "eval" / "import").iterdir() if p.is_dir())


def test_the_corpus_has_the_pages_it_promises() -> None:
    pages = [p for half in HALVES for p in (REPO / "eval" / "import" / half).iterdir()
             if p.suffix in (".html", ".txt")]  # fmt: skip
    assert len(pages) >= 30
    assert all(p.with_suffix(".json").exists() for p in pages)


@pytest.mark.parametrize("half", HALVES)
def test_the_importer_reads_at_least_95_percent_of_pages_exactly(half: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCORE), half, "-v", "--min-exact", "95"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(done.stdout)  # the per-page lines and the figures, shown with -s or on failure
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"== {half}:" in done.stdout
