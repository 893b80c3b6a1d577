"""Training dynamics, batched over the ensemble with per-member state.

Every dynamics keeps a :class:`FlowState` whose ``params``, ``loss``,
``grad`` and ``output`` are consistent (evaluated at ``params``) and
advances it by one ``step(model, state, active)``; members outside
``active`` do not move. One step costs one full-batch gradient evaluation
(two for mini-batch SGD: the batch gradient, then the full-batch loss and
outputs the stopping rules read).

* :class:`AdaptiveFlow` — gradient flow with an adaptive step, per member
  (SCIENCE.md §3): from ``dt``, try ``w' = w − dt g``; accept when
  ``‖g − g'‖² / (‖g‖ ‖g'‖) < grad_tol`` and ``max |ΔF| < output_tol``; when
  both are under half their bound ``dt ← 1.1 dt``; on reject, keep ``w``
  and ``dt ← dt / 10``. A step of ``dt ≤ dt_min`` is accepted whatever the
  gradient change (if finite and within ``output_tol``), and a rejection for
  the gradient change alone does not take dt below ``dt_min``: at a kink of
  ReLU the gradient jumps by a finite amount however small the step, and
  without this floor the flow would creep towards the kink forever. Small
  ReLU networks (P·h of a few thousands) still cross kinks often and then
  advance slowly; smooth activations (softplus, swish) do not. With ``tau``
  set, the momentum variant: ``v ← e^{−dt/τ} v − (1 − e^{−dt/τ}) g``,
  ``w ← w + dt v``.
* :class:`SGD` — ``w ← w − lr g``, full batch or mini-batches (the batch
  order comes from ``batch_seed``, shared by the members; each epoch is a
  fresh permutation, and its last ``P mod batch_size`` points are skipped).
* :class:`Adam` — Adam with the jamming protocol's schedule: ``lr`` divided
  by 10 every ``decay_every`` steps down to ``lr_min``.
* :class:`LBFGS` — the jamming minimiser: batched L-BFGS with a per-member
  backtracking line search, for reaching the end point of training (a
  fitted state or a jammed minimum) in few gradient evaluations; it flags
  each member that has stalled, so that the loop can tell "jammed" from
  "not converged yet".

A step whose result is not finite is treated as a divergence by the loop
(:mod:`symscape.train.loop`); the adaptive flow instead rejects it and
shrinks ``dt``.

One module per family: :mod:`~symscape.train.dynamics.state` (the state and
what every dynamics shares), :mod:`~symscape.train.dynamics.flow`,
:mod:`~symscape.train.dynamics.gradient` (SGD and Adam) and
:mod:`~symscape.train.dynamics.lbfgs`; every name is importable from here.
"""

from __future__ import annotations

# every name of the former single module stays importable from here, the private
# ones (``name as name``) included: tests and older code reach into them
from symscape.nets.flat import flat_params, unflat_params
from symscape.train.dynamics.flow import AdaptiveFlow
from symscape.train.dynamics.gradient import SGD, Adam
from symscape.train.dynamics.gradient import _advance as _advance
from symscape.train.dynamics.lbfgs import LBFGS
from symscape.train.dynamics.lbfgs import _dot as _dot
from symscape.train.dynamics.lbfgs import _inverse_hessian_times as _inverse_hessian_times
from symscape.train.dynamics.state import FlowState
from symscape.train.dynamics.state import _finite as _finite
from symscape.train.dynamics.state import _times as _times
from symscape.train.dynamics.state import _where as _where
from symscape.train.dynamics.state import log_checkpoints as log_checkpoints
from symscape.train.dynamics.state import start as start

__all__ = [
    "DYNAMICS",
    "LBFGS",
    "SGD",
    "Adam",
    "AdaptiveFlow",
    "FlowState",
    "flat_params",
    "unflat_params",
]

DYNAMICS = ("flow", "momentum_flow", "kernel_flow", "sgd", "adam", "lbfgs")
