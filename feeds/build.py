"""Store snapshot -> output files. Pure: no I/O, no clock, deterministic.

The output is planned folder by folder (:class:`Folder`): each story's folder
(``<slug>/``: its page, its feeds and their RFC 5005 archives) and the site's
(``index.html``, the site-wide feeds, ``feeds.opml``, the stylesheet and the
feeds' XSL view). A folder's digest (:func:`folder_key`) covers everything its
files are rendered from, so the pipeline can tell, without rendering, whether
rendering it again could change a byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .model import Feed, Site, Snapshot, Story, Tombstone, Update
from .render import ARCHIVE_RENDERERS, RENDERERS
from .render.assets import FEED_XSL, STYLE_CSS
from .render.atom import atom_document, atom_entry
from .render.atom import with_language as atom_language
from .render.html import (
    SitePage,
    StoryLink,
    StoryPage,
    render_opml,
    render_site_page,
    render_story_page,
)
from .render.jsonfeed import json_document, json_item
from .render.jsonfeed import with_language as json_language
from .render.rss import rss_document, rss_item
from .timeutil import rfc3339

# A feed with nothing in it still needs a valid <updated>; the epoch is honest
# ("nothing has happened") and, unlike the clock, deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _render_version() -> str:
    """What the output depends on besides the data: the code that writes it.

    Part of every digest, so that another version of feeds (or a changed
    renderer) is never mistaken for "unchanged": the digest of the modules
    that turn a story into bytes, and of the stylesheets.
    """
    import markdown_it_pyrs
    import nh3
    import tzdata

    package = Path(__file__).parent
    # The libraries whose output goes into every file: Markdown, the sanitiser
    # and the zone rules. (markdown-it-py only reduces titles to plain text,
    # and importing its metadata would cost more than most builds.)
    versions = [getattr(module, "__version__", "") for module in (markdown_it_pyrs, nh3)]
    libraries = f"markdown-it-pyrs {versions[0]}; nh3 {versions[1]}; tzdata {tzdata.IANA_VERSION}"
    digest = hashlib.sha256(f"feeds {__version__}; {libraries}".encode())
    for name in _RENDERING:
        try:
            digest.update((package / name).read_bytes())
        except OSError:  # installed without sources: the version alone must do
            digest.update(name.encode())
    digest.update((STYLE_CSS + FEED_XSL).encode())
    return f"feeds {__version__}; {digest.hexdigest()[:16]}"


_RENDERING = (
    "build.py",
    "model.py",
    "history.py",
    "storybuild.py",
    "pipeline.py",
    "text.py",
    "timeutil.py",
    "store/people.py",
    "render/__init__.py",
    "store/storyfile.py",
    "store/headings.py",
    "render/_text.py",
    "render/rss.py",
    "render/atom.py",
    "render/jsonfeed.py",
    "render/html.py",
)
RENDER_VERSION = _render_version()


def _newest(times: Iterable[datetime | None]) -> datetime:
    return max((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=EPOCH)


def archive_name(page: int, name: str) -> str:
    return f"archive-{page}-{name}"


@dataclass(frozen=True)
class Folder:
    """Everything one folder of out/ is rendered from."""

    prefix: str  # "" for the site, "<slug>/" for a story
    feed: Feed  # the current feed: the newest items_per_feed updates
    archives: tuple[Feed, ...] = ()  # RFC 5005 archive pages, oldest first
    story_page: StoryPage | None = None
    site_page: SitePage | None = None

    @property
    def names(self) -> list[str]:
        names = [self.prefix + name for name in RENDERERS]
        for number in range(1, len(self.archives) + 1):
            names += [self.prefix + archive_name(number, name) for name in ARCHIVE_RENDERERS]
        if self.story_page or self.site_page:
            names.append(self.prefix + "index.html")
        if self.site_page:
            names += ["feeds.opml", "style.css", "feed.xsl"]
        return names

    def render(self) -> dict[str, bytes]:
        if self.site_page:
            items = [SiteItem.of(u) for u in self.feed.entries]
            page = self.site_page
            return site_files(self.feed, items, render_site_page(page), render_opml(page))
        url = self.feed.folder_url
        files = {
            self.prefix + name: render(self.feed, url + name) for name, render in RENDERERS.items()
        }
        for number, feed in enumerate(self.archives, 1):
            for name, render in ARCHIVE_RENDERERS.items():
                files[self.prefix + archive_name(number, name)] = render(
                    feed, url + archive_name(number, name)
                )
        if self.story_page:
            files[self.prefix + "index.html"] = render_story_page(self.story_page)
        return files


@dataclass(frozen=True)
class SiteItem:
    """An update as the site-wide feeds carry it: serialised once, re-used by later builds."""

    key: tuple[str, str]  # (UTC time, id): newest first is descending order
    story: str
    language: str
    rss: str
    atom: str  # without xml:lang
    json: str  # without language

    @classmethod
    def of(cls, update: Update) -> SiteItem:
        return cls(
            sort_key(update),
            update.story_slug,
            update.language,
            rss_item(update),
            atom_entry(update),
            json_item(update),
        )


def sort_key(update: Update) -> tuple[str, str]:
    """:attr:`Update.sort_key` as text that sorts the same way."""
    return (rfc3339(update.published.astimezone(UTC)), update.id)


def site_files(
    feed: Feed, items: Sequence[SiteItem], index_html: bytes, opml: bytes
) -> dict[str, bytes]:
    """The site folder: its feeds around ready items, its index page and OPML."""
    url, lang = feed.folder_url, feed.language
    return {
        "rss.xml": rss_document(feed, url + "rss.xml", [i.rss for i in items]),
        "atom.xml": atom_document(
            feed, url + "atom.xml", [atom_language(i.atom, i.language, lang) for i in items]
        ),
        "feed.json": json_document(
            feed, url + "feed.json", [json_language(i.json, i.language, lang) for i in items]
        ),
        "index.html": index_html,
        "feeds.opml": opml,
        "style.css": STYLE_CSS.encode(),
        "feed.xsl": FEED_XSL.encode(),
    }


def _site_links(site: Site) -> tuple[tuple[str, str], ...]:
    return (("hub", site.websub_hub),) if site.websub_hub else ()


def story_folder(site: Site, story: Story, tombstones: tuple[Tombstone, ...] = ()) -> Folder:
    """A story's page, its current feeds and their archives.

    RFC 5005 paging: the current feed holds the newest ``items_per_feed``
    updates; the older ones are cut into archive pages of the same size from
    the oldest, so full archive pages stay the same as the story grows and
    are not rewritten.
    """
    n = site.items_per_feed
    updates = story.updates
    older = list(reversed(updates[n:]))  # oldest first
    chunks = [older[i : i + n] for i in range(0, len(older), n)]
    updated = _newest([story.updated, *(t.when for t in tombstones)])
    current = Feed(
        id=story.feed_id,
        title=story.title,
        subtitle=story.summary,
        page_url=story.url,
        folder_url=story.url,
        updated=updated,
        language=story.language,
        authors=story.authors,
        tags=story.tags,
        entries=updates[:n],
        related=story.link,
        tombstones=tombstones,
        links=_site_links(site)
        + ((("prev-archive", story.url + archive_name(len(chunks), "{name}")),) if chunks else ()),
        stylesheet="../feed.xsl",
        ttl=site.ttl,
    )
    archives = []
    for number, chunk in enumerate(chunks, 1):
        links = [("current", story.url + "{name}")]
        if number > 1:
            links.append(("prev-archive", story.url + archive_name(number - 1, "{name}")))
        if number < len(chunks):
            links.append(("next-archive", story.url + archive_name(number + 1, "{name}")))
        entries: tuple[Update, ...] = tuple(reversed(chunk))
        archives.append(
            replace(
                current,
                entries=entries,
                updated=_newest(u.updated for u in entries),
                tombstones=(),
                links=tuple(links),
                archive=True,
                ttl=None,
            )
        )
    page = StoryPage(site=site, story=story, updated=updated, withdrawn=tombstones)
    return Folder(f"{story.slug}/", current, tuple(archives), story_page=page)


def site_updated(times: Iterable[datetime | None], tombstones: tuple[Tombstone, ...]) -> datetime:
    """The site's newest change: its stories' (``times``) and its tombstones'."""
    return _newest([*times, *(t.when for t in tombstones)]).astimezone(UTC)


