"""How fast the feed renderers are, against the libraries they stand in for.

    .venv/bin/python bench/render_bench.py                  # 3,000 updates
    .venv/bin/python bench/render_bench.py --updates 10000 --repeat 9

Generates updates (non-ASCII text, characters to escape, edits, authors,
tags, some in another language than their feed's), cuts them into feeds of
50 (a story's current feed), and prints, best of --repeat runs, each next
to its baseline measured in the same run:

  RSS, Atom   the string templates (feeds.render) against feedgen and lxml
              (tests/reference.py, which the test suite holds them to)
  JSON Feed   the hand-written encoder (feeds.render.jsonfeed) against
              json.dumps(..., ensure_ascii=False, indent=2): the whole
              document from a Feed (in one call, and item by item as the
              build needs them, to re-use each in the site-wide feed), and
              items one at a time

Before timing, it checks that both sides write the same document (XML after
C14N 2.0, JSON byte for byte).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402

from feeds.model import Feed, Person, Update  # noqa: E402
from feeds.render import render_atom, render_json, render_rss  # noqa: E402
from feeds.render.jsonfeed import json_feed, json_item  # noqa: E402
from tests.reference import (  # noqa: E402
    json_item_dict,
    reference_atom,
    reference_json,
    reference_rss,
)

ZONES = ["Asia/Tehran", "Europe/Lisbon", "America/New_York", "Asia/Kolkata", "UTC"]
WORDS = [
    *["the", "bridge", "road", "closed", "reopened", "crews", "council", "water", "storm"],
    *["wind", "gusts", "km/h", "<b>", "R&D", '"quoted"', "it's", "a > b", "5 %", "—"],
    *["café", "naïve", "Kāzerūn", "شیراز", "東京"],
]
PEOPLE = [
    Person("Desk"),
    Person("Ana Sousa", email="ana@example.org"),
    Person("Reza Karimi", uri="https://example.org/reza?x=1&y=2"),
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_update(rng: random.Random, slug: str, n: int, published: datetime) -> Update:
    anchor = f"u{n}"
    paragraphs = [
        f'<p>{sentence(rng, 30)} <a href="https://example.org/{n}?a=1&amp;b=2">link</a> '
        f"<em>{sentence(rng, 4)}</em></p>"
        for _ in range(rng.randint(1, 4))
    ]
    edited = timedelta(minutes=rng.choice([0, 0, 0, 12]))
    return Update(
        id=f"tag:bench.example.org,2024:{slug}/{anchor}",
        anchor=anchor,
        story_slug=slug,
        published=published,
        updated=published + edited,
        title=sentence(rng, 8).capitalize(),
        title_is_derived=rng.random() < 0.5,
        text="",
        html="\n".join(paragraphs),
        summary=sentence(rng, 25),
        url=f"https://bench.example.org/{slug}/#{anchor}",
        authors=tuple(rng.sample(PEOPLE, rng.randint(0, 2))),
        tags=tuple(rng.sample(["storm", "roads", "طوفان", "R&D"], rng.randint(0, 2))),
        language="fa" if rng.random() < 0.1 else "en",
    )


def make_feeds(count: int, per_feed: int, seed: int = 7) -> list[Feed]:
    rng = random.Random(seed)
    feeds = []
    start = datetime(2024, 6, 1, tzinfo=UTC)
    for s in range(0, count, per_feed):
        slug = f"story-{s // per_feed:04d}"
        zone = ZoneInfo(ZONES[(s // per_feed) % len(ZONES)])
        times = [
            (start + timedelta(minutes=7 * i + s)).astimezone(zone)
            for i in range(min(per_feed, count - s))
        ]
        entries = [make_update(rng, slug, i, t) for i, t in enumerate(times)][::-1]
        feeds.append(
            Feed(
                id=f"tag:bench.example.org,2024:{slug}",
                title=f"Story {s // per_feed}: {sentence(rng, 5)}",
                subtitle=sentence(rng, 12),
                page_url=f"https://bench.example.org/{slug}/",
                folder_url=f"https://bench.example.org/{slug}/",
                updated=max(u.updated for u in entries),
                language="en",
                authors=(PEOPLE[0],),
                tags=("storm",),
                entries=tuple(entries),
                links=(("hub", "https://hub.example.org/"),),
                stylesheet="../feed.xsl",
            )
        )
    return feeds


def best(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """The fastest of ``repeat`` runs of each, in seconds; runs take turns, so that
    a slower moment of the machine does not fall on one side only."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            began = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - began)
    return [min(spent) for spent in times]


