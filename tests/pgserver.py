"""A throwaway PostgreSQL server for the tests and the benchmarks.

    from pgserver import PgServer          # bench/: sys.path.insert(0, "<repo>/tests")

    with PgServer.start() as pg:           # a fresh cluster in a temporary folder
        url = pg.create_database("bench")  # postgresql://postgres@127.0.0.1:PORT/bench
        ...
    # stopped, and the temporary folder removed

``PgServer.start(base_dir)`` runs initdb into ``base_dir`` (the cluster folder:
``data/``, ``postgres.log`` and the Unix socket), then the postmaster, listening on
127.0.0.1 on a free port and on a Unix socket in the cluster folder, with every
safety that costs time turned off (fsync, synchronous commit, full-page writes):
a crash of the machine loses the cluster, which is meant to be thrown away.

The postmaster is a child of this process, not daemonised by pg_ctl, so that it
is stopped by a signal whatever the permissions of the folders (pg_ctl would
need to read the pid file as the server's user) and waited for (no zombie where
nothing reaps orphans). It is stopped by ``stop()``, else at the interpreter's
exit (atexit), else when the thread that started it dies (PR_SET_PDEATHSIG, via
setpriv, when started from the main thread), so no server outlives its tests.

As root (initdb and postgres refuse to run as root) both run as the OS user
``postgres``: the cluster folder is given to it and its parent folders are made
traversable (o+x, not readable) where they are not.

Only the standard library is needed; psycopg is used to create and drop
databases when it is installed, else psql.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PgServer", "PgServerError", "available", "find_bin_dir"]

SUPERUSER = "postgres"  # the cluster's superuser, whoever runs it
OS_USER = "postgres"  # the OS user the server runs as when we are root
HOST = "127.0.0.1"

# Appended to postgresql.conf: fast and unsafe, for a cluster thrown away.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "shared_buffers": "'32MB'",
    "listen_addresses": f"'{HOST}'",
}

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
MAX_SOCKET_DIR = 80  # sun_path holds 107 bytes, and ".s.PGSQL.65535.lock" goes on the end


class PgServerError(RuntimeError):
    """The server could not be set up, started or stopped."""


# --- finding the server ---------------------------------------------------------


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin, /usr/lib/postgresql/9.6/bin
    return tuple(int(n) for n in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def _has_server(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / exe, os.X_OK) for exe in ("initdb", "postgres"))


def find_bin_dir() -> Path | None:
    """The folder of initdb and postgres: $FEEDS_PG_BIN, else PATH, else the newest
    /usr/lib/postgresql/*/bin (Debian and Ubuntu put neither on PATH)."""
    override = os.environ.get("FEEDS_PG_BIN")
    if override:
        path = Path(override)
        return path if _has_server(path) else None
    candidates: list[Path] = []
    for exe in ("initdb", "postgres"):
        found = shutil.which(exe)
        if found:  # Debian's /usr/local/bin symlinks: the folder they point into
            candidates += [Path(found).resolve().parent, Path(found).parent]
    candidates += sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.is_dir()),
        key=_version_key,
        reverse=True,
    )
    return next((c for c in candidates if _has_server(c)), None)


def _os_user() -> pwd.struct_passwd | None:
    """Whom initdb and postgres run as: None for ourselves, ``postgres`` when root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(OS_USER)


def available() -> str | None:
    """None if a server can be started here, else why not."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("FEEDS_PG_BIN"):
            return f"FEEDS_PG_BIN={os.environ['FEEDS_PG_BIN']} has no initdb and postgres"
        return (
            "PostgreSQL server binaries (initdb, postgres) not found on PATH "
            "nor in /usr/lib/postgresql/*/bin (Debian package postgresql)"
        )
    if os.geteuid() == 0:
        try:
            _os_user()
        except KeyError:
            return f"running as root, and there is no OS user {OS_USER!r} to run the server as"
    return None


# --- the server -------------------------------------------------------------------

