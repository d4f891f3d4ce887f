"""Every error a user can cause, under one base class, each saying how to fix it.

The CLI prints these messages as they are and exits 1 (75 for :class:`LockBusy`);
a traceback from ``feeds`` therefore always means a bug.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class FeedsError(Exception):
    """Base class of every error a user can cause."""


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive on Windows
        return str(p)
    return str(p) if rel.startswith("..") else rel


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the store, located as precisely as the store can.

    ``where`` is a file (shown relative to the working directory, with its
    line) for the file store, or a name such as ``storm`` or ``storm/roads``
    for stores that are not files.
    """

    where: Path | str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = display_path(self.where) if isinstance(self.where, Path) else self.where
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class StoreError(FeedsError):
    """The store holds bad input; nothing was written."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (str(p.where), p.line or 0)))
        super().__init__("\n".join(str(p) for p in self.problems))


class PublishError(FeedsError):
    """Writing the output failed (disk full, permissions...)."""


class TimeError(FeedsError, ValueError):
    """A timestamp or zone that cannot be used."""


class AuthoringError(FeedsError):
    """A change to the store that cannot be made; nothing was written."""


class StoryExists(AuthoringError):
    """A new story's name is taken (perhaps by another writer a moment ago)."""


class EditConflict(AuthoringError):
    """The update changed while its new text was being written."""


class LockBusy(FeedsError):
    """Another process held a lock for longer than we were willing to wait."""


class ImportProblem(FeedsError):
    """A page that cannot be imported as it is."""


class DatabaseError(FeedsError):
    """The database cannot be reached or used (down, wrong URL, old schema); nothing was written."""


class ServeError(FeedsError):
    """The server cannot start (address in use, no such folder...)."""
