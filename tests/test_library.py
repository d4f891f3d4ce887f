"""The library's public stages: only reconciliation makes something publishable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds import FileStore, MemoryStore, Workspace, read_all, render_all, run_build
from feeds.build import story_folder
from feeds.reconcile import History, Published, Reconciled, reconcile

from .conftest import SITE_TOML, StoreFactory, story

NOW = datetime(2024, 6, 2, tzinfo=UTC)
HIDDEN = story(
    body="""
    ## 2099-01-01 09:00 — Embargoed {#later}

    Not yet.

    ## 2024-06-01 10:00 — Withdrawn {#wrong retracted}

    Wrong.

    ## 2024-06-01 09:00 — Out {#out}

    Out.
    """
)


def test_renderers_refuse_what_the_store_read(make_store: StoreFactory) -> None:
    snapshot = read_all(FileStore(make_store(s=HIDDEN)))
    with pytest.raises(TypeError, match="reconcile"):
        render_all(snapshot)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reconcile"):
        Reconciled(snapshot.site, (), (), History.empty(), None)
    with pytest.raises(TypeError, match="reconcile"):
        story_folder(snapshot.site, Published(snapshot.stories[0], ()))


def test_reconciled_output_holds_back_and_withdraws(make_store: StoreFactory) -> None:
    snapshot = read_all(FileStore(make_store(s=HIDDEN)))
    files = render_all(reconcile(snapshot, History.empty(), NOW, 30))
    for name in ("rss.xml", "s/rss.xml", "feed.json", "s/feed.json", "s/index.html"):
        text = files[name].decode()
        assert "Out." in text and "Not yet." not in text and "Wrong." not in text, name
    assert 'ref="tag:news.test,2024:s/wrong"' in files["s/atom.xml"].decode()


def test_the_documented_recipe(make_store: StoreFactory, tmp_path: Path) -> None:
    ws = Workspace.of(make_store(s=HIDDEN), tmp_path / "out")
    result = run_build(ws, clock=lambda: NOW)
    assert result.summary() == "1 story changed, 13 files written, 0 removed"
    assert "Not yet." not in (tmp_path / "out" / "s" / "rss.xml").read_text()


def test_a_memory_store_builds_like_files(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(s=HIDDEN)
    memory = MemoryStore(SITE_TOML, s=(root / "s.md").read_text())
    from feeds.publish import FolderOutput

    for name, store in (("files", FileStore(root)), ("memory", memory)):
        out = tmp_path / name
        run_build(
            Workspace(store, out, tmp_path / f"{name}-state", FolderOutput(out)), clock=lambda: NOW
        )
    left = {
        p.relative_to(tmp_path / "files"): p.read_bytes()
        for p in (tmp_path / "files").rglob("*")
        if p.is_file()
    }
    right = {
        p.relative_to(tmp_path / "memory"): p.read_bytes()
        for p in (tmp_path / "memory").rglob("*")
        if p.is_file()
    }
    assert left == right
