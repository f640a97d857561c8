"""lrbook: low-rank learning in recurrent networks.

A toolkit and online book reproducing Schuessler, Mastrogiuseppe, Dubreuil,
Ostojic & Barak, "The interplay between randomness and structure during learning
in RNNs" (NeurIPS 2020).
"""

from __future__ import annotations

from ._version import __version__
from .config import by_scale, get_scale
from .models import RNN, init_weights
from .tasks import (Batch, ContextIntegration, Cosine, FixedPoint, FlipFlop, Task, WorkingMemory,
                    make_task)
from .training import TrainingDivergedError, TrainResult, model_for, train

__all__ = [
    "__version__", "by_scale", "get_scale", "RNN", "init_weights", "Batch", "Task", "FlipFlop",
    "ContextIntegration", "WorkingMemory", "FixedPoint", "Cosine", "make_task", "train",
    "model_for", "TrainResult", "TrainingDivergedError",
]
