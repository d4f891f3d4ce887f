"""Store snapshot -> output files. Pure: no I/O, no clock, deterministic.

``out/<slug>/rss.xml`` and ``out/<slug>/atom.xml`` for each story, and
``out/rss.xml`` / ``out/atom.xml`` with the newest updates of all stories
(the same items, with the same ids, as in the story feeds).
"""

from __future__ import annotations

from datetime import UTC, datetime

from .model import Feed, Site, Snapshot, Story, Update
from .render import RENDERERS

# A site with no stories still needs a valid <updated>; the epoch is honest
# ("nothing has happened") and, unlike the clock, deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def story_feed(site: Site, story: Story) -> Feed:
    return Feed(
        id=story.feed_id,
        title=story.title,
        subtitle=story.summary,
        page_url=story.url,
        folder_url=story.url,
        updated=story.updated,
        language=story.language,
        authors=story.authors,
        tags=story.tags,
        entries=story.updates[: site.items_per_feed],
        related=story.link,
    )


def site_feed(site: Site, stories: tuple[Story, ...]) -> Feed:
    updates: list[Update] = [u for story in stories for u in story.updates]
    updates.sort(key=lambda u: u.sort_key, reverse=True)
    newest = max((s.updated.astimezone(UTC) for s in stories), default=EPOCH)
    return Feed(
        id=site.feed_id,
        title=site.title,
        subtitle=site.description,
        page_url=site.base_url,
        folder_url=site.base_url,
        updated=newest,
        language=site.language,
        authors=(site.author,),
        tags=(),
        entries=tuple(updates[: site.items_per_feed]),
    )


def render_feed(feed: Feed, prefix: str) -> dict[str, bytes]:
    return {
        prefix + name: render(feed, feed.folder_url + name) for name, render in RENDERERS.items()
    }


def build(snapshot: Snapshot) -> dict[str, bytes]:
    """Every output file, keyed by its POSIX path relative to ``out/``."""
    files: dict[str, bytes] = {}
    for story in snapshot.stories:
        files.update(render_feed(story_feed(snapshot.site, story), f"{story.slug}/"))
    files.update(render_feed(site_feed(snapshot.site, snapshot.stories), ""))
    return files
