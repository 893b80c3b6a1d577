"""Sweep specifications: a TOML file that expands into runs, each with a stable key.

A spec names an experiment, fixed fields, grid fields (cartesian product),
zipped fields (varied together) and seeds::

    experiment = "train"          # or "package.module:attribute"
    name = "width-sweep"          # optional, shown by `symscape sweep status`
    seeds = "0-7"                 # or [0, 1, 2]; omitted: the config's default

    [fixed]
    dataset = "random"
    data = { P = 100, n_test = 100, d = 10 }
    max_steps = 5000

    [grid]
    width = [4, 8, 16]
    data.P = [100, 200]           # one option of a table field

    [zip]                         # or several [[zip]] groups
    dynamics = ["sgd", "adam"]
    lr = [0.1, 1e-3]

    [pack]
    enabled = true                # seeds of one config trained as one ensemble
    max_members = 64

Everything wrong with a spec (unknown fields, wrong types, empty grids,
configs the experiment rejects) is reported at once, with the line it comes
from, before anything runs.

Each run's **key** is a hash of the canonical JSON of its full resolved
config (defaults included), its experiment and the symscape version: a
finished run is never run again, and changing any field makes a new run.

>>> spec = parse_spec('''
... experiment = "probe"
... seeds = [0, 1]
... [grid]
... value = [1.0, 2.0, 3.0]
... ''')
>>> runs = spec.runs()
>>> len(runs), len(spec.units(runs))
(6, 3)
>>> runs[0].config["value"], runs[0].config["seeds"], len(runs[0].key)
(1.0, [0], 32)
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.config import dotted
from symscape.errors import SymscapeError
from symscape.sweep.experiments import Experiment, resolve_experiment
from symscape.validation import parse_seeds

__all__ = ["Run", "SpecError", "SweepSpec", "Unit", "load_spec", "parse_spec", "run_key"]

_TOP_LEVEL = ("experiment", "name", "seeds", "fixed", "grid", "zip", "pack")
_MAX_REPORTED = 12


class SpecError(SymscapeError, ValueError):
    """A sweep spec with problems; ``problems`` lists ``(line or None, message)``."""

    def __init__(self, source: str, problems: Sequence[tuple[int | None, str]]):
        self.source = source
        self.problems = list(problems)
        shown = [f"line {line}: {text}" if line else text for line, text in problems]
        if len(shown) > _MAX_REPORTED:
            shown = [*shown[:_MAX_REPORTED], f"and {len(shown) - _MAX_REPORTED} more"]
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        super().__init__(f"{source}: {count}: " + " | ".join(shown), fix="fix the spec and rerun")


def run_key(experiment: str, config: Mapping[str, Any], version: str = __version__) -> str:
    """Stable key of a run: a hash of experiment, canonical config JSON and version.

    >>> run_key("probe", {"value": 1.0}) == run_key("probe", {"value": 1.0})
    True
    >>> run_key("probe", {"value": 1.0}) == run_key("probe", {"value": 2.0})
    False
    """
    payload = json.dumps(
        {"experiment": experiment, "config": config, "version": version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Run:
    """One stored row: a config with one seed (or none), and its key."""

    key: str
    experiment: str
    config: dict[str, Any]
    seed: int | None
    group: str  # runs with the same group differ only in seed


@dataclasses.dataclass(frozen=True)
class Unit:
    """What one worker call computes: runs of one group, packed into one config."""

    experiment: str
    config: dict[str, Any]
    keys: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.keys)


# ------------------------------------------------------------------ line numbers
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="""
)


def _key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+)""", text)
    return tuple(a or b or c for a, b, c in parts)


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Where each key and table appears: ``(table, ..., key, ...) -> line``."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group(1))
            if line.lstrip().startswith("[["):  # the i-th table of an array: (name, "#i")
                arrays[table] = arrays.get(table, -1) + 1
                index.setdefault(table, number)
                table = (*table, f"#{arrays[table]}")
            index.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            parts = table + _key_parts(key.group(1))
            for n in range(len(table) + 1, len(parts) + 1):
                index.setdefault(parts[:n], number)
    return index


# ------------------------------------------------------------------ types
def _check_type(value: Any, annotation: Any) -> bool:
    """Does a TOML value fit a dataclass field's annotation (as written in the source)?"""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = text.replace(" ", "")
    if text.endswith("|None"):
        return value is None or _check_type(value, text[: -len("|None")])
    if text == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if text == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if text == "bool":
        return isinstance(value, bool)
    if text == "str":
        return isinstance(value, str)
    if text.startswith("tuple[int"):
        return isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    if text.startswith(("Mapping", "dict")):
        return isinstance(value, Mapping)
    return True  # an annotation this checker does not know: the config validates


