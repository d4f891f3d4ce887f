"""What a build must do, decided from versions alone: pure, no I/O, no clock of its own.

Given the last build's index, what the store lists now, the clock and the
flags, :func:`is_idle` says whether the output is still exactly right (cron
asks every minute, so this runs before anything else is read or imported),
and :func:`plan` says which stories to process and whether everything must be.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..store import Listing
from .state import Index


@dataclass(frozen=True)
class Plan:
    everything: bool  # every story is read and every folder rendered
    changed: tuple[str, ...]  # stories to read, reconcile and render (slug order)
    gone: tuple[str, ...]  # stories whose output is to be withdrawn


def is_idle(
    index: Index | None,
    listing: Listing,
    now: datetime,
    broken: set[str],
    interrupted: bool,
    code: str,
) -> bool:
    """Is the last build's output still exactly right? ``code``: what the output
    would be made with now (a new version of feeds or its libraries may change it)."""
    if index is None or interrupted or broken or listing.site_unsettled or listing.problems:
        return False
    if index.code != code:
        return False
    if index.site_version != listing.site or index.sources != listing.stories:
        return False
    if index.built_at is not None and now < index.built_at:
        return False  # the clock went back: what was published may now be in the future
    return index.next_event is None or now < index.next_event  # an event is due


def plan(
    index: Index | None,
    listing: Listing,
    now: datetime,
    *,
    site_key: str,
    force: bool,
    broken: set[str],
    cache_complete: bool,
    stored: Iterable[str] = (),
) -> Plan:
    """The stories to process.

    Everything, when forced (or repairing a killed build), with no usable index
    or site cache, when the settings or the renderer changed, or when the clock
    went back (what was published may now be in the future). ``stored``: the
    stories with a saved state, looked at only then.
    """
    previous = index or Index()
    everything = (
        force
        or index is None
        or previous.site_key != site_key
        or not cache_complete
        or (previous.built_at is not None and now < previous.built_at)
    )
    present = listing.stories
    known = {prefix[:-1] for prefix in previous.feeds if prefix} | set(previous.due)
    if everything:
        known |= set(stored)
    changed = tuple(
        slug
        for slug, version in present.items()
        if everything
        or previous.sources.get(slug) != version
        or f"{slug}/" in broken
        or f"{slug}/" not in previous.feeds
        or (slug in previous.due and now >= previous.due[slug])
    )
    gone = tuple(sorted(known - set(present)))
    return Plan(everything, changed, gone)


def settled(listing: Listing) -> tuple[str, dict[str, str]]:
    """The versions to record: unsettled ones as "", so the next build reads them again."""
    site = "" if listing.site_unsettled else listing.site
    stories = {
        slug: "" if slug in listing.unsettled else version
        for slug, version in listing.stories.items()
    }
    return site, stories
