"""The contract of the section registry: one list that reproduce, the report and the CLI read."""

from __future__ import annotations

import pytest

from symscape.errors import InvalidOptionError
from symscape.experiments import registry

EXPECTED = (
    "data",
    "engine",
    "jamming",
    "double_descent",
    "feature_lazy",
    "stability",
    "equivariance",
)


def test_the_sections_in_order():
    assert registry.names() == EXPECTED


def test_reproduce_report_and_cli_read_the_registry():
    from symscape.cli.reproduce import reproduce as command
    from symscape.report import ORDER
    from symscape.report.sections import DESCRIBERS, HEADINGS
    from symscape.reproduce import SECTIONS

    (only,) = [p for p in command.params if p.name == "only"]
    assert tuple(only.type.choices) == SECTIONS == registry.names()
    assert sorted(ORDER) == sorted(SECTIONS) and registry.report_order() == ORDER
    assert ORDER[-2:] == ("data", "engine")  # the appendices last
    assert set(DESCRIBERS) == set(HEADINGS) == set(SECTIONS)


@pytest.mark.parametrize("section", registry.REGISTRY, ids=registry.names())
def test_every_section_has_its_hooks(section):
    module = section.load()
    assert module.__name__ == section.module
    for hook in ("section", "markdown_section"):
        assert callable(getattr(module, hook)), f"{section.name} lacks {hook}"
    assert section.title and section.question


def test_an_unknown_section_is_one_line():
    with pytest.raises(InvalidOptionError, match="choose among data, engine"):
        registry.get("nope")


def test_old_names_still_import():
    from symscape.experiments.engine import ENGINE_CONFIGS as configs
    from symscape.reproduce import ENGINE_CONFIGS, check_sections, engine_section

    assert ENGINE_CONFIGS is configs and callable(engine_section)
    assert check_sections(["double-descent"]) == ("double_descent",)
