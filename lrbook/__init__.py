"""lrbook: low-rank learning in recurrent networks.

A toolkit and online book reproducing Schuessler, Mastrogiuseppe, Dubreuil,
Ostojic & Barak, "The interplay between randomness and structure during learning
in RNNs" (NeurIPS 2020).

The public names below are stable; the submodules hold the rest:

- :mod:`lrbook.tasks` — tasks, each ``batch(B, rng) -> (u, target, mask)``
- :mod:`lrbook.models`, :mod:`lrbook.engine` — the ensemble rate RNN
- :mod:`lrbook.training` — training K networks at once
- :mod:`lrbook.analysis` — low-rank analysis of any recurrent weights
- :mod:`lrbook.theory` — the linear theory
- :mod:`lrbook.experiments` — configurations, the result cache, sweeps
- :mod:`lrbook.plotting` — the book's figures (imported on first use)
"""

from __future__ import annotations

import importlib
from typing import Any

from . import analysis, config, engine, experiments, models, tasks, training
from ._version import __version__
from .analysis import Report, analyse, report_from_result
from .config import by_scale, cache_dir, get_scale
from .experiments import EnsembleConfig, EnsembleResult, ResultCache, run_ensemble, sweep
from .models import RNN, init_weights
from .tasks import (
    Batch,
    ContextIntegration,
    Cosine,
    FixedPoint,
    FlipFlop,
    Task,
    WorkingMemory,
    make_task,
)
from .training import TrainingDivergedError, TrainResult, model_for, train

_LAZY = ("plotting", "theory", "nlp", "cli")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lrbook' has no attribute {name!r}")


__all__ = [
    "__version__",
    # configuration
    "by_scale", "get_scale", "cache_dir",
    # tasks
    "Task", "Batch", "FlipFlop", "ContextIntegration", "WorkingMemory", "FixedPoint", "Cosine",
    "make_task",
    # models and training
    "RNN", "init_weights", "train", "model_for", "TrainResult", "TrainingDivergedError",
    # analysis
    "analyse", "Report", "report_from_result",
    # experiments
    "EnsembleConfig", "EnsembleResult", "run_ensemble", "sweep", "ResultCache",
    # submodules
    "analysis", "config", "engine", "experiments", "models", "tasks", "training",
]
