"""Experiments: configurations, a safe on-disk cache, cached ensemble runs and sweeps.

- :class:`EnsembleConfig` / :class:`NetworkConfig`: what to train, with a stable key;
- :class:`ResultCache`: one verified, atomically written ``.npz`` per network;
- :func:`run_ensemble`: train only what the cache lacks, return an :class:`EnsembleResult`;
- :func:`evaluate_cached`, :func:`cached_reports`: test-batch evaluations (truncation,
  shuffle test), stored in the same cache;
- :func:`cached_call`: any deterministic lrbook function's result (fixed points, a
  trained linear network or LSTM), stored by a key of its arguments;
- :func:`sweep`: many networks, grouped into ensembles, resumable, on any executor
  (:func:`process_pool`: one on every core);
- :func:`nonlinear_sweep`, :func:`nscaling_sweep`: the paper's sweeps per scale.

Used by the chapters :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.
"""

from __future__ import annotations

from .cache import CacheWarning, NetworkResult, ResultCache
from .calls import CALL_SCHEMA, CallTime, cached_call, call_key, call_times
from .evaluations import cached_reports, evaluate_cached, evaluation_key
from .presets import NONLINEAR, NSCALING, nonlinear_sweep, nscaling_sweep
from .run import DivergenceWarning, EnsembleResult, run_ensemble, run_networks, stack, summaries, train_networks
from .runtimes import RunTime, run_times
from .specs import SCHEMA_VERSION, EnsembleConfig, NetworkConfig
from .sweep import SweepResult, process_pool, sweep, usable_cores

__all__ = [
    "SCHEMA_VERSION", "EnsembleConfig", "NetworkConfig", "ResultCache", "NetworkResult",
    "CacheWarning", "DivergenceWarning", "EnsembleResult", "run_ensemble", "run_networks", "train_networks",
    "stack", "summaries",
    "sweep", "SweepResult", "process_pool", "usable_cores",
    "nonlinear_sweep", "nscaling_sweep", "NONLINEAR", "NSCALING",
    "evaluate_cached", "cached_reports", "evaluation_key", "RunTime", "run_times",
    "CALL_SCHEMA", "cached_call", "call_key", "CallTime", "call_times",
]
