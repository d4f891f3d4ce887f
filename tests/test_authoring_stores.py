"""Authoring, written once over the Store interface, against every kind of store.

The CLI tests (test_authoring.py) cover what is particular to files (bytes
kept, line endings, symbolic links, the editor); these hold every store to
the same behaviour through the library: where updates go, ids, edits,
corrections, retractions, refusals that change nothing, concurrent writers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from feeds import AuthoringError
from feeds.authoring import (
    add_update,
    correct_update,
    edit_update,
    end_story,
    import_story,
    new_story,
    retract_update,
)
from feeds.errors import EditConflict
from feeds.store.changes import CreateStory, NewUpdate
from feeds.timeutil import zone

from .conftest import SITE_TOML, Source, SourceFactory, story

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # 13:00 in Lisbon
STORM = story(
    'title = "Storm"',
    """
    ## 2024-06-01 11:00 — Roads closed {#roads}

    Roads are closed.

    ## 2024-06-01 09:00

    First gusts.
    """,
)


@pytest.fixture
def src(make_source: SourceFactory) -> Source:
    return make_source(storm=STORM)


def anchors(src: Source) -> list[str]:
    site = src.store.read_site()
    read = src.store.read_story("storm", site)
    assert read.story is not None and not read.problems
    return [u.anchor for u in read.story.updates]


def test_add_goes_where_it_belongs(src: Source) -> None:
    ws = src.workspace()
    at = datetime(2024, 6, 1, 10, 0, tzinfo=zone("Europe/Lisbon"))
    update = add_update(ws, "storm", "Trees down.", at=at, now=NOW, title="Trees")
    assert update.id == "tag:news.test,2024:storm/u20240601-1000"
    assert anchors(src) == ["roads", "u20240601-1000", "u20240601-0900"]
    top = add_update(ws, "storm", "Later.", at=None, now=NOW)
    assert anchors(src)[0] == top.anchor == "u20240601-1300"


def test_the_same_minute_gets_another_id(src: Source) -> None:
    ws = src.workspace()
    first = add_update(ws, "storm", "One.", at=None, now=NOW)
    second = add_update(ws, "storm", "Two.", at=None, now=NOW)
    assert (first.anchor, second.anchor) == ("u20240601-1300", "u20240601-1300-b")


@pytest.mark.parametrize("state", ["same", "elsewhere", "fresh"])
def test_a_deleted_updates_id_is_never_reused_whatever_the_state(
    src: Source, state: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Built with its state in one folder; the update is deleted and the next
    # build announces it as deleted. A later add at the same minute must not
    # get its id, whichever state folder the add is told about (or none).
    built = tmp_path / "built-state"
    add_update(src.workspace(state=built), "storm", "Soon gone.", at=None, now=NOW)
    src.build(state=built, clock=lambda: NOW)
    src.write("storm", src.read("storm").split("## 2024-06-01 13:00")[0] + STORM.split("+++\n")[2])
    later = NOW + timedelta(minutes=5)
    result = src.build(state=built, clock=lambda: later)
    assert result.changed
    ws = {
        "same": src.workspace(state=built),
        "elsewhere": src.workspace(state=tmp_path / "other-state"),
        "fresh": src.workspace(),
    }[state]
    again = add_update(ws, "storm", "New text.", at=NOW, now=later)
    assert again.anchor == "u20240601-1300-b"


def test_edit_keeps_id_and_time_and_refuses_a_stale_editor(src: Source) -> None:
    ws = src.workspace()
    edited = edit_update(ws, "storm", "roads", text="Roads reopen.", title="Reopened")
    assert (edited.anchor, edited.title, edited.text) == ("roads", "Reopened", "Roads reopen.")
    before = src.read("storm")
    with pytest.raises(EditConflict):
        edit_update(ws, "storm", "roads", text="Mine.", started_from="Roads are closed.")
    assert src.read("storm") == before


def test_correct_and_retract(src: Source) -> None:
    ws = src.workspace()
    fixed = correct_update(ws, "storm", "roads", note="Only the coast road.", now=NOW)
    assert fixed.explicit_updated is not None and "**Correction (2024-06-01 13:00):**" in fixed.text
    gone = retract_update(ws, "storm", "roads", note="Wrong road", now=NOW)
    assert gone.retracted and gone.retraction_note == "Wrong road"
    result = src.build(clock=lambda: NOW)
    atom = (src.tmp_path / "out" / "storm" / "atom.xml").read_text()
    assert result.changed and 'ref="tag:news.test,2024:storm/roads"' in atom
    with pytest.raises(AuthoringError, match="already retracted"):
        retract_update(ws, "storm", "roads", note=None, now=NOW)


def test_retracting_an_embargoed_update_leaves_no_trace(src: Source) -> None:
    ws = src.workspace()
    later = add_update(ws, "storm", "Tomorrow.", at=NOW + timedelta(days=1), now=NOW)
    src.build(clock=lambda: NOW)
    retract_update(ws, "storm", later.anchor, note=None, now=NOW)
    src.build(clock=lambda: NOW + timedelta(days=2))
    assert later.anchor not in (src.tmp_path / "out" / "storm" / "atom.xml").read_text()


def test_new_end_and_import(src: Source) -> None:
    ws = src.workspace()
    made = new_story(ws, "flood", title="Flood", now=NOW)
    assert made.created is not None and made.updates == ()
    assert end_story(ws, "flood").status == "ended"
    with pytest.raises(AuthoringError, match="already exists"):
        new_story(ws, "flood", title="Again", now=NOW)
    when = datetime(2024, 6, 1, 9, 30, tzinfo=zone("Europe/Lisbon"))
    imported = import_story(
        ws,
        "quake",
        CreateStory(
            "Quake",
            "Europe/Lisbon",
            background=("Before.",),
            updates=(
                NewUpdate(when, "first", "A tremor."),
                NewUpdate(when + timedelta(minutes=5), "second", "Another."),
            ),
        ),
    )
    assert [u.anchor for u in imported.updates] == ["second", "first"]
    assert imported.background == "Before."


@pytest.mark.parametrize(
    "attempt",
    [
        lambda ws: add_update(ws, "storm", "## 2024-06-01 08:00\n\nSneaky.", at=None, now=NOW),
        lambda ws: add_update(ws, "storm", "x", at=None, now=NOW, anchor="roads"),
        lambda ws: add_update(ws, "nowhere", "x", at=None, now=NOW),
        lambda ws: edit_update(ws, "storm", "missing", text="x"),
        lambda ws: retract_update(ws, "storm", "roads", note='say "no"', now=NOW),
    ],
    ids=["heading-in-text", "taken-id", "no-story", "no-update", "bad-note"],
)
def test_refusals_change_nothing(src: Source, attempt) -> None:  # type: ignore[no-untyped-def]
    before = src.read("storm")
    with pytest.raises(AuthoringError):
        attempt(src.workspace())
    assert src.read("storm") == before


def test_concurrent_writers_all_land_exactly_once(src: Source) -> None:
    # Five writers, ten updates each, at the same minutes: every one lands once,
    # each with its own id (the store's lock makes the choice and the write one step).
    ws = src.workspace()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                when = NOW + timedelta(minutes=i)  # five writers in each minute
                add_update(ws, "storm", f"Writer {n}, update {i}.", at=None, now=when)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    texts = [u.text for u in src.store.read_story("storm", src.store.read_site()).story.updates]  # type: ignore[union-attr]
    added = [t for t in texts if t.startswith("Writer")]
    assert sorted(added) == sorted(f"Writer {n}, update {i}." for n in range(5) for i in range(10))
    assert len(set(anchors(src))) == len(anchors(src)) == 52


@pytest.mark.parametrize("days", [0, 30])
def test_an_id_is_retired_even_when_its_tombstone_is_not_kept(
    make_source: SourceFactory, days: int
) -> None:
    src = make_source(site=SITE_TOML + f"tombstone_days = {days}\n", storm=STORM)
    src.build(clock=lambda: NOW)
    src.edit("storm", "## 2024-06-01 11:00 — Roads closed {#roads}\n\nRoads are closed.\n\n", "")
    src.build(clock=lambda: NOW + timedelta(minutes=1))
    assert "roads" in src.store.retired("storm")
    with pytest.raises(AuthoringError, match="already has \\(or had\\)"):
        add_update(
            src.workspace(state=src.tmp_path / "fresh"),
            "storm",
            "x",
            at=None,
            now=NOW,
            anchor="roads",
        )


def test_a_store_that_cannot_record_retired_ids_fails_the_build_before_publishing(
    make_store,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from feeds import PublishError, Workspace, run_build
    from feeds.store.files import FileStore

    root = make_store(storm=STORM)
    ws = Workspace.of(root, tmp_path / "out", tmp_path / "state")
    run_build(ws, clock=lambda: NOW)
    assert isinstance(ws.store, FileStore)
    ws.store.meta.mkdir(parents=True, exist_ok=True)
    (ws.store.meta / "retired").write_text("not a folder")
    (root / "storm.md").write_text(STORM.replace("{#roads}", "{#roads retracted}"))
    before = (tmp_path / "out" / "storm" / "rss.xml").read_bytes()
    with pytest.raises(PublishError, match="cannot record its withdrawn ids"):
        run_build(ws, clock=lambda: NOW + timedelta(minutes=1))
    assert (tmp_path / "out" / "storm" / "rss.xml").read_bytes() == before
    (ws.store.meta / "retired").unlink()
    run_build(ws, clock=lambda: NOW + timedelta(minutes=2))
    assert "roads" in ws.store.retired("storm")


def test_a_memory_store_builds_many_stories_in_this_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from feeds import MemoryStore, read_all

    stories = {f"s{i}": STORM for i in range(70)}  # more than start worker processes
    src = Source("memory", tmp_path, SITE_TOML, stories)
    assert len(read_all(src.store).stories) == 70
    assert len(src.build(clock=lambda: NOW).rendered) == 71
    assert isinstance(src.store, MemoryStore)