_LIVE: dict[int, PgServer] = {}  # id -> server, for the atexit handler
_LIVE_LOCK = threading.Lock()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _quote_ident(name: str) -> str:
    if not name or "\0" in name:
        raise ValueError(f"not a database name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def _setpriv_pdeathsig() -> str | None:
    """setpriv, if it has --pdeathsig (util-linux 2.33+)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    try:
        out = subprocess.run(
            [setpriv, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return setpriv if "--pdeathsig" in out else None


class PgServer:
    """A PostgreSQL cluster of its own: ``PgServer.start(folder)``, then ``url()``."""

    def __init__(self, base_dir: Path, *, bin_dir: Path, owned_dir: bool = False) -> None:
        self.base_dir = base_dir
        self.bin_dir = bin_dir
        self.data_dir = base_dir / "data"
        self.log_path = base_dir / "postgres.log"
        self.socket_dir = base_dir
        self.port = 0
        self.host = HOST
        self.user = SUPERUSER
        self._owned_dirs: list[Path] = [base_dir] if owned_dir else []
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()
        self._run_as = _os_user()

    # --- starting ---

    @classmethod
    def start(
        cls,
        base_dir: Path | str | None = None,
        *,
        port: int | None = None,
        settings: dict[str, str] | None = None,
    ) -> PgServer:
        """A new cluster in ``base_dir`` (made if missing; a temporary folder, removed
        by ``stop()``, if None), started and accepting connections.

        ``settings`` are more postgresql.conf lines (values as written there, so
        strings quoted: ``{"work_mem": "'64MB'"}``). ``port`` by default is a free one."""
        reason = available()
        if reason is not None:
            raise PgServerError(reason)
        bin_dir = find_bin_dir()
        assert bin_dir is not None
        if base_dir is None:
            temporary = Path(tempfile.mkdtemp(prefix="feeds-pg-"))
            server = cls(temporary, bin_dir=bin_dir, owned_dir=True)
        else:
            base = Path(base_dir).absolute()
            base.mkdir(parents=True, exist_ok=True)
            if base.joinpath("data").exists():
                raise PgServerError(f"{base} already holds a cluster (data/)")
            server = cls(base, bin_dir=bin_dir)
        try:
            server._setup()
            server._initdb(settings or {})
            server._first_start(port)
        except BaseException:
            server.stop()
            raise
        return server

    def _setup(self) -> None:
        if len(str(self.socket_dir)) > MAX_SOCKET_DIR:  # the socket path would not fit
            self.socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))
            self._owned_dirs.append(self.socket_dir)
        if self._run_as is not None:
            for folder in {self.base_dir, self.socket_dir}:
                os.chown(folder, self._run_as.pw_uid, self._run_as.pw_gid)
                os.chmod(folder, 0o700)
        self._make_reachable()

    def _make_reachable(self) -> None:
        """As root, let the postgres user through every parent folder (o+x, not o+r).

        Done again at every start: pytest makes /tmp/pytest-of-root 0700 again
        whenever a session starts."""
        if self._run_as is None:
            return
        for folder in {self.base_dir, self.socket_dir}:
            for parent in folder.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)

    def _env(self) -> dict[str, str]:
        # Not the caller's PG* variables (PGDATA, PGPORT, PGHOST...): this cluster's own.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self._run_as is not None:
            env.update(HOME=self._run_as.pw_dir, USER=OS_USER, LOGNAME=OS_USER)
        return env

    def _as_user(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _initdb(self, settings: dict[str, str]) -> None:
        initdb = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
        for locale in ("C.UTF-8", "C"):
            with open(self.log_path, "ab") as log:
                done = subprocess.run(
                    [*initdb, f"--locale={locale}"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.base_dir,
                    env=self._env(),
                    check=False,
                    **self._as_user(),
                )
            if done.returncode == 0:
                break
            shutil.rmtree(self.data_dir, ignore_errors=True)
        else:
            raise PgServerError(f"initdb failed:\n{self._log_tail(0)}")
        lines = ["", "# tests/pgserver.py: a throwaway cluster, fast and unsafe"]
        lines += [f"{k} = {v}" for k, v in {**SETTINGS, **settings}.items()]
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n".join(lines) + "\n")

    def _first_start(self, port: int | None) -> None:
        if port is not None:
            self.port = port
            self._spawn()
            return
        for attempt in range(5):  # another process may take the free port first
            self.port = _free_port()
            try:
                self._spawn()
                return
            except PgServerError as exc:
                if attempt == 4 or "could not bind" not in str(exc).lower():
                    raise

    def _spawn(self) -> None:
        self._make_reachable()
        cmd = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
        ]
        # Stopped with the thread that starts it: the main thread is the process.
        setpriv = _setpriv_pdeathsig()
        if setpriv is not None and threading.current_thread() is threading.main_thread():
            cmd = [setpriv, "--pdeathsig", "INT", "--", *cmd]
        log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
                env=self._env(),
                start_new_session=True,  # not a terminal's ^C: stop() shuts it down
                **self._as_user(),
            )
        self._proc = proc
        self._owner_pid = os.getpid()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        try:
            self._wait_ready(proc, log_from)
        except BaseException:
            self._signal_stop(signal.SIGQUIT)
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], log_from: int) -> None:
        """Until postmaster.pid says ``ready`` (what pg_ctl -w waits for)."""
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            code = proc.poll()
            if code is not None:
                raise PgServerError(
                    f"postgres exited with {code} on port {self.port}:\n{self._log_tail(log_from)}"
                )
            try:
                lines = pid_file.read_text().splitlines()
            except (FileNotFoundError, UnicodeDecodeError):
                lines = []
            # line 1 the postmaster's pid, line 8 its status
            if len(lines) >= 8 and lines[0] == str(proc.pid) and lines[7].strip() == "ready":
                return
            if time.monotonic() > deadline:
                raise PgServerError(
                    f"postgres not ready after {START_TIMEOUT:.0f}s:\n{self._log_tail(log_from)}"
                )
            time.sleep(0.02)

    def _log_tail(self, start: int, limit: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(start, log.seek(0, os.SEEK_END) - limit))
                return log.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(no log: {exc})"

    # --- using ---

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def major_version(self) -> int:
        """The server's major version (15), as initdb wrote it."""
        return int((self.data_dir / "PG_VERSION").read_text().split(".")[0])

    def url(self, dbname: str = "postgres") -> str:
        """postgresql://postgres@127.0.0.1:PORT/dbname (trust: no password)."""
        path = urllib.parse.quote(dbname, safe="")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{path}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run ``sql`` (outside a transaction) as the superuser."""
        try:
            import psycopg
        except ImportError:
            self._psql(sql, dbname)
            return
        try:
            with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.encode())  # bytes: psycopg takes it as it is, no parameters
        except psycopg.Error as exc:
            raise PgServerError(f"{sql}: {exc}") from exc

    def _psql(self, sql: str, dbname: str) -> None:
        psql = self.bin_dir / "psql"
        exe = str(psql) if os.access(psql, os.X_OK) else shutil.which("psql")
        if exe is None:
            raise PgServerError("neither psycopg nor psql is installed")
        done = subprocess.run(
            [exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(dbname), "-c", sql],
            capture_output=True,
            text=True,
            env={**self._env(), "PGCONNECT_TIMEOUT": "10"},
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise PgServerError(f"{sql}: {done.stderr.strip()}")

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        sql = f"CREATE DATABASE {_quote_ident(name)}"
        if self.major_version >= 15:  # copying the template's files: 4x faster, no fsync here
            sql += " STRATEGY = FILE_COPY"
        self.execute(sql)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop it if it is there, ending its sessions first."""
        self.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    # --- stopping ---

    def _signal_stop(self, sig: int) -> None:
        """Send ``sig`` to the postmaster and wait for it; after STOP_TIMEOUT, kill."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                if sig == signal.SIGKILL:
                    self._hard_kill(proc)
                else:
                    proc.send_signal(sig)
                    try:
                        proc.wait(STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        self._hard_kill(proc)
        finally:
            self._proc = None
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)

    @staticmethod
    def _hard_kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the postmaster and its children, and reap them all.

        Each child is a session of its own (postgres calls setsid()), so not in the
        postmaster's process group; and once the postmaster is dead its children are
        orphans, which become zombies where the init process does not reap them. So:
        the postmaster stopped (it forks no more), its children killed, then itself,
        while this process is a child subreaper, to whom the orphans go, to be reaped."""
        subreaper = _set_child_subreaper(True)
        try:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGSTOP)
            children = _children(proc.pid)
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired as exc:
                raise PgServerError(f"postgres (pid {proc.pid}) would not die") from exc
            if subreaper:
                for pid in children:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)
        finally:
            if subreaper:
                _set_child_subreaper(False)

    def restart(self, mode: str = "fast") -> None:
        """Stop (as ``pg_ctl restart -m fast``: sessions ended, what was committed
        kept) and start again on the same port, so the same URLs work again.
        After ``kill()``, just start: the server recovers from its WAL."""
        with self._lock:
            self._signal_stop(_STOP_SIGNALS[mode])
            self._spawn()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, a crash of the server (not of the
        machine: what it wrote, the OS still has, fsync or not); ``restart()``
        starts it again, recovering from its WAL. As with any server with
        synchronous_commit=off (this cluster's default), the last commits (up to
        3 x wal_writer_delay, 600 ms) may be lost: ``SET synchronous_commit = on``
        in the sessions whose commits a test needs kept."""
        with self._lock:
            self._signal_stop(signal.SIGKILL)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: end the sessions; ``smart``: wait for them;
        ``immediate``: no shutdown checkpoint), and remove a temporary folder."""
        with self._lock:
            self._signal_stop(_STOP_SIGNALS[mode])
            for folder in self._owned_dirs:
                shutil.rmtree(folder, ignore_errors=True)
            self._owned_dirs = []

    def __enter__(self) -> PgServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<PgServer {self.url()} {state} in {self.base_dir}>"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc (empty where there is none)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(stat_file.parent.name))
    return found


def _set_child_subreaper(on: bool) -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): whether it could be set (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, int(on), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE.values())
    for server in servers:
        if server._owner_pid == os.getpid():  # not in a forked child
            with contextlib.suppress(Exception):  # at exit, stop what can be stopped
                server.stop()
