"""Command-line flags generated from a config's field declarations, and the config they build.

:func:`config_options` adds one flag per declared field of a config class
(``--width-min`` for ``width_min``; its help, its accepted values and the
config's default in ``--help``), the data-set flags that fill the ``data``
field, ``--config FILE.toml`` and ``--protocol NAME``. Every generated
flag defaults to ``None``: a flag not given leaves the field to the config
(or to the protocol or the file), so the command line adds no defaults of
its own. :func:`build_config` builds the config, with the precedence

    flags > --config file > --protocol > the config's defaults.

Data-set flags given are laid over the base's ``data`` when a protocol or
a file gives one, and are the whole ``data`` table otherwise: ``symscape
jamming --d 20`` builds exactly ``JammingConfig(data={"d": 20})``. A
``--dataset`` other than the base's (the protocol's, the file's, else the
config's default) drops the base's ``data``: options belong to their data
set, so ``symscape jamming --dataset digits`` builds
``JammingConfig(dataset="digits", data={})`` (the data set's own defaults).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from symscape.cli._options import dataset_flags, dataset_options
from symscape.errors import InvalidOptionError
from symscape.params import Constraint, Flag, Items, declared

__all__ = ["build_config", "config_options", "protocol_config"]


class _Declared(click.ParamType):
    """A flag's value, parsed by its field's constraint (errors: one line naming the flag)."""

    def __init__(self, constraint: Constraint, flag: str):
        self.constraint = constraint
        self.flag = flag
        self.name = constraint.metavar

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        return self.constraint.parse(value, self.flag)

    def get_metavar(self, param, ctx=None) -> str:
        return self.constraint.metavar


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        integers = len(value) > 2 and all(type(v) is int for v in value)
        if integers and list(value) == list(range(value[0], value[0] + len(value))):
            return f"{value[0]}-{value[-1]}"
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _field_default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option(field: dataclasses.Field, flag: str | None) -> Callable:
    declaration = declared(field)
    assert declaration is not None, f"field {field.name} is not declared with param()"
    constraint = declaration.constraint
    flag = flag or _flag_name(field.name)
    default = _default_text(_field_default(field))
    if isinstance(constraint, Flag):
        negative = "--no-" + flag.removeprefix("--")
        help_text = f"{declaration.help} [default: {default}]"
        return click.option(f"{flag}/{negative}", field.name, default=None, help=help_text)
    help_text = f"{declaration.help}: {constraint.describe()} [default: {default}]"
    return click.option(
        flag, field.name, type=_Declared(constraint, flag), default=None, help=help_text
    )


def config_options(
    cls: type,
    *,
    flags: Mapping[str, str] | None = None,
    exclude: Iterable[str] = (),
    protocols: Mapping[str, Mapping[str, Any]] | None = None,
    protocol_flags: tuple[str, ...] = ("--protocol",),
    default_protocol: str | None = None,
) -> Callable[[Callable], Callable]:
    """Add a flag for every declared field of ``cls`` (``flags``: field -> another flag name;
    ``exclude``: fields given flags by hand), the data-set flags if it has a ``data`` field,
    ``--config FILE.toml`` and, given ``protocols``, ``--protocol NAME`` (also spelled as
    the other ``protocol_flags``; ``default_protocol`` is the one a command starts from
    when none is named — ``None``: the config's defaults)."""
    flags = dict(flags or {})
    skipped = set(exclude) | {"data"}

    def decorate(command: Callable) -> Callable:
        names = {f.name for f in dataclasses.fields(cls)}
        if "data" in names:  # listed after the fields in --help
            command = dataset_flags(command, dtype="dtype" not in names)
        fields = [f for f in dataclasses.fields(cls) if f.name not in skipped]
        for field in reversed(fields):
            command = _option(field, flags.get(field.name))(command)
        if protocols:
            command = click.option(
                *protocol_flags,
                "protocol",
                metavar="NAME[.CASE]",
                default=default_protocol,
                help=f"start from a named protocol: one of {', '.join(_choices(protocols))}; "
                "--config and flags change it "
                f"[default: {default_protocol or 'the config defaults'}]",
            )(command)
        return click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="a TOML file of config fields (a sweep spec's [fixed] table, or the fields "
            "at its top level); flags change it",
        )(command)

    return decorate


