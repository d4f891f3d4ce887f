"""The format registry: each feed format's name, file, media type and renderers, once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import Feed, Update
from . import atom, jsonfeed, rss


@dataclass(frozen=True)
class Format:
    name: str
    file_name: str
    media_type: str
    item: Callable[[Update], str]  # one serialised item, without a language of its own
    # (feed, self URL, [(item, item's language)]) -> the whole document
    document: Callable[[Feed, str, Sequence[tuple[str, str]]], bytes]
    archives: bool  # also written as RFC 5005 archive pages

    def render(self, feed: Feed, self_url: str) -> bytes:
        return self.document(feed, self_url, [(self.item(u), u.language) for u in feed.entries])


def _rss(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    return rss.rss_document(feed, self_url, [text for text, _ in items])


def _atom(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    lang = feed.language
    return atom.atom_document(feed, self_url, [atom.with_language(t, lg, lang) for t, lg in items])


def _json(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    lang = feed.language
    return jsonfeed.json_document(
        feed, self_url, [jsonfeed.with_language(t, lg, lang) for t, lg in items]
    )


FORMATS: tuple[Format, ...] = (
    Format("rss", "rss.xml", "application/rss+xml; charset=utf-8", rss.rss_item, _rss, True),
    Format("atom", "atom.xml", "application/atom+xml; charset=utf-8", atom.atom_entry, _atom, True),
    Format(
        "json",
        "feed.json",
        "application/feed+json; charset=utf-8",
        jsonfeed.json_item,
        _json,
        False,
    ),
)


def format_for(file_name: str) -> Format | None:
    """The format of a feed file, current (``atom.xml``) or archive (``archive-3-atom.xml``)."""
    for f in FORMATS:
        if file_name == f.file_name or file_name.endswith("-" + f.file_name):
            return f
    return None
