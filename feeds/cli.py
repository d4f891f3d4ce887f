"""The ``feeds`` command: a thin layer over the library.

Each command parses its arguments, calls one library function and prints the
result. Library errors (FeedsError) exit 1 with their message; bad arguments
exit 2 (click's usage errors); 75 means another build held the lock.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from . import __version__
from .errors import DatabaseError, FeedsError, LockBusy
from .settings import Workspace, is_bucket, resolve_workspace
from .timeutil import TimeError, parse_when, rfc3339

if TYPE_CHECKING:
    from .build.commit import BuildResult
    from .follow import Cycle

# The commands import the library parts they use when they run: `feeds build`
# with nothing to do must not pay for Markdown, HTML and feed libraries.

EXIT_BUSY = 75  # EX_TEMPFAIL: another build holds the lock; try again later
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the database cannot be reached or used
EXIT_SAVED_NOT_BUILT = 3  # feeds add --build: the update is saved, the build failed


def _now() -> datetime:
    """The clock: the system's, or FEEDS_NOW (RFC 3339) to replay or test a moment."""
    fixed = os.environ.get("FEEDS_NOW")
    if fixed:
        try:
            return _parse_timestamp(fixed)
        except click.BadParameter as exc:
            raise click.UsageError(f"FEEDS_NOW: {exc.message}") from None
    return datetime.now(UTC).replace(microsecond=0)


def _parse_timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a time like 2018-05-17T03:00:00Z") from None
    if value.tzinfo is None:
        raise click.BadParameter(f"{text!r} needs a UTC offset, like 2018-05-17T03:00:00+04:30")
    from .timeutil import MAX_YEAR, MIN_YEAR

    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise click.BadParameter(f"{text!r}: years run {MIN_YEAR}-{MAX_YEAR} here")
    return value


class Timestamp(click.ParamType):
    name = "TIME"

    def convert(self, value, param, ctx):
        return value if isinstance(value, datetime) else _parse_timestamp(str(value))


