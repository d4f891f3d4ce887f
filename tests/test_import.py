"""`feeds import`: pages in every style, to exact times; re-imports add only what is new."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from feeds.cli import cli

from .conftest import REPO, SITE_TOML, StoreFactory, load_store, snapshot_tree
from .servers import static_server

FIXTURES = Path(__file__).parent / "fixtures" / "import"
SEED = REPO.parent / "shared" / "seed" / "000_4dbfcaded6b1648b.txt"

# name -> (options, [UTC times, newest first], first words of the top update)
CASES = {
    "monsoon-kolkata-weekday.txt": (  # "06:10 Wednesday local time:", a half-hour zone
        ["--timezone", "Asia/Kolkata"],
        ["2024-07-10T00:40", "2024-07-09T18:10", "2024-07-09T16:45"],
        "Relief boats have reached",
    ),
    "election-night-et.txt": (  # 12-hour times, ET/EDT give the zone
        ["--date", "2022-06-07"],
        ["2022-06-08T03:58", "2022-06-08T02:45", "2022-06-08T01:05", "2022-06-07T23:00"],
        "With every precinct reporting",
    ),
    "cup-final-days.txt": (  # [14:05] and **11:30** under per-day date headings
        ["--timezone", "Europe/London", "--date", "2023-06-03"],
        ["2023-06-03T17:40", "2023-06-03T13:05", "2023-06-03T10:30", "2023-06-02T20:15"],
        "Full time on day one",
    ),
    "rail-strike-numbered.txt": (  # Update 3 (09:12 GMT):
        ["--timezone", "Europe/London", "--date", "2024-01-15"],
        ["2024-01-15T16:20", "2024-01-15T12:05", "2024-01-15T09:12", "2024-01-15T06:00"],
        "Unions and operators will meet",
    ),
    "launch-iso.txt": (  # full ISO 8601 instants
        ["--timezone", "UTC"],
        ["2024-09-14T03:21", "2024-09-14T03:12", "2024-09-14T03:04"],
        "Signal acquired.",
    ),
    "concert-midnight.md": (  # Markdown headings, bare times crossing midnight, newest first
        ["--timezone", "Europe/Lisbon", "--date", "2024-08-18"],
        ["2024-08-17T23:40", "2024-08-17T22:55", "2024-08-17T22:10", "2024-08-17T20:30"],
        "The headliners come back",
    ),
    "storm-dst-lisbon.txt": (  # bare times through the night the clocks go back
        ["--timezone", "Europe/Lisbon", "--date", "2025-10-26"],
        [
            "2025-10-26T02:10",
            "2025-10-26T01:45",
            "2025-10-26T01:15",
            "2025-10-26T00:40",
            "2025-10-26T00:20",
            "2025-10-25T23:55",
        ],
        "The last of the wind",
    ),
    "summit-time-elements.html": (  # HTML updates with <time datetime>
        ["--timezone", "Europe/Lisbon"],
        ["2024-11-20T11:02", "2024-11-20T09:45", "2024-11-20T08:30"],
        "Ministers have agreed",
    ),
    "marathon-text-times.html": (  # HTML, times as text, the date in article:modified_time
        ["--timezone", "Australia/Sydney"],
        ["2024-04-14T01:20", "2024-04-13T23:02", "2024-04-13T21:00"],
        "The last runners cross",
    ),
}


def feeds(root: Path, *args: str, now: str = "2026-01-01T00:00:00Z") -> Result:
    return CliRunner(env={"FEEDS_NOW": now}).invoke(
        cli, [*args, "--data", str(root)], catch_exceptions=False
    )


def utc_minutes(root: Path, slug: str) -> list[str]:
    (story,) = [s for s in load_store(root).stories if s.slug == slug]
    return [u.published.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") for u in story.updates]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_style_to_exact_times(name: str, make_store: StoreFactory) -> None:
    options, times, first_words = CASES[name]
    root = make_store()
    result = feeds(root, "import", str(FIXTURES / name), "--story", "s", *options)
    assert result.exit_code == 0, result.output
    assert utc_minutes(root, "s") == times
    (story,) = load_store(root).stories
    assert story.updates[0].text.startswith(first_words)
    assert all("will be updating" not in u.text.lower() for u in story.updates)
    # Importing the same page again changes nothing.
    before = snapshot_tree(root)
    again = feeds(root, "import", str(FIXTURES / name), "--story", "s", *options)
    assert f"0 new, {len(times)} already there, 0 changed" in again.output
    assert snapshot_tree(root) == before


def test_details_survive(make_store: StoreFactory) -> None:
    root = make_store()
    feeds(
        root,
        "import",
        str(FIXTURES / "summit-time-elements.html"),
        "--story",
        "summit",
        "--timezone",
        "Europe/Lisbon",
    )
    (story,) = load_store(root).stories
    top = story.updates[0]
    assert top.anchor == "post-1104" and top.title == "A deal on the high seas"
    assert "<strong>protected areas</strong>" in top.html
    assert story.title == "Ocean summit: live updates"
    assert "Delegates from 40 countries" in story.background  # not an update
    middle = story.updates[1]
    assert '<a href="https://example.org/draft"' in middle.html
    # "held up at 08:05" is text inside an update, not an update.
    assert "08:05" in story.updates[2].text and len(story.updates) == 3

    feeds(
        root,
        "import",
        str(FIXTURES / "monsoon-kolkata-weekday.txt"),
        "--story",
        "monsoon",
        "--timezone",
        "Asia/Kolkata",
    )
    monsoon = {s.slug: s for s in load_store(root).stories}["monsoon"]
    assert monsoon.updates[0].text.endswith("checking the evacuees for fever and injuries.")
    assert "district office has opened three shelters" in monsoon.background
    assert all("Rampur Ghat sits" not in u.text for u in monsoon.updates)


def test_dry_run_shows_and_writes_nothing(make_store: StoreFactory) -> None:
    root = make_store()
    before = snapshot_tree(root)
    result = feeds(
        root,
        "import",
        str(FIXTURES / "storm-dst-lisbon.txt"),
        "--story",
        "storm",
        "--timezone",
        "Europe/Lisbon",
        "--date",
        "2025-10-26",
        "--dry-run",
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "6 updates found (newest first, Europe/Lisbon); 0 background paragraphs"
    assert lines[3].split()[:6] == ["add", "2025-10-26", "01:15", "+0000", "2025-10-26", "01:15Z"]
    assert lines[4].split()[:4] == ["add", "2025-10-26", "01:40", "+0100"]
    assert lines[-1] == "dry run: nothing was written"
    assert snapshot_tree(root) == before


def test_a_page_without_timestamps_is_an_error(make_store: StoreFactory) -> None:
    root = make_store()
    result = feeds(
        root, "import", str(FIXTURES / "no-timestamps.txt"), "--story", "g", "--timezone", "UTC"
    )
    assert result.exit_code == 1
    assert "no update with a timestamp found. Looked for" in result.output
    assert not (root / "g.md").exists()


@pytest.mark.skipif(not SEED.exists(), reason="the seed page is not beside the repository")
def test_the_seed_page(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store()
    result = feeds(root, "import", str(SEED), "--story", "kazerun", "--timezone", "Asia/Tehran")
    assert result.exit_code == 0, result.output
    (story,) = load_store(root).stories
    assert len(story.updates) == 5
    top = story.updates[0]
    assert top.published.astimezone(dt.UTC) == dt.datetime(2018, 5, 16, 22, 0, tzinfo=dt.UTC)
    assert len(top.text.split("\n\n")) == 3  # the 02:30 paragraph and its two follow-ups
    assert [u.published.strftime("%H:%M") for u in story.updates] == [
        "02:30",
        "02:15",
        "01:50",
        "01:15",
        "01:00",
    ]
    for paragraph in story.background.split("\n\n"):
        assert all(paragraph[:40] not in u.text for u in story.updates)
    assert "updating this page" not in story.background
    assert len(story.background.split("\n\n")) == 4
    out = tmp_path / "out"
    feeds(root, "build", "--out", str(out))
    feed = feedparser.parse((out / "kazerun" / "atom.xml").read_bytes())
    assert feed.bozo == 0 and feed.entries[0].published == "2018-05-17T02:30:00+04:30"


def test_a_grown_page_by_url_adds_only_the_new_updates(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    site = tmp_path / "www"
    site.mkdir()
    page = (FIXTURES / "rail-strike-numbered.txt").read_text()
    older = page.split("Update 4")[0] + "Update 2" + page.split("Update 2", 1)[1]
    (site / "live.txt").write_text(older)
    root = make_store(SITE_TOML + 'import_allow_hosts = "127.0.0.1"\n')
    with static_server(site) as base:
        url = f"{base}live.txt"
        first = feeds(
            root,
            "import",
            url,
            "--story",
            "rail",
            "--timezone",
            "Europe/London",
            "--date",
            "2024-01-15",
        )
        assert first.exit_code == 0, first.output
        assert len(utc_minutes(root, "rail")) == 2
        (site / "live.txt").write_text(page)  # the page grew
        second = feeds(root, "import", url, "--story", "rail", "--date", "2024-01-15")
        assert "2 new, 2 already there, 0 changed" in second.output
    assert utc_minutes(root, "rail") == CASES["rail-strike-numbered.txt"][1]
    (story,) = load_store(root).stories
    assert story.link == url


def test_changed_updates_are_reported_and_replaced_on_request(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store()
    page = tmp_path / "p.txt"
    text = (FIXTURES / "launch-iso.txt").read_text()
    page.write_text(text)
    feeds(root, "import", str(page), "--story", "launch", "--timezone", "UTC")
    page.write_text(text.replace("on time.", "on time, 2 seconds early."))
    report = feeds(root, "import", str(page), "--story", "launch")
    assert "0 new, 2 already there, 1 changed on the page (use --update to apply)" in report.output
    feeds(root, "import", str(page), "--story", "launch", "--update")
    (story,) = load_store(root).stories
    assert story.updates[1].text == "Second stage engine cut-off, on time, 2 seconds early."


def test_unreachable_url(make_store: StoreFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = make_store(SITE_TOML + 'import_allow_hosts = "127.0.0.1"\n')
    url = f"http://127.0.0.1:{port}/x"
    result = feeds(root, "import", url, "--story", "x", "--timezone", "UTC")
    assert result.exit_code == 1 and "cannot fetch it" in result.output


def test_made_up_ids_follow_the_store_rules(make_store: StoreFactory) -> None:
    """u<date>-<time>, with -2 only for the second of two repeated times."""
    root = make_store()
    feeds(
        root,
        "import",
        str(FIXTURES / "storm-dst-lisbon.txt"),
        "--story",
        "s",
        "--timezone",
        "Europe/Lisbon",
        "--date",
        "2025-10-26",
    )
    (story,) = load_store(root).stories
    assert [u.anchor for u in story.updates] == [
        "u20251026-0210",
        "u20251026-0145-2",
        "u20251026-0115-2",
        "u20251026-0140",
        "u20251026-0120",
        "u20251026-0055",
    ]


_NIGHT = [
    ("02:30", "El fuego está controlado en la ladera norte."),
    ("01:10", "Llegan dos helicópteros más desde la capital."),
    ("23:55", "Se evacúan tres colonias al pie del cerro."),
    ("21:30", "Los bomberos piden no acercarse a la zona."),
    ("18:20", "Se reporta humo sobre el cerro del Ajusco."),
]


def _night_page(updates: list[tuple[str, str]]) -> str:
    stamps = "\n\n".join(f"{t} h — {text}" for t, text in updates)
    return f"Incendio en el Ajusco, en vivo\n\ndomingo 9 de marzo de 2025\n\n{stamps}\n"


def test_a_page_that_dropped_its_older_updates_adds_nothing(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    """The date line dates the page's oldest update: once the page shows only the two
    after midnight, it would date them a day early. The story's own updates say which
    day the page is on, so nothing is added twice (and `feeds follow` retracts nothing)."""
    root = make_store()
    page = tmp_path / "night.txt"
    page.write_text(_night_page(_NIGHT))
    args = ["import", str(page), "--story", "ajusco", "--timezone", "America/Mexico_City"]
    assert feeds(root, *args).exit_code == 0
    assert utc_minutes(root, "ajusco") == [
        "2025-03-10T08:30", "2025-03-10T07:10", "2025-03-10T05:55", "2025-03-10T03:30",
        "2025-03-10T00:20",
    ]  # fmt: skip
    page.write_text(_night_page(_NIGHT[:2]))
    again = feeds(root, *args)
    assert again.exit_code == 0, again.output
    assert "0 new, 2 already there, 0 changed on the page" in again.output
    assert len(utc_minutes(root, "ajusco")) == 5
