"""The import graph of symscape: no cycle, and every import points down the layers.

The layers are those of ``DESIGN.md`` (top to bottom)::

    cli > reproduce > report > experiments > sweep > train > measure
        > equivariant > nets > diffeo > data > analysis > ground floor

A module may import from its own layer or from any layer below it. Every
``import`` statement counts, at module level or inside a function (a lazy
import is still a dependency: it runs the first time the function does).
"""

from __future__ import annotations

import ast
from pathlib import Path

import symscape

ROOT = Path(symscape.__file__).parent

# bottom to top; a module's layer is named by its first component below ``symscape``
LAYERS: tuple[tuple[str, ...], ...] = (
    # the ground floor
    (
        "__init__",
        "_version",
        "comparisons",
        "config",
        "errors",
        "params",
        "progress",
        "runnable",
        "runtime",
        "validation",
    ),
    ("analysis",),
    ("data",),
    ("diffeo",),
    ("nets",),
    ("equivariant",),
    ("measure",),
    ("train",),
    # results.py reads a sweep store back as a table: it sits beside the store
    ("sweep", "results"),
    ("experiments",),
    ("report",),
    ("reproduce",),
    ("cli", "__main__"),
)

# Upward imports that remain on purpose, each with its reason: (importer, imported).
# Keep this list short; an entry names exactly one edge.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    # the old import path of the learning curves, re-exported for one release (issue 16);
    # nothing in symscape imports the alias, and the learning curves import no alias
    ("symscape.equivariant.tasks", "symscape.train.learning_curves"): "deprecated alias",
}


def _layer_of(module: str) -> int:
    head = module.split(".")[1] if "." in module else "__init__"
    for index, names in enumerate(LAYERS):
        if head in names:
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it to LAYERS")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The symscape module that ``name`` (a module or a name in one) refers to."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path]):
    """``(imported module, line)`` for every symscape import in ``path``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import submodule`` depends on the submodule
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "symscape" or name.startswith("symscape."):
                target = _target(name, modules)
                if target is not None and target != module:
                    yield target, node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` over every module of symscape."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for target, line in _imports(module, path, modules):
            edges.setdefault(target, line)
    return graph


def _location(module: str, line: int) -> str:
    return f"{_modules()[module].relative_to(ROOT.parent)}:{line}"


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_graph_is_read():
    graph = import_graph()
    assert "symscape.sweep.store" in graph["symscape.sweep"]
    assert "symscape.errors" in graph["symscape.config"]


def test_no_import_cycle():
    graph = import_graph()
    # a package's __init__ re-exports its submodules; a submodule importing
    # a name from its own package's __init__ would close a cycle through it
    cycles = _cycles(graph)
    lines = []
    for component in cycles:
        inside = set(component)
        edges = [
            f"  {_location(a, line)}: {a} -> {b}"
            for a in component
            for b, line in sorted(graph[a].items())
            if b in inside
        ]
        lines.append(" <-> ".join(component) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles:\n" + "\n".join(lines)


def test_every_import_points_down_the_layers():
    graph = import_graph()
    offenders = [
        f"{_location(a, line)}: {a} imports {b} (layer {LAYERS[_layer_of(b)][0]!r} is above "
        f"{LAYERS[_layer_of(a)][0]!r})"
        for a, edges in sorted(graph.items())
        for b, line in sorted(edges.items())
        if _layer_of(b) > _layer_of(a) and (a, b) not in ALLOWED_UPWARD
    ]
    assert not offenders, "upward imports (see DESIGN.md's layers):\n" + "\n".join(offenders)


def test_the_allow_list_has_no_stale_entry():
    graph = import_graph()
    stale = [edge for edge in ALLOWED_UPWARD if edge[1] not in graph.get(edge[0], {})]
    assert not stale, f"ALLOWED_UPWARD names imports that no longer exist: {stale}"
