"""How the importer reads a page it has never seen: structured data first, then
stamps in many styles and languages, dates from the page, and the boundaries of
the updates (each rule with its own small page)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from feeds.importer.page import html_page, text_page
from feeds.importer.resolve import Reading, read
from feeds.importer.stamps import ZONES, find_stamp, read_date_line


def _utc(reading: Reading) -> list[str]:
    return [u.when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for u in reading.updates]  # type: ignore[union-attr]


def _ld(graph: bool) -> str:
    blog = {
        "@type": "LiveBlogPosting",
        "headline": "Dam repair live",
        "liveBlogUpdate": [
            {"@type": "BlogPosting", "datePublished": "2025-05-02T09:40:00+02:00",
             "headline": "Pumps running", "articleBody": "Two pumps run.\n\nMore tomorrow.",
             "url": "https://x.test/live#p2"},
            {"@type": "BlogPosting", "datePublished": "2025-05-02T08:15:00+02:00",
             "articleBody": "Work has begun at the dam."},
        ],
    }  # fmt: skip
    data = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, blog]}
    return json.dumps(data if graph else {"@context": "https://schema.org", **blog})


@pytest.mark.parametrize("graph", [False, True], ids=["json-ld", "json-ld @graph"])
def test_json_ld_updates_are_read_before_the_text(graph: bool) -> None:
    page = html_page(
        f'<html><head><script type="application/ld+json">{_ld(graph)}</script></head>'
        "<body><h1>Dam repair live</h1><p>09:40 Not this text</p></body></html>"
    )
    reading = read(page, zone="Europe/Berlin", page_date=None)
    assert _utc(reading) == ["2025-05-02 07:40", "2025-05-02 06:15"]
    first, second = reading.updates
    assert (first.title, first.anchor) == ("Pumps running", "p2")
    assert first.text == "Two pumps run.\n\nMore tomorrow."
    assert second.text == "Work has begun at the dam."


def test_microdata_updates() -> None:
    page = html_page(
        '<html><body><div itemscope itemtype="https://schema.org/LiveBlogPosting">'
        '<article itemprop="liveBlogUpdate" itemscope id="u2"><h3 itemprop="headline">Bridge'
        ' shut</h3><meta itemprop="datePublished" content="2025-05-02T10:05:00+01:00">'
        '<div itemprop="articleBody"><p>The <a href="https://x.test/b">bridge</a> is shut.</p>'
        "<p>Use the ferry.</p></div></article>"
        '<article itemprop="liveBlogUpdate" itemscope><time itemprop="datePublished" '
        'datetime="2025-05-02T09:00:00+01:00">9am</time><p itemprop="articleBody">Rain.</p>'
        "</article></div></body></html>"
    )
    reading = read(page, zone="Europe/London", page_date=None)
    assert _utc(reading) == ["2025-05-02 09:05", "2025-05-02 08:00"]
    assert reading.updates[0].title == "Bridge shut"
    assert reading.updates[0].text == "The [bridge](https://x.test/b) is shut.\n\nUse the ferry."
    assert reading.updates[0].anchor == "u2"


def test_h_entries() -> None:
    entry = (
        '<div class="h-entry" id="e{n}"><time class="dt-published" datetime="2025-05-02 {t}">'
        '</time><div class="e-content"><p>Entry {n}.</p></div></div>'
    )
    page = html_page(
        "<html><body>"
        + entry.format(n=2, t="14:30")
        + entry.format(n=1, t="13:05")
        + "</body></html>"
    )
    reading = read(page, zone="Asia/Kathmandu", page_date=None)
    assert _utc(reading) == ["2025-05-02 08:45", "2025-05-02 07:20"]
    assert [u.text for u in reading.updates] == ["Entry 2.", "Entry 1."]


@pytest.mark.parametrize(
    ("written", "hour", "minute", "zone"),
    [
        ("14:05 Text", 14, 5, None),
        ("2.05pm: Text", 14, 5, None),
        ("2:05 p. m. Texto", 14, 5, None),
        ("4:30 AM EST - Text", 4, 30, "EST"),
        ("14h05 Texte", 14, 5, None),
        ("14.05 Uhr – Text", 14, 5, None),
        ("a las 14.05, texto", 14, 5, None),
        ("14:05 h. Texto", 14, 5, None),
        ("**00:20 Uhr:** Text", 0, 20, None),
        ("2 hours ago · 13:15 JST Text", 13, 15, "JST"),
        ("Updated 10:12 Text", 10, 12, None),
        ("Update 3 (09:12 GMT): Text", 9, 12, "GMT"),
        ("11:42 AM\nText on the next line", 11, 42, None),
    ],
)
def test_stamp_styles(written: str, hour: int, minute: int, zone: str | None) -> None:
    stamp = find_stamp(written, 2025)
    assert stamp is not None
    assert (stamp.hour, stamp.minute, stamp.zone) == (hour, minute, zone)
    assert stamp.rest.startswith("Text") or stamp.rest.startswith("text")


@pytest.mark.parametrize(
    "written", ["12.50 euros is the fare", "3 of 44 districts", "14:05pm", "1999 was the year"]
)
def test_what_is_not_a_stamp(written: str) -> None:
    assert find_stamp(written, 2025) is None


def test_a_date_inside_a_stamp() -> None:
    stamp = find_stamp("Feb 5, 11:42 AM ET\nText", 2025)
    assert stamp is not None and stamp.on == date(2025, 2, 5) and stamp.zone == "ET"


@pytest.mark.parametrize(
    ("line", "day", "kind"),
    [
        ("Sonntag, 23. Februar 2025", date(2025, 2, 23), "date"),
        ("miércoles 15 de enero de 2025", date(2025, 1, 15), "date"),
        ("quinta-feira, 6 de fevereiro de 2025", date(2025, 2, 6), "date"),
        ("le 3 mars 2025", date(2025, 3, 3), "date"),
        ("Saturday, November 2, 2024", date(2024, 11, 2), "date"),
        ("Stand: 24.02.2025, 00:35 Uhr", date(2025, 2, 24), "updated"),
        ("First published 9 Nov 2024", date(2024, 11, 9), "published"),
    ],
)
def test_date_lines(line: str, day: date, kind: str) -> None:
    found = read_date_line(line, None)
    assert found is not None and (found.day, found.kind) == (day, kind)


@pytest.mark.parametrize(
    "line", ["The meeting starts at 9 a.m.", "Polls closed on 3 May 2025 at six.", "Mai"]
)
def test_what_is_not_a_date_line(line: str) -> None:
    assert read_date_line(line, 2025) is None


def test_every_zone_abbreviation_names_a_real_zone_and_its_offset() -> None:
    from zoneinfo import ZoneInfo

    for abbreviation, (name, offset) in ZONES.items():
        zone = ZoneInfo(name)
        if offset is None or abbreviation in ("UTC", "Z", "GMT"):
            continue
        offsets = {  # over ten years: Iran, for one, kept summer time until 2022
            datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
            for year in range(2015, 2026)
            for month in (1, 4, 7, 10)
        }
        assert offset in offsets, abbreviation


def test_a_byline_with_a_time_is_never_an_update_and_the_date_line_dates_the_page() -> None:
    page = text_page(
        "Storm live\n\nBy Ana Ruiz and Tom Lee · Updated 11:42 a.m. CT\n"
        "Tuesday, March 11, 2025\n\nThe meeting starts at 9 a.m.\n\n"
        "11:42 AM\nCouncil votes.\n\n9:04 AM\nThe meeting has started.\n"
    )
    reading = read(page, zone="America/Chicago", page_date=None)
    assert _utc(reading) == ["2025-03-11 16:42", "2025-03-11 14:04"]
    assert "Ana Ruiz" not in " ".join(u.text for u in reading.updates)


def test_a_newest_first_page_crossing_midnight_is_dated_from_its_start() -> None:
    page = text_page(
        "Wahlabend\n\nSonntag, 23. Februar 2025\n\n00.35 Uhr – Ende.\n\n23.48 Uhr – Ergebnis.\n\n"
        "19.20 Uhr – Erste Zahlen.\n"
    )
    reading = read(page, zone="Europe/Berlin", page_date=None)
    assert _utc(reading) == ["2025-02-23 23:35", "2025-02-23 22:48", "2025-02-23 18:20"]


@pytest.mark.parametrize(
    "tail",
    [
        "Background\nThe storm of 2019 closed the port for a week.",
        "Hintergrund\nDer Pegel lag 2013 höher.",
        "Contexto\nLa última huelga fue en 2019.",
        "Read more: https://x.test/explainer",
        "We will update this page as the story develops.",
        "© 2025 The Harbour Post. All rights reserved.",
        "Posted 11 Jun 2025, updated 12 Jun 2025",
        "Impressum | Datenschutz | Kontakt | Cookies",
        "* * *\n\nThe harbour was built in 1870.",
    ],
)
def test_the_page_tail_is_not_the_last_update(tail: str) -> None:
    page = text_page(
        "Harbour live\n\n3 June 2025\n\n14:05 — The pier is closed.\n\n"
        "13:00 — Boats stay in port.\n\nThey will wait for the tide.\n\n" + tail + "\n"
    )
    reading = read(page, zone="Europe/London", page_date=None)
    assert [u.text for u in reading.updates] == [
        "The pier is closed.",
        "Boats stay in port.\n\nThey will wait for the tide.",
    ]


def test_a_highlights_box_is_not_updates() -> None:
    page = html_page(
        "<html><body><h1>Fire live</h1><p>3 June 2025</p><h2>Key events</h2><ul>"
        '<li><a href="#b">14:05</a> Road closed</li><li><a href="#a">13:00</a> Fire starts</li>'
        '</ul><div class="stream"><div id="b"><p><strong>14:05</strong> The road is closed.</p>'
        '</div><div id="a"><p><strong>13:00</strong> A fire has started.</p></div></div>'
        "</body></html>"
    )
    reading = read(page, zone="Europe/London", page_date=None)
    assert [u.text for u in reading.updates] == ["The road is closed.", "A fire has started."]
    assert [u.anchor for u in reading.updates] == ["b", "a"]


def test_a_pasted_page_takes_its_headline_not_its_menu() -> None:
    page = text_page(
        "Saltar al contenido\nEl Diario del Valle\nPortada  Nacional  Deportes  Opinión\n"
        "Incendio en el Ajusco: evacúan tres colonias\nPor Ana Gil · Actualizado 02:30 h\n"
        "domingo 9 de marzo de 2025\n\nEl fuego empezó por la tarde.\n\n"
        "02:30 h — El fuego está controlado.\n"
    )
    assert page.title == "Incendio en el Ajusco: evacúan tres colonias"
    assert "\n" not in page.title


def test_lists_on_an_html_page_stay_lists() -> None:
    from feeds.text import markdown_to_html

    page = html_page(
        "<html><body><h1>Floods live</h1><article><time datetime='2025-10-26T09:00:00+01:00'>"
        "09:00</time><p>Without power:</p><ul><li>Villeurbanne: 12 000 homes</li>"
        "<li>Bron: 4 000 homes</li></ul><ol><li>First step</li><li>Second step</li></ol>"
        "</article></body></html>"
    )
    (update,) = read(page, zone="Europe/Paris", page_date=None).updates
    html = markdown_to_html(update.text, "https://x.test/")
    assert "<ul>" in html and html.count("<li>") == 4 and "<ol>" in html
    assert "Villeurbanne: 12 000 homes" in html


def test_after_the_updates_only_context_is_kept_as_background() -> None:
    page = text_page(
        "Harbour live\n\n3 June 2025\n\n14:05 — The pier is closed.\n\n"
        "13:00 — Boats stay in port.\n\n"
        "Lea también\nLa marea de 2019\nEl puerto en cifras\n\n"
        "Background\nThe harbour was built in 1870.\n\n"
        "Related stories\nA storm in 2019\n\n© 2025 The Harbour Post. All rights reserved.\n"
    )
    reading = read(page, zone="Europe/London", page_date=None)
    background = "\n".join(reading.background)
    assert "The harbour was built in 1870." in background
    for dropped in ("La marea de 2019", "A storm in 2019", "©"):
        assert dropped not in background
