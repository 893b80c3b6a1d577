"""How runs use the machine: torch's thread count."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` intra-op torch threads, then restore the previous count.

    symscape runs with one thread per run by default: on small, latency-bound
    computations a second thread costs more than it gives (and stalls badly
    when the other core is busy), and sweeps scale out over processes.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
