"""Renderers: a format-independent :class:`~feeds.model.Feed` in, bytes out.

Renderers never read files or the clock; the same Feed always gives the same
bytes. :data:`~feeds.render.formats.FORMATS` lists the feed formats.

RSS and Atom are written with string templates, not with a feed library:
each item is serialised once and re-used by the archives and the site-wide
feeds, and ``bench/render_bench.py`` (3,000 updates in feeds of 50) measured
the templates at 77,200 RSS and 84,966 Atom items/s, 5.4x and 5.2x feedgen
and lxml (14,226 and 16,249). feedgen 1.0.0 also has open bugs and no
maintenance (its issue #135: entry links lose every attribute but href); it
remains the tests' reference, ``tests/reference.py``.
"""

from __future__ import annotations

from .atom import render_atom as render_atom
from .formats import FORMATS as FORMATS
from .formats import Format as Format
from .formats import format_for as format_for
from .jsonfeed import render_json as render_json
from .rss import render_rss as render_rss
