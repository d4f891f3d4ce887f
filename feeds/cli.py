"""The ``feeds`` command: a thin layer over the library."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from . import __version__
from .errors import FeedsError
from .lock import LockBusy
from .pipeline import default_state_dir, run_build
from .timeutil import rfc3339

EXIT_BUSY = 75  # EX_TEMPFAIL: another build holds the lock; try again later


class Timestamp(click.ParamType):
    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a time like 2018-05-17T03:00:00Z", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} needs a UTC offset, like 2018-05-17T03:00:00+04:30", param, ctx)
        return parsed


DATA_OPTION = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="The store: site.toml and one <slug>.md per story.",
)
OUT_OPTION = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Where the feeds are written.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def cli() -> None:
    """Turn a store of live-blog updates into RSS 2.0 and Atom 1.0 feeds."""


@cli.command()
@DATA_OPTION
@OUT_OPTION
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build state and lock folder  [default: .feeds/ beside DATA]",
)
@click.option("--force", is_flag=True, help="Render every feed, even those that did not change.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help=f"Seconds to wait for another build to finish before giving up (exit {EXIT_BUSY}).",
)
@click.option(
    "--now",
    type=Timestamp(),
    help="Build as if it were this time (RFC 3339); for trying out embargoes and corrections.",
)
@click.option("-v", "--verbose", is_flag=True, help="List every file written or removed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def build(
    data_dir: Path,
    out_dir: Path,
    state_dir: Path | None,
    force: bool,
    wait: float,
    now: datetime | None,
    verbose: bool,
    quiet: bool,
) -> None:
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
    clock = (lambda: now) if now else (lambda: datetime.now(UTC).replace(microsecond=0))
    try:
        result = run_build(
            data_dir,
            out_dir,
            state_dir or default_state_dir(data_dir),
            clock=clock,
            force=force,
            wait=wait,
        )
    except LockBusy as exc:
        click.echo(f"feeds: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    except FeedsError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if quiet:
        return
    if verbose:
        for name in result.written:
            click.echo(f"wrote   {out_dir / name}")
        for name in result.removed:
            click.echo(f"removed {out_dir / name}")
        if result.repaired:
            click.echo("the previous build was interrupted: every feed was checked and repaired")
        if result.next_due:
            click.echo(f"held back until {rfc3339(result.next_due)}: updates dated in the future")
    if result.changed or verbose:
        click.echo(result.summary())


def main() -> None:
    cli(prog_name="feeds")
