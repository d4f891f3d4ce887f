from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds import StoreError
from feeds.store.headings import default_anchor

from .conftest import EXAMPLE_DATA, StoreFactory, load_store, story


def load(root: Path):  # type: ignore[no-untyped-def]
    return load_store(root)


def test_example_store() -> None:
    snap = load(EXAMPLE_DATA)
    kazerun = {s.slug: s for s in snap.stories}["kazerun"]
    assert kazerun.timezone == "Asia/Tehran"
    assert [u.published.astimezone(UTC).strftime("%H:%M") for u in kazerun.updates] == [
        "22:00",
        "21:45",
        "21:20",
        "20:45",
        "20:30",
    ]
    top = kazerun.updates[0]
    assert top.id == "tag:live.example.org,2018:kazerun/convoy-enters-kazerun"
    assert top.url == "https://live.example.org/kazerun/#convoy-enters-kazerun"
    assert "کازرون" in kazerun.background


def test_dst_story_is_ordered_by_instant_not_wall_clock() -> None:
    storm = {s.slug: s for s in load(EXAMPLE_DATA).stories}["vila-mares-storm"]
    assert len(storm.updates) >= 8
    instants = [u.published.astimezone(UTC) for u in storm.updates]
    assert instants == sorted(instants, reverse=True)
    # 01:15 WET (second pass) is after 01:40 WEST (first pass) in real time.
    walls = [u.published.strftime("%H:%M%z") for u in storm.updates]
    assert walls.index("01:15+0000") < walls.index("01:40+0100")


def test_headings_that_are_not_timestamps_are_body(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(
            body="""
        Background.

        ## What we know

        Still background.

        ## 2024-06-01 10:00 — First {#first}

        Text with a fenced block:

        ```
        ## 2024-06-01 11:00 — not an update
        ```

        - ## 2024-06-01 12:00 inside a list is not an update either
    """
        )
    )
    (s,) = load(root).stories
    assert [u.anchor for u in s.updates] == ["first"]
    assert "What we know" in s.background and "Still background" in s.background
    assert "not an update" in s.updates[0].text


def test_heading_parts(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(
            body="""
        ## 2024-06-01T10:00:30+01:00 — A *bold* & brave title {#t1 author="Ana Ribeiro"}

        Body.

        ## 2024-06-01 09:00

        First sentence here. Second sentence.
    """
        )
    )
    (s,) = load(root).stories
    first, second = s.updates
    assert first.title == "A bold & brave title"
    assert first.anchor == "t1"
    assert [a.name for a in first.authors] == ["Ana Ribeiro"]
    assert first.published == datetime(2024, 6, 1, 9, 0, 30, tzinfo=UTC)
    assert second.anchor == default_anchor(datetime(2024, 6, 1, 9, 0)) == "u20240601-0900"
    assert second.title == "First sentence here."
    assert second.title_is_derived
    assert [a.name for a in second.authors] == ["Test desk"]


def test_html_is_sanitised_and_links_absolute(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(
            body="""
        ## 2024-06-01 10:00

        <script>alert(1)</script><img src="photo.jpg" onerror="alert(2)">
        <a href="javascript:alert(4)">raw</a>
        [next](#u20240601-0900) and [js](javascript:alert(3)) and [home](../)
    """
        )
    )
    (s,) = load(root).stories
    html = s.updates[0].html
    assert "<script" not in html
    assert "onerror" not in html
    assert 'href="javascript' not in html
    assert 'src="https://news.test/live/s/photo.jpg"' in html
    assert 'href="https://news.test/live/s/#u20240601-0900"' in html
    assert 'href="https://news.test/live/"' in html


def test_story_file_order_does_not_matter(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(
            body="""
        ## 2024-06-01 09:00

        Older.

        ## 2024-06-01 10:00

        Newer.
    """
        )
    )
    (s,) = load(root).stories
    assert [u.text for u in s.updates] == ["Newer.", "Older."]


def test_drafts_and_dotfiles_are_ignored(make_store: StoreFactory) -> None:
    root = make_store(s=story(body="## 2024-06-01 09:00\n\nx"))
    (root / "_draft.md").write_text("not a story")
    (root / ".s.md.swp").write_text("swap")
    assert [s.slug for s in load(root).stories] == ["s"]


def test_crlf_and_bom_are_accepted(make_store: StoreFactory) -> None:
    root = make_store()
    text = story(body="## 2024-06-01 09:00\n\nWindows line endings.")
    (root / "s.md").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (s,) = load(root).stories
    assert s.updates[0].text == "Windows line endings."


