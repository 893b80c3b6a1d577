"""Terminal output: rich tables on a terminal, plain tables without trailing blanks in logs."""

from __future__ import annotations

import sys

import click

__all__ = ["print_part", "print_table"]


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a table with a title; ``header`` of empty strings hides the header row."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, show_header=any(header), title_justify="left")
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*[str(cell) for cell in row])
    if sys.stdout.isatty():
        Console().print(table)
        return
    console = Console(width=240, no_color=True, highlight=False)
    with console.capture() as capture:
        console.print(table)
    click.echo("\n".join(line.rstrip() for line in capture.get().splitlines()).strip("\n"))


def print_part(part) -> None:
    """Print a report :class:`~symscape.comparisons.Part`: its comparisons (measured,
    reported, verdict) as one table, or its own tables when it has no comparison."""
    if part.comparisons:
        rows = [[c.quantity, c.measured, c.reported, c.comparison] for c in part.comparisons]
        print_table(part.title, ["quantity", "symscape", "reported", "comparison"], rows)
        return
    for title, header, rows in part.tables:
        print_table(f"{part.title}: {title}", header, rows)
