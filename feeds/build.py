"""Store snapshot -> output files. Pure: no I/O, no clock, deterministic.

``<slug>/rss.xml`` and ``<slug>/atom.xml`` for each story, and ``rss.xml`` /
``atom.xml`` with the newest updates of all stories (the same items, with the
same ids, as in the story feeds). Each feed folder is planned as a
:class:`~feeds.model.Feed` first; its digest (:func:`feed_key`) tells the
pipeline whether rendering it again could change anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib.metadata import version

from .model import Feed, Site, Snapshot, Story, Tombstone, Update
from .render import RENDERERS

# A feed with nothing in it still needs a valid <updated>; the epoch is honest
# ("nothing has happened") and, unlike the clock, deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Part of every feed digest: a new release of feeds or feedgen may render the
# same data differently, so it must not be mistaken for "unchanged".
RENDER_VERSION = f"feeds {version('feeds')}; feedgen {version('feedgen')}; {sorted(RENDERERS)}"


def _newest(times: Iterable[datetime | None]) -> datetime:
    return max((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=EPOCH)


def story_feed(site: Site, story: Story, tombstones: tuple[Tombstone, ...] = ()) -> Feed:
    return Feed(
        id=story.feed_id,
        title=story.title,
        subtitle=story.summary,
        page_url=story.url,
        folder_url=story.url,
        updated=_newest([story.updated, *(t.when for t in tombstones)]),
        language=story.language,
        authors=story.authors,
        tags=story.tags,
        entries=story.updates[: site.items_per_feed],
        related=story.link,
        tombstones=tombstones,
    )


def site_feed(
    site: Site, stories: tuple[Story, ...], tombstones: tuple[Tombstone, ...] = ()
) -> Feed:
    updates: list[Update] = [u for story in stories for u in story.updates]
    updates.sort(key=lambda u: u.sort_key, reverse=True)
    return Feed(
        id=site.feed_id,
        title=site.title,
        subtitle=site.description,
        page_url=site.base_url,
        folder_url=site.base_url,
        updated=_newest([*(s.updated for s in stories), *(t.when for t in tombstones)]).astimezone(
            UTC
        ),
        language=site.language,
        authors=(site.author,),
        tags=(),
        entries=tuple(updates[: site.items_per_feed]),
        tombstones=tombstones,
    )


def plan(snapshot: Snapshot, tombstones: tuple[Tombstone, ...] = ()) -> dict[str, Feed]:
    """Every feed folder ("" for the site, "<slug>/" per story) and its Feed."""
    by_story: dict[str, list[Tombstone]] = {}
    for t in tombstones:
        by_story.setdefault(t.story_slug, []).append(t)
    feeds = {
        f"{story.slug}/": story_feed(snapshot.site, story, tuple(by_story.get(story.slug, ())))
        for story in snapshot.stories
    }
    feeds[""] = site_feed(snapshot.site, snapshot.stories, tombstones)
    return feeds


def files_of(prefix: str) -> list[str]:
    return [prefix + name for name in RENDERERS]


def feed_key(feed: Feed) -> str:
    """A digest of everything the renderers read; equal digests mean equal bytes."""
    return hashlib.sha256(f"{RENDER_VERSION}\n{feed!r}".encode()).hexdigest()


def render_feed(feed: Feed, prefix: str) -> dict[str, bytes]:
    return {
        prefix + name: render(feed, feed.folder_url + name) for name, render in RENDERERS.items()
    }


def build(snapshot: Snapshot, tombstones: tuple[Tombstone, ...] = ()) -> dict[str, bytes]:
    """Every output file, keyed by its POSIX path relative to ``out/``."""
    files: dict[str, bytes] = {}
    for prefix, feed in plan(snapshot, tombstones).items():
        files.update(render_feed(feed, prefix))
    return files
