"""Files written atomically, and only when their bytes change: the local folder output.

Each file is written to a temporary file in its own folder, fsynced and
renamed over the old one (``os.replace`` is atomic on POSIX), so a reader
polling the folder sees the old bytes or the new, never a mix. A file whose
bytes are already right is not touched, so its mtime -- and with it a
server's Last-Modified and ETag -- stays the same.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import PublishError

if TYPE_CHECKING:
    from ..model import Site
    from . import Staged


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_if_changed(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> bool:
    """Atomically make ``path`` hold ``data``; False if it already did."""
    tmp = stage(path, data, mode, durable)
    if tmp is None:
        return False
    commit(tmp, path, durable)
    return True


def stage(
    path: Path, data: bytes, mode: int = 0o644, durable: bool = True, new: bool = False
) -> Path | None:
    """Write ``data`` to a temporary file beside ``path``, for :func:`commit`.

    None if ``path`` already holds exactly ``data``. With ``durable``, the
    bytes are on disk before the call returns (fsync); files that a build
    can always make again skip it (see feeds.build.commit). ``new``: the caller
    knows that the folder exists and ``path`` does not (a first build).
    """
    if not new:
        try:
            with open(path, "rb") as fh:
                if fh.read(len(data) + 1) == data:
                    return None
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        except IsADirectoryError:
            pass  # os.replace will say so
    # A name no other process uses (pid) and no other file of this one (counter).
    tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_serial)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileExistsError:  # left by a killed process that had the same pid
        os.unlink(tmp)
        fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if mode & _UMASK:
                os.fchmod(fh.fileno(), mode)  # output files are meant to be served
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # ENOSPC on write names no file
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return tmp


_serial = itertools.count()
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def commit(tmp: Path, path: Path, durable: bool = True) -> None:
    """Replace ``path`` by a staged file, atomically."""
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def discard(staged: Iterable[Path]) -> None:
    for tmp in staged:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def safe_relative(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"refusing to write outside out/: {name!r}")
    return rel


TEMP_GLOB = ".*.tmp"  # what stage() names its temporary files


def sweep_temporary_files(out_dir: Path) -> list[Path]:
    """Delete temporary files a killed build left behind."""
    if not out_dir.is_dir():
        return []
    swept = [p for p in out_dir.rglob(TEMP_GLOB) if p.is_file()]
    for path in swept:
        path.unlink(missing_ok=True)
    return swept


def remove_files(out_dir: Path, names: list[str]) -> list[str]:
    """Delete files a previous build wrote and this one does not; prune empty folders."""
    removed = []
    for name in names:
        target = out_dir.joinpath(*safe_relative(name).parts)
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PublishError(f"{target}: cannot remove ({exc.strerror})") from exc
        removed.append(name)
        folder = target.parent
        while folder != out_dir and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return removed


_SECOND = 1_000_000_000


def _later_second(staged: Path, target: Path) -> None:
    """Give a file that replaces ``target`` a modification time in a later whole second.

    HTTP dates (Last-Modified) have one-second resolution, and servers take them
    from the file's time: a feed rebuilt with new bytes within the second of the
    last build would keep its Last-Modified, and clients that trust it (libcurl's
    If-Modified-Since check, in newsboat) would throw the new feed away and keep
    the old one. A replaced file is therefore dated at least one second after
    the one it replaces (its ETag changes with its bytes anyway)."""
    try:
        before = os.stat(target).st_mtime_ns
    except OSError:
        return  # a new file: any time will do
    floor = (before // _SECOND + 1) * _SECOND
    if os.stat(staged).st_mtime_ns < floor:
        os.utime(staged, ns=(floor, floor))


class FolderOutput:
    """The output as a local folder: files staged beside their names, then renamed in."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"FolderOutput({str(self.root)!r})"

    def path(self, name: str) -> Path:
        return self.root.joinpath(*safe_relative(name).parts)

    def stage(self, name: str, data: bytes, new: bool = False) -> str | None:
        """Stage ``name``'s new bytes (None if they are already there), not yet visible."""
        tmp = stage(self.path(name), data, durable=False, new=new)
        return None if tmp is None else str(tmp)

    def publish(self, batch: Sequence[Staged]) -> list[str]:
        """Rename staged files into place, one by one in the batch's order."""
        # Output files are not fsynced one by one: every build checks each file's
        # size against the index and renders again whatever a crash lost.
        for item in batch:
            target = self.path(item.name)
            _later_second(Path(item.token), target)
            commit(Path(item.token), target, durable=False)
        return [item.name for item in batch]

    def discard(self, staged: Iterable[str]) -> None:
        discard(Path(tmp) for tmp in staged)

    def remove(self, names: list[str]) -> list[str]:
        return remove_files(self.root, names)

    def sweep(self) -> None:
        sweep_temporary_files(self.root)

    def finish(self) -> None:
        pass  # the folder itself is the record

    def policy(self, site: Site) -> str:
        return ""  # a server decides the headers (feeds serve, nginx)

    def exists(self) -> bool:
        return self.root.exists()

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def where(self, name: str = "") -> str:
        return str(self.path(name)) if name else str(self.root)

    def sizes_differ(self, files: dict[str, int]) -> bool:
        """Is a file missing, or not at the size it was written with?"""
        prefix = str(self.root) + os.sep
        for name, size in files.items():
            try:
                if os.stat(prefix + name).st_size == size:
                    continue
            except OSError:
                pass
            return True
        return False

    def make_folder(self, folder: str) -> bool:
        """Create ``folder``; False if it was already there (a story's first build)."""
        try:
            self.path(folder).mkdir(parents=True)
        except FileExistsError:
            return False
        return True

    def prune(self, folders: Iterable[str], keep_root: bool) -> None:
        """Remove folders a failed build created and left empty."""
        for name in sorted(set(folders), reverse=True):
            folder = self.path(name)
            while folder != self.root and folder.is_relative_to(self.root):
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent
        if not keep_root:
            with contextlib.suppress(OSError):
                self.root.rmdir()
