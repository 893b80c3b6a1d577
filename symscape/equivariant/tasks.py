"""Former home of the point-cloud tasks and their learning curves (kept as an alias).

The data task lives in :mod:`symscape.data.pointclouds`, the learning curves
in :mod:`symscape.train.learning_curves`; this module re-exports their names
so that ``from symscape.equivariant.tasks import ...`` keeps working.
"""

from symscape.data.pointclouds import TASKS, PointCloudData, dipole, morse_energy, point_cloud_task
from symscape.train.learning_curves import MODELS, LearningPoint, learning_curves

__all__ = [
    "MODELS",
    "TASKS",
    "LearningPoint",
    "PointCloudData",
    "dipole",
    "learning_curves",
    "morse_energy",
    "point_cloud_task",
]
