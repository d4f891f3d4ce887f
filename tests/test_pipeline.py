"""run_build(): incremental, idempotent, repairing, one at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds import Workspace
from feeds.build.commit import PUBLISHING_MARKER as DIRTY_MARKER
from feeds.build.lock import LockBusy, build_lock
from feeds.cli import EXIT_BUSY, cli

from .conftest import StoreFactory, snapshot_tree, story
from .conftest import run_folder as run_build

NOW = datetime(2024, 6, 2, 0, 0, tzinfo=UTC)


def body(n: int, day: int = 1) -> str:
    return "\n\n".join(f"## 2024-06-0{day} {h:02d}:00\n\nUpdate {h}." for h in range(n, 0, -1))


@pytest.fixture
def three(make_store: StoreFactory) -> Path:
    return make_store(a=story(body=body(3)), b=story(body=body(2)), c=story(body=body(1)))


def build(root: Path, tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("clock", lambda: NOW)
    return run_build(root, tmp_path / "out", tmp_path / "state", **kw)


def test_only_changed_stories_are_rendered(three: Path, tmp_path: Path) -> None:
    first = build(three, tmp_path)
    assert sorted(first.rendered) == ["", "a/", "b/", "c/"]
    assert first.summary() == "3 stories changed, 23 files written, 0 removed"

    noop = build(three, tmp_path)
    assert noop.rendered == [] and noop.written == [] and not noop.changed

    (three / "b.md").write_text(story(body=body(3)))
    one = build(three, tmp_path)
    assert sorted(one.rendered) == ["", "b/"]  # the site feed shows b's new update
    assert one.stories_changed == ["b"]

    forced = build(three, tmp_path, force=True)
    assert sorted(forced.rendered) == ["", "a/", "b/", "c/"]
    assert forced.written == []  # re-rendered, same bytes: nothing rewritten


def test_removed_story_takes_its_output_with_it(three: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(three, tmp_path)
    (out / "a" / "notes.txt").write_text("not ours")
    (three / "a.md").unlink()
    (three / "c.md").unlink()
    result = build(three, tmp_path)
    assert result.removed == [
        f"{s}/{n}"
        for s in "ac"
        for n in ("atom.xml", "feed.html", "feed.json", "index.html", "rss.xml")
    ]
    assert not (out / "c").exists()
    assert (out / "a" / "notes.txt").exists()  # only files feeds wrote are removed
    assert result.summary() == "2 stories changed, 6 files written, 10 removed"


def test_state_survives_rm_rf_out_and_out_is_rebuilt(three: Path, tmp_path: Path) -> None:
    build(three, tmp_path)
    expected = snapshot_tree(tmp_path / "out")
    import shutil

    shutil.rmtree(tmp_path / "out")
    again = build(three, tmp_path)
    assert sorted(again.rendered) == ["", "a/", "b/", "c/"]
    assert {k: v for k, (v, _) in snapshot_tree(tmp_path / "out").items()} == {
        k: v for k, (v, _) in expected.items()
    }


def test_a_damaged_output_file_is_repaired(three: Path, tmp_path: Path) -> None:
    build(three, tmp_path)
    target = tmp_path / "out" / "b" / "rss.xml"
    good = target.read_bytes()
    target.write_bytes(good[:100])
    assert build(three, tmp_path).rendered == ["b/"]
    assert target.read_bytes() == good


def test_unreadable_state_is_a_warning_not_a_failure(three: Path, tmp_path: Path) -> None:
    build(three, tmp_path)
    saved = tmp_path / "state" / "stories" / "b.json"
    saved.write_text("{not json")
    os.utime(three / "b.md", ns=(1, 1))  # read again, with its state
    result = build(three, tmp_path)
    assert result.warnings and "starting this story afresh" in result.warnings[0]
    assert result.written == []  # same store, same bytes
    json.loads(saved.read_text())  # rewritten whole


def test_interrupted_build_is_repaired(three: Path, tmp_path: Path) -> None:
    build(three, tmp_path)
    out = tmp_path / "out"
    # What a build killed mid-way leaves: its marker, a temp file, a file it
    # already replaced with content the state does not know about.
    (tmp_path / "state" / DIRTY_MARKER).touch()
    (out / "a" / ".rss.xml.k2j3.tmp").write_bytes(b"<rss")
    good = (out / "a" / "atom.xml").read_bytes()
    (out / "a" / "atom.xml").write_bytes(good.replace(b"Update 3", b"Update X"))
    result = build(three, tmp_path)
    assert result.repaired
    assert (out / "a" / "atom.xml").read_bytes() == good
    assert not list(out.rglob("*.tmp"))
    assert not (tmp_path / "state" / DIRTY_MARKER).exists()


def test_embargoed_update_goes_out_when_due(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(s=story(body="## 2024-06-01 12:00\n\nLater.\n\n## 2024-06-01 09:00\n\nNow."))
    early = build(root, tmp_path, clock=lambda: datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    assert early.next_due == datetime(2024, 6, 1, 11, 0, tzinfo=UTC)  # 12:00 in Lisbon
    feed = feedparser.parse((tmp_path / "out" / "s" / "atom.xml").read_bytes())
    assert [e.title for e in feed.entries] == ["Now."]
    assert feed.feed.updated == "2024-06-01T09:00:00+01:00"
    due = build(root, tmp_path, clock=lambda: datetime(2024, 6, 1, 11, 0, tzinfo=UTC))
    assert due.rendered == ["s/", ""]
    feed = feedparser.parse((tmp_path / "out" / "s" / "atom.xml").read_bytes())
    assert [e.title for e in feed.entries] == ["Later.", "Now."]


def test_no_feed_date_is_later_than_the_clock(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(
        s=story('title = "S"\ncreated = 2030-01-01T00:00:00Z', "## 2030-01-01 09:00\n\nLater.")
    )
    build(root, tmp_path)
    for name in ("s/atom.xml", "atom.xml"):
        feed = feedparser.parse((tmp_path / "out" / name).read_bytes())
        assert feed.feed.updated.startswith("1970-01-01"), name
        assert feed.entries == []


def test_edited_rss_items_carry_atom_updated(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(s=story(body="## 2024-06-01 09:00 {#x}\n\nFirst."))
    build(root, tmp_path)
    assert b"atom:updated" not in (tmp_path / "out" / "s" / "rss.xml").read_bytes()
    (root / "s.md").write_text(story(body="## 2024-06-01 09:00 {#x}\n\nFirst, edited."))
    build(root, tmp_path, clock=lambda: NOW + timedelta(hours=1))
    rss = (tmp_path / "out" / "s" / "rss.xml").read_text()
    assert "<atom:updated>2024-06-02T02:00:00+01:00</atom:updated>" in rss
    assert feedparser.parse(rss).bozo == 0


def test_default_state_dir_is_beside_data(tmp_path: Path) -> None:
    ws = Workspace.of(tmp_path / "site" / "data", tmp_path / "out")
    assert ws.state == (tmp_path / "site" / ".feeds").absolute()


def test_lock_bounds_the_wait(tmp_path: Path) -> None:
    with build_lock(tmp_path, wait=0):
        started = time.monotonic()
        with (
            pytest.raises(LockBusy, match=r"another build \(pid \d+\) is still running"),
            build_lock(tmp_path, wait=0.3),
        ):
            pass
        assert 0.3 <= time.monotonic() - started < 2
    with build_lock(tmp_path, wait=0):  # released
        pass


def test_cli_exits_75_when_the_lock_stays_busy(three: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with build_lock(state, wait=0):
        result = CliRunner().invoke(
            cli,
            [
                "build",
                "--data",
                str(three),
                "--out",
                str(tmp_path / "out"),
                "--state",
                str(state),
                "--wait",
                "0",
            ],
        )
    assert result.exit_code == EXIT_BUSY
    assert "another build" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_two_builds_at_once_run_one_after_the_other(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    """Two real processes: the second waits for the first, then finds nothing to do."""
    root = make_store(**{f"s{i}": story(body=body(9)) for i in range(150)})
    cmd = [
        sys.executable,
        "-m",
        "feeds",
        "build",
        "--data",
        str(root),
        "--out",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "state"),
        "-v",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(0.3)  # let it take the lock
    second = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    results = sorted([out1, out2], key=len)
    # Exactly one of them did the work; the other waited and found it done.
    # (rendering nothing: it saw that the store had not moved since that build)
    assert results[0].splitlines() == [
        "0 feed folders rendered",
        "0 stories changed, 0 files written, 0 removed",
    ]
    assert "150 stories changed, 758 files written, 0 removed" in results[1]
    for path in (tmp_path / "out").rglob("*.xml"):
        assert feedparser.parse(path.read_bytes()).bozo == 0


def test_adding_an_update_re_renders_only_what_shows_it(three: Path, tmp_path: Path) -> None:
    """Line numbers shift below new text; that alone must not count as a change."""
    build(three, tmp_path)
    (three / "a.md").write_text(story(body="Background grows.\n\nMore.\n\n" + body(3)))
    result = build(three, tmp_path)
    assert result.rendered == ["a/"]  # the page shows the background; no feed changed
    assert result.written == ["a/index.html"]


def test_unwritable_state_folder_is_a_clear_error(three: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        cli,
        [
            "build",
            "--data",
            str(three),
            "--out",
            str(tmp_path / "out"),
            "--state",
            str(blocker / "state"),
        ],
    )
    assert result.exit_code == 1
    assert "cannot make the lock file of the build" in result.output
    assert f"({blocker} is not a folder)" in result.output
    assert "Traceback" not in result.output


def test_unchanged_stories_are_not_parsed_again(
    three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.store import storyfile as files

    parsed: list[str] = []
    real = files.parse_story

    def counting(slug, raw, site, problems):  # type: ignore[no-untyped-def]
        parsed.append(slug)
        return real(slug, raw, site, problems)

    monkeypatch.setattr(files, "parse_story", counting)
    backdate(three)  # not just written (see test_a_file_changed_as_it_was_listed_is_read_again)
    build(three, tmp_path)
    assert sorted(parsed) == ["a", "b", "c"]
    parsed.clear()
    (three / "b.md").write_text(story(body=body(3)))
    result = build(three, tmp_path)
    assert parsed == ["b"]  # a and c are not read at all
    assert result.stories_changed == ["b"]
    parsed.clear()
    (three / "site.toml").write_text((three / "site.toml").read_text() + "ttl = 5\n")
    build(three, tmp_path)
    assert sorted(parsed) == ["a", "b", "c"]  # every story depends on site.toml
    (three / "c.md").unlink()
    build(three, tmp_path)
    # c's state stays while its updates are announced as deleted.
    gone = json.loads((tmp_path / "state" / "stories" / "c.json").read_text())
    assert gone["keys"] == [] and gone["published"] == {} and gone["tombstones"]


def test_a_withdrawn_updates_permalink_still_lands_somewhere(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(
        s=story(body="## 2024-06-01 10:00 {#x}\n\nFirst.\n\n## 2024-06-01 09:00\n\nx")
    )
    build(root, tmp_path)
    (root / "s.md").write_text(
        story(
            body='## 2024-06-01 10:00 {#x retracted note="Not confirmed."}\n\nFirst.\n\n'
            "## 2024-06-01 09:00\n\nx"
        )
    )
    build(root, tmp_path, clock=lambda: NOW + timedelta(hours=1))
    page = (tmp_path / "out" / "s" / "index.html").read_text()
    assert '<li class="update withdrawn" id="x">' in page
    assert "<h2>Withdrawn: Not confirmed.</h2>" in page
    assert "<strong>Withdrawn</strong> at 02:00 WEST on 2 June 2024: Not confirmed." in page
    assert "first published at 10:00 WEST on 1 June 2024." in page
    assert "First." not in page  # the withdrawn text is not shown
    # Long after the feeds stopped carrying the notice, the page keeps it.
    build(root, tmp_path, clock=lambda: NOW + timedelta(days=60))
    page = (tmp_path / "out" / "s" / "index.html").read_text()
    assert '<li class="update withdrawn" id="x">' in page
    assert "x" not in [e for e in (tmp_path / "out" / "s" / "rss.xml").read_text().split()]


def test_verbose_names_only_real_embargoes(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(
        s=story(body="## 2024-06-01 10:00 {#x}\n\nFirst.\n\n## 2024-06-01 09:00\n\nx")
    )
    runner = CliRunner()
    args = ["build", "-v", "--data", str(root), "--out", str(tmp_path / "out")]
    args += ["--state", str(tmp_path / "state"), "--now", "2024-06-02T00:00:00Z"]
    assert runner.invoke(cli, args).exit_code == 0
    (root / "s.md").write_text((root / "s.md").read_text().replace("{#x}", "{#x retracted}"))
    result = runner.invoke(cli, args)
    assert result.exit_code == 0 and "held back" not in result.output  # a tombstone, not an embargo
    assert "2 feed folders rendered" in result.output
    (root / "s.md").write_text((root / "s.md").read_text() + "\n## 2024-06-03 10:00\n\nLater.\n")
    assert "held back until 2024-06-03T09:00:00Z" in runner.invoke(cli, args).output


def backdate(root: Path, seconds: int = 60) -> None:
    """Every file of the store as if saved a while ago."""
    then = time.time_ns() - seconds * 1_000_000_000
    for path in root.iterdir():
        os.utime(path, ns=(then, then))


def test_a_file_changed_as_it_was_listed_is_read_again(
    three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file saved just before the store is listed could be saved again in the
    # same tick of the file system's clock, same size, same mtime: its stat is
    # not trusted, so the next build reads it again, and later ones do not.
    from feeds.store import storyfile as files

    parsed: list[str] = []
    real = files.parse_story
    monkeypatch.setattr(files, "parse_story", lambda *a: parsed.append(a[0]) or real(*a))
    backdate(three)
    build(three, tmp_path)
    path = three / "b.md"
    path.write_text(story(body=body(2, day=2)))
    parsed.clear()
    build(three, tmp_path)
    assert parsed == ["b"]
    stat = path.stat()
    path.write_text(story(body=body(2, day=3)))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    parsed.clear()
    result = build(three, tmp_path)
    assert parsed == ["b"] and result.stories_changed == ["b"]
    backdate(three)
    build(three, tmp_path)
    parsed.clear()
    assert not build(three, tmp_path).rendered and parsed == []


def test_only_settings_that_shape_output_render_everything_again(
    three: Path, tmp_path: Path
) -> None:
    build(three, tmp_path)
    site = three / "site.toml"
    for change, everything in (
        ("# a comment\n", False),
        ("cache_max_age = 300\n", False),  # only feeds serve reads it
        ('out = "public"\n', False),  # where, not what
        ("ttl = 5\n", True),
    ):
        site.write_text(site.read_text() + change)
        result = build(three, tmp_path)
        assert sorted(result.rendered) == (["", "a/", "b/", "c/"] if everything else []), change


def test_a_site_file_that_cannot_be_written_is_a_clear_error(three: Path, tmp_path: Path) -> None:
    build(three, tmp_path)
    site_rss = tmp_path / "out" / "rss.xml"
    site_rss.unlink()
    site_rss.mkdir()  # what a full disk or a wrong permission would do to the rename
    (three / "a.md").write_text(story(body=body(4)))
    result = CliRunner(env={"FEEDS_NOW": "2024-06-02T00:00:00Z"}).invoke(
        cli,
        [
            "build",
            "--data",
            str(three),
            "--out",
            str(tmp_path / "out"),
            "--state",
            str(tmp_path / "state"),
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "rss.xml: cannot write" in result.output and "the next build repairs" in result.output
    site_rss.rmdir()
    repaired = build(three, tmp_path)
    assert repaired.repaired and site_rss.is_file()


def test_a_new_version_renders_everything_again(
    three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feeds
    from feeds.build import folder

    build(three, tmp_path)
    assert build(three, tmp_path).rendered == []
    monkeypatch.setattr(feeds, "__version__", "99.0")
    monkeypatch.setattr(folder, "__version__", "99.0")
    assert sorted(build(three, tmp_path).rendered) == ["", "a/", "b/", "c/"]
    assert build(three, tmp_path).rendered == []


def test_a_replaced_file_is_dated_in_a_later_second(three: Path, tmp_path: Path) -> None:
    """HTTP's Last-Modified has whole seconds: a feed rebuilt with new bytes in the
    second of the last build must still get a later one, or clients that trust it
    (libcurl's If-Modified-Since check in newsboat) keep the old feed."""
    import os

    build(three, tmp_path)
    feed = tmp_path / "out" / "b" / "atom.xml"
    first = os.stat(feed).st_mtime_ns // 1_000_000_000
    before = feed.read_bytes()
    (three / "b.md").write_text(story(body=body(3)))
    build(three, tmp_path)
    assert feed.read_bytes() != before
    assert os.stat(feed).st_mtime_ns // 1_000_000_000 > first
