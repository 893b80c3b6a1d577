"""Training: losses, dynamics, stopping rules, the loop, and runs as configs.

>>> from symscape.train import LOSSES, DYNAMICS
>>> LOSSES
('hinge', 'quadratic_hinge', 'soft_hinge', 'mse', 'cross_entropy')
"""

from symscape.train.config import TrainConfig, train
from symscape.train.dynamics import DYNAMICS, SGD, Adam, AdaptiveFlow
from symscape.train.loop import STATUSES, StopRules, Trajectory, fit
from symscape.train.losses import LOSSES, errors, gaps, loss_per_point, n_delta
from symscape.train.models import CenteredNetwork, FrozenKernel, LossSpec

__all__ = [
    "DYNAMICS",
    "LOSSES",
    "SGD",
    "STATUSES",
    "Adam",
    "AdaptiveFlow",
    "CenteredNetwork",
    "FrozenKernel",
    "LossSpec",
    "StopRules",
    "TrainConfig",
    "Trajectory",
    "errors",
    "fit",
    "gaps",
    "loss_per_point",
    "n_delta",
    "train",
]
