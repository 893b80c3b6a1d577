"""The ``symscape`` command line: one module per sub-command group.

Errors of the user's making (a bad flag, an unknown data set, a missing
file, a folder that cannot be written) are printed as one line,
``symscape: error: ...``, with exit code 2.

Hyphens and underscores are one spelling on the command line: in commands
(``double-descent``, ``double_descent``), flags (``--max-steps``,
``--max_steps``), choices (``--only double-descent``) and names
(``--loss quadratic-hinge``, which the configs read as ``quadratic_hinge``;
see :func:`symscape.validation.choose`).
"""

from __future__ import annotations

import sqlite3
import sys

import click

from symscape._version import __version__
from symscape.errors import RunsFailedError, SymscapeError, one_line

__all__ = ["cli", "main"]


def _one_spelling(token: str) -> str:
    """How click compares commands, flags and choices: an underscore is a hyphen (errors then
    name flags as ``--help`` shows them)."""
    return token.replace("_", "-")


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "token_normalize_func": _one_spelling,
    }
)
@click.version_option(__version__, prog_name="symscape")
def cli() -> None:
    """symscape: the loss landscape and the symmetries of neural networks.

    Jamming, double descent, feature vs lazy training, stability to
    diffeomorphisms and equivariant networks, as one toolkit.
    """


def _register() -> None:
    from symscape.cli import (
        data,
        double_descent,
        equivariance,
        feature_lazy,
        hessian,
        jamming,
        landscape,
        report,
        reproduce,
        results,
        stability,
        sweep,
        train,
    )

    cli.add_command(data.data)
    cli.add_command(train.train)
    cli.add_command(sweep.sweep)
    cli.add_command(results.results)
    cli.add_command(stability.stability)
    cli.add_command(jamming.jamming)
    cli.add_command(double_descent.double_descent)
    cli.add_command(feature_lazy.feature_lazy)
    cli.add_command(equivariance.equivariance)
    cli.add_command(hessian.hessian)
    cli.add_command(landscape.landscape)
    cli.add_command(reproduce.reproduce)
    cli.add_command(report.report)


_register()


def _error(message: str, hint: str | None = None) -> int:
    text = f"symscape: error: {one_line(message)}"
    if hint:
        text += f" ({hint})"
    click.echo(text, err=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns (and, as a script, exits with) the exit code."""
    try:
        result = cli.main(args=argv, prog_name="symscape", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as err:  # a bare command group: its help
        click.echo(err.ctx.get_help())
        return 0
    except click.UsageError as err:
        path = err.ctx.command_path if err.ctx is not None else "symscape"
        return _error(err.format_message(), f"see '{path} --help'")
    except click.ClickException as err:
        return _error(err.format_message())
    except RunsFailedError as err:  # not the user's input: the runs failed (exit 1)
        _error(str(err))
        return 1
    except SymscapeError as err:
        return _error(str(err))
    except sqlite3.DatabaseError as err:  # a store damaged after it was opened
        return _error(
            f"the store's database file is damaged: {err}",
            "keep a copy of the file, and rerun the sweep into a new --db",
        )
    except OSError as err:  # a path the system refused: name it, never a traceback
        where = f" {err.filename}" if err.filename else ""
        return _error(
            f"cannot use{where}: {err.strerror or err}",
            "check that the folder exists and that you can write to it",
        )
    except click.Abort:
        click.echo("symscape: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("symscape: interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:  # pragma: no cover - console-script entry point
    sys.exit(main())