def _choices(protocols: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What ``--protocol`` accepts: ``name.case``, and ``name`` for a protocol of one case."""
    out = []
    for name, cases in protocols.items():
        out += [name] if len(cases) == 1 else []
        out += [f"{name}.{case}" for case in cases]
    return out


def protocol_config(protocols: Mapping[str, Mapping[str, Any]], name: str, experiment: str):
    """The config that ``--protocol name`` names: ``quick``, or ``quick.digits`` for a case.

    A protocol of one case needs no case name; an unknown or ambiguous name is one
    line listing the choices.
    """
    protocol, _, case = name.partition(".")
    choices = _choices(protocols)
    cases = protocols.get(protocol)
    if cases is None or (case and case not in cases):
        raise InvalidOptionError(
            f"{experiment} has no protocol {name!r}", fix=f"use one of {', '.join(choices)}"
        )
    if not case:
        if len(cases) != 1:
            raise InvalidOptionError(
                f"{experiment}'s protocol {name!r} has several cases",
                fix=f"name one: {', '.join(f'{protocol}.{c}' for c in cases)}",
            )
        case = next(iter(cases))
    return cases[case]


def _file_values(cls: type, path: Path) -> dict[str, Any]:
    """The fields a TOML file sets, canonical (a seeds string such as "0-7" parsed)."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidOptionError(f"{path} is not TOML: {err}", fix="fix the file") from None
    table = raw.get("fixed", raw) if isinstance(raw.get("fixed"), Mapping) else raw
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for name, value in table.items():
        constraint = getattr(declared(fields[name]), "constraint", None) if name in fields else None
        if isinstance(value, str) and isinstance(constraint, Items):
            value = constraint.parse(value, f"{path}: {name}")
        values[name] = value
    return cls.canonical_values(values)


def _another_dataset(cls: type, values: Mapping[str, Any], base: Mapping[str, Any]) -> bool:
    """Whether the flags name a data set other than the base's (the protocol's, the file's,
    else the config's default), compared as the config spells names."""
    if "dataset" not in values:
        return False
    field = next(f for f in dataclasses.fields(cls) if f.name == "dataset")
    before = base.get("dataset", field.default)
    spell = declared(field).constraint.check if declared(field) else (lambda v, _: v)
    return spell(values["dataset"], "dataset") != spell(before, "dataset")


def build_config(
    cls: type,
    kwargs: dict[str, Any],
    *,
    protocols: Mapping[str, Mapping[str, Any]] | None = None,
    experiment: str = "",
    **given: Any,
):
    """The config of ``cls`` that a command's flags describe; pops the generated flags,
    ``protocol`` and ``config_file`` out of ``kwargs``. ``given``: field values the command
    computed from its own flags (each one set, ``None`` included)."""
    names = [f.name for f in dataclasses.fields(cls)]
    protocol = kwargs.pop("protocol", None)
    path = kwargs.pop("config_file", None)
    data = dataset_options(kwargs, dtype="dtype" not in names) if "data" in names else {}
    values = {name: kwargs.pop(name) for name in names if kwargs.get(name) is not None}
    values.update(given)
    base: dict[str, Any] = {}
    if protocol is not None:
        preset = protocol_config(protocols or {}, protocol, experiment)
        base = {f: getattr(preset, f) for f in names}
    if path is not None:
        base.update(_file_values(cls, path))
    if "data" in names and _another_dataset(cls, values, base):
        values["data"] = data  # options belong to their data set: none carried to another
    elif data:
        values["data"] = {**base.get("data", {}), **data}
    for name in names:  # fields the flags did not give stay as they were (flags: popped)
        kwargs.pop(name, None)
    return cls(**{**base, **values})
