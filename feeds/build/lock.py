"""Exclusive locks: ``flock`` on a file in the state folder.

``build.lock`` makes builds run one at a time; the file store's ``store.lock``
does the same for commands that change story files (``feeds add`` and friends), so two reporters
adding updates at once both land. The kernel drops a lock when its holder
exits, however it exits (even SIGKILL), so a crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from ..errors import FeedsError, LockBusy

LOCK_FILE = "build.lock"
# Held (shared) by a build's worker processes: a build killed mid-way may
# leave workers that finish their story before they notice; the next build
# waits for them (exclusive) before it sweeps what they staged.
WORKERS_LOCK_FILE = "workers.lock"


@contextmanager
def file_lock(
    path: Path, wait: float, what: str, hint: str = "", fix: str = "choose another with --state"
) -> Iterator[None]:
    """Hold ``path`` exclusively: the lock of ``what`` ("build"), for at most ``wait`` s."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        folder = path.parent
        why = exc.strerror
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            why = f"{existing} is not a folder"
        raise FeedsError(
            f"{path}: cannot make the lock file of the {what} ({why}); make {folder} a "
            f"writable folder, or {fix}"
        ) from exc
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise LockBusy(
                        f"another {what} (pid {holder}) is still running after {wait:g}s; "
                        f"nothing was done. Try again{hint}."
                    ) from None
                time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        with contextlib.suppress(OSError):  # the holder's pid is for messages only: a
            os.ftruncate(fd, 0)  # full disk must not stop what may free space
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def build_lock(state_dir: Path, wait: float) -> AbstractContextManager[None]:
    return file_lock(state_dir / LOCK_FILE, wait, "build", ", or use --wait to wait longer")


def hold_shared(path: Path) -> None:
    """In a worker: hold ``path`` shared until this process ends."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)  # never closed: the kernel drops it at exit


def wait_for_workers(state_dir: Path, wait: float = 30.0) -> None:
    """Until no worker of an earlier build is left (they end within a second)."""
    path = state_dir / WORKERS_LOCK_FILE
    if not path.exists():
        return
    with file_lock(path, wait, "build's worker"):
        pass
