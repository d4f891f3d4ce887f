"""The site folder: its one renderer (index, site-wide feeds, OPML) and the choice of its items.

:func:`render_site` is used by every build, by ``feeds check`` and by the
golden tests alike; it takes each story's link and the site-wide feeds'
items ready-made, so that a build of one story re-uses the others' bytes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..model import Feed, Site, Tombstone
from ..reconcile import Published, Reconciled, newest_first
from ..render.assets import FEED_CSS, STYLE_CSS
from ..render.formats import FORMATS
from ..render.html import StoryLink, opml, site_page, story_item, story_outline
from ..render.preview import FILENAME as PREVIEW
from ..render.preview import item_of_json, render_preview
from ..timeutil import rfc3339
from .folder import SiteItem, _newest, site_links, sort_key, story_folder
from .state import CachedLink, SiteState, SortKey, parse_time

JSON = next(k for k, f in enumerate(FORMATS) if f.name == "json")  # its item text per SiteItem

if TYPE_CHECKING:
    from .story import StoryOutcome


def site_updated(times: Iterable[datetime | None], tombstones: Iterable[Tombstone]) -> datetime:
    """The site's newest change: its stories' (``times``) and its tombstones'."""
    return _newest([*times, *(t.when for t in tombstones)]).astimezone(UTC)


def site_feed(site: Site, updated: datetime, tombstones: tuple[Tombstone, ...]) -> Feed:
    """The site-wide feed, without entries: its items come serialised."""
    return Feed(
        id=site.feed_id,
        title=site.title,
        subtitle=site.description,
        page_url=site.base_url,
        folder_url=site.base_url,
        updated=updated,
        language=site.language,
        authors=(site.author,),
        tags=(),
        entries=(),
        tombstones=tombstones,
        links=site_links(site),
        stylesheet="feed.css",
        ttl=site.ttl,
    )


def render_site(
    site: Site,
    links: Mapping[str, CachedLink],
    tombstones: tuple[Tombstone, ...],
    items: Sequence[SiteItem],
) -> dict[str, bytes]:
    """Every file of the site folder. ``tombstones`` and ``items`` newest first."""
    ordered = sorted(((link.sort, slug) for slug, link in links.items()), reverse=True)
    newest = ordered[0][0] if ordered else ""
    updated = site_updated([parse_time(newest)] if newest else [], tombstones)
    feed = site_feed(site, updated, tombstones)
    files = {
        f.file_name: f.document(
            feed, site.url(f.file_name), [(i.texts[k], i.language) for i in items]
        )
        for k, f in enumerate(FORMATS)
    }
    files["index.html"] = site_page(site, [links[slug].item_html for _, slug in ordered])
    outlines = [links[slug].outline for slug in sorted(links)]
    files["feeds.opml"] = opml(site, updated, outlines)
    files["style.css"] = STYLE_CSS.encode()
    files["feed.css"] = FEED_CSS.encode()
    files[PREVIEW] = render_preview(
        title=site.title,
        folder_url=site.base_url,
        page_url="./",
        language=site.language,
        css="style.css",
        items=[item_of_json(i.texts[JSON]) for i in items],
        site_wide=True,
    )
    return files


def link_of(published: Published) -> CachedLink:
    """What the site folder keeps of a story: its entries rendered, its last change in UTC."""
    link = StoryLink.of(published.story)
    sort = rfc3339(link.updated.astimezone(UTC)) if link.updated else ""
    return CachedLink(sort, story_item(link), story_outline(link))


def render_all(reconciled: Reconciled) -> dict[str, bytes]:
    """Every output file, keyed by its path in out/: what a build of everything writes."""
    if not isinstance(reconciled, Reconciled):
        raise TypeError(
            f"render_all() takes what feeds.reconcile.reconcile() returns, not {reconciled!r:.60}: "
            "only reconciliation holds back embargoed updates and withdraws retracted ones"
        )
    site = reconciled.site
    files: dict[str, bytes] = {}
    for published in reconciled.stories:
        files.update(story_folder(site, published).render())
    updates = [u for p in reconciled.stories for u in p.story.updates]
    top = heapq.nlargest(site.items_per_feed, updates, key=sort_key)
    links = {p.story.slug: link_of(p) for p in reconciled.stories}
    items = [SiteItem.of(u) for u in top]
    files.update(render_site(site, links, reconciled.tombstones, items))
    return files