class Slug(click.ParamType):
    name = "SLUG"

    def convert(self, value, param, ctx):
        try:
            from .model import check_slug  # when a command runs: --help need not pay for it

            return check_slug(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@contextmanager
def _errors() -> Iterator[None]:
    """Library errors become click errors: message and exit 1, no traceback."""
    try:
        yield
    except LockBusy as exc:
        click.echo(f"feeds: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    except DatabaseError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    except (FeedsError, TimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # what the library did not name more precisely: still one line
        raise click.ClickException(_os_error(exc)) from exc


def _os_error(exc: OSError) -> str:
    where = exc.filename2 or exc.filename
    why = exc.strerror or str(exc)
    return f"{where}: {why}; check the path, space and permissions" if where else why


class _Commands(click.Group):
    """The command group; a file system error anywhere in a command, its argument
    checks included, is one line rather than a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            raise click.ClickException(_os_error(exc)) from exc


def workspace_options(f: Callable[..., object]) -> Callable[..., object]:
    """--data, --out and --state, resolved once into the ``ws`` argument."""

    f = click.option(
        "--state",
        "state_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Build state and lock folder  [default: FEEDS_STATE, site.toml's state, "
        "or .feeds/ beside DATA]",
    )(f)
    f = click.option(
        "--out",
        "out_dir",
        metavar="DIR|s3://BUCKET/PREFIX/",
        callback=_out_target,
        help="Where the feeds are written: a folder, or a bucket  "
        "[default: FEEDS_OUT, site.toml's out, or out]",
    )(f)
    f = click.option(
        "--store",
        metavar="URL",
        expose_value=False,
        callback=_remember_store,
        help="A PostgreSQL store, postgresql://user@host/db (or a folder, as --data)  "
        "[default: FEEDS_STORE, site.toml's store, or the folder DATA]",
    )(f)
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The store: site.toml and one <slug>.md per story  [default: FEEDS_DATA or data]",
    )(f)


def _out_target(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | str | None:
    if value is None or is_bucket(value):
        return value
    if not value:
        raise click.BadParameter("give a folder or s3://bucket/prefix/", ctx, param)
    return Path(value)


def _remember_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Kept aside rather than passed to every command: _ws picks it up.
    if value:
        ctx.meta["feeds.store"] = value


def _ws(data_dir: Path | None, out_dir: Path | None, state_dir: Path | None) -> Workspace:
    store = click.get_current_context().meta.get("feeds.store")
    try:
        return resolve_workspace(data_dir, out_dir, state_dir, store=store)
    except FeedsError as exc:
        raise click.ClickException(str(exc)) from exc


def _read_text(text: str | None, initial: str = "") -> str:
    """TEXT from the argument, stdin for "-", or $EDITOR."""
    if text == "-":
        raw = sys.stdin.buffer.read()
        try:
            return raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                f"{exc.start}); convert it first, e.g. iconv -f latin1 -t utf-8"
            ) from None
    if text is not None:
        return text
    edited = click.edit(initial, extension=".md", require_save=True)
    if edited is None:
        raise click.ClickException("the editor was closed without saving; nothing was written")
    return edited


@contextmanager
def _keep_draft(ws: Workspace, name: str, text: Callable[[], str | None]) -> Iterator[None]:
    """If the command fails, keep the text the reporter typed in .feeds/drafts/."""
    try:
        yield
    except FeedsError as exc:
        typed = text()
        if typed and typed.strip():
            drafts = ws.state / "drafts"
            # The process id too: two failures in one second keep two drafts.
            path = drafts / f"{name}-{_now():%Y%m%dT%H%M%S}-{os.getpid()}.md"
            try:
                drafts.mkdir(parents=True, exist_ok=True)
                path.write_text(typed, encoding="utf-8")
                kept = f"your text is kept in {path}"
            except OSError as err:
                kept = f"your text could not be kept ({err.strerror}); here it is:\n{typed}"
            exc.args = (f"{exc}\n{kept}",)  # the same error (and exit code), with the draft
        raise


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def cli() -> None:
    """Live-blog stories in a plain-text store, published as RSS 2.0, Atom 1.0 and JSON feeds.

    \b
    Start:   feeds init mysite && cd mysite
    Write:   feeds new storm --title "Storm night" && feeds add storm "Winds rising."
    Publish: feeds build
    """


# --------------------------------------------------------------------------
# Publishing


@cli.command()
@workspace_options
@click.option("--force", is_flag=True, help="Render every feed, even those that did not change.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help=f"Seconds to wait for another build to finish (then exit {EXIT_BUSY}).",
)
@click.option(
    "--now",
    type=Timestamp(),
    help="Build as if it were this time (RFC 3339); for trying out embargoes and corrections.",
)
@click.option("-v", "--verbose", is_flag=True, help="List every file written or removed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def build(data_dir, out_dir, state_dir, force, wait, now, verbose, quiet):
    """Validate the store, then bring the feeds in OUT up to date.

    Nothing is written unless the whole store is valid. Only feeds whose
    content changed are rendered, and only files whose bytes change are
    written, so a build with nothing new is silent and touches nothing.
    Prints one summary line when something changed.

    Exit status: 0 done (or nothing to do), 1 bad input (nothing written),
    75 another build kept the lock longer than --wait.

    \b
    Example (cron, every minute):
      * * * * *  cd /srv/news && .venv/bin/feeds build --quiet
    """
    from .build import run_build

    ws = _ws(data_dir, out_dir, state_dir)
    with _errors(), _progress(enabled=not quiet) as progress:
        result = run_build(
            ws, clock=(lambda: now) if now else _now, force=force, wait=wait, progress=progress
        )
    _report(result, ws.out, verbose=verbose, quiet=quiet)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal for long builds; nothing under cron."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total >= 50:
            bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(1)

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _report(result: BuildResult, out_dir: Path | str, *, verbose: bool, quiet: bool) -> None:
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if quiet:
        return
    if verbose:
        for name in result.written:
            click.echo(f"wrote   {_joined(out_dir, name)}")
        for name in result.removed:
            click.echo(f"removed {_joined(out_dir, name)}")
        if result.repaired:
            click.echo("the previous build was interrupted: every feed was checked and repaired")
        if result.next_due:
            click.echo(f"held back until {rfc3339(result.next_due)}: updates dated in the future")
        n = len(result.rendered)
        click.echo(f"{n} feed folder{'' if n == 1 else 's'} rendered")
    if result.changed or verbose:
        click.echo(result.summary())


def _joined(out: Path | str, name: str) -> Path | str:
    return out + name if isinstance(out, str) else out / name


@cli.command()
@workspace_options
def check(data_dir, out_dir, state_dir):
    """Check the store and the built feeds; write nothing.

    Lists every problem as file:line: what is wrong, and exits 1 if there is
    any: invalid story files, and feeds in OUT that are missing, damaged or
    out of date with the store.

    \b
    Example:
      feeds check && echo "all good"
    """
    from .query import check_output, site_view

    ws = _ws(data_dir, out_dir, state_dir)
    with _errors():
        view, reconciled = site_view(ws, _now())
        problems = check_output(ws, reconciled)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    n = len(view.stories)
    click.echo(f"ok: {n} stor{'y' if n == 1 else 'ies'}, feeds in {ws.out} up to date")


@cli.command()
@workspace_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--watch", is_flag=True, help="Rebuild when files in DATA change.")
@click.option(
    "--max-age",
    type=click.IntRange(min=0),
    help="Cache-Control max-age in seconds  [default: site.toml's cache_max_age, 60]",
)
def serve(data_dir, out_dir, state_dir, host, port, watch, max_age):
    """Serve OUT over HTTP with ETags, 304s and gzip, for pollers and for testing.

    With --watch, a change in DATA rebuilds the feeds within about a second.
    Stops cleanly on Ctrl-C or SIGTERM. For production, static hosting is
    better still: see docs/operations.md, "In production: static hosting".

    \b
    Example:
      feeds serve --watch --port 8080
    """
    from .build import run_build
    from .serve import run, watch_and_build  # aiohttp is only imported to serve

    ws = _ws(data_dir, out_dir, state_dir)
    if max_age is None:
        max_age = _site_setting(ws, "cache_max_age", 60)
    if isinstance(ws.out, str):
        raise click.ClickException(
            f"{ws.out}: feeds serve serves a folder; the bucket is served by its service "
            '(see docs/operations.md, "Publishing to object storage")'
        )
    if not ws.out.is_dir() and not watch:
        raise click.ClickException(f"{ws.out} does not exist: run feeds build first")

    def rebuild() -> None:
        try:
            result = run_build(ws, clock=_now)
        except FeedsError as exc:
            click.echo(f"build failed, still serving the previous files:\n{exc}", err=True)
            return
        if result.changed:
            click.echo(result.summary(), err=True)

    if watch:
        rebuild()
    with _errors():
        run(
            ws.out,
            host,
            port,
            max_age,
            on_start=watch_and_build(ws.store, rebuild) if watch else None,
            print_fn=lambda line: click.echo(line, err=True),
        )


def _no_site_yet(directory: Path) -> Path:
    """Refuse an existing site before asking any questions."""
    if (directory / "data" / "site.toml").exists():
        raise click.ClickException(
            f"{directory / 'data' / 'site.toml'} already exists; nothing was changed"
        )
    return directory


def _site_setting(ws: Workspace, key: str, default: int) -> int:
    try:
        value: int = getattr(ws.store.read_site(), key)
        return value
    except FeedsError:
        return default


# --------------------------------------------------------------------------
# Writing


def _settings_epilog() -> str:
    from .settings import help_lines

    lines = "\n".join(f"  {line}" for line in help_lines())
    return f"\b\nThe settings of data/site.toml:\n{lines}"


@cli.command(epilog=_settings_epilog())
@click.argument(
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    callback=lambda ctx, param, value: value if ctx.params.get("store") else _no_site_yet(value),
)
@click.option("--title", prompt="Site title", help="The site's name, shown by feed readers.")
@click.option(
    "--base-url",
    prompt="Base URL where out/ will be served",
    help="Where out/ is published, e.g. https://news.example.org/live/",
)
@click.option(
    "--timezone",
    prompt="Default timezone (IANA name)",
    default="UTC",
    show_default=True,
    help="Default zone of new stories, e.g. Europe/Lisbon.",
)
@click.option("--author", help="Who the feeds credit  [default: the site title]")
@click.option("--id-authority", help="The tag: authority of every id  [default: <host>,<year>]")
@click.option(
    "--store",
    metavar="URL",
    is_eager=True,
    help="Create the site in this PostgreSQL database instead (postgresql://user@host/db): "
    "its schema and settings; DIRECTORY is not used.",
)
def init(directory, title, base_url, timezone, author, id_authority, store):
    """Create a new site in DIRECTORY: data/site.toml, an example story, .gitignore.

    Asks for what is not given as an option. Refuses to touch an existing site.

    \b
    Examples:
      feeds init mysite --title "Live desk" --base-url https://news.example.org/live/ \\
        --timezone Europe/Lisbon
      feeds init --store postgresql://feeds@db.example.org/news --title "Live desk" ...
    """
    from .authoring import init_database, init_site

    values = dict(
        title=title,
        base_url=base_url,
        timezone=timezone,
        author=author or title,
        id_authority=id_authority,
        now=_now(),
    )
    with _errors():
        if store:
            from .store.postgres import PostgresStore

            db = PostgresStore(store)
            for step in init_database(db, **values):
                click.echo(step)
            click.echo(f'next: feeds new SLUG --title "..." --store {db.name}')
            return
        created = init_site(directory, **values)
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"next: cd {directory} && feeds build")


@cli.command()
@click.option("--store", metavar="URL", help="The database  [default: FEEDS_STORE]")
def migrate(store):
    """Bring a PostgreSQL store's schema up to what this feeds needs.

    Each numbered step runs in its own transaction, under a lock, so two
    machines upgrading at once do not collide. Safe to run again.

    \b
    Example:
      feeds migrate --store postgresql://feeds@db.example.org/news
    """
    from .store.postgres import SCHEMA_VERSION, PostgresStore
    from .store.postgres import migrate as apply

    url = _database_url(store)
    with _errors():
        applied = apply(PostgresStore(url))
    for name in applied:
        click.echo(f"applied {name}")
    click.echo(f"schema {SCHEMA_VERSION} is current")


def _database_url(store: str | None) -> str:
    """--store or FEEDS_STORE, which must name a PostgreSQL database here."""
    from .store.postgres import is_url

    url = store or os.environ.get("FEEDS_STORE")
    if not url:
        raise click.UsageError("give the database: --store postgresql://... or FEEDS_STORE")
    if not is_url(url):
        raise click.UsageError(
            f"{url!r} is not a PostgreSQL URL: this command needs --store postgresql://..."
        )
    return url


@cli.command(name="store-import")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--store", metavar="URL", help="The database  [default: FEEDS_STORE]")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder's build state, to keep edit times and tombstones  "
    "[default: .feeds/ beside FOLDER, if there is one]",
)
def store_import(folder, store, state_dir):
    """Copy a data/ FOLDER (site.toml and stories) into an empty PostgreSQL store.

    Every story is checked first; nothing is written if one is bad. The
    schema is created if needed. The ids builds retired and the build state
    come too, so the feeds built from the database are the same, byte for byte.

    \b
    Example:
      feeds store-import data --store postgresql://feeds@db.example.org/news
    """
    from .store.files import FileStore
    from .store.postgres import PostgresStore
    from .store.transfer import folder_to_database

    url = _database_url(store)
    source = FileStore(folder)
    state = state_dir or (source.meta if source.meta.is_dir() else None)
    with _errors():
        moved = folder_to_database(source, PostgresStore(url), state)
    click.echo(
        f"imported {moved.stories} stories, {moved.updates} updates, {moved.retired} retired "
        f"ids and {moved.state_files} build state files"
    )


@cli.command(name="store-export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--store", metavar="URL", help="The database  [default: FEEDS_STORE]")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the build state  [default: .feeds/ beside FOLDER]",
)
def store_export(folder, store, state_dir):
    """Write a PostgreSQL store out as a data/ FOLDER (which must be new or empty).

    \b
    Example:
      feeds store-export backup/data --store postgresql://feeds@db.example.org/news
    """
    from .store.postgres import PostgresStore
    from .store.transfer import database_to_folder

    url = _database_url(store)
    state = state_dir or folder.absolute().parent / ".feeds"
    with _errors():
        moved = database_to_folder(PostgresStore(url), folder, state)
    click.echo(
        f"exported {moved.stories} stories, {moved.updates} updates, {moved.retired} retired "
        f"ids and {moved.state_files} build state files to {folder}"
    )


@cli.command()
@workspace_options
@click.option("--once", is_flag=True, help="Build once and exit (for cron).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60,
    show_default=True,
    help="Seconds between builds when nothing is notified (embargoes, tombstones expiring).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log builds that found nothing to do too.")
def worker(data_dir, out_dir, state_dir, once, interval, verbose):
    """Build a PostgreSQL store's feeds as soon as a change is committed.

    Listens for changes and publishes the changed story's feeds within a
    second; builds on a timer too. Run one on each of several machines: one
    builds at a time, and if it dies another takes over. SIGTERM stops it
    after the build in progress. One log line per build.

    Exit status (with --once): 0 built or nothing to do, 1 bad input,
    69 the database cannot be reached.

    \b
    Example:
      FEEDS_STORE=postgresql://feeds@db.example.org/news feeds worker --out /srv/feeds
    """
    from .worker import Worker

    ws = _ws(data_dir, out_dir, state_dir)

    def log(line: str) -> None:
        click.echo(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}", err=True)

    with _errors():
        runner = Worker(ws, interval=interval, clock=_now, log=log, verbose=verbose)
    runner.install_signal_handlers()
    sys.exit(runner.run(once=once))


@cli.command()
@click.argument("slug", type=Slug())
@workspace_options
@click.option("--title", required=True, help="The story's headline.")
@click.option("--timezone", help="IANA zone of its local times  [default: the site's]")
@click.option("--link", help="The story's page elsewhere, if any.")
@click.option("--summary", help="One or two sentences; the feed's description.")
def new(slug, data_dir, out_dir, state_dir, title, timezone, link, summary):
    """Start a new story, data/SLUG.md (lowercase letters, digits, hyphens).

    \b
    Example:
      feeds new kazerun-protests --title "Clashes in Kazerun" --timezone Asia/Tehran
    """
    from .authoring import new_story

    with _errors():
        story = new_story(
            _ws(data_dir, out_dir, state_dir),
            slug,
            title=title,
            timezone=timezone,
            link=link,
            summary=summary,
            now=_now(),
        )
    click.echo(f"created {story.source}")
    click.echo(story.url)


@cli.command()
@click.argument("slug", type=Slug())
@click.argument("text", required=False)
@workspace_options
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help='When, in the story\'s zone: 02:30, "2018-05-17 02:30", '
    '2018-05-17T02:30+04:30 or "5 minutes ago"  [default: now]',
)
@click.option("--title", help="A short title for the update.")
@click.option(
    "--author", help='Credit someone other than the story\'s authors: "Name" or "Name <email>".'
)
@click.option(
    "--id",
    "anchor",
    help="The update's anchor (its id in the story)  [default: from its time, like u20180517-0230]",
)
@click.option("--build", "then_build", is_flag=True, help="Run feeds build afterwards.")
def add(slug, text, data_dir, out_dir, state_dir, at_text, title, author, anchor, then_build):
    """Publish an update to story SLUG: TEXT, or - for stdin, or $EDITOR.

    The update goes where it belongs (newest first); the rest of the file
    keeps every byte. Prints the new update's id and permalink.

    \b
    Examples:
      feeds add kazerun "A convoy has entered the city." --title "Convoy arrives"
      echo "Roads reopened." | feeds add storm - --at "10 minutes ago" --build
    """
    from .authoring import add_update, read_story

    ws = _ws(data_dir, out_dir, state_dir)
    with _errors():
        now = _now()
        at = None
        zone = ZoneInfo(read_story(ws, slug).timezone)  # an unknown story fails before $EDITOR
        if at_text:
            try:
                at = parse_when(at_text, zone, now)
            except TimeError as exc:
                raise click.BadParameter(str(exc), param_hint="--at") from None
        body = _read_text(text)
        with _keep_draft(ws, slug, lambda: None if text else body):
            update = add_update(
                ws,
                slug,
                body,
                at=at,
                now=_now() if at is None else now,
                title=title,
                author=author,
                anchor=anchor,
            )
    click.echo(update.id)
    click.echo(update.url)
    if update.published.astimezone(UTC) > now:
        click.echo(f"scheduled: held back until {rfc3339(update.published)}")
    if then_build:
        _build_after(ws)


def _build_after(ws: Workspace) -> None:
    """feeds add --build: the update is saved whatever happens here; say so."""
    from .build import run_build

    try:
        result = run_build(ws, clock=_now)
    except FeedsError as exc:
        click.echo(f"the update is saved, but the build failed (run feeds build):\n{exc}", err=True)
        sys.exit(EXIT_SAVED_NOT_BUILT)
    _report(result, ws.out, verbose=False, quiet=False)


@cli.command()
@click.argument("slug", type=Slug())
@click.argument("update_id", metavar="ID")
@workspace_options
@click.option("--text", help="The new text (- for stdin)  [default: edit it in $EDITOR]")
@click.option("--title", help='A new title ("" removes it).')
def edit(slug, update_id, data_dir, out_dir, state_dir, text, title):
    """Change the text or title of update ID (its anchor or full id).

    Its id and time stay; the next build marks it updated in the feeds.

    \b
    Example:
      feeds edit kazerun convoy-enters-kazerun --title "Armoured convoy arrives"
    """
    from .authoring import edit_update, find, read_story

    ws = _ws(data_dir, out_dir, state_dir)
    with _errors():
        new_text = started = None
        if text is not None or title is None:
            started = find(read_story(ws, slug), update_id).text
            new_text = _read_text(text, initial=started + "\n")
        with _keep_draft(
            ws, f"{slug}-{update_id.rpartition('/')[2]}", lambda: None if text else new_text
        ):
            update = edit_update(
                ws,
                slug,
                update_id,
                text=new_text,
                title=title,
                started_from=started if text is None else None,
            )
    click.echo(f"edited {update.id}")


@cli.command(name="edit-story")
@click.argument("slug", type=Slug())
@workspace_options
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    help="The story's new text from this file (- for stdin)  [default: edit it in $EDITOR]",
)
@click.option(
    "--remove",
    is_flag=True,
    help="Take the story down: its feeds and page go; readers get tombstones.",
)
def edit_story(slug, data_dir, out_dir, state_dir, source, remove):
    """Edit story SLUG's whole text: front matter, background, headings, updates.

    What feeds add, edit and correct cannot do: change an update's time or
    author, delete an update (readers get a tombstone; its id is never used
    again), change the story's summary, tags or link. Any store: for a
    database, this is the way to do what is done by hand in a story file.
    The text is checked first; if someone changed the story meanwhile,
    nothing is written and your text is kept.

    \b
    Examples:
      feeds edit-story harbour-fire
      feeds edit-story harbour-fire --file harbour-fire.md
    """
    ws = _ws(data_dir, out_dir, state_dir)
    if remove:
        with _errors():
            ws.store.remove_story(slug)
        click.echo(f"{slug}: removed; the next build takes its feeds down")
        return
    typed: list[str] = []
    with _errors(), _keep_draft(ws, slug, lambda: typed[0] if typed else None):
        try:
            started = ws.store.story_source(slug)
        except (OSError, KeyError, FeedsError):
            started = b""
        raw = source.read() if source else _read_text(None, started.decode()).encode()
        typed.append(raw.decode("utf-8", "replace"))
        if raw == started:
            click.echo(f"{slug}: no change")
            return
        story = ws.store.replace_story(slug, raw, started)
    click.echo(f"{slug}: saved, {len(story.updates)} updates")


@cli.command(name="edit-settings")
@workspace_options
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    help="The new settings from this file (- for stdin)  [default: edit them in $EDITOR]",
)
def edit_settings(data_dir, out_dir, state_dir, source):
    """Edit the site's settings (site.toml's keys), checked before they are saved.

    For a database store, where there is no site.toml to open.

    \b
    Example:
      feeds edit-settings --store postgresql://feeds@db.example.org/newsroom
    """
    ws = _ws(data_dir, out_dir, state_dir)
    typed: list[str] = []
    with _errors(), _keep_draft(ws, "settings", lambda: typed[0] if typed else None):
        started = ws.store.site_source()
        raw = source.read() if source else _read_text(None, started.decode()).encode()
        typed.append(raw.decode("utf-8", "replace"))
        if raw == started:
            click.echo("settings: no change")
            return
        site = ws.store.replace_site(raw, started)
    click.echo(f"settings saved: {site.title}")


@cli.command()
@click.argument("slug", type=Slug())
@click.argument("update_id", metavar="ID")
@workspace_options
@click.option("--note", required=True, help="What was wrong and what is right now.")
def correct(slug, update_id, data_dir, out_dir, state_dir, note):
    """Add a dated correction note to update ID and mark it updated.

    \b
    Example:
      feeds correct kazerun u20180517-0150 --note "The convoy left from Shiraz, not Bushehr."
    """
    from .authoring import correct_update

    with _errors():
        update = correct_update(
            _ws(data_dir, out_dir, state_dir), slug, update_id, note=note, now=_now()
        )
    click.echo(f"corrected {update.id}")


@cli.command()
@click.argument("slug", type=Slug())
@click.argument("update_id", metavar="ID")
@workspace_options
@click.option("--note", help="Why it was withdrawn (shown in the Atom tombstone).")
def retract(slug, update_id, data_dir, out_dir, state_dir, note):
    """Withdraw update ID: its item becomes a notice that it was withdrawn, then a tombstone.

    For retraction_notice_days (default 7) every feed carries the notice in its
    place; the Atom feeds also announce an RFC 6721 tombstone. Its text stays in
    the story file, for the record, and is never published again.

    \b
    Example:
      feeds retract kazerun u20180517-0115 --note "The casualty figures were not confirmed."
    """
    from .authoring import retract_update

    with _errors():
        update = retract_update(
            _ws(data_dir, out_dir, state_dir), slug, update_id, note=note, now=_now()
        )
    click.echo(f"retracted {update.id}")


@cli.command()
@click.argument("slug", type=Slug())
@workspace_options
def end(slug, data_dir, out_dir, state_dir):
    """Mark story SLUG as ended (status = "ended").

    \b
    Example:
      feeds end kazerun
    """
    from .authoring import end_story

    with _errors():
        story = end_story(_ws(data_dir, out_dir, state_dir), slug)
    click.echo(f"{story.slug}: ended")


@cli.command(name="import")
@click.argument("source")
@click.option("--story", "slug", type=Slug(), required=True, help="The story to create or grow.")
@workspace_options
@click.option(
    "--timezone",
    help="IANA zone of the page's local times  [default: the story's, "
    "or from zone abbreviations on the page]",
)
@click.option(
    "--date",
    "page_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The date of the page's top update, when the page does not say.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "text", "html"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--dry-run", is_flag=True, help="Show what was found and what would change; write nothing."
)
@click.option(
    "--update",
    "update_changed",
    is_flag=True,
    help="Also replace the text of updates that changed on the page.",
)
def import_(
    source, slug, data_dir, out_dir, state_dir, timezone, page_date, fmt, dry_run, update_changed
):
    """Import a live-blog page (file, - for stdin, or http(s) URL) into story SLUG.

    Each timestamped entry becomes an update with its exact time; run it
    again on a newer copy of the page and only the new entries are added.

    \b
    Examples:
      feeds import page.txt --story kazerun --timezone Asia/Tehran --dry-run
      feeds import https://news.example.org/live/storm --story storm --update
    """
    from .importer import describe, import_page  # lxml.html and urllib, only when importing

    with _errors():
        result = import_page(
            source,
            _ws(data_dir, out_dir, state_dir),
            slug,
            timezone=timezone,
            page_date=page_date.date() if page_date else None,
            fmt=fmt,
            dry_run=dry_run,
            update=update_changed,
            now=_now(),
        )
    if dry_run:
        for line in describe(result):
            click.echo(_printable(line))
        click.echo("dry run: nothing was written")
        return
    plan = result.plan
    for warning in result.reading.warnings:
        click.echo(_printable(f"warning: {warning}"), err=True)
    for line in result.done:
        click.echo(_printable(line))
    click.echo(
        f"{len(plan.new)} new, {len(plan.same)} already there, "
        f"{len(plan.changed)} changed on the page"
        + ("" if update_changed or not plan.changed else " (use --update to apply)")
    )


@cli.command()
@workspace_options
@click.option("--once", is_flag=True, help="Poll every page that is due once, build, exit (cron).")
@click.option(
    "--sources",
    "sources_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pages to follow  [default: sources.toml beside site.toml]",
)
@click.option(
    "--interval",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    help="Seconds between polls of every page, instead of each page's `every` (which is "
    "at least 60); for trials and tests.",
)
@click.option(
    "--gap",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=5,
    show_default=True,
    help="Seconds between two requests to the same host.",
)
def follow(data_dir, out_dir, state_dir, once, sources_path, interval, gap):
    """Follow live-blog pages: poll them politely, import what is new, build.

    The pages are listed in sources.toml, one [[source]] table each with
    url, story, and optionally timezone, date (as feeds import) and every
    (seconds between polls, default 300). Needs follow_contact in site.toml.
    Prints a line per change and per page that failed; quiet otherwise.
    Without --once, runs until SIGTERM or Ctrl-C (the cycle in progress
    finishes first).

    Exit status: 0 done, 1 a page failed this round (--once) or bad input
    (sources.toml, site.toml), 75 another feeds follow or build is running.

    \b
    Example (sources.toml beside site.toml):
      [[source]]
      url = "https://news.example.org/live/storm"
      story = "storm"
      timezone = "Europe/Lisbon"
    then:
      feeds follow --once            # from cron, every minute
      feeds follow                   # or as a service
    """
    from .follow import following

    ws = _ws(data_dir, out_dir, state_dir)

    def log(line: str, err: bool = False) -> None:
        stamp = "" if once else f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} "
        click.echo(_printable(f"{stamp}{line}"), err=err)

    with (
        _errors(),
        following(ws, sources=sources_path, interval=interval, gap=gap, clock=_now) as (
            follower,
            warnings,
        ),
    ):
        for warning in warnings:
            log(f"Warning: {warning}", err=True)
        with follower.stopping_on_signals():
            if not once:
                follower.run(lambda done: _report_cycle(done, log), lambda s: log(s, err=True))
                return
            done = follower.cycle()
        _report_cycle(done, log)
    if isinstance(done.build_error, LockBusy):
        sys.exit(EXIT_BUSY)
    sys.exit(1 if done.failures or done.build_error else 0)


def _report_cycle(done: Cycle, log: Callable[..., None]) -> None:
    for line in done.changes:
        log(line)
    if done.build is not None:
        for warning in done.build.warnings:
            log(f"Warning: {warning}", err=True)
        if done.build.changed:
            log(done.build.summary())
    for line in done.failures:
        log(f"Error: {line}", err=True)
    if done.build_error is not None:
        log(f"Error: the pages were imported, but the build failed: {done.build_error}", err=True)


# --------------------------------------------------------------------------
# Reading


@cli.command(name="list")
@workspace_options
def list_(data_dir, out_dir, state_dir):
    """List the stories: status, number of updates, last update, title.

    \b
    Example:
      feeds list
    """
    from .query import site_view

    with _errors():
        _, reconciled = site_view(_ws(data_dir, out_dir, state_dir), _now())
    rows = []
    for published in reconciled.stories:
        story = published.story
        last = story.updates[0].published.strftime("%Y-%m-%d %H:%M %z") if story.updates else "-"
        rows.append((story.slug, story.status, str(len(story.updates)), last, story.title))
    _table(("STORY", "STATUS", "UPDATES", "LAST UPDATE", "TITLE"), rows)


@cli.command()
@click.argument("slug", type=Slug())
@workspace_options
def show(slug, data_dir, out_dir, state_dir):
    """Show story SLUG's updates, newest first, with their ids and times.

    \b
    Example:
      feeds show kazerun
    """
    from .query import story_view

    with _errors():
        view = story_view(_ws(data_dir, out_dir, state_dir), slug, _now())
    story = view.stories[0]
    click.echo(_printable(f"{story.title}  [{story.status}, {story.timezone}]"))
    click.echo(_printable(story.url))
    rows = []
    for update in story.updates:
        rows.append(
            (
                update.published.strftime("%Y-%m-%d %H:%M %z"),
                update.published.astimezone(UTC).strftime("%H:%MZ"),
                update.anchor,
                view.status_of(update),
                update.title,
            )
        )
    _table(("LOCAL TIME", "UTC", "ID", "STATE", "TITLE"), rows)


@cli.command()
@click.argument("slug", type=Slug(), required=False)
@workspace_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "md"]),
    default="json",
    show_default=True,
    help="json: the updates as data; md: the story file.",
)
@click.option("--all", "all_stories", is_flag=True, help="Export every story.")
def export(slug, data_dir, out_dir, state_dir, fmt, all_stories):
    """Export story SLUG (or --all) as JSON or as the story's Markdown.

    JSON has, per update: id, published and updated (RFC 3339), title, text
    (Markdown), html, authors, status.

    \b
    Examples:
      feeds export kazerun > kazerun.json
      feeds export --all --format md > everything.md
    """
    from .query import export_story, site_view, story_view, to_json

    if bool(slug) == all_stories:
        raise click.UsageError("give a SLUG or --all (not both)")
    ws = _ws(data_dir, out_dir, state_dir)
    with _errors():
        view = site_view(ws, _now())[0] if all_stories else story_view(ws, slug, _now())
    stories = view.stories
    if fmt == "json":
        if all_stories:
            click.echo(to_json({"stories": [export_story(view, s) for s in stories]}), nl=False)
        else:
            click.echo(to_json([r for r in export_story(view, stories[0])["updates"]]), nl=False)
        return
    sys.stdout.flush()
    out = sys.stdout.buffer
    for story in stories:
        raw = ws.store.story_source(story.slug)
        if all_stories:
            out.write(f"<!-- {Path(story.source).name} -->\n".encode())
        out.write(raw if raw.endswith(b"\n") or not all_stories else raw + b"\n")


_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Text for the terminal: control characters (ESC, BEL, C1) shown as \\x1b, never sent,
    so a story's text cannot retitle the window or move the cursor."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Columns sized to their content; the last one cut to the terminal's width."""
    rows = [tuple(_printable(cell) for cell in row) for row in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    room = shutil.get_terminal_size((100, 24)).columns - sum(widths) - 2 * len(widths)
    for row in [header, *rows]:
        last = row[-1] if len(row[-1]) <= max(room, 20) else row[-1][: max(room, 20) - 1] + "…"
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [last]
        click.echo("  ".join(cells).rstrip())


def main() -> None:
    _refuse_undecodable_arguments(sys.argv[1:])
    cli(prog_name="feeds")


def _refuse_undecodable_arguments(args: list[str]) -> None:
    """An argument that is not UTF-8 arrives with lone surrogates (PEP 383); as text of an
    update it could never be written. A path that exists is left to the command."""
    for number, arg in enumerate(args, 1):
        if any("\udc80" <= c <= "\udcff" for c in arg) and not os.path.lexists(arg):
            byte = next(ord(c) - 0xDC00 for c in arg if "\udc80" <= c <= "\udcff")
            click.echo(
                f"Error: argument {number} is not UTF-8 text (byte 0x{byte:02x}); feeds reads "
                "and writes UTF-8: set a UTF-8 locale, or convert it (iconv -t utf-8)",
                err=True,
            )
            sys.exit(2)
