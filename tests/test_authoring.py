"""The authoring commands, through the CLI: what reporters and editors type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result

from feeds.cli import cli

from .conftest import StoreFactory, load_store, snapshot_tree, story

NOW = "2024-06-01T12:00:00Z"  # 13:00 in Lisbon, the test site's zone

STORM = story(
    'title = "Storm"\nsummary = "A storm."',
    """
    Background.

    ## 2024-06-01 11:00 — Roads closed {#roads}

    Roads are closed.

    ## 2024-06-01 09:00

    First gusts.
    """,
)


@pytest.fixture
def store(make_store: StoreFactory) -> Path:
    return make_store(storm=STORM)


def feeds(root: Path, *args: str, input: str | None = None, now: str = NOW) -> Result:
    return CliRunner(env={"FEEDS_NOW": now}).invoke(
        cli, [args[0], *args[1:], "--data", str(root)], input=input, catch_exceptions=False
    )


def ids(root: Path) -> list[str]:
    (s,) = [s for s in load_store(root).stories if s.slug == "storm"]
    return [u.anchor for u in s.updates]


# -- add ---------------------------------------------------------------------


def test_add_inserts_newest_first_and_keeps_every_other_byte(store: Path) -> None:
    before = (store / "storm.md").read_text()
    result = feeds(store, "add", "storm", "Winds easing.", "--at", "10:00", "--title", "Easing")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "tag:news.test,2024:storm/u20240601-1000",
        "https://news.test/live/storm/#u20240601-1000",
    ]
    after = (store / "storm.md").read_text()
    added = "## 2024-06-01 10:00 — Easing {#u20240601-1000}\n\nWinds easing.\n\n"
    assert after == before.replace("## 2024-06-01 09:00", added + "## 2024-06-01 09:00")
    assert ids(store) == ["roads", "u20240601-1000", "u20240601-0900"]


def test_add_now_goes_on_top(store: Path) -> None:
    assert feeds(store, "add", "storm", "Latest.").exit_code == 0
    text = (store / "storm.md").read_text()
    assert text.index("## 2024-06-01 13:00 {#u20240601-1300}") < text.index("## 2024-06-01 11:00")
    assert ids(store)[0] == "u20240601-1300"


@pytest.mark.parametrize(
    ("at", "stamp"),
    [
        ("2024-06-01 08:15", "## 2024-06-01 08:15 {#u20240601-0815}"),
        ("2024-06-01T07:15:00Z", "## 2024-06-01 08:15 {#u20240601-0815}"),
        ("30 minutes ago", "## 2024-06-01 12:30 {#u20240601-1230}"),
        ("2024-06-02 09:00", "## 2024-06-02 09:00 {#u20240602-0900}"),  # scheduled
    ],
)
def test_add_at(store: Path, at: str, stamp: str) -> None:
    result = feeds(store, "add", "storm", "Text.", "--at", at)
    assert result.exit_code == 0, result.output
    assert stamp in (store / "storm.md").read_text()
    assert ("scheduled" in result.output) == at.startswith("2024-06-02")


def test_add_at_a_repeated_time_writes_the_offset(make_store: StoreFactory) -> None:
    root = make_store(
        storm=STORM.replace('title = "Storm"', 'title = "Storm"\ntimezone = "America/New_York"')
    )
    result = feeds(
        root,
        "add",
        "storm",
        "Second pass.",
        "--at",
        "2025-11-02T06:30:00Z",
        now="2025-11-02T07:00:00Z",
    )
    assert result.exit_code == 0, result.output
    assert "## 2025-11-02 01:30 -05:00 {#u20251102-0130-2}" in (root / "storm.md").read_text()


def test_add_from_stdin_with_author_and_id(store: Path) -> None:
    result = feeds(
        store,
        "add",
        "storm",
        "-",
        "--author",
        "Ana Ribeiro <ana@x.test>",
        "--id",
        "ana-1",
        input="Line one.\n\nLine two.\n",
    )
    assert result.exit_code == 0, result.output
    (s,) = load_store(store).stories
    update = s.updates[0]
    assert (update.anchor, update.text) == ("ana-1", "Line one.\n\nLine two.")
    assert (update.authors[0].name, update.authors[0].email) == ("Ana Ribeiro", "ana@x.test")


def test_add_from_the_editor(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("click.edit", lambda *a, **k: "Typed in the editor.\n")
    assert feeds(store, "add", "storm").exit_code == 0
    (s,) = load_store(store).stories
    assert s.updates[0].text == "Typed in the editor."


def test_same_minute_gets_a_distinct_id(store: Path) -> None:
    for _ in range(2):
        assert feeds(store, "add", "storm", "Again.", "--at", "10:00").exit_code == 0
    assert ids(store)[1:3] == ["u20240601-1000-b", "u20240601-1000"]


def test_crlf_and_bom_files_keep_their_style(store: Path) -> None:
    raw = b"\xef\xbb\xbf" + STORM.replace("\n", "\r\n").encode()
    (store / "storm.md").write_bytes(raw)
    assert feeds(store, "add", "storm", "New.", "--at", "10:00").exit_code == 0
    after = (store / "storm.md").read_bytes()
    assert after.startswith(b"\xef\xbb\xbf") and b"\n" not in after.replace(b"\r\n", b"")
    assert after.replace(b"## 2024-06-01 10:00 {#u20240601-1000}\r\n\r\nNew.\r\n\r\n", b"") == raw


FAILURES = {
    "unknown story": (["add", "nope", "x"], 1, "no story 'nope'"),
    "bad slug": (["add", "Bad_Slug", "x"], 2, "'Bad_Slug' is not a valid story name"),
    "bad time": (["add", "storm", "x", "--at", "25:99"], 2, "is not a time (hours run 00-23)"),
    "repeated time": (["add", "storm", "x", "--at", "2024-10-27 01:30"], 2, "happens twice"),
    "empty text": (["add", "storm", "   \n"], 1, "the update has no text; nothing was written"),
    "id taken": (
        ["add", "storm", "x", "--id", "roads"],
        1,
        "already has (or had) an update with the id",
    ),
    "bad id": (["add", "storm", "x", "--id", "9lives"], 1, "bad anchor '9lives'"),
    "heading in text": (
        ["add", "storm", "x\n\n## 2024-06-01 05:00\n\ny"],
        1,
        "the text would create another update",
    ),
    "edit unknown id": (["edit", "storm", "nope", "--text", "x"], 1, "has no update 'nope'"),
    "edit to empty": (["edit", "storm", "roads", "--text", " "], 1, "the new text is empty"),
    "correct without note": (["correct", "storm", "roads", "--note", ""], 1, "needs a note"),
    "retract quote in note": (
        ["retract", "storm", "roads", "--note", 'say "no"'],
        1,
        "must not be empty or contain",
    ),
    "new existing": (["new", "storm", "--title", "x"], 1, "already exists"),
    "new bad slug": (["new", "Storm!", "--title", "x"], 2, "is not a valid story name"),
    "new bad zone": (
        ["new", "calm", "--title", "x", "--timezone", "Mars/Base"],
        1,
        "unknown timezone 'Mars/Base'",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_failed_commands_leave_data_byte_identical(case: str, store: Path) -> None:
    args, code, message = FAILURES[case]
    before = snapshot_tree(store)
    result = feeds(store, *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert snapshot_tree(store) == before


def test_editor_aborted(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("click.edit", lambda *a, **k: None)
    before = snapshot_tree(store)
    result = feeds(store, "add", "storm")
    assert result.exit_code == 1
    assert "the editor was closed without saving; nothing was written" in result.output
    assert snapshot_tree(store) == before


def test_an_invalid_story_is_refused_not_made_worse(store: Path) -> None:
    (store / "storm.md").write_text(STORM + "\n## 2024-06-01 25:00\n\nbad\n")
    before = snapshot_tree(store)
    result = feeds(store, "add", "storm", "x")
    assert result.exit_code == 1
    assert "is not a time (hours run 00-23)" in result.output
    assert "fix the story file first" in result.output
    assert snapshot_tree(store) == before


# -- edit, correct, retract, end ----------------------------------------------


def test_edit_keeps_id_and_time_and_pins_the_anchor(store: Path) -> None:
    result = feeds(
        store,
        "edit",
        "storm",
        "u20240601-0900",
        "--text",
        "First gusts, 80 km/h.",
        "--title",
        "Gusts",
    )
    assert result.exit_code == 0, result.output
    text = (store / "storm.md").read_text()
    assert "## 2024-06-01 09:00 — Gusts {#u20240601-0900}\n\nFirst gusts, 80 km/h.\n" in text
    assert text.endswith("80 km/h.\n")
    assert "Roads are closed.\n\n## 2024-06-01 09:00" in text


def test_edit_in_the_editor_starts_from_the_current_text(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    def fake_edit(text: str, **kw: object) -> str:
        seen.append(text)
        return text.replace("closed", "closed in both directions")

    monkeypatch.setattr("click.edit", fake_edit)
    assert feeds(store, "edit", "storm", "roads").exit_code == 0
    assert seen == ["Roads are closed.\n"]
    assert "Roads are closed in both directions." in (store / "storm.md").read_text()


def test_correct_and_retract_reach_the_feeds(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert feeds(store, "build", "--out", str(out), now="2024-06-01T12:00:00Z").exit_code == 0
    assert (
        feeds(
            store,
            "correct",
            "storm",
            "roads",
            "--note",
            "Only the coast road.",
            now="2024-06-01T12:30:00Z",
        ).exit_code
        == 0
    )
    assert (
        feeds(
            store,
            "retract",
            "storm",
            "u20240601-0900",
            "--note",
            "Wrong town.",
            now="2024-06-01T12:40:00Z",
        ).exit_code
        == 0
    )
    text = (store / "storm.md").read_text()
    assert '{#roads updated="2024-06-01 13:30"}' in text
    assert "**Correction (2024-06-01 13:30):** Only the coast road." in text
    assert '{#u20240601-0900 retracted="2024-06-01 13:40" note="Wrong town."}' in text
    assert feeds(store, "build", "--out", str(out), now="2024-06-01T12:45:00Z").exit_code == 0
    atom = feedparser.parse((out / "storm" / "atom.xml").read_bytes())
    entry, notice = atom.entries
    assert entry.updated == "2024-06-01T13:30:00+01:00"
    assert "Only the coast road." in entry.content[0].value
    # The withdrawn update is a notice for a week: same id, new title and text,
    # updated a second before its tombstone, which clients that know RFC 6721 follow.
    assert notice.id == "tag:news.test,2024:storm/u20240601-0900"
    assert notice.title == "Withdrawn: Wrong town."
    assert notice.updated == "2024-06-01T13:39:59+01:00"
    assert "Withdrawn</strong> at 13:40 WEST on 1 June 2024: Wrong town." in notice.content[0].value
    raw = (out / "storm" / "atom.xml").read_text()
    assert 'ref="tag:news.test,2024:storm/u20240601-0900" when="2024-06-01T13:40:00+01:00"' in raw
    assert "<at:comment>Wrong town.</at:comment>" in raw
    rss = feedparser.parse((out / "storm" / "rss.xml").read_bytes())
    titles = {e.id: e.title for e in rss.entries}
    assert titles["tag:news.test,2024:storm/u20240601-0900"] == "Withdrawn: Wrong town."
    week = feeds(store, "build", "--out", str(out), now="2024-06-08T12:41:00Z")
    assert week.exit_code == 0
    assert "u20240601-0900" not in (out / "storm" / "rss.xml").read_text()
    assert 'id="u20240601-0900"' in (out / "storm" / "index.html").read_text()


def test_end(store: Path) -> None:
    assert feeds(store, "end", "storm").output == "storm: ended\n"
    assert 'status = "ended"\n+++' in (store / "storm.md").read_text()
    assert feeds(store, "end", "storm").exit_code == 0  # already ended: fine, nothing changes


# -- init, new ---------------------------------------------------------------


def test_init_new_add_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    runner = CliRunner(env={"FEEDS_NOW": NOW})
    result = runner.invoke(
        cli,
        ["init", str(site)],
        input="Live desk\nhttps://news.test/\nAsia/Tehran\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert (site / ".gitignore").read_text() == "/out/\n/.feeds/\n/.venv/\n"
    assert 'id_authority = "news.test,2024"' in (site / "data" / "site.toml").read_text()
    data = site / "data"
    assert (
        feeds(
            data, "new", "kazerun", "--title", "Clashes", "--summary", "Night of clashes."
        ).exit_code
        == 0
    )
    # Iran has kept UTC+03:30 all year since 2022.
    assert "created = 2024-06-01T15:30:00+03:30" in (data / "kazerun.md").read_text()
    assert feeds(data, "add", "kazerun", "A convoy arrives.", "--at", "15:10").exit_code == 0
    out = tmp_path / "out"
    assert feeds(data, "build", "--out", str(out)).exit_code == 0
    feed = feedparser.parse((out / "kazerun" / "rss.xml").read_bytes())
    assert feed.bozo == 0 and [e.title for e in feed.entries] == ["A convoy arrives."]
    assert sorted(p.stem for p in data.glob("*.md")) == ["example", "kazerun"]

    before = snapshot_tree(site)
    again = runner.invoke(
        cli,
        ["init", str(site), "--title", "x", "--base-url", "https://x.test/", "--timezone", "UTC"],
    )
    assert again.exit_code == 1 and "already exists" in again.output
    assert snapshot_tree(site) == before


# -- list, show, export, check -----------------------------------------------


def test_list_and_show(store: Path) -> None:
    feeds(store, "add", "storm", "Later.", "--at", "2024-06-02 09:00")  # scheduled
    listing = feeds(store, "list").output.splitlines()
    assert listing[0].split() == ["STORY", "STATUS", "UPDATES", "LAST", "UPDATE", "TITLE"]
    assert listing[1].split() == ["storm", "live", "2", "2024-06-01", "11:00", "+0100", "Storm"]
    shown = feeds(store, "show", "storm").output.splitlines()
    assert shown[0] == "Storm  [live, Europe/Lisbon]"
    assert shown[3].split()[:5] == ["2024-06-02", "09:00", "+0100", "08:00Z", "u20240602-0900"]
    assert "scheduled" in shown[3]
    assert feeds(store, "show", "nope").exit_code == 1


def test_export_json_and_md(store: Path) -> None:
    updates = json.loads(feeds(store, "export", "storm").output)
    assert [u["id"] for u in updates] == [
        "tag:news.test,2024:storm/roads",
        "tag:news.test,2024:storm/u20240601-0900",
    ]
    first = updates[0]
    assert first["published"] == "2024-06-01T11:00:00+01:00" == first["updated"]
    assert (first["title"], first["text"], first["html"]) == (
        "Roads closed",
        "Roads are closed.",
        "<p>Roads are closed.</p>",
    )
    everything = json.loads(feeds(store, "export", "--all").output)
    assert [s["slug"] for s in everything["stories"]] == ["storm"]
    assert feeds(store, "export", "storm", "--format", "md").output == STORM
    assert feeds(store, "export").exit_code == 2


def test_check(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = feeds(store, "check", "--out", str(out))
    assert missing.exit_code == 1 and "storm/rss.xml: missing: run feeds build" in missing.output
    assert not out.exists()
    feeds(store, "build", "--out", str(out))
    assert feeds(store, "check", "--out", str(out)).output.startswith("ok: 1 story")
    (out / "storm" / "atom.xml").write_text("<feed")
    feeds(store, "add", "storm", "New.")
    before = snapshot_tree(tmp_path)
    stale = feeds(store, "check", "--out", str(out))
    assert stale.exit_code == 1
    assert "storm/atom.xml:1: not well-formed XML" in stale.output
    assert "storm/rss.xml: out of date: run feeds build (feeds build --force if" in stale.output
    assert "storm/index.html: out of date: run feeds build" in stale.output  # not "XML"
    assert snapshot_tree(tmp_path) == before  # check writes nothing


# -- concurrency ---------------------------------------------------------------


@pytest.mark.slow
def test_twenty_concurrent_adds_all_land_once(store: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FEEDS_NOW": NOW}
    base = [sys.executable, "-m", "feeds"]
    procs = [
        subprocess.Popen(
            [
                *base,
                "add",
                "storm",
                f"Concurrent update number {i}.",
                "--at",
                "10:00",
                "--data",
                str(store),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    builder = subprocess.Popen(
        [*base, "build", "--data", str(store), "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert builder.wait(timeout=120) == 0
    (s,) = load_store(store).stories  # still a valid story
    texts = [u.text for u in s.updates]
    for i in range(20):
        assert texts.count(f"Concurrent update number {i}.") == 1
    assert len(s.updates) == 22
    assert len({u.id for u in s.updates}) == 22
    printed = sorted(out.splitlines()[0] for out, _ in results)
    assert printed == sorted(u.id for u in s.updates if u.text.startswith("Concurrent"))


def test_progress_bar_only_on_a_terminal_and_only_for_long_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from feeds import cli as cli_module

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, total, shown in (
        (Terminal(), 60, True),
        (Terminal(), 10, False),
        (io.StringIO(), 60, False),
    ):
        monkeypatch.setattr(cli_module.sys, "stderr", stream)
        with cli_module._progress(enabled=True) as progress:
            if progress:
                for done in range(1, total + 1):
                    progress(done, total)
        assert ("rendering" in stream.getvalue()) is shown


# -- regressions found by trying to break the commands --------------------------


def test_a_stray_carriage_return_does_not_shift_the_target(make_store: StoreFactory) -> None:
    root = make_store()
    (root / "s.md").write_bytes(
        b'+++\ntitle = "S"\n+++\n\nBackground\rwith a stray CR.\n\n'
        b"## 2024-06-01 07:30 \xe2\x80\x94 Rumour {#rumour}\n\nUnconfirmed.\n\n"
        b"## 2024-06-01 07:00 \xe2\x80\x94 Warning {#warning}\n\nA red warning.\n"
    )
    assert feeds(root, "retract", "s", "rumour", "--note", "Not confirmed").exit_code == 0
    text = (root / "s.md").read_bytes()
    assert b'{#rumour retracted="2024-06-01 13:00" note="Not confirmed"}' in text
    assert b"Background\rwith a stray CR." in text  # that byte is not ours to change
    assert feeds(root, "add", "s", "Later.", "--at", "07:15").exit_code == 0
    (s,) = load_store(root).stories
    assert {u.anchor: u.text for u in s.updates}["warning"] == "A red warning."


def test_other_lines_keep_their_own_line_endings(make_store: StoreFactory) -> None:
    root = make_store()
    raw = STORM.encode().replace(b"Roads are closed.\n", b"Roads are closed.\r\n")
    (root / "storm.md").write_bytes(raw)
    assert feeds(root, "add", "storm", "New.", "--at", "10:00").exit_code == 0
    after = (root / "storm.md").read_bytes()
    assert after.replace(b"## 2024-06-01 10:00 {#u20240601-1000}\n\nNew.\n\n", b"") == raw


def test_a_symlinked_story_is_changed_through_the_link(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store()
    real = tmp_path / "elsewhere.md"
    real.write_text(STORM)
    (root / "storm.md").symlink_to(real)
    assert feeds(root, "add", "storm", "Through the link.").exit_code == 0
    assert (root / "storm.md").is_symlink()
    assert "Through the link." in real.read_text()


def test_retracting_an_embargoed_update_leaves_no_trace(store: Path, tmp_path: Path) -> None:
    feeds(store, "add", "storm", "Embargoed.", "--at", "2024-06-02 09:00", "--id", "later")
    assert feeds(store, "retract", "storm", "later", "--note", "Pulled.").exit_code == 0
    assert '{#later retracted note="Pulled."}' in (store / "storm.md").read_text()
    out = tmp_path / "out"
    feeds(store, "build", "--out", str(out))
    assert "later" not in (out / "atom.xml").read_text()
    assert "later" not in (out / "storm" / "atom.xml").read_text()


def test_a_deleted_updates_id_is_never_reused(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    feeds(store, "add", "storm", "Gone soon.", "--at", "10:00")
    feeds(store, "build", "--out", str(out))
    text = (store / "storm.md").read_text()
    (store / "storm.md").write_text(
        text.replace("## 2024-06-01 10:00 {#u20240601-1000}\n\nGone soon.\n\n", "")
    )
    feeds(store, "build", "--out", str(out))
    result = feeds(store, "add", "storm", "Something else.", "--at", "10:00")
    assert result.output.startswith("tag:news.test,2024:storm/u20240601-1000-b\n")


def test_titles_and_authors_are_one_line(store: Path) -> None:
    assert (
        feeds(store, "add", "storm", "x", "--title", "Two\nlines", "--at", "10:00").exit_code == 0
    )
    assert (
        "## 2024-06-01 10:00 — Two lines {#u20240601-1000}\n\nx\n"
        in (store / "storm.md").read_text()
    )


def test_editing_keeps_hard_line_breaks_and_closing_hashes_go(store: Path) -> None:
    feeds(store, "add", "storm", "Poem line one  \nline two", "--at", "10:00")
    text = (
        (store / "storm.md")
        .read_text()
        .replace("## 2024-06-01 09:00", "## 2024-06-01 09:00 — Closing hashes ##")
    )
    (store / "storm.md").write_text(text)
    assert (
        feeds(
            store, "edit", "storm", "u20240601-1000", "--text", "Poem line one  \nline two"
        ).exit_code
        == 0
    )
    assert "Poem line one  \nline two" in (store / "storm.md").read_text()
    assert feeds(store, "correct", "storm", "u20240601-0900", "--note", "Fixed.").exit_code == 0
    assert "— Closing hashes {#u20240601-0900" in (store / "storm.md").read_text()


def test_edit_refuses_to_overwrite_a_change_made_meanwhile(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def editor_while_someone_corrects(text: str, **kw: object) -> str:
        assert (
            feeds(store, "correct", "storm", "roads", "--note", "Coast road only.").exit_code == 0
        )
        return "My rewrite."

    monkeypatch.setattr("click.edit", editor_while_someone_corrects)
    result = feeds(store, "edit", "storm", "roads")
    assert result.exit_code == 1
    assert "was changed by someone else while you were editing it" in result.output
    draft = Path(result.output.split("your text is kept in ")[1].strip())
    assert draft.read_text() == "My rewrite."
    assert "Coast road only." in (store / "storm.md").read_text()


def test_add_build_failure_says_the_update_is_saved(store: Path, tmp_path: Path) -> None:
    (store / "bad.md").write_text("not a story")
    result = feeds(
        store, "add", "storm", "Saved anyway.", "--build", "--out", str(tmp_path / "out")
    )
    assert result.exit_code == 3
    assert "the update is saved, but the build failed" in result.output
    assert "Saved anyway." in (store / "storm.md").read_text()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["new", "ok", "--title", "bell\x01title"], 1, "control character U+0001"),
        (["new", "a" * 101, "--title", "x"], 2, "at most 100"),
        (["add", "storm", "x", "--at", "999999999 days ago"], 2, "too long ago"),
        (["add", "storm", "x", "--at", "2300-01-01 00:00"], 2, "years run 1900-2199"),
    ],
)
def test_more_refusals(store: Path, args: list[str], code: int, message: str) -> None:
    before = snapshot_tree(store)
    result = feeds(store, *args)
    assert (result.exit_code, message in result.output) == (code, True), result.output
    assert snapshot_tree(store) == before


def test_the_size_limit_holds_for_commands_too(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.store import files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 600)
    before = snapshot_tree(store)
    result = feeds(store, "add", "storm", "word " * 100)
    assert result.exit_code == 1 and "would grow past 600 bytes" in result.output
    assert snapshot_tree(store) == before


def test_relative_times_are_to_the_minute(store: Path) -> None:
    result = feeds(store, "add", "storm", "x", "--at", "now", now="2024-06-01T12:00:37Z")
    assert result.output.startswith("tag:news.test,2024:storm/u20240601-1300\n")
    assert (
        feeds(
            store, "correct", "storm", "u20240601-1300", "--note", "y", now="2024-06-01T12:00:50Z"
        ).exit_code
        == 0
    )


def test_end_finds_a_closing_line_with_trailing_space(store: Path) -> None:
    (store / "storm.md").write_text(STORM.replace("+++\n\nBackground", "+++ \n\nBackground"))
    assert feeds(store, "end", "storm").exit_code == 0


def test_init_in_the_repeated_hour_writes_a_valid_example(tmp_path: Path) -> None:
    result = CliRunner(env={"FEEDS_NOW": "2025-11-02T05:30:00Z"}).invoke(
        cli,
        [
            "init",
            str(tmp_path / "s"),
            "--title",
            "T",
            "--base-url",
            "https://n.test/",
            "--timezone",
            "America/New_York",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert (
        "## 2025-11-02 01:30 -04:00 — The first update"
        in (tmp_path / "s/data/example.md").read_text()
    )
    assert load_store(tmp_path / "s" / "data").stories


def test_a_correction_is_at_the_top_and_keeps_the_derived_title(store: Path) -> None:
    def the(anchor: str) -> Any:
        (s,) = [s for s in load_store(store).stories if s.slug == "storm"]
        return next(u for u in s.updates if u.anchor == anchor)

    before = the("u20240601-0900")
    for when, note in (("12:30", "First fix."), ("12:50", "Second fix.")):
        done = feeds(store, "correct", "storm", "u20240601-0900", "--note", note,
                     now=f"2024-06-01T{when}:00Z")  # fmt: skip
        assert done.exit_code == 0, done.output
    after = the("u20240601-0900")
    assert after.text.startswith("**Correction (2024-06-01 13:50):** Second fix.\n\n"
                                 "**Correction (2024-06-01 13:30):** First fix.\n\n")  # fmt: skip
    assert after.text.endswith(before.text)
    assert after.title == before.title and after.title_is_derived
