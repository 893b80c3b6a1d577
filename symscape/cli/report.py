"""``symscape report``: the HTML report of a store, without training."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["report"]


@click.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("symscape-results/symscape.db"),
    show_default=True,
    help="the sweep store of a 'symscape reproduce'",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("symscape-results/report.html"),
    show_default=True,
    help="the HTML file to write",
)
@click.option(
    "--only",
    multiple=True,
    help="report only this section (repeatable) [default: every stored section]",
)
def report(db: Path, out: Path, only: tuple[str, ...]) -> None:
    """Rebuild the HTML report of 'symscape reproduce' from its store (no training).

    The page is self-contained: its figures are embedded and it loads
    nothing from the network.
    """
    from symscape.report import write_report
    from symscape.reproduce import check_sections

    path = write_report(db, out, sections=check_sections(only) or None)
    click.echo(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
