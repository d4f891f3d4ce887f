"""Where a build's files go: the Output interface, and what every output needs to know.

An output stages a file's new bytes (not yet visible), then publishes staged
files batch by batch in the order the build decides, removes, and sweeps up
after a killed build; the build never touches the destination any other way.

* :class:`~.files.FolderOutput`: a local folder (``out/``), atomic renames,
  unchanged files untouched.
* :class:`~.s3.S3Output`: objects in a bucket of any service that speaks the
  S3 API (``s3://bucket/prefix/``), unchanged objects never uploaded again.

The build decides the order (:func:`publication_order`), each object's media
type (:func:`media_type`) and cache policy (:func:`cache_control`), so every
output publishes the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from .files import FolderOutput as FolderOutput

if TYPE_CHECKING:
    from ..model import Site

TEXT = "; charset=utf-8"
BY_SUFFIX = {
    ".html": "text/html" + TEXT,
    ".xml": "application/xml" + TEXT,
    ".opml": "text/xml" + TEXT,
    ".xsl": "text/xml" + TEXT,
    ".json": "application/json" + TEXT,
    ".css": "text/css" + TEXT,
    ".js": "text/javascript" + TEXT,
    ".txt": "text/plain" + TEXT,
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
}


def media_type(name: str) -> str:
    """The Content-Type of a file of the output, by name (feeds are told apart by theirs)."""
    from ..render.formats import format_for  # not for a build with nothing to do

    base = name.rpartition("/")[2]
    feed_format = format_for(base)
    if feed_format is not None:
        return feed_format.media_type
    suffix = base[base.rfind(".") :].lower() if "." in base else ""
    return BY_SUFFIX.get(suffix, "application/octet-stream")


_ARCHIVE = re.compile(r"archive-(\d+)-")


@cache
def _feed_files() -> frozenset[str]:
    from ..render.formats import FORMATS

    return frozenset(f.file_name for f in FORMATS)


def is_archive(name: str) -> bool:
    """An RFC 5005 archive page (``storm/archive-2-atom.xml``)."""
    return _ARCHIVE.match(name.rpartition("/")[2]) is not None


def publication_order(name: str) -> tuple[int, int]:
    """When a file is put in place, relative to the others of one build (lowest first).

    A document goes up only after everything it links to, so that no reader
    following links from what is already published meets a missing file:

    1. the site's stylesheets (every feed and page refers to them);
    2. stories' archive pages, the newest page first (a page links to the
       one before it, and gains a link to a newer one only once that exists);
    3. stories' current feeds (which link their archive pages);
    4. stories' pages (which link their feeds);
    5. the site-wide feeds (whose items link the stories' pages);
    6. the OPML list (which links the story and site feeds);
    7. the site's page (which links all of those).

    Removals come after all of these. Within one step, files go up together
    (in parallel, on an output that can). A story published for the first
    time has links between its own files both ways (its feed links its page
    and its page its feed); its files go up before anything published links
    to the story, so no reader can reach them half done.
    """
    folder, _, base = name.rpartition("/")
    if not folder:
        if base in _feed_files():
            return (5, 0)
        if base.endswith(".opml"):
            return (6, 0)
        if base.endswith(".html"):
            return (7, 0)
        return (1, 0)
    archive = _ARCHIVE.match(base)
    if archive:
        return (2, -int(archive[1]))
    if base in _feed_files():
        return (3, 0)
    return (4, 0)


def cache_control(site: Site, name: str) -> str:
    """``Cache-Control`` for a file: short for what changes as a story goes on,
    long for archive pages, which change only when an old update is edited."""
    age = site.archive_max_age if is_archive(name) else site.cache_max_age
    return f"max-age={age}"


@dataclass(frozen=True)
class Staged:
    """A file's new bytes, staged by :meth:`Output.stage`, with how to serve them."""

    token: str  # what stage() returned
    name: str  # its name in the output: "storm/atom.xml"
    media_type: str = "application/octet-stream"
    cache_control: str = ""


def staged(site: Site, token: str, name: str) -> Staged:
    return Staged(token, name, media_type(name), cache_control(site, name))


class Output(Protocol):
    def stage(self, name: str, data: bytes, new: bool = False) -> str | None:
        """Hold ``name``'s new bytes, not yet visible; None if they are already there."""
        ...

    def publish(self, batch: Sequence[Staged]) -> list[str]:
        """Put staged files in place (together, where the output can); the names that
        changed. Raises PublishError if one cannot be, once the others are done."""
        ...

    def discard(self, staged: Iterable[str]) -> None: ...

    def remove(self, names: list[str]) -> list[str]: ...

    def sweep(self) -> None:
        """After a killed build: drop what it staged, and trust nothing it recorded."""
        ...

    def finish(self) -> None:
        """At the end of a build: record what the output holds."""
        ...

    def policy(self, site: Site) -> str:
        """Settings that shape what this output publishes besides the files' bytes (a
        bucket's headers): part of the render key, so a change reaches every file."""
        ...

    def sizes_differ(self, files: dict[str, int]) -> bool: ...

    def make_folder(self, folder: str) -> bool: ...

    def prune(self, folders: Iterable[str], keep_root: bool) -> None: ...

    def exists(self) -> bool: ...

    def read(self, name: str) -> bytes | None:
        """The bytes published as ``name``; None if there is no such file."""
        ...

    def where(self, name: str = "") -> str:
        """How messages name a file of the output (or the output itself)."""
        ...


__all__ = [
    "FolderOutput",
    "Output",
    "Staged",
    "cache_control",
    "media_type",
    "publication_order",
    "staged",
]
