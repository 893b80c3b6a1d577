"""``symscape results PATH``: the runs of a sweep store as a table, CSV, JSON or Parquet."""

from __future__ import annotations

import json
import math
import sys

import click

from symscape.cli._output import print_table
from symscape.errors import failure_reason

__all__ = ["results"]

_MAX_DEFAULT_SCALARS = 6


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--where",
    multiple=True,
    metavar="FIELD=VALUE",
    help='keep rows whose FIELD equals VALUE (repeatable; JSON values: 8, true, "adam")',
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
)
@click.option(
    "--columns",
    help="comma-separated columns [table: status, seed, swept fields and "
    "the first scalars; other formats: all]",
)
@click.option(
    "--output",
    "-O",
    type=click.Path(dir_okay=False),
    help="write to this file (required for parquet)",
)
def results(path, where, fmt, columns, output):
    """The runs stored in PATH (a sweep store), one row per run."""
    from symscape.errors import InvalidOptionError, MissingDependencyError
    from symscape.results import filter_rows, load, parse_where

    frame = filter_rows(load(path), parse_where(where))
    frame = frame.drop(columns=["arrays"])
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise InvalidOptionError(
                f"no column(s) {', '.join(missing)}", fix=f"columns: {', '.join(frame.columns)}"
            )
        frame = frame[wanted]
    elif fmt == "table":
        frame = frame[_default_columns(frame)]
    if fmt == "parquet":
        if not output:
            raise InvalidOptionError("parquet is binary", fix="give --output FILE.parquet")
        try:
            frame.to_parquet(output, index=False)
        except ImportError:
            raise MissingDependencyError(
                "writing parquet needs pyarrow", fix="pip install 'symscape[parquet]'"
            ) from None
        click.echo(f"{len(frame)} runs written to {output}", err=True)
        return
    if fmt == "table":
        names = list(frame.columns)
        rows = [[_cell(n, v) for n, v in zip(names, row, strict=True)] for row in frame.values]
        if output:
            raise InvalidOptionError("--output is for csv, json and parquet", fix="drop it")
        print_table(f"{path}: {len(frame)} runs", list(frame.columns), rows)
        return
    if fmt == "csv":
        text = frame.to_csv(index=False)
    else:
        records = _strict(frame.to_dict(orient="records"))
        text = json.dumps(records, default=_json_default, indent=1, allow_nan=False)
    if output:
        with open(output, "w") as handle:
            handle.write(text)
        click.echo(f"{len(frame)} runs written to {output}", err=True)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _default_columns(frame) -> list[str]:
    """status, seed, the config fields that vary, the first numeric scalars, duration."""
    config = frame.attrs.get("config_columns", [])
    scalars = frame.attrs.get("scalar_columns", [])
    chosen = ["key", "status"] + (["seed"] if frame["seed"].notna().any() else [])
    for name in config:
        if frame[name].map(lambda v: json.dumps(v, sort_keys=True, default=str)).nunique() > 1:
            chosen.append(name)
    simple = [n for n in scalars if frame[n].map(_is_simple).all()]
    return chosen + simple[:_MAX_DEFAULT_SCALARS] + ["duration"]


def _is_simple(value) -> bool:
    """A number or a short text: worth a column of the default table."""
    return isinstance(value, int | float | str) and len(str(value)) <= 24


def _cell(name: str, value) -> str:
    if name == "key":
        return value[:12]
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if name == "error" and value:
        return failure_reason(value)[:80]
    return "" if value is None else str(value)


def _strict(value):
    """JSON without NaN (not JSON): missing and NaN numbers become null."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
