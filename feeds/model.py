"""The data model: what a store holds, independent of files and formats.

Frozen dataclasses; every datetime is timezone-aware (a naive one raises).
Ids are RFC 4151 ``tag:`` URIs built from the site's fixed ``id_authority``,
the story slug and the update's anchor, so they survive a move of domain,
edits of text or title, and corrections of the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from .settings import default
from .timeutil import require_aware

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Characters XML 1.0 forbids (section 2.2, Char), which no feed can carry: C0 controls
# but tab, newline and carriage return; lone surrogates; U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ANCHOR_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
# RFC 4151: taggingEntity = authorityName "," date, where authorityName is a
# DNS name or an email address and date is YYYY, YYYY-MM or YYYY-MM-DD.
ID_AUTHORITY_RE = re.compile(
    r"^(?:[A-Za-z0-9._%+-]+@)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r",\d{4}(?:-\d{2}(?:-\d{2})?)?$"
)

Status = Literal["live", "ended"]


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug) or len(slug) > 100:
        raise ValueError(
            f"{slug!r} is not a valid story name: use lowercase letters, digits and hyphens, "
            "like kazerun-protests, at most 100 (it becomes the story's file name and URL)"
        )
    return slug


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    uri: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a person needs a name")


@dataclass(frozen=True)
class Site:
    title: str
    base_url: str  # always ends with "/"
    id_authority: str  # "example.org,2018": never changes, even if base_url does
    author: Person
    # Defaults and meanings: feeds.settings.SETTINGS.
    language: str = str(default("language"))
    timezone: str = str(default("timezone"))
    items_per_feed: int = int(default("items_per_feed") or 0)
    description: str = ""
    tombstone_days: int = int(default("tombstone_days") or 0)
    retraction_notice_days: int = int(default("retraction_notice_days") or 0)
    cache_max_age: int = int(default("cache_max_age") or 0)
    archive_max_age: int = int(default("archive_max_age") or 0)
    ttl: int | None = None  # minutes: RSS <ttl>, how long pollers may wait
    websub_hub: str | None = None  # WebSub hub to announce and ping
    import_allow_hosts: str = ""  # hosts feeds import may fetch from though not public

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            raise ValueError("base_url must end with '/'")
        if not ID_AUTHORITY_RE.match(self.id_authority):
            raise ValueError(f"bad id_authority {self.id_authority!r}")
        if self.items_per_feed < 1:
            raise ValueError("items_per_feed must be at least 1")

    @property
    def feed_id(self) -> str:
        return f"tag:{self.id_authority}:/"

    def url(self, path: str = "") -> str:
        return self.base_url + path


@dataclass(frozen=True)
class Update:
    """One timestamped entry of a live blog; one item in every feed."""

    id: str  # tag: URI, the RSS guid and Atom id
    anchor: str  # HTML id on the story page, the permalink's fragment
    story_slug: str
    published: datetime  # aware, in the story's zone
    updated: datetime  # aware; equals published until the update is edited
    title: str  # never empty: derived from the text when the heading has none
    title_is_derived: bool
    text: str  # the Markdown source of the body
    html: str  # sanitised HTML rendered from ``text``
    summary: str  # plain-text excerpt, for RSS <description>
    url: str  # permalink: <base_url>/<slug>/#<anchor>
    authors: tuple[Person, ...]
    tags: tuple[str, ...]
    language: str
    # Where its heading is in the source, for messages. Not part of its value
    # (nor of the feed digest): adding an update above it moves it.
    line: int = field(default=0, compare=False, repr=False)
    # What an edit is measured by: a digest of the title, text, time and authors
    # as written. When it changes, `updated` moves (see feeds.reconcile).
    content_hash: str = ""
    explicit_updated: datetime | None = None  # updated="..." in the heading
    retracted: bool = False
    retracted_at: datetime | None = None  # retracted="..." in the heading
    retraction_note: str = ""
    # The visible text of ``html``, computed once by the parser (pages use it).
    plain: str = field(default="", compare=False, repr=False)
    # The story's headline, for the site-wide feeds (items name their story).
    story_title: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        require_aware(self.published, "Update.published")
        require_aware(self.updated, "Update.updated")
        for value in (self.explicit_updated, self.retracted_at):
            if value is not None:
                require_aware(value, "Update time")
        if self.updated.astimezone(UTC) < self.published.astimezone(UTC):
            raise ValueError(f"{self.id}: updated is before published")
        if not self.title.strip():
            raise ValueError(f"{self.id}: empty title")

    @property
    def sort_key(self) -> tuple[datetime, str]:
        # In UTC: aware datetimes sharing a ZoneInfo compare by wall-clock time
        # and ignore `fold`, so 01:40+01:00 would sort after 01:15+00:00 on the
        # night the clocks go back.
        return (self.published.astimezone(UTC), self.id)


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    summary: str
    timezone: str
    language: str
    authors: tuple[Person, ...]
    tags: tuple[str, ...]
    status: Status
    url: str  # its page: <base_url>/<slug>/
    feed_id: str
    background: str  # Markdown
    background_html: str
    updates: tuple[Update, ...]  # newest first
    link: str | None = None  # the story's page elsewhere, if any
    created: datetime | None = None
    source: str = field(default="", compare=False, repr=False)  # its file, for messages

    def __post_init__(self) -> None:
        if not SLUG_RE.match(self.slug):
            raise ValueError(f"bad slug {self.slug!r}")
        if self.created is not None:
            require_aware(self.created, "Story.created")
        keys = [u.sort_key for u in self.updates]
        if keys != sorted(keys, reverse=True):
            raise ValueError(f"{self.slug}: updates must be newest first")

    @property
    def updated(self) -> datetime | None:
        """The newest change among its updates (or its creation), if any."""
        times = [u.updated for u in self.updates]
        if self.created is not None:
            times.append(self.created)
        return max(times, key=lambda t: t.astimezone(UTC), default=None)


@dataclass(frozen=True)
class Snapshot:
    """Everything a build needs, read from the store at one moment."""

    site: Site
    stories: tuple[Story, ...]  # sorted by slug

    def __post_init__(self) -> None:
        slugs = [s.slug for s in self.stories]
        if slugs != sorted(slugs):
            raise ValueError("stories must be sorted by slug")


def update_id(site: Site, slug: str, anchor: str) -> str:
    return f"tag:{site.id_authority}:{slug}/{anchor}"


def story_feed_id(site: Site, slug: str) -> str:
    return f"tag:{site.id_authority}:{slug}"


@dataclass(frozen=True)
class Tombstone:
    """An update that was published and is no more (RFC 6721 at:deleted-entry)."""

    id: str
    story_slug: str
    url: str  # its former permalink
    when: datetime  # when it was retracted or first found deleted
    note: str = ""

    def __post_init__(self) -> None:
        require_aware(self.when, "Tombstone.when")


@dataclass(frozen=True)
class Feed:
    """One feed document, format-independent: a story's or the whole site's."""

    id: str
    title: str
    subtitle: str
    page_url: str  # the HTML page the feed is the feed of (rel=alternate)
    folder_url: str  # where the feed files live; self link = folder_url + file name
    updated: datetime  # newest change among all its updates, never the clock
    language: str
    authors: tuple[Person, ...]
    tags: tuple[str, ...]
    entries: tuple[Update, ...]  # newest first, at most items_per_feed
    related: str | None = None  # a page elsewhere about the same story
    tombstones: tuple[Tombstone, ...] = ()  # newest first; rendered in Atom only
    # Extra feed-level links (rel, href): RFC 5005 prev-archive / next-archive /
    # current, WebSub hub.
    links: tuple[tuple[str, str], ...] = ()
    archive: bool = False  # an RFC 5005 archive document (fh:archive)
    stylesheet: str | None = None  # href of the XSL that browsers use to show it
    ttl: int | None = None  # minutes a poller may wait before asking again

    def __post_init__(self) -> None:
        require_aware(self.updated, "Feed.updated")