# --- choosing the site-wide feeds' items in a build ---------------------------


@dataclass
class Candidates:
    """The newest updates of the stories a build processed, as they come."""

    n: int
    top: list[tuple[SortKey, str]] = field(default_factory=list)  # (key, slug), newest first

    def add(self, slug: str, keys: Iterable[SortKey]) -> None:
        # Only the newest updates of all can make the site-wide feeds: keep those,
        # not every story's keys (a cold build has 10,000 stories).
        self.top = heapq.nlargest(self.n, self.top + [(key, slug) for key in keys])


def choose_items(
    n: int,
    cache: SiteState,
    processed: set[str],
    fresh: Candidates,
    unprocessed: Iterable[str],
    keys_of: Callable[[str], Sequence[SortKey]],
    items_of: Callable[[str, set[SortKey]], list[SiteItem]],
) -> list[SiteItem]:
    """The site-wide feeds' items: the newest ``n`` updates of all stories.

    The last build's items are kept for the stories that were not processed;
    the processed stories' newest updates compete with them. That is exact
    unless updates left the top (deleted, retracted, held back again) and
    older ones of other stories must move up, or the cache was not usable:
    then every other story's newest keys are asked for (``keys_of``).
    ``items_of(slug, keys)`` serialises a story's updates with those keys.
    Sets ``cache.complete`` to whether every item wanted could be made.
    """
    previous = cache.items
    kept = {i.key: i for i in previous if i.story not in processed}
    top = sorted([(key, i.story) for key, i in kept.items()] + fresh.top, reverse=True)[:n]
    exact = cache.complete and (
        len(previous) < n or (len(top) == n and top[-1][0] >= previous[-1].key)
    )
    if not exact:
        candidates = list(fresh.top)
        for slug in unprocessed:
            candidates += [(key, slug) for key in keys_of(slug)]
        top = sorted(candidates, reverse=True)[:n]
    wanted = {key for key, _ in top if key not in kept}
    made: dict[SortKey, SiteItem] = {}
    for slug in sorted({slug for key, slug in top if key in wanted}):
        made.update((item.key, item) for item in items_of(slug, wanted))
    items = [i for key, _ in top if (i := kept.get(key) or made.get(key)) is not None]
    # Complete unless a story said it had an update it no longer shows.
    cache.complete = len(items) == len(top)
    return items


@dataclass
class SiteStep:
    files: dict[str, bytes]  # the site folder's files, if it is to be written
    cache_changed: bool


def site_step(
    site: Site,
    cache: SiteState,
    outcomes: Sequence[StoryOutcome],
    fresh: Candidates,
    unprocessed: Iterable[str],
    keys_of: Callable[[str], Sequence[SortKey]],
    items_of: Callable[[str, set[SortKey]], list[SiteItem]],
    render: bool,
) -> SiteStep:
    """Bring the site cache up to date with the stories processed; render if it changed.

    ``render``: render the site folder even if nothing in the cache changed
    (forced, new settings, its files damaged).
    """
    changed = False
    inserted = False
    for o in outcomes:
        for table, value in ((cache.links, o.link), (cache.tombstones, o.tombstones or None)):
            if table.get(o.slug) == value:
                continue
            changed = True
            if value is None:
                del table[o.slug]
            else:
                inserted |= o.slug not in table
                table[o.slug] = value  # type: ignore[assignment]
    if inserted:  # kept in slug order, so that the same inputs give the same bytes
        cache.links = dict(sorted(cache.links.items()))
        cache.tombstones = dict(sorted(cache.tombstones.items()))
    processed = {o.slug for o in outcomes}
    items = choose_items(
        site.items_per_feed, cache, processed, fresh, unprocessed, keys_of, items_of
    )
    if items != cache.items:
        changed = True
        cache.items = items
    files: dict[str, bytes] = {}
    if render or changed:
        tombstones = newest_first(t for ts in cache.tombstones.values() for t in ts)
        files = render_site(site, cache.links, tombstones, cache.items)
    return SiteStep(files, changed)