def canonical(document: bytes) -> bytes:
    out: bytes = etree.tostring(etree.fromstring(document).getroottree(), method="c14n2")
    return out


def json_item_stdlib(update: Update) -> str:
    """One item as ``json_item`` writes it (indented for its place), by the json module."""
    text = json.dumps(json_item_dict(update), ensure_ascii=False, indent=2)
    return text.replace("\n", "\n    ")


def json_stdlib(feed: Feed, self_url: str) -> bytes:
    """``render_json`` with its items written by the json module, for re-use as they are."""
    return json_feed(feed, self_url, [(json_item_stdlib(u), u.language) for u in feed.entries])


def same(ours: object, theirs: object, what: str) -> None:
    if ours != theirs:
        raise SystemExit(f"{what}: the two renderers disagree; fix that before timing them")


def row(label: str, items: int, seconds: float, baseline: float) -> str:
    """Items per second, total time, and how many times faster than ``baseline``."""
    return (
        f"  {label:<46}{items / seconds:>10,.0f}  {seconds * 1000:>9.1f} ms"
        f" {baseline / seconds:>8.2f}x"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000, help="updates in all (3000)")
    parser.add_argument("--per-feed", type=int, default=50, help="updates per feed (50)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the best counts")
    args = parser.parse_args(argv)

    feeds = make_feeds(args.updates, args.per_feed)
    updates = [u for f in feeds for u in f.entries]
    n = len(updates)
    jobs = {
        name: [(f, f.folder_url + name) for f in feeds]
        for name in ("rss.xml", "atom.xml", "feed.json")
    }

    # Same documents on both sides, or the figures mean nothing.
    for name, ours, theirs in (
        ("rss.xml", render_rss, reference_rss),
        ("atom.xml", render_atom, reference_atom),
    ):
        for f, url in jobs[name]:
            same(canonical(ours(f, url)), canonical(theirs(f, url)), f"{f.id} {name}")
    for f, url in jobs["feed.json"]:
        same(render_json(f, url), reference_json(f, url), f.id)
        same(json_stdlib(f, url), reference_json(f, url), f.id)
    for u in updates:
        same(json_item(u), json_item_stdlib(u), u.id)

    def each_feed(render: Callable[[Feed, str], bytes], name: str) -> Callable[[], object]:
        return lambda: [render(f, url) for f, url in jobs[name]]

    sections: list[tuple[str, list[tuple[str, Callable[[], object]]]]] = [
        (
            "RSS, whole documents",
            [
                (
                    "baseline: feedgen + lxml (tests/reference.py)",
                    each_feed(reference_rss, "rss.xml"),
                ),
                ("string templates (feeds.render)", each_feed(render_rss, "rss.xml")),
            ],
        ),
        (
            "Atom, whole documents",
            [
                (
                    "baseline: feedgen + lxml (tests/reference.py)",
                    each_feed(reference_atom, "atom.xml"),
                ),
                ("string templates (feeds.render)", each_feed(render_atom, "atom.xml")),
            ],
        ),
        (
            "JSON Feed, whole documents from a Feed",
            [
                ("baseline: dict + json.dumps(indent=2)", each_feed(reference_json, "feed.json")),
                ("json.dumps(indent=2) item by item", each_feed(json_stdlib, "feed.json")),
                ("hand-written (render_json)", each_feed(render_json, "feed.json")),
            ],
        ),
        (
            "JSON Feed items, one at a time, as the site-wide feed re-uses them",
            [
                (
                    "baseline: json.dumps(indent=2), re-indented",
                    lambda: [json_item_stdlib(u) for u in updates],
                ),
                ("hand-written (jsonfeed.json_item)", lambda: [json_item(u) for u in updates]),
            ],
        ),
    ]

    print(
        f"{n:,} updates in {len(feeds)} feeds of up to {args.per_feed}; best of {args.repeat}; "
        f"Python {platform.python_version()}, lxml {'.'.join(map(str, etree.LXML_VERSION))}"
    )
    print(f"  {'':<46}{'items/s':>10}  {'time':>12} {'speed':>9}")
    for title, runs in sections:
        print(title)
        times = best([fn for _, fn in runs], args.repeat)
        for (label, _), seconds in zip(runs, times, strict=True):
            print(row(label, n, seconds, times[0]))


if __name__ == "__main__":
    main()
