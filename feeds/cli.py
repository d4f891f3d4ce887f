"""The ``feeds`` command: a thin layer over the library."""

from __future__ import annotations

from pathlib import Path

import click

from . import __version__
from .build import build as build_files
from .errors import FeedsError
from .publish import publish
from .store import FileStore

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
def build(data_dir: Path, out_dir: Path) -> None:
    """Validate the store, then write every feed to OUT.

    Nothing is written unless the whole store is valid; files whose bytes
    would not change are left alone. Prints one line when something changed.

    \b
    Example:
      feeds build --data data --out out
    """
    try:
        report = publish(build_files(FileStore(data_dir).load()), out_dir)
    except FeedsError as exc:
        raise click.ClickException(str(exc)) from exc
    if report.written:
        n = len(report.written)
        click.echo(
            f"{n} file{'s' if n != 1 else ''} written to {out_dir}, "
            f"{len(report.unchanged)} unchanged"
        )


def main() -> None:
    cli(prog_name="feeds")
