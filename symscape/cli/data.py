"""``symscape data``: list the data sets and look at one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from symscape.cli._options import dataset_flags, dataset_options
from symscape.cli._output import print_table

__all__ = ["data"]


@click.group()
def data() -> None:
    """List the data sets and look at one."""


def dataset_rows() -> list[dict]:
    """One row per registered data set: what ``symscape data list`` prints."""
    from symscape.data import list_datasets

    rows = []
    for spec in list_datasets():
        defaults = {name: opt.default for name, opt in spec.all_options().items()}
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "input": spec.input_kind,
                "input_shape": list(spec.input_shape(defaults)),
                "classes": spec.num_classes,
                "size": spec.size,
                "source": spec.source,
                "description": spec.description,
            }
        )
    return rows


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_command(as_json: bool) -> None:
    """List the data sets: name, kind, input shape, classes, size and source."""
    rows = dataset_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    print_table(
        "symscape data sets",
        ["name", "kind", "input shape", "classes", "size", "comes from"],
        [
            [
                r["name"],
                r["kind"],
                "×".join(map(str, r["input_shape"])),
                str(r["classes"]),
                r["size"],
                r["source"],
            ]
            for r in rows
        ],
    )


@data.command("show")
@click.argument("name")
@dataset_flags
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="where to write the PNG preview [default: NAME_preview.png]",
)
@click.option("--no-preview", is_flag=True, help="do not write a preview")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def show(name: str, preview: Path | None, no_preview: bool, as_json: bool, **kwargs) -> None:
    """Load data set NAME and show its shapes, class balance and a preview of a few inputs."""
    from symscape.data import load
    from symscape.data.preview import save_preview

    ds = load(name, **dataset_options(kwargs))
    summary = ds.summary()
    if not no_preview:
        path = preview if preview is not None else Path(f"{name}_preview.png")
        summary["preview"] = str(save_preview(ds, path))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    rows = [
        ["input", f"{summary['input_kind']} of shape {tuple(summary['input_shape'])} (d={ds.d})"],
        ["train", f"x {tuple(ds.x_train.shape)}, y {tuple(ds.y_train.shape)}"],
        ["test", f"x {tuple(ds.x_test.shape)}, y {tuple(ds.y_test.shape)}"],
        ["labels", f"{ds.labels} ({ds.num_classes} classes)"],
        ["train balance", _balance(summary["class_counts_train"])],
        ["test balance", _balance(summary["class_counts_test"])],
        [
            "inputs",
            f"mean {summary['x_mean']:.3g}, std {summary['x_std']:.3g}, "
            f"mean norm {summary['x_norm_mean']:.3g}",
        ],
        ["dtype, device", f"{summary['dtype']}, {summary['device']}"],
        ["options", ", ".join(f"{k}={v}" for k, v in summary["options"].items())],
    ]
    if "preview" in summary:
        rows.append(["preview", summary["preview"]])
    print_table(f"data set {name}", ["", ""], rows)


def _balance(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{k}: {v} ({100 * v / total:.0f}%)" for k, v in counts.items())
