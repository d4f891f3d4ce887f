"""An incremental build writes exactly what a build of everything writes.

Each step changes the store the way people do (a new update, one deleted
from the top of the site-wide feed, an edit, a retraction, a story removed,
an update held back until later, a lost cache or state), builds
incrementally, then builds everything again (``force``) from a copy of the
same state into another folder: the two ``out/`` trees must be equal, byte
for byte. The site's items per feed is small, so the site-wide feeds are
contested by every story and deletions make older updates move up. Each test
runs against every kind of store (files, memory).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import SITE_TOML, Source, SourceFactory, story

NOW = datetime(2024, 6, 3, tzinfo=UTC)


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def heading(day: int, hour: int, anchor: str) -> str:
    return f"## 2024-06-0{day} {hour:02d}:00 {{#{anchor}}}\n\n{anchor} text."


def check(src: Source, tmp_path: Path, now: datetime, written: bool = False) -> list[str]:
    result = src.build(clock=lambda: now)
    again = tmp_path / "again"
    shutil.rmtree(again, ignore_errors=True)
    shutil.copytree(tmp_path / "state", again / "state")
    src.build(again / "out", again / "state", clock=lambda: now, force=True)
    assert files(tmp_path / "out") == files(again / "out")
    return result.written if written else result.rendered


def test_incremental_builds_equal_full_builds(make_source: SourceFactory, tmp_path: Path) -> None:
    site = SITE_TOML + "items_per_feed = 3\n"
    src = make_source(
        site=site,
        a=story(body="\n\n".join(heading(1, h, f"a{h}") for h in (9, 7, 5))),
        b=story(body="\n\n".join(heading(1, h, f"b{h}") for h in (8, 6, 4))),
        c=story(body="\n\n".join(heading(1, h, f"c{h}") for h in (3, 2, 1))),
    )
    now = NOW
    assert sorted(check(src, tmp_path, now)) == ["", "a/", "b/", "c/"]
    site_feed = tmp_path / "out" / "atom.xml"
    assert [f"a{h}" in site_feed.read_text() for h in (9, 7)] == [True, True]

    edit = src.edit
    now += timedelta(minutes=1)
    edit("c", "## 2024-06-01 03:00", heading(2, 10, "c10") + "\n\n## 2024-06-01 03:00")
    assert sorted(check(src, tmp_path, now)) == ["", "c/"]  # a new top item
    assert "c10" in site_feed.read_text()

    now += timedelta(minutes=1)
    edit("c", heading(2, 10, "c10") + "\n\n", "")  # deleted from the top: b8 moves up
    assert sorted(check(src, tmp_path, now)) == ["", "c/"]
    assert "b8" in site_feed.read_text() and "deleted-entry" in site_feed.read_text()

    now += timedelta(minutes=1)
    edit("a", "a9 text.", "a9 text, corrected.")  # an edit of a site item
    check(src, tmp_path, now)
    assert "a9 text, corrected." in site_feed.read_text()

    now += timedelta(minutes=1)
    edit("b", "{#b8}", '{#b8 retracted="2024-06-03 00:03"}')
    check(src, tmp_path, now)

    now += timedelta(minutes=1)
    edit("c", "## 2024-06-01 03:00", heading(4, 12, "c12") + "\n\n## 2024-06-01 03:00")
    assert check(src, tmp_path, now, written=True) == []  # held back: nothing shows yet
    assert "c12" not in site_feed.read_text()
    assert sorted(check(src, tmp_path, datetime(2024, 6, 4, 12, 1, tzinfo=UTC))) == ["", "c/"]
    assert "c12" in site_feed.read_text()

    src.delete("a")
    assert check(src, tmp_path, datetime(2024, 6, 4, 13, tzinfo=UTC)) == [""]
    assert not (tmp_path / "out" / "a").exists()

    src.write_site(site.replace("Test desk", "Desk", 1))
    assert len(check(src, tmp_path, datetime(2024, 6, 4, 14, tzinfo=UTC))) == 3


def test_a_lost_site_cache_costs_a_full_build_not_stories(
    make_source: SourceFactory, tmp_path: Path
) -> None:
    src = make_source(a=story(body=heading(1, 9, "a9")), b=story(body=heading(1, 8, "b8")))
    check(src, tmp_path, NOW)
    (tmp_path / "state" / "site.json").write_bytes(b"not json")
    src.edit("a", "a9 text.", "Edited.")
    assert "" in check(src, tmp_path, NOW + timedelta(hours=1))  # every story read again
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'href="a/"' in index and 'href="b/"' in index


def test_a_lost_story_state_keeps_its_updates_in_the_site_feeds(
    make_source: SourceFactory, tmp_path: Path
) -> None:
    # The site's newest item is deleted, so the site-wide feeds are made again
    # from every story's state; b's is gone.
    src = make_source(
        site=SITE_TOML + "items_per_feed = 3\n",
        a=story(body="\n\n".join(heading(1, h, f"a{h}") for h in (10, 9, 8))),
        b=story(body=heading(1, 7, "b7")),
    )
    check(src, tmp_path, NOW)
    src.lose_story_state("b", tmp_path / "state")
    src.edit("a", heading(1, 10, "a10") + "\n\n", "")
    result = src.build(clock=lambda: NOW)
    assert any("b.json: missing" in w for w in result.warnings)
    assert "b7" in (tmp_path / "out" / "rss.xml").read_text()
    # The next build reads b again and writes its state anew.
    check(src, tmp_path, NOW + timedelta(minutes=1))
    assert (tmp_path / "state" / "stories" / "b.json").exists()


def test_any_damage_to_the_site_cache_means_a_full_build(
    make_source: SourceFactory, tmp_path: Path
) -> None:
    src = make_source(a=story(body=heading(1, 9, "a9")))
    check(src, tmp_path, NOW)
    # Pickle opcodes that ask for more bytes than exist, or than fit in memory.
    for garbage in (
        b"\x8e\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x8e\x00\x00\x00\x00\x00\x00\x00\x40",
    ):
        (tmp_path / "state" / "site.json").write_bytes(garbage)
        src.write("a", src.read("a") + "\nMore.\n")
        assert "" in check(src, tmp_path, NOW + timedelta(hours=1))


def test_what_the_clock_alone_changes_is_built_on_time(
    make_source: SourceFactory, tmp_path: Path
) -> None:
    # A story created in the future, a retraction dated in the future, an
    # update scheduled and withdrawn before it went out, and a clock that
    # goes back: each later build equals a build of everything.
    src = make_source(
        a=story(body=heading(1, 9, "a9")),
        c=story('title = "C"\ncreated = 2024-06-03T12:30:00+01:00', ""),
    )
    src.write(
        "a",
        src.read("a")
        + "\n## 2024-06-03 14:00 {#later}\n\nScheduled.\n"
        + '\n## 2024-06-01 08:00 {#wrong retracted="2024-06-03 13:00"}\n\nWrong.\n',
    )
    check(src, tmp_path, datetime(2024, 6, 3, 11, tzinfo=UTC))
    src.edit("a", "{#later}", "{#later retracted}")
    check(src, tmp_path, datetime(2024, 6, 3, 11, 5, tzinfo=UTC))
    atom = tmp_path / "out" / "a" / "atom.xml"
    assert 'when="2024-06-03T11:00:00Z"' in atom.read_text()  # not later than the clock
    # 11:30 UTC: c is created; 12:00 UTC: the retraction's own time.
    assert "c/" in check(src, tmp_path, datetime(2024, 6, 3, 11, 31, tzinfo=UTC))
    assert "a/" in check(src, tmp_path, datetime(2024, 6, 3, 12, 1, tzinfo=UTC))
    assert 'when="2024-06-03T13:00:00+01:00"' in atom.read_text()  # 12:00 UTC
    check(src, tmp_path, datetime(2024, 6, 3, 14, 1, tzinfo=UTC))
    assert "later" not in atom.read_text()  # withdrawn before it went out: no tombstone
    check(src, tmp_path, datetime(2024, 6, 3, 10, tzinfo=UTC))  # the clock went back
    check(src, tmp_path, datetime(2024, 6, 3, 15, tzinfo=UTC))


def test_an_upgrade_keeps_edit_times_and_tombstones(
    make_source: SourceFactory, tmp_path: Path
) -> None:
    # A story state as feeds 0.1 wrote it (format 3, with a link): its history is
    # read; the index and site cache of that version are not (one full build).
    import json

    src = make_source(a=story(body=heading(1, 9, "a9") + "\n\n" + heading(1, 8, "a8")))
    if src.kind == "postgres":
        pytest.skip("a database store's state is upgraded by feeds migrate, not from files")
    src.build(clock=lambda: NOW)
    src.edit("a", "a9 text.", "Edited.")
    src.build(clock=lambda: NOW + timedelta(hours=1))
    src.edit("a", heading(1, 8, "a8"), "")
    src.build(clock=lambda: NOW + timedelta(hours=2))
    state = tmp_path / "state"
    path = state / "stories" / "a.json"
    raw = json.loads(path.read_text())
    before = (tmp_path / "out" / "a" / "atom.xml").read_bytes()
    path.write_text(json.dumps({**raw, "format": 3, "link": {"slug": "a"}}))
    for name in ("index.json", "site.json"):
        (state / name).unlink()
    result = src.build(clock=lambda: NOW + timedelta(hours=3))
    assert sorted(result.rendered) == ["", "a/"] and result.written == []
    assert (tmp_path / "out" / "a" / "atom.xml").read_bytes() == before
    assert b"deleted-entry" in before and b"Edited." in before