def site_feed(
    site: Site,
    updated: datetime,
    tombstones: tuple[Tombstone, ...],
    entries: tuple[Update, ...] = (),
) -> Feed:
    """The site-wide feed; the pipeline passes no entries and adds ready items."""
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
        entries=entries,
        tombstones=tombstones,
        links=_site_links(site),
        stylesheet="feed.xsl",
        ttl=site.ttl,
    )


def site_folder(
    site: Site, stories: tuple[Story, ...], tombstones: tuple[Tombstone, ...] = ()
) -> Folder:
    updates: list[Update] = [u for story in stories for u in story.updates]
    updates.sort(key=lambda u: u.sort_key, reverse=True)
    links = tuple(StoryLink.of(story) for story in stories)
    updated = site_updated((s.updated for s in links), tombstones)
    feed = site_feed(site, updated, tombstones, tuple(updates[: site.items_per_feed]))
    page = SitePage(site=site, stories=links, updated=feed.updated)
    return Folder("", feed, site_page=page)


def plan(snapshot: Snapshot, tombstones: tuple[Tombstone, ...] = ()) -> dict[str, Folder]:
    """Every folder of out/: "" for the site, "<slug>/" per story."""
    by_story: dict[str, list[Tombstone]] = {}
    for t in tombstones:
        by_story.setdefault(t.story_slug, []).append(t)
    folders = {
        f"{story.slug}/": story_folder(snapshot.site, story, tuple(by_story.get(story.slug, ())))
        for story in snapshot.stories
    }
    folders[""] = site_folder(snapshot.site, snapshot.stories, tombstones)
    return folders


def folder_key(folder: Folder) -> str:
    """A digest of everything the folder is rendered from; equal digests, equal bytes.

    A story folder whose story came from a known source (``Story.source_key``:
    the digest of its file and site.toml, see feeds.storybuild) is digested from that key and
    what the build decided about it (which updates are out, their ``updated``,
    its tombstones) instead of from every character of its text: the same
    guarantee for a fraction of the work, which matters when there are
    thousands of stories and one changed.
    """
    page = folder.story_page
    if page is not None and page.story.source_key:
        story = page.story
        decided = (
            story.source_key,
            [(u.id, u.updated.isoformat()) for u in story.updates],
            story.created,
            folder.feed.tombstones,
        )
        text = f"{RENDER_VERSION}\n{folder.prefix}\n{decided!r}"
    else:
        text = f"{RENDER_VERSION}\n{folder!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def build(snapshot: Snapshot, tombstones: tuple[Tombstone, ...] = ()) -> dict[str, bytes]:
    """Every output file, keyed by its POSIX path relative to ``out/``."""
    files: dict[str, bytes] = {}
    for folder in plan(snapshot, tombstones).values():
        files.update(folder.render())
    return files
