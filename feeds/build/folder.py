"""Story folders planned and digested: a Published story in, its files' bytes out.

A folder (:class:`Folder`) is everything one folder of out/ is rendered from:
a story's page, its feeds and their RFC 5005 archives. Its digest
(:func:`folder_key`) covers all of that, so a build can tell, without
rendering, whether rendering it again could change a byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .. import __version__
from ..model import Feed, Site, Update
from ..reconcile import Published
from ..render.formats import FORMATS
from ..render.html import StoryPage, render_story_page
from ..render.preview import FILENAME as PREVIEW
from ..render.preview import item_of, render_preview
from ..timeutil import rfc3339

# A feed with nothing in it still needs a valid <updated>; the epoch is honest
# ("nothing has happened") and, unlike the clock, deterministic.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def render_version() -> str:
    """What every output depends on besides the data and the settings: the code that writes it.

    The package version and the versions of the libraries whose output goes
    into every file (Markdown, the sanitiser, the zone rules). Changing a
    renderer means a new package version (or ``feeds build --force``).
    """
    import markdown_it_pyrs
    import nh3
    import tzdata

    versions = [getattr(module, "__version__", "") for module in (markdown_it_pyrs, nh3)]
    return (
        f"feeds {__version__}; markdown-it-pyrs {versions[0]}; nh3 {versions[1]}; "
        f"tzdata {tzdata.IANA_VERSION}"
    )


def site_key(site: Site, output_policy: str = "") -> str:
    """The digest of the renderer and every setting that shapes output.

    When it changes, every folder is rendered again. Settings that shape no
    file (``cache_max_age``; the paths) are not part of it, except as the
    output's ``policy`` says (a bucket's objects carry Cache-Control).
    """
    from ..settings import SETTINGS

    shaping = [(s.key, getattr(site, s.key, None)) for s in SETTINGS if s.shapes_output]
    text = f"{render_version()}\n{shaping!r}" + (f"\n{output_policy}" if output_policy else "")
    return hashlib.sha256(text.encode()).hexdigest()


def _newest(times: Iterable[datetime | None]) -> datetime:
    return max((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=EPOCH)


def archive_name(page: int, name: str) -> str:
    return f"archive-{page}-{name}"


@dataclass(frozen=True)
class Folder:
    """Everything one story's folder of out/ is rendered from."""

    prefix: str  # "<slug>/"
    feed: Feed  # the current feed: the newest items_per_feed updates
    archives: tuple[Feed, ...]  # RFC 5005 archive pages, oldest first
    page: StoryPage
    source_key: str = ""  # digest of the story's source, if the store gave one

    @property
    def names(self) -> list[str]:
        names = [self.prefix + f.file_name for f in FORMATS]
        for number in range(1, len(self.archives) + 1):
            names += [
                self.prefix + archive_name(number, f.file_name) for f in FORMATS if f.archives
            ]
        names += [self.prefix + "index.html", self.prefix + PREVIEW]
        return names

    def render(self) -> dict[str, bytes]:
        url = self.feed.folder_url
        files = {self.prefix + f.file_name: f.render(self.feed, url + f.file_name) for f in FORMATS}
        for number, feed in enumerate(self.archives, 1):
            for f in FORMATS:
                if f.archives:
                    name = archive_name(number, f.file_name)
                    files[self.prefix + name] = f.render(feed, url + name)
        files[self.prefix + "index.html"] = render_story_page(self.page)
        story = self.page.story
        files[self.prefix + PREVIEW] = render_preview(
            title=story.title,
            folder_url=url,
            page_url="./",
            language=story.language,
            css="../style.css",
            items=[item_of(u) for u in self.feed.entries],
            site_wide=False,
        )
        return files


@dataclass(frozen=True)
class SiteItem:
    """An update as the site-wide feeds carry it: serialised once, re-used by later builds."""

    key: tuple[str, str]  # (UTC time, id): newest first is descending order
    story: str
    language: str
    texts: tuple[str, ...]  # one per format of FORMATS, in that order

    @classmethod
    def of(cls, update: Update) -> SiteItem:
        return cls(
            sort_key(update),
            update.story_slug,
            update.language,
            tuple(f.item(update) for f in FORMATS),
        )


def sort_key(update: Update) -> tuple[str, str]:
    """:attr:`Update.sort_key` as text that sorts the same way."""
    return (rfc3339(update.published.astimezone(UTC)), update.id)


def site_links(site: Site) -> tuple[tuple[str, str], ...]:
    return (("hub", site.websub_hub),) if site.websub_hub else ()


def story_folder(site: Site, published: Published, source_key: str = "") -> Folder:
    """A story's page, its current feeds and their archives.

    RFC 5005 paging: the current feed holds the newest ``items_per_feed``
    updates; the older ones are cut into archive pages of the same size from
    the oldest, so full archive pages stay the same as the story grows and
    are not rewritten.
    """
    if not isinstance(published, Published):
        raise TypeError("story_folder() takes a Published story: pass it through reconcile")
    story, tombstones = published.story, published.tombstones
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
        links=site_links(site)
        + ((("prev-archive", story.url + archive_name(len(chunks), "{name}")),) if chunks else ()),
        stylesheet="../feed.css",
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
    page = StoryPage(site=site, story=story, updated=updated, withdrawn=published.withdrawn)
    return Folder(f"{story.slug}/", current, tuple(archives), page, source_key)


def folder_key(folder: Folder, site_key: str) -> str:
    """A digest of everything the folder is rendered from; equal digests, equal bytes.

    ``site_key`` covers the renderer and the settings. A folder whose story
    came with its source's digest is digested from that and what the build
    decided about it (which updates are out, their ``updated``, its
    tombstones) instead of from every character of its text: the same
    guarantee for a fraction of the work, which matters when there are
    thousands of stories and one changed.
    """
    if folder.source_key:
        story = folder.page.story
        decided = (
            folder.source_key,
            [(u.id, u.updated.isoformat()) for u in story.updates],
            story.created,
            folder.feed.tombstones,
        )
        text = f"{site_key}\n{folder.prefix}\n{decided!r}"
    else:
        text = f"{site_key}\n{folder!r}"
    return hashlib.sha256(text.encode()).hexdigest()
