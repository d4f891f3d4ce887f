"""Renderers: a format-independent :class:`~feeds.model.Feed` in, bytes out.

Renderers never read files or the clock; the same Feed always gives the same
bytes. ``RENDERERS`` maps each output file name to its renderer.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import Feed
from .atom import render_atom as render_atom
from .jsonfeed import render_json as render_json
from .rss import render_rss as render_rss

Renderer = Callable[[Feed, str], bytes]

RENDERERS: dict[str, Renderer] = {
    "rss.xml": render_rss,
    "atom.xml": render_atom,
    "feed.json": render_json,
}

# RFC 5005 archive documents, ``archive-<n>-<name>``: the XML formats only
# (JSON Feed has no archive links).
ARCHIVE_RENDERERS: dict[str, Renderer] = {
    "rss.xml": render_rss,
    "atom.xml": render_atom,
}
