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

from ._version import __version__

# Everything else is imported on first use, so that ``import lrbook.engine`` (or
# ``lrbook.tasks``, ``lrbook.models``) loads neither the experiments layer (cache,
# sweeps) nor plotting or matplotlib.
_SUBMODULES = ("analysis", "config", "engine", "experiments", "models", "tasks", "training",
               "plotting", "theory", "dynamics", "checks", "nlp", "cli", "beyond")
_NAMES = {
    "by_scale": "config", "get_scale": "config", "cache_dir": "config",
    "Task": "tasks", "Batch": "tasks", "FlipFlop": "tasks", "ContextIntegration": "tasks",
    "WorkingMemory": "tasks", "FixedPoint": "tasks", "Cosine": "tasks", "make_task": "tasks",
    "RNN": "models", "init_weights": "models",
    "train": "training", "model_for": "training", "TrainResult": "training",
    "TrainingDivergedError": "training",
    "analyse": "analysis", "Report": "analysis", "report_from_result": "analysis",
    "EnsembleConfig": "experiments", "EnsembleResult": "experiments",
    "run_ensemble": "experiments", "sweep": "experiments", "ResultCache": "experiments",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES) | set(_SUBMODULES))


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
