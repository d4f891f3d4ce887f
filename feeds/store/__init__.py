"""The Store interface: what builds and authoring need of wherever stories are kept.

A store lists its stories with a cheap version each (:meth:`Store.scan`), reads
the site's settings and one story at a time, and applies one change at a time
under its own lock. Builds compare versions to find what changed; authoring
commands are written once, over :meth:`Store.apply`. Two backends: the file
store (``data/site.toml`` and one Markdown file per story, :mod:`.files`) and
an in-memory one (:mod:`.memory`) that the tests run everything against too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import Problem

if TYPE_CHECKING:
    from ..model import Site, Story
    from .changes import Change, CreateStory


@dataclass(frozen=True)
class Listing:
    """What :meth:`Store.scan` found: versions to compare, never contents."""

    site: str  # the site settings' version
    stories: Mapping[str, str]  # slug -> version, in slug order
    # Stories whose version may not change when they next do (a file saved
    # within its file system's clock tick): not to be trusted next time.
    unsettled: frozenset[str] = frozenset()
    problems: tuple[Problem, ...] = ()  # entries that look like stories and are not
    site_unsettled: bool = False


@dataclass(frozen=True)
class StoryRead:
    """One story as the store holds it, parsed; or why it could not be."""

    story: Story | None
    problems: tuple[Problem, ...] = ()
    source_key: str = field(default="", compare=False)  # digest of its source


# The function an authoring command gives :meth:`Store.apply`: the story as it
# is now (None if there is none) in, the change to make out. The store calls it
# under its lock, so the decision and the write see the same story.
ChangeFor = Callable[["Story | None"], "Change"]


class Store(Protocol):
    # Whether worker processes can read it too (a store in this process's memory cannot).
    shared: bool

    def describe(self) -> str:
        """How messages name this store ("data", "memory")."""
        ...

    def scan(self) -> Listing:
        """Every story with its version, cheaply: no story is read."""
        ...

    def read_site(self) -> Site:
        """The site settings; StoreError if they are missing or invalid."""
        ...

    def read_story(self, slug: str, site: Site) -> StoryRead:
        """One story, parsed and checked (problems located in the store's terms)."""
        ...

    def story_source(self, slug: str) -> bytes:
        """A story's source text, as ``feeds export --format md`` writes it."""
        ...

    def apply(self, slug: str, change: ChangeFor | CreateStory) -> Story:
        """Make one change to one story, atomically, under the store's lock.

        A :class:`CreateStory` makes a new story (AuthoringError if it exists);
        any other change is given by a function of the story as it is.

        The change is checked to do exactly what it says (nothing else moves);
        AuthoringError and nothing written if not.
        """
        ...

    def replace_story(self, slug: str, raw: bytes, expect: bytes | None) -> Story:
        """Make a story this source text, as a person editing it would (checked first;
        a new story if there is none). ``expect``: the text the edit started from; if the
        story no longer has it, EditConflict and nothing is written."""
        ...

    def remove_story(self, slug: str) -> None:
        """Take a story out of the store (its ids stay taken); AuthoringError if none."""
        ...

    def site_source(self) -> bytes:
        """The site settings as text (site.toml)."""
        ...

    def replace_site(self, raw: bytes, expect: bytes | None) -> Site:
        """Make the site settings this text (checked first; ``expect`` as for stories)."""
        ...

    def retired(self, slug: str) -> frozenset[str]:
        """Anchors of the story's updates that were published and are gone."""
        ...

    def retire(self, slug: str, anchors: Iterable[str]) -> None:
        """Record anchors that must never be given to a new update again."""
        ...

    def writing(self) -> AbstractContextManager[None]:
        """The lock that makes changes to the store one at a time."""
        ...


def __getattr__(name: str) -> object:
    # The backends on first use: a build that finds nothing to do needs neither.
    if name == "FileStore":
        from .files import FileStore

        return FileStore
    if name == "MemoryStore":
        from .memory import MemoryStore

        return MemoryStore
    raise AttributeError(name)


__all__ = ["ChangeFor", "Listing", "Store", "StoryRead"]
