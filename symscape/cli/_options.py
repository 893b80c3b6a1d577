"""Command-line flags shared by every command that loads a data set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from symscape.errors import InvalidOptionError

__all__ = ["dataset_flags", "dataset_options", "run_flags"]

# flag name → (option name in symscape.data.load, click type, help)
_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--P", "P", int, "training points (default: the data set's)"),
    ("--n-test", "n_test", int, "test points"),
    ("--seed", "seed", int, "seed of the choice of points and of generated data"),
    (
        "--labels",
        "labels",
        click.Choice(["binary", "parity", "halves", "multiclass"]),
        "labeling: binary, parity (class mod 2), halves (0-4 vs 5-9), multiclass",
    ),
    ("--d", "d", int, "input dimension (synthetic data sets)"),
    ("--pca", "pca", int, "keep the first k whitened PCA components"),
    ("--image-size", "image_size", int, "resample images to this size"),
    ("--root", "root", str, "data folder (default: $SYMSCAPE_DATA)"),
    ("--dtype", "dtype", click.Choice(["float32", "float64"]), "floating dtype"),
]
_SWITCHES = [
    ("balance", "the same number of points for every label"),
    ("center", "subtract the training mean"),
    ("sphere", "rescale each input to norm sqrt(d)"),
    ("flatten", "flatten images to vectors"),
]


def dataset_flags(command: Callable, dtype: bool = True) -> Callable:
    """Add the data-set flags (``--P``, ``--seed``, ..., ``-o KEY=VALUE``) to a command
    (``dtype=False``: all but ``--dtype``, a field of the command's config)."""
    for flag, name, kind, help_text in reversed(_FLAGS):
        if name == "dtype" and not dtype:
            continue
        command = click.option(flag, name, type=kind, default=None, help=help_text)(command)
    for name, help_text in reversed(_SWITCHES):
        command = click.option(f"--{name}/--no-{name}", name, default=None, help=help_text)(command)
    command = click.option(
        "-o",
        "--option",
        "extra",
        multiple=True,
        metavar="KEY=VALUE",
        help="any other data-set option, e.g. -o teacher_width=50 (repeatable)",
    )(command)
    return command


def dataset_options(kwargs: dict[str, Any], dtype: bool = True) -> dict[str, Any]:
    """Pop the data-set flags out of a command's ``kwargs``: the options given, as a dict
    (``dtype=False``: ``dtype`` is left, a field of the command's config)."""
    options = {}
    for _, name, _, _ in _FLAGS:
        if name == "dtype" and not dtype:
            continue
        value = kwargs.pop(name, None)
        if value is not None:
            options[name] = value
    for name, _ in _SWITCHES:
        value = kwargs.pop(name, None)
        if value is not None:
            options[name] = value
    for item in kwargs.pop("extra", ()):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidOptionError(f"-o {item!r} is not KEY=VALUE", fix="write e.g. -o d=20")
        if key.strip() in options:
            raise InvalidOptionError(
                f"option {key.strip()!r} is given twice", fix="give each option once"
            )
        options[key.strip()] = value
    return options


def run_flags(
    default_out: str, db_name: str, device: bool = False
) -> Callable[[Callable], Callable]:
    """``--executor``, ``--out`` and ``--db`` of the experiment commands (and ``--device``,
    for a command whose config has no ``device`` field)."""

    def decorate(command: Callable) -> Callable:
        flags = [
            click.option("--device", default=None, help="cpu or cuda [default: cpu]"),
            click.option(
                "--executor",
                type=click.Choice(["inprocess", "pool", "ray", "slurm"]),
                default="inprocess",
                show_default=True,
                help="where the trainings run (see 'symscape sweep run --help')",
            ),
            click.option(
                "--out",
                type=click.Path(file_okay=False, path_type=Path),
                default=Path(default_out),
                show_default=True,
                help="results folder",
            ),
            click.option(
                "--db",
                type=click.Path(dir_okay=False, path_type=Path),
                help=f"sweep store [default: OUT/{db_name}]; a rerun resumes from it",
            ),
        ]
        for flag in reversed(flags if device else flags[1:]):
            command = flag(command)
        return command

    return decorate


_RAY = ("address", "cpus_per_run", "gpus_per_run")
_SLURM = (
    "partition",
    "time_min",
    "gpus_per_task",
    "cpus_per_task",
    "array_parallelism",
    "runs_per_job",
    "mem_gb",
    "cluster",
)


def executor_flags(command: Callable) -> Callable:
    """The ray and slurm executors' flags (``--address``, ``--partition``, ...)."""
    flags = [
        click.option("--address", help="ray: address of an existing cluster (e.g. auto)"),
        click.option("--cpus-per-run", type=float, help="ray: CPUs per computation [1]"),
        click.option("--gpus-per-run", type=float, help="ray: GPUs per computation [0]"),
        click.option("--partition", help="slurm: partition"),
        click.option("--time-min", type=int, help="slurm: time limit per job in minutes [60]"),
        click.option("--gpus-per-task", type=int, help="slurm: GPUs per job [0]"),
        click.option("--cpus-per-task", type=int, help="slurm: CPUs per job [1]"),
        click.option(
            "--array-parallelism", type=int, help="slurm: jobs of the array at once [256]"
        ),
        click.option("--runs-per-job", type=int, help="slurm: computations per job [1]"),
        click.option("--mem-gb", type=float, help="slurm: memory per job in GB"),
        click.option(
            "--cluster",
            type=click.Choice(["slurm", "local", "debug"]),
            help="slurm: submitit's executor (local: subprocesses, for testing a set-up)",
        ),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def executor_options_of(executor: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the :func:`executor_flags` out of ``kwargs``: those given, checked to belong to
    ``executor``."""
    options = {}
    for name in (*_RAY, *_SLURM):
        value = kwargs.pop(name, None)
        if value is not None:
            options[name] = value
    allowed = {"ray": _RAY, "slurm": _SLURM}.get(executor or "", ())
    wrong = sorted(set(options) - set(allowed))
    if wrong:
        flags = ", ".join("--" + name.replace("_", "-") for name in wrong)
        chosen = f"--executor {executor}" if executor else "the default executors"
        raise InvalidOptionError(
            f"{flags} do(es) not apply to {chosen}",
            fix="drop them, or choose the executor they belong to (--executor ray or slurm)",
        )
    return options