# ------------------------------------------------------------------ the spec
@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep spec (see the module docstring)."""

    experiment: str
    name: str
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    zips: tuple[dict[str, list[Any]], ...]
    seeds: tuple[int, ...] | None
    pack: bool = True
    max_members: int = 64
    source: str = "<spec>"
    # field or axis name -> line of the spec, to point at the value a config rejects
    lines: dict[str, int] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def points(self) -> list[dict[str, Any]]:
        """The field values of every grid × zip point (no seeds), in spec order."""
        axes = [[(name, v) for v in values] for name, values in self.grid.items()]
        zipped = [
            [list(zip(group, combo, strict=True)) for combo in zip(*group.values(), strict=True)]
            for group in self.zips
        ]
        points = []
        for combo in itertools.product(*axes, *zipped):
            point: dict[str, Any] = {}
            for item in combo:
                for name, value in item if isinstance(item, list) else [item]:
                    point[name] = value
            points.append(point)
        return points

    def _experiment(self) -> Experiment:
        return resolve_experiment(self.experiment)

    def runs(self) -> list[Run]:
        """Every run of the sweep (validated configs, one per seed), in spec order."""
        runs, problems = self._expand()
        if problems:
            raise SpecError(self.source, problems)
        return runs

    def _expand(self) -> tuple[list[Run], list[tuple[int | None, str]]]:
        experiment = self._experiment()
        seed_field = experiment.seed_field
        runs: list[Run] = []
        problems: dict[str, int | None] = {}
        seen: dict[str, dict[str, Any]] = {}
        for point in self.points():
            values = _merge(self.fixed, point, experiment)
            where = ", ".join(f"{k}={v!r}" for k, v in point.items()) or "the fixed fields"
            try:
                base = experiment.config.from_dict(values).to_dict()
            except (SymscapeError, TypeError, ValueError) as err:
                problems.setdefault(f"{experiment.name} rejects {where}: {err}", self._line(err))
                continue
            group_key = run_key(self.experiment, base)
            if group_key in seen:
                earlier = ", ".join(f"{k}={v!r}" for k, v in seen[group_key].items())
                problems.setdefault(
                    f"{where} is the same run as {earlier}: remove the repeated value", None
                )
                continue
            seen[group_key] = point
            if seed_field is None:
                key = run_key(self.experiment, base)
                runs.append(Run(key, self.experiment, base, None, key))
                continue
            seeds = self.seeds if self.seeds is not None else tuple(base[seed_field])
            group_config = {k: v for k, v in base.items() if k != seed_field}
            group = run_key(self.experiment, group_config)
            for seed in seeds:
                config = {**base, seed_field: [seed]}
                runs.append(
                    Run(run_key(self.experiment, config), self.experiment, config, seed, group)
                )
        if seed_field is not None and len({r.key for r in runs}) != len(runs):
            problems.setdefault(f"a seed repeats in a config's {seed_field}: give each once", None)
        return runs, [(line, text) for text, line in problems.items()]

    def _line(self, err: Exception) -> int | None:
        """The line of the first field the error message names."""
        for name, line in self.lines.items():
            if re.search(rf"(?<![\w.]){re.escape(name.split('.')[-1])}\b", str(err)):
                return line
        return None

    def units(self, runs: Sequence[Run]) -> list[Unit]:
        """Pack ``runs`` into units: one ensemble per group (at most ``max_members`` seeds)."""
        experiment = self._experiment()
        seed_field = experiment.seed_field
        limit = self.max_members if (self.pack and seed_field is not None) else 1
        groups: dict[str, list[Run]] = {}
        for run in runs:
            groups.setdefault(run.group, []).append(run)
        units = []
        for members in groups.values():
            for start in range(0, len(members), limit):
                chunk = members[start : start + limit]
                config = dict(chunk[0].config)
                if seed_field is not None:
                    config[seed_field] = [run.seed for run in chunk]
                units.append(Unit(self.experiment, config, tuple(run.key for run in chunk)))
        return units


def _merge(
    fixed: Mapping[str, Any], point: Mapping[str, Any], experiment: Experiment
) -> dict[str, Any]:
    """``fixed`` with the point's values set.

    ``"data.P"`` sets one entry of the ``data`` table: of the fixed one, or of
    the config's default table when ``[fixed]`` has none.
    """
    values = {k: _copy(v) for k, v in fixed.items()}
    for name, value in point.items():
        head, dot, rest = name.partition(".")
        if dot:
            if head not in values:
                values[head] = _copy(_field_default(experiment, head))
            _set_path(values[head], rest.split("."), value)
        else:
            values[name] = value
    return values


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _field_default(experiment: Experiment, name: str) -> Any:
    for field in dataclasses.fields(experiment.config):
        if field.name == name:
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
            return {} if field.default is dataclasses.MISSING else field.default
    return {}


def _set_path(table: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        table = table.setdefault(part, {})
    table[path[-1]] = value


def parse_spec(text: str, source: str = "<spec>") -> SweepSpec:
    """Parse and validate spec text; every problem is reported in one :class:`SpecError`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(source, [(None, f"not valid TOML: {err}")]) from None
    lines = _line_index(text)
    problems: list[tuple[int | None, str]] = []

    def problem(path: tuple[str, ...], message: str) -> None:
        line = None
        for n in range(len(path), 0, -1):
            if path[:n] in lines:
                line = lines[path[:n]]
                break
        problems.append((line, message))

    for key in raw:
        if key not in _TOP_LEVEL:
            problem((key,), f"unknown top-level key {key!r} (known: {', '.join(_TOP_LEVEL)})")
    if "experiment" not in raw:
        problem((), 'no experiment: add e.g. experiment = "train" at the top')
        raise SpecError(source, problems)
    try:
        experiment = resolve_experiment(raw["experiment"])
    except SymscapeError as err:
        problem(("experiment",), str(err))
        raise SpecError(source, problems) from None
    fields = {f.name: f for f in dataclasses.fields(experiment.config)}

    def check_field(path: tuple[str, ...], name: str, value: Any, listed: bool) -> None:
        head = name.split(".")[0]
        if head not in fields:
            close = [f for f in fields if f.startswith(head[:3])]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problem(path, f"unknown field {name!r} for {experiment.name}{hint}")
            return
        if head == experiment.seed_field and "seeds" in raw:
            problem(path, f"{name!r} is set both here and by the top-level seeds; keep one")
            return
        annotation = fields[head].type
        if "." in name:
            if not _check_type({}, annotation):
                problem(path, f"field {head!r} is not a table: {name!r} cannot set a part of it")
            return
        for v in value if listed else [value]:
            if not _check_type(v, annotation):
                problem(path, f"{name} = {v!r} is not of type {annotation}")
                return

    fixed = raw.get("fixed", {})
    grid_raw = raw.get("grid", {})
    zips_raw = raw.get("zip", [])
    # [zip] is one group, [[zip]] several: paths ("zip", name) or ("zip", "#i", name)
    zip_paths = [("zip",)] if isinstance(zips_raw, Mapping) else []
    if isinstance(zips_raw, Mapping):
        zips_raw = [zips_raw]
    elif isinstance(zips_raw, list):
        zip_paths = [("zip", f"#{i}") for i in range(len(zips_raw))]
    else:
        problem(("zip",), "zip must be a [zip] table or [[zip]] tables")
        zips_raw = []
    tables = [("fixed", fixed), ("grid", grid_raw), ("pack", raw.get("pack", {}))]
    tables += [("zip", z) for z in zips_raw]
    for table_name, table in tables:
        if not isinstance(table, Mapping):
            problem((table_name,), f"{table_name} must be a [{table_name}] table")
    if problems:
        raise SpecError(source, problems)

    for name, value in fixed.items():
        check_field(("fixed", name), name, value, listed=False)
    grid = dotted(grid_raw)
    for name, values in grid.items():
        path = ("grid", *name.split("."))
        if not isinstance(values, list):
            problem(path, f"grid field {name!r} must be a list of values, got {values!r}")
        elif not values:
            problem(path, f"grid field {name!r} is empty: give at least one value")
        else:
            check_field(path, name, values, listed=True)
    zips = []
    for prefix, group_raw in zip(zip_paths, zips_raw, strict=True):
        group = dotted(group_raw)
        lengths = set()
        for name, values in group.items():
            path = (*prefix, *name.split("."))
            if not isinstance(values, list) or not values:
                problem(path, f"zip field {name!r} must be a non-empty list")
                continue
            lengths.add(len(values))
            check_field(path, name, values, listed=True)
        if len(lengths) > 1:
            problem(prefix, f"zipped fields have different lengths {sorted(lengths)}")
        zips.append(group)
    taken = set(grid)
    for prefix, group in zip(zip_paths, zips, strict=True):
        for name in set(group) & taken:
            problem((*prefix, *name.split(".")), f"field {name!r} is both in a grid and a zip")
        taken |= set(group)
    fixed_names = set(dotted(fixed)) | set(fixed)
    for name in sorted(taken):
        head = name.split(".")[0]
        if name in fixed_names or any(f.startswith(name + ".") for f in fixed_names):
            problem(("fixed", *name.split(".")), f"field {name!r} is both fixed and swept")
        elif "." in name and head in taken:
            problem(("grid", head), f"field {head!r} is swept whole and in parts ({name!r})")

    seeds = None
    if "seeds" in raw:
        if experiment.seed_field is None:
            problem(("seeds",), f"experiment {experiment.name} has no seeds; drop 'seeds'")
        else:
            value = raw["seeds"]
            try:
                seeds = parse_seeds(value) if isinstance(value, str) else tuple(value)
            except (SymscapeError, TypeError) as err:
                problem(("seeds",), str(err))
            else:
                if not seeds:
                    problem(("seeds",), "seeds is empty: give at least one seed")
                elif not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
                    problem(("seeds",), f"seeds {value!r} must be integers")
                elif len(set(seeds)) != len(seeds):
                    problem(("seeds",), f"seeds {value!r} repeat a seed")

    pack = raw.get("pack", {})
    enabled, members = pack.get("enabled", True), pack.get("max_members", 64)
    if set(pack) - {"enabled", "max_members"}:
        problem(("pack",), "[pack] knows only enabled and max_members")
    if not isinstance(enabled, bool):
        problem(("pack", "enabled"), "pack.enabled must be true or false")
    if not (isinstance(members, int) and not isinstance(members, bool) and members >= 1):
        problem(("pack", "max_members"), "pack.max_members must be an integer >= 1")
    if problems:
        raise SpecError(source, problems)

    spec = SweepSpec(
        experiment=raw["experiment"],
        name=str(raw.get("name", Path(source).stem if source != "<spec>" else "sweep")),
        fixed=dict(fixed),
        grid=grid,
        zips=tuple(zips),
        seeds=seeds,
        pack=enabled,
        max_members=members,
        source=source,
        lines=_field_lines(lines, fixed, grid, zip(zip_paths, zips, strict=True)),
    )
    _, config_problems = spec._expand()
    if config_problems:
        raise SpecError(source, config_problems)
    return spec


def _field_lines(lines, fixed, grid, zips) -> dict[str, int]:
    """Swept names first (a rejected run is most likely its swept value), then fixed ones."""
    out: dict[str, int] = {}
    paths = [(name, ("grid", *name.split("."))) for name in grid]
    paths += [(name, (*prefix, *name.split("."))) for prefix, group in zips for name in group]
    paths += [(name, ("fixed", *name.split("."))) for name in dotted(fixed)]
    for name, path in paths:
        if path in lines:
            out.setdefault(name, lines[path])
    return out


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(str(path), [(None, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(str(path), [(None, f"cannot read it as text ({err})")]) from None
    return parse_spec(text, source=str(path))