def test_every_problem_is_reported_at_once(make_store: StoreFactory) -> None:
    root = make_store(
        a=story('title = "A"\ncolour = "red"', "## 2024-06-01 09:00\n\nx"),
        b=story('title = "B"\ntimezone = "Nowhere/Land"', "## 2024-06-01 09:00\n\nx"),
    )
    with pytest.raises(StoreError) as err:
        load(root)
    assert len(err.value.problems) == 2
    assert [p.where.name for p in err.value.problems] == ["a.md", "b.md"]
    assert err.value.problems[0].line == 3  # the line `colour = "red"`


def test_empty_story_needs_created(make_store: StoreFactory) -> None:
    root = make_store(s=story('title = "S"'))
    with pytest.raises(StoreError, match="no updates yet"):
        load(root)
    root = make_store(s=story('title = "S"\ncreated = 2024-06-01T09:00:00'))
    (s,) = load(root).stories
    assert s.updates == ()
    assert s.updated == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)  # Lisbon summer time


def test_a_file_saved_during_the_read_is_read_again(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.store import files

    root = make_store(s=story(body="## 2024-06-01 09:00\n\nHalf"))
    real = files.read_regular
    calls = []

    def saving_meanwhile(path: Path, limit: int) -> tuple[os.stat_result, bytes]:
        found = real(path, limit)
        if path.name == "s.md" and not calls:
            calls.append(1)  # the editor finishes its save right after our read
            path.write_text(story(body="## 2024-06-01 09:00\n\nHalf and the rest."))
        return found

    monkeypatch.setattr(files, "read_regular", saving_meanwhile)
    (s,) = load_store(root).stories
    assert s.updates[0].text == "Half and the rest."


def test_default_anchors_tell_the_two_halves_of_a_repeated_hour_apart(
    make_store: StoreFactory,
) -> None:
    root = make_store(
        s=story(
            'title = "S"\ntimezone = "America/New_York"',
            "## 2025-11-02 01:30 -05:00\n\nSecond 01:30.\n\n## 2025-11-02 01:30 -04:00\n\nFirst.",
        )
    )
    (s,) = load(root).stories
    assert [u.anchor for u in s.updates] == ["u20251102-0130-2", "u20251102-0130"]
    assert [u.published.astimezone(UTC).hour for u in s.updates] == [6, 5]


def test_titles_are_text_never_markup(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(body="## 2024-06-01 09:00 — Why <script> tags matter & *why* {#a}\n\nx")
    )
    (s,) = load(root).stories
    assert s.updates[0].title == "Why <script> tags matter & why"


def test_update_with_no_visible_text_gets_a_title(make_store: StoreFactory) -> None:
    root = make_store(s=story(body="## 2024-06-01 09:00\n\n![](photo.jpg)"))
    (s,) = load(root).stories
    assert s.updates[0].title == "Update at 2024-06-01 09:00"
    assert "photo.jpg" in s.updates[0].html


def test_heading_author_with_email(make_store: StoreFactory) -> None:
    root = make_store(s=story(body='## 2024-06-01 09:00 {author="Jane Roe <jane@x.test>"}\n\nx'))
    (s,) = load(root).stories
    assert s.updates[0].authors[0].name == "Jane Roe"
    assert s.updates[0].authors[0].email == "jane@x.test"


def test_two_spaces_between_date_and_time_are_fine(make_store: StoreFactory) -> None:
    root = make_store(s=story(body="## 2024-06-01  09:00 — Title\n\nx"))
    (s,) = load(root).stories
    assert s.updates[0].title == "Title"


@pytest.mark.parametrize(
    ("site", "message"),
    [
        ('id_authority = "x.test,2999-13-45"', "id_authority 'x.test,2999-13-45' must be"),
        ('base_url = "https://x.test/my site/"', "base_url 'https://x.test/my site/' must be"),
        ("[extra]\nkey = 1", "site.toml:6: unknown key 'extra'"),
    ],
)
def test_site_toml_mistakes(make_store: StoreFactory, site: str, message: str) -> None:
    from .conftest import SITE_TOML

    lines = [ln for ln in SITE_TOML.splitlines() if not ln.startswith(site.split(" ")[0])]
    root = make_store(
        site="\n".join(lines) + "\n" + site + "\n", s=story(body="## 2024-06-01 09:00\n\nx")
    )
    with pytest.raises(StoreError) as err:
        load(root)
    assert message in str(err.value)
