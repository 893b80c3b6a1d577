"""Where units run: one small interface, four executors.

=============== ==========================================================
``inprocess``   in the driver's own process, one unit at a time (debugging:
                breakpoints and tracebacks work as usual)
``pool``        a pool of local worker processes (the default: one per
                core, each pinned to ``threads`` torch threads); a worker
                that dies (out of memory, killed) fails its unit, not the
                sweep, and is replaced
``ray``         Ray tasks, on a local instance or an existing cluster
                (``address``); records come back to the driver
``slurm``       SLURM job arrays through submitit; each job writes every
                finished run as its own file (temporary name, then rename)
                into the sweep's folder, which the driver ingests
=============== ==========================================================

An executor takes units (:meth:`Executor.submit`) while it has room and
hands back finished ones (:meth:`Executor.wait`); the driver is the only
writer to the store, whatever the executor. The same unit gives the same
outcome everywhere (timings and host aside).

One module per family: :mod:`~symscape.sweep.executors.base` (the
interface), :mod:`~symscape.sweep.executors.local` (``inprocess`` and
``pool``), :mod:`~symscape.sweep.executors.ray_tasks`,
:mod:`~symscape.sweep.executors.slurm`, and
:mod:`~symscape.sweep.executors.choice` (choosing one by name); every name
is importable from here.
"""

from __future__ import annotations

# every name of the former single module stays importable from here, the private
# ones (``name as name``) included
from symscape.sweep.executors.base import Executor, ExecutorError
from symscape.sweep.executors.base import Finished as Finished
from symscape.sweep.executors.base import _failed as _failed
from symscape.sweep.executors.base import default_workers as default_workers
from symscape.sweep.executors.choice import EXECUTORS, ExecutorChoice, make_executor
from symscape.sweep.executors.choice import _no_options as _no_options
from symscape.sweep.executors.local import InProcessExecutor, PoolExecutor
from symscape.sweep.executors.local import _die_with_parent as _die_with_parent
from symscape.sweep.executors.local import _Worker as _Worker
from symscape.sweep.executors.local import _worker_main as _worker_main
from symscape.sweep.executors.ray_tasks import RayExecutor
from symscape.sweep.executors.ray_tasks import _ray_unit as _ray_unit
from symscape.sweep.executors.slurm import SlurmExecutor, ingest_folder
from symscape.sweep.executors.slurm import _job_error as _job_error
from symscape.sweep.records import Outcome as Outcome
from symscape.sweep.spec import Unit as Unit
from symscape.sweep.work import execute_unit as execute_unit
from symscape.sweep.work import execute_units_to_folder as execute_units_to_folder

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorChoice",
    "ExecutorError",
    "InProcessExecutor",
    "PoolExecutor",
    "RayExecutor",
    "SlurmExecutor",
    "ingest_folder",
    "make_executor",
]
