"""``feeds follow``: poll live-blog pages politely, import what is new, build.

``sources.toml`` (beside site.toml) lists the pages and the story each one
grows; ``follow.json`` in the state folder remembers, per page, what the
server last said (ETag, Last-Modified), when to poll next, how many attempts
in a row failed, and which updates were seen on it. A cycle polls every page
that is due, imports each one fetched (new updates added, changed ones
edited), retracts updates gone from a page, and runs one build if anything
changed.

Manners (what a site's operator asks of a crawler):

* it says who it is: the User-Agent names feeds, its version and the site's
  ``follow_contact``; without a contact it does not start;
* it asks only for what changed: ``If-None-Match``/``If-Modified-Since`` with
  the validators the page last sent; a 304 imports nothing;
* one request at a time per host, ``gap`` seconds apart (longer if robots.txt
  asks, with ``Crawl-delay``, up to a minute);
* robots.txt (RFC 9309) through the same guarded fetcher, kept for a day: a
  4xx means no rules, a 5xx or no answer means nothing may be fetched (an
  older copy, if kept, still applies);
* on errors, the next attempt waits ``every * 2**failures`` (at most 6 hours),
  and at least what ``Retry-After`` asks on a 429 or a 503.

The parts: ``sources`` (sources.toml), ``state`` (follow.json), ``follower``
(the cycle); :func:`following` puts them together, as ``feeds follow`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FeedsError
from ..timeutil import Clock, system_clock
from .follower import DEFAULT_GAP, Cycle, Follower, retry_after, user_agent
from .sources import FollowSource, load_sources, sources_file
from .state import STATE_FILE, FollowState

if TYPE_CHECKING:
    from ..settings import Workspace

LOCK_FILE = "follow.lock"

__all__ = [
    "Cycle",
    "FollowSource",
    "FollowState",
    "Follower",
    "following",
    "load_sources",
    "retry_after",
    "user_agent",
]


@contextmanager
def following(
    ws: Workspace,
    *,
    sources: Path | None = None,
    interval: float | None = None,
    gap: float = DEFAULT_GAP,
    clock: Clock = system_clock,
) -> Iterator[tuple[Follower, list[str]]]:
    """A follower of the pages in ``sources`` (default: sources.toml beside site.toml),
    and warnings; it holds the follow lock (one follower per state folder) while open.
    Nothing is fetched unless the contact is set and every page is listed correctly."""
    from ..build.lock import file_lock
    from ..settings import command_setting

    site = ws.store.read_site()
    contact = command_setting(ws.store.site_source(), "follow_contact")
    if not contact:
        raise FeedsError(
            "set follow_contact in site.toml first (a URL or an email address where the sites "
            'you follow can reach you, like follow_contact = "desk@news.example.org"): polite '
            "crawlers say who they are"
        )
    path = sources_file(ws, sources)
    listed = load_sources(path, interval=interval)
    with file_lock(ws.state / LOCK_FILE, 0, "feeds follow", fix="stop the other one"):
        state, warning = FollowState.load(ws.state / STATE_FILE)
        follower = Follower(
            ws,
            listed,
            state,
            contact=contact,
            allow_hosts=tuple(site.import_allow_hosts.split()),
            gap=gap,
            clock=clock,
            sources_path=path,
            interval=interval,
        )
        yield follower, [warning] if warning else []
