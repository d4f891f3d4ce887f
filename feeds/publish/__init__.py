"""Where a build's files go: the Output interface and its local-folder implementation.

An output stages a file's new bytes (not yet visible), commits staged files in
the order the build decides, writes, removes and sweeps; the build never
touches the destination any other way. :class:`~.files.FolderOutput` is a
local folder (``out/``), with atomic renames and untouched unchanged files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .files import FolderOutput as FolderOutput


class Output(Protocol):
    def stage(self, name: str, data: bytes, new: bool = False) -> str | None: ...

    def commit(self, staged: str, name: str) -> None: ...

    def discard(self, staged: Iterable[str]) -> None: ...

    def write(self, name: str, data: bytes) -> bool: ...

    def remove(self, names: list[str]) -> list[str]: ...

    def sweep(self) -> None: ...

    def sizes_differ(self, files: dict[str, int]) -> bool: ...

    def make_folder(self, folder: str) -> bool: ...

    def prune(self, folders: Iterable[str], keep_root: bool) -> None: ...


__all__ = ["FolderOutput", "Output"]
