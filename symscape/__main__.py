"""``python -m symscape``: the same as the ``symscape`` command."""

from symscape.cli import run

run()
