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
    "RunsFailedError",
    "SymscapeError",
    "UnknownNameError",
    "failure_reason",
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


class InvalidOptionError(SymscapeError, ValueError):
    """An option with a wrong type, an impossible value or an unknown name."""


class UnknownNameError(InvalidOptionError, KeyError):
    """A name (data set, architecture, loss, ...) that no registry knows: an invalid option,
    and a ``KeyError`` as a failed look-up."""


class DataNotFoundError(SymscapeError, FileNotFoundError):
    """A data folder or file that is not where symscape looked."""


class DataFormatError(SymscapeError, ValueError):
    """A file that is not what it claims to be: bad magic number, truncated, foreign."""


class MissingDependencyError(SymscapeError, ImportError):
    """A dependency that does not import: an optional one (an extra such as
    ``symscape[ray]``) not installed, or a core one missing from a broken environment."""


def failure_reason(error: str | None) -> str:
    r"""What a failed run's traceback says went wrong, on one line: its last line.

    >>> failure_reason("Traceback (most recent call last):\n  ...\nValueError: bad width\n")
    'ValueError: bad width'
    """
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no traceback recorded"


class RunsFailedError(SymscapeError, RuntimeError):
    """Runs of a sweep failed; ``failures`` holds ``(run key, traceback)`` for some of them.

    The failed runs stay in the store as ``failed``; running the same sweep
    again runs them again and keeps the finished ones.
    """

    def __init__(self, failed: int, failures: list[tuple[str, str]], db, what: str = ""):
        self.failures = failures
        self.db = db
        where = f" {what}" if what else ""
        reason = failure_reason(failures[0][1]) if failures else "no traceback recorded"
        super().__init__(
            f"{failed} run(s){where} failed: {reason}",
            fix=f"tracebacks: symscape results {db} --where status=failed --format json; "
            "a rerun runs the failed runs again and keeps the finished ones",
        )
