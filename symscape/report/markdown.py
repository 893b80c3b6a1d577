"""The Markdown rendering of a report part (``summary.md``): :func:`symscape.comparisons.markdown`.

It lives beside the value types, below the experiments, so that an
experiment's ``markdown_section`` can render its own ``describe`` output
without importing the report; this module keeps the older import path.
"""

from symscape.comparisons import markdown

__all__ = ["markdown"]
