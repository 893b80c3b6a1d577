"""The record header every experiment writes, in one place.

:func:`stamp` adds to a record what says where it comes from: the
``experiment``'s name, symscape's ``version``, the ``config`` (its
``to_dict()``), the ``host`` it ran on and its ``wall_time_s``. Keys a record
already has for older readers (``timing.total_s``, ``symscape_version``,
``wall_time``) are left as they are; nothing is renamed.

>>> import time
>>> record = stamp({"points": []}, "demo", None, time.perf_counter())
>>> list(record)
['points', 'experiment', 'version', 'config', 'host', 'wall_time_s']
"""

from __future__ import annotations

import platform
import time
from typing import Any

from symscape._version import __version__

__all__ = ["stamp"]


def stamp(record: dict[str, Any], experiment: str, config: Any, started: float) -> dict[str, Any]:
    """``record`` with its header added (in place, and returned): ``experiment``,
    ``version``, ``config`` (``config.to_dict()``; ``None`` as is), ``host`` and
    ``wall_time_s`` (the seconds since ``started``, a :func:`time.perf_counter` reading)."""
    record.update(
        experiment=experiment,
        version=__version__,
        config=None if config is None else config.to_dict(),
        host=platform.node(),
        wall_time_s=time.perf_counter() - started,
    )
    return record
