"""`feeds build` from the command line: output, exit codes, and bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import cli

from .conftest import StoreFactory, snapshot_tree, story

GOOD = story(
    'title = "Good"',
    """
    ## 2024-06-01 09:00 — Fine {#fine}

    All well.
    """,
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_build(runner: CliRunner, root: Path, out: Path):  # type: ignore[no-untyped-def]
    # catch_exceptions=False: an unexpected exception (a traceback for the
    # user) fails the test instead of passing as "exit code 1".
    return runner.invoke(
        cli, ["build", "--data", str(root), "--out", str(out)], catch_exceptions=False
    )


def test_build_writes_then_is_quiet(
    runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(good=GOOD)
    out = tmp_path / "out"
    first = run_build(runner, root, out)
    assert first.exit_code == 0, first.output
    assert first.output == "1 story changed, 13 files written, 0 removed\n"
    before = snapshot_tree(out)
    second = run_build(runner, root, out)
    assert second.exit_code == 0
    assert second.output == ""  # nothing changed: silent, for cron
    assert snapshot_tree(out) == before  # same bytes, same mtimes


def test_output_files_are_world_readable(
    runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run_build(runner, make_store(good=GOOD), out).exit_code == 0
    assert (out / "good" / "rss.xml").stat().st_mode & 0o777 == 0o644
    assert not [p for p in out.rglob("*.tmp")]


BAD_INPUTS = {
    "broken front matter": (
        story('title = "Oops\ntimezone = "UTC"', "## 2024-06-01 09:00\n\nx"),
        r"bad\.md:2: front matter is not valid TOML",
    ),
    "unclosed front matter": (
        '+++\ntitle = "x"\n\n## 2024-06-01 09:00\n\nx\n',
        r"bad\.md:1: the front matter opened here is never closed",
    ),
    "unknown key": (
        story('title = "x"\nauthor = "Ana"', "## 2024-06-01 09:00\n\nx"),
        r"bad\.md:3: unknown key 'author' in the front matter; the keys are: title, ",
    ),
    "unknown timezone": (
        story('title = "x"\ntimezone = "Europe/Lisbonn"', "## 2024-06-01 09:00\n\nx"),
        r"bad\.md:3: unknown timezone 'Europe/Lisbonn': use an IANA name",
    ),
    "impossible time": (
        story('title = "x"', "Intro.\n\n## 2024-06-01 25:10\n\nx"),
        r"bad\.md:7: '2024-06-01 25:10' is not a time \(hours run 00-23\)",
    ),
    "non-existent local time": (
        story('title = "x"', "## 2024-03-31 01:30\n\nx"),
        r"bad\.md:5: 2024-03-31 01:30 does not exist in Europe/Lisbon: the clocks skip it.*"
        r'"2024-03-31 01:30 \+00:00" \(that is 02:30 local\)',
    ),
    "ambiguous local time": (
        story('title = "x"', "## 2024-10-27 01:30\n\nx"),
        r'bad\.md:5: 2024-10-27 01:30 happens twice in Europe/Lisbon.*"2024-10-27 01:30 \+01:00"',
    ),
    "wrong offset": (
        story('title = "x"', "## 2024-06-01 09:00 +02:00\n\nx"),
        r"bad\.md:5: offset \+02:00 is not used by Europe/Lisbon",
    ),
    "duplicate id": (
        story(
            'title = "x"', "## 2024-06-01 10:00 {#same}\n\nx\n\n## 2024-06-01 09:00 {#same}\n\ny"
        ),
        r"bad\.md:5: updates on lines 5, 9 have the same id 'same'; keep it on the one already "
        r"published and give the other its own anchor, e\.g\. \{#same-b\}",
    ),
    "duplicate default id": (
        story('title = "x"', "## 2024-06-01 09:00 — A\n\nx\n\n## 2024-06-01 09:00 — B\n\ny"),
        r"bad\.md:5: updates on lines 5, 9 have the same id 'u20240601-0900'",
    ),
    "text after the time": (
        story('title = "x"', "## 2024-06-01 09:00 Convoy arrives\n\nx"),
        r"bad\.md:5: cannot read 'Convoy arrives' after the time: write a title after a dash",
    ),
    "empty update": (
        story('title = "x"', "## 2024-06-01 10:00\n\n## 2024-06-01 09:00\n\nx"),
        r"bad\.md:5: this update has no text",
    ),
    "bad status": (
        story('title = "x"\nstatus = "paused"', "## 2024-06-01 09:00\n\nx"),
        r'bad\.md:3: status must be "live" or "ended"',
    ),
    "control character": (
        story('title = "x"', "## 2024-06-01 09:00\n\nform\x0cfeed"),
        r"bad\.md:7: column 5: the control character U\+000C cannot appear in a feed",
    ),
    "year out of range": (
        story('title = "x"', "## 9999-12-31 23:59\n\nx"),
        r"bad\.md:5: '9999-12-31': years run 1900-2199",
    ),
    "level 3 update heading": (
        story('title = "x"', "## 2024-06-01 10:00\n\nx\n\n### 2024-06-01 09:00\n\ny"),
        r"bad\.md:9: '2024-06-01 09:00' looks like an update, but update headings are level 2",
    ),
    "setext update heading": (
        story('title = "x"', "## 2024-06-01 10:00\n\nx\n\n2024-06-01 09:00\n---\n\ny"),
        r"bad\.md:9: '2024-06-01 09:00' looks like an update, but update headings are level 2",
    ),
    "no space after ##": (
        story('title = "x"', "## 2024-06-01 10:00\n\nx\n\n##2024-06-01 09:00\n\ny"),
        r"bad\.md:9: '##2024-06-01 09:00' is not read as a heading: put a space after the #s",
    ),
    "time without date": (
        story('title = "x"', "## 2024-06-01 10:00\n\nx\n\n## 09:30 — Later\n\ny"),
        r"bad\.md:9: update heading '09:30 — Later' must start with the full local date and time",
    ),
    "day-first date": (
        story('title = "x"', "## 01-06-2024 10:30\n\nx"),
        r"bad\.md:5: update heading '01-06-2024 10:30' must start with the full local date",
    ),
    "unclosed code fence": (
        story('title = "x"', "## 2024-06-01 10:00\n\n```\ncode\n\n## 2024-06-01 09:00\n\ny"),
        r"bad\.md:10: this looks like an update heading, but the code block opened on line 7 "
        r"is never closed",
    ),
    "unclosed comment": (
        story('title = "x"', "## 2024-06-01 10:00\n\n<!-- note\n\n## 2024-06-01 09:00\n\ny"),
        r"bad\.md:9: this looks like an update heading, but the HTML block or comment opened "
        r"on line 7 is never closed",
    ),
    "word starting with Z after the time": (
        story('title = "x"', "## 2024-06-01 10:00 Zohran wins\n\nx"),
        r"bad\.md:5: cannot read 'Zohran wins' after the time: write a title after a dash",
    ),
    "tags as one string": (
        story('title = "x"\ntags = "Iran, protests"', "## 2024-06-01 09:00\n\nx"),
        r'bad\.md:3: tags must be a list of strings in brackets: tags = \["one", "two"\]',
    ),
    "empty authors": (
        story('title = "x"\nauthors = []', "## 2024-06-01 09:00\n\nx"),
        r"bad\.md:3: authors must be a non-empty list",
    ),
    "empty heading author": (
        story('title = "x"', '## 2024-06-01 09:00 {author=""}\n\nx'),
        r'bad\.md:5: author needs a value: author="\.\.\."',
    ),
    "machine-local timezone": (
        story('title = "x"\ntimezone = "localtime"', "## 2024-06-01 09:00\n\nx"),
        r"bad\.md:3: unknown timezone 'localtime'",
    ),
    "future edit time attribute before publication": (
        story('title = "x"', '## 2024-06-01 09:00 {updated="2024-06-01 08:00"}\n\nx'),
        r"bad\.md:5: updated '2024-06-01 08:00' is before the update was published",
    ),
    "note without retraction": (
        story('title = "x"', '## 2024-06-01 09:00 {note="why"}\n\nx'),
        r'bad\.md:5: note="\.\.\." explains a retraction; add retracted',
    ),
    "missing title": (
        story('summary = "x"', "## 2024-06-01 09:00\n\nx"),
        r'bad\.md:2: missing title: add a line like title = "..."',
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_stops_the_build_and_touches_nothing(
    case: str, runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:
    text, pattern = BAD_INPUTS[case]
    root = make_store(good=GOOD)
    out = tmp_path / "out"
    assert run_build(runner, root, out).exit_code == 0
    (root / "bad.md").write_text(text, encoding="utf-8")
    data_before, out_before = snapshot_tree(root), snapshot_tree(out)

    result = run_build(runner, root, out)

    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert re.search(pattern, result.output), result.output
    assert snapshot_tree(out) == out_before
    assert snapshot_tree(root) == data_before


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("story.MD", lambda p: p.write_text(GOOD), "story files end in .md: rename it to story.md"),
        (
            "story.markdown",
            lambda p: p.write_text(GOOD),
            "story files end in .md: rename it to story.md",
        ),
        ("folder.md", lambda p: p.mkdir(), "a folder named like a story file"),
        ("gone.md", lambda p: p.symlink_to(p.parent / "nowhere.md"), "a symbolic link to nothing"),
        (
            "huge.md",
            lambda p: p.write_bytes(b"x" * (8 * 1024 * 1024 + 1)),
            "8,388,609 bytes is more than the 8,388,608 a store file may hold",
        ),
    ],
)
def test_files_that_look_like_stories_but_cannot_be_read(
    name: str, make, message: str, runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    root = make_store(good=GOOD)
    make(root / name)
    result = run_build(runner, root, tmp_path / "out")
    assert result.exit_code == 1
    assert f"{name}: {message}" in result.output
    assert not (tmp_path / "out").exists()


def test_unreadable_story_file(
    runner: CliRunner, make_store: StoreFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.store import files

    root = make_store(good=GOOD)
    real = files.read_stable

    def denied(path: Path, attempts: int = 5) -> bytes | None:
        if path.name == "good.md":
            raise PermissionError(13, "Permission denied")
        return real(path, attempts)

    monkeypatch.setattr(files, "read_stable", denied)
    result = run_build(runner, root, tmp_path / "out")
    assert result.exit_code == 1
    assert "good.md: cannot read it (Permission denied); check permissions" in result.output


def test_a_blocked_output_folder_fails_before_any_file_changes(
    runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(good=GOOD)
    out = tmp_path / "out"
    assert run_build(runner, root, out).exit_code == 0
    (root / "other.md").write_text(GOOD)
    (out / "other").write_text("a file where a folder should be")
    (root / "good.md").write_text(GOOD.replace("All well.", "All well, edited."))
    before = snapshot_tree(out)
    result = run_build(runner, root, out)
    assert result.exit_code == 1
    assert "cannot write (Not a directory)" in result.output
    assert "nothing was published" in result.output
    assert snapshot_tree(out) == before


def test_non_utf8_file(runner: CliRunner, make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(good=GOOD)
    (root / "bad.md").write_bytes(
        story('title = "x"', "## 2024-06-01 09:00\n\ncaf\xe9").encode("latin-1")
    )
    result = run_build(runner, root, tmp_path / "out")
    assert result.exit_code == 1
    assert "bad.md:7: not valid UTF-8 (byte 0xe9" in result.output
    assert "save the file as UTF-8" in result.output
    assert not (tmp_path / "out").exists()


def test_bad_slug(runner: CliRunner, make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(**{"Bad_Name": GOOD})
    os.rename(root / "Bad-Name.md", root / "Bad Name.md")
    result = run_build(runner, root, tmp_path / "out")
    assert result.exit_code == 1
    assert "'Bad Name.md' is not a valid story file name" in result.output


@pytest.mark.parametrize(
    ("site", "message"),
    [
        (
            'title = "x"\nbase_url = "https://a.test/"\nauthor = "A"\n',
            'add id_authority = "a.test,',
        ),
        (
            'title = "x"\nbase_url = "a.test"\nid_authority = "a.test,2024"\nauthor = "A"\n',
            "site.toml:2: base_url 'a.test' must be an absolute http(s) URL",
        ),
        (
            'title = "x"\nbase_url = "https://a.test/"\nid_authority = "a.test"\nauthor = "A"\n',
            "site.toml:3: id_authority 'a.test' must be a domain or email and a date",
        ),
        (
            'title = "x"\nbase_url = "https://a.test/"\nid_authority = "a.test,2024"\n',
            "missing author",
        ),
        (
            'title = "x"\nbase_url = "https://a.test/"\nid_authority = "a.test,2024"\n'
            'author = "A"\nitems_per_feed = 0\n',
            "site.toml:5: items_per_feed must be a whole number",
        ),
    ],
)
def test_bad_site_toml(
    site: str, message: str, runner: CliRunner, make_store: StoreFactory, tmp_path: Path
) -> None:
    result = run_build(runner, make_store(site=site, good=GOOD), tmp_path / "out")
    assert result.exit_code == 1
    assert message in result.output


def test_missing_store(runner: CliRunner, tmp_path: Path) -> None:
    result = run_build(runner, tmp_path / "nowhere", tmp_path / "out")
    assert result.exit_code == 1
    assert "no such folder" in result.output


def test_every_command_has_help(runner: CliRunner) -> None:
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert command.help and "Example" in result.output, f"{name} needs help with an example"
