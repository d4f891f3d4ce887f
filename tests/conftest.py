from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DATA = REPO / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"

SITE_TOML = """\
title = "Test desk"
base_url = "https://news.test/live/"
id_authority = "news.test,2024"
author = "Test desk"
timezone = "Europe/Lisbon"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def example_data(tmp_path: Path) -> Path:
    """A private copy of the shipped example store."""
    target = tmp_path / "data"
    shutil.copytree(EXAMPLE_DATA, target)
    return target


StoreFactory = Callable[..., Path]


@pytest.fixture
def make_store(tmp_path: Path) -> StoreFactory:
    """Write a small store: make_store(site=..., **{slug: markdown_text})."""

    def make(site: str = SITE_TOML, **stories: str) -> Path:
        root = tmp_path / "data"
        root.mkdir(exist_ok=True)
        (root / "site.toml").write_text(site, encoding="utf-8")
        for slug, text in stories.items():
            (root / f"{slug.replace('_', '-')}.md").write_text(
                textwrap.dedent(text).lstrip("\n"), encoding="utf-8"
            )
        return root

    return make


def story(front: str = 'title = "A story"', body: str = "") -> str:
    """A story file from front-matter lines and a body."""
    return f"+++\n{textwrap.dedent(front).strip()}\n+++\n\n{textwrap.dedent(body).strip()}\n"


def snapshot_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and mtime, to prove nothing moved."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
