"""Importing live-blog pages (text or HTML) into the store.

``read_source`` gets the page (a file, stdin, or an http(s) URL);
``page.text_page``/``page.html_page`` turn it into blocks; ``resolve.read``
finds the updates and their exact times; ``merge`` writes them into a story,
adding only what is new. :func:`import_page` does all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..errors import ImportProblem as ImportProblem
from ..errors import StoryExists
from ..model import SLUG_RE, Story
from ..settings import Workspace
from .fetch import read_source
from .merge import Plan, apply_import, plan_import
from .page import html_page, looks_like_html, text_page
from .resolve import Reading as Reading
from .resolve import read


@dataclass(frozen=True)
class ImportResult:
    reading: Reading
    plan: Plan
    done: list[str]  # what was written (nothing on a dry run)


def import_page(
    source: str,
    ws: Workspace,
    slug: str,
    *,
    timezone: str | None = None,
    page_date: date | None = None,
    fmt: str = "auto",
    dry_run: bool = False,
    update: bool = False,
    now: datetime,
) -> ImportResult:
    allow = tuple(ws.store.read_site().import_allow_hosts.split())
    got = read_source(source, allow_hosts=allow)
    is_html = fmt == "html" or (fmt == "auto" and (got.is_html or looks_like_html(got.text)))
    page = html_page(got.text) if is_html else text_page(got.text)
    existing = _existing(ws, slug)  # the one story, read once
    zone = timezone or (existing.timezone if existing else None)
    reading = read(page, zone=zone, page_date=page_date)
    plan = plan_import(existing, slug, reading)
    done: list[str] = []
    if not dry_run:
        try:
            done = apply_import(ws, slug, reading, plan, update=update, now=now, link=got.url)
        except StoryExists:  # another import made the story meanwhile: grow it instead
            plan = plan_import(_existing(ws, slug), slug, reading)
            done = apply_import(ws, slug, reading, plan, update=update, now=now, link=got.url)
    return ImportResult(reading, plan, done)


def _existing(ws: Workspace, slug: str) -> Story | None:
    if not SLUG_RE.match(slug):
        raise ImportProblem(
            f"{slug!r} is not a valid story name: lowercase letters, digits, hyphens"
        )
    site = ws.store.read_site()
    if slug not in ws.store.scan().stories:
        return None
    read = ws.store.read_story(slug, site)
    if read.story is None or read.problems:
        from ..errors import StoreError

        raise StoreError(read.problems)
    return read.story


def describe(result: ImportResult) -> list[str]:
    """The dry-run table: each update's local and UTC time, id, action, first words."""
    lines = [
        f"{len(result.reading.updates)} updates found ({result.reading.order}, "
        f"{result.reading.zone}); {len(result.reading.background)} background paragraphs"
    ]
    for found in result.reading.updates:
        assert found.when is not None
        words = " ".join((found.title or found.text).split()[:8])
        lines.append(
            f"{result.plan.action(found):8} {found.when:%Y-%m-%d %H:%M %z}  "
            f"{found.when.astimezone(UTC):%Y-%m-%d %H:%MZ}  "
            f"{result.plan.anchors[id(found)]:18}  {words}"
        )
    return lines
