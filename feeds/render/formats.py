"""The format registry: every feed format the build writes, in one tuple.

A format is one module (its item and document functions, see :mod:`.rss`)
and one line in :data:`FORMATS`; everything that lists feed files (the
build, archives, HTTP media types, the HTML page's feed links) iterates
the registry instead of spelling the formats out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import Feed, Update
from . import atom, jsonfeed, rss

# Feeds are UTF-8 text; saying so spares clients the guess (RFC 7303 section 3.2).
CHARSET = "; charset=utf-8"


@dataclass(frozen=True)
class Format:
    """One output format: what it is called, how it is served, how it is written."""

    name: str  # "rss"
    file_name: str  # "rss.xml"
    media_type: str  # the Content-Type to send: "application/rss+xml; charset=utf-8"
    item: Callable[[Update], str]  # one serialised item, without its language
    # (feed, self URL, [(item, item's language)]) -> the document; the format
    # marks the items whose language is not the feed's, if it can.
    document: Callable[[Feed, str, Sequence[tuple[str, str]]], bytes]
    archives: bool  # also written as RFC 5005 archive pages
    label: str  # what links to it say: "RSS"

    @property
    def essence(self) -> str:
        """The media type without parameters (``application/rss+xml``)."""
        return self.media_type.partition(";")[0]

    def render(self, feed: Feed, self_url: str) -> bytes:
        """The document of ``feed`` and its entries, published at ``self_url``."""
        item = self.item
        return self.document(feed, self_url, [(item(u), u.language) for u in feed.entries])


# The order is the order of the build's files and of the pages' feed links.
FORMATS: tuple[Format, ...] = (
    Format(
        name="rss",
        file_name=rss.FILENAME,
        media_type=rss.MEDIA_TYPE + CHARSET,
        item=rss.rss_item,
        document=rss.rss_feed,
        archives=True,
        label="RSS",
    ),
    Format(
        name="atom",
        file_name=atom.FILENAME,
        media_type=atom.MEDIA_TYPE + CHARSET,
        item=atom.atom_entry,
        document=atom.atom_feed,
        archives=True,
        label="Atom",
    ),
    Format(
        name="json",
        file_name=jsonfeed.FILENAME,
        media_type=jsonfeed.MEDIA_TYPE + CHARSET,
        item=jsonfeed.json_item,
        document=jsonfeed.json_feed,
        archives=False,  # JSON Feed 1.1 has no archive links
        label="JSON Feed",
    ),
)

_BY_FILE_NAME = {f.file_name: f for f in FORMATS}
_ARCHIVE = re.compile(r"archive-\d+-(.+)")  # build.archive_name


def format_for(file_name: str) -> Format | None:
    """The format of a feed file (``rss.xml``) or archive page (``archive-3-rss.xml``)."""
    found = _BY_FILE_NAME.get(file_name)
    if found is None and (archive := _ARCHIVE.fullmatch(file_name)):
        found = _BY_FILE_NAME.get(archive[1])
        if found is not None and not found.archives:
            return None
    return found
