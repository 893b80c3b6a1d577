"""The errors symscape raises at its boundaries.

Every public function validates its input and raises one of these, with a
message that names the bad value and says how to fix it. The command line
prints them as one line and exits with code 2.

Each class also derives from the closest built-in exception, so code that
already catches ``ValueError`` or ``FileNotFoundError`` keeps working.

>>> from symscape.errors import InvalidOptionError
>>> err = InvalidOptionError("P=-3 must be a positive integer", fix="pass P >= 1")
>>> str(err)
'P=-3 must be a positive integer; pass P >= 1'
"""

from __future__ import annotations

__all__ = [
    "DataFormatError",
    "DataNotFoundError",
    "InvalidOptionError",
    "MissingDependencyError",
    "SymscapeError",
    "UnknownNameError",
    "one_line",
]


def one_line(text: str) -> str:
    """Fold a message onto one line (the command line prints errors that way)."""
    return " ".join(str(text).split())


class SymscapeError(Exception):
    """Base class of every error symscape raises on purpose.

    Parameters
    ----------
    problem:
        What is wrong, naming the offending value.
    fix:
        What the user should do instead (optional, appended after ``;``).
    """

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = one_line(problem)
        self.fix = one_line(fix) if fix else None
        super().__init__(self.problem if self.fix is None else f"{self.problem}; {self.fix}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class UnknownNameError(SymscapeError, KeyError):
    """A name (data set, architecture, loss, ...) that no registry knows."""


class InvalidOptionError(SymscapeError, ValueError):
    """An option with a wrong type, an impossible value or an unknown name."""


class DataNotFoundError(SymscapeError, FileNotFoundError):
    """A data folder or file that is not where symscape looked."""


class DataFormatError(SymscapeError, ValueError):
    """A file that is not what it claims to be: bad magic number, truncated, foreign."""


class MissingDependencyError(SymscapeError, ImportError):
    """An optional dependency (an extra such as ``symscape[equivariant]``) is not installed."""
