"""Sweeps over many networks: grouped into ensembles, resumable, on any executor.

A sweep takes network configs (tasks x g x seeds x N ...), skips those already in
the cache, groups the others into ensembles of compatible networks (same task, N,
epochs, optimizer, batch size, trained weights, phi, snapshots; ``g``, ``seed`` and
``lr`` may differ) of at most ``max_ensemble`` networks, and trains each group with
:func:`lrbook.experiments.run.train_networks`, which writes every finished network
atomically. Interrupt it at any time: what finished is kept, and the next call
trains only the rest.

Groups run in-process one after the other by default, or on any
:class:`concurrent.futures.Executor`: a process pool, or a Dask cluster through
``distributed.Client(...).get_executor()``. Workers receive the cache folder
explicitly and write to it themselves, so it must be shared between them (the
same machine, or a shared file system).

Used by the chapter :doc:`/book/05_scaling` and the command ``lrbook sweep``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate as V
from .cache import ResultCache
from .config import EnsembleConfig, NetworkConfig
from .run import train_networks

#: Networks per ensemble when ``max_ensemble`` is not given (memory stays in the
#: hundreds of MB at N = 256; ensembles of K >= 8 use the CPU well).
DEFAULT_MAX_ENSEMBLE = 32


@dataclass
class SweepResult:
    """What a sweep did.

    See :doc:`/book/05_scaling`.

    Attributes
    ----------
    networks : list of NetworkConfig
        every network of the sweep (duplicates removed), in the order given.
    status : list of str
        ``"cached"`` (found in the cache) or ``"trained"`` (trained by this call).
    summaries : list of dict
        per network: ``key``, ``task``, ``N``, ``g``, ``seed``, ``epochs``, ``L0``,
        ``final_loss``, ``dW_norm``, ``convergence_epoch``, ``diverged_epoch``.
    cache : str
        the cache folder.
    groups : list of int
        sizes of the ensembles trained.
    seconds : float
        wall time of the sweep.
    """

    networks: list[NetworkConfig]
    status: list[str]
    summaries: list[dict[str, Any]]
    cache: str
    groups: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def n_trained(self) -> int:
        """Networks trained by this call."""
        return sum(s == "trained" for s in self.status)

    @property
    def n_cached(self) -> int:
        """Networks found in the cache."""
        return sum(s == "cached" for s in self.status)

    @property
    def n_diverged(self) -> int:
        """Networks whose training diverged (``diverged_epoch >= 0``)."""
        return sum(s["diverged_epoch"] >= 0 for s in self.summaries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN losses become None).

        Returns
        -------
        dict
            ``cache``, ``seconds``, ``n_networks``, ``n_trained``, ``n_cached``,
            ``n_diverged``, ``groups`` and ``networks`` (each summary with its
            ``status``).
        """
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        return {
            "cache": self.cache, "seconds": self.seconds, "n_networks": len(self.networks),
            "n_trained": self.n_trained, "n_cached": self.n_cached, "n_diverged": self.n_diverged,
            "groups": list(self.groups),
            "networks": [{**{k: clean(v) for k, v in s.items()}, "status": st}
                         for s, st in zip(self.summaries, self.status)],
        }


def expand(configs: Iterable[Any] | Mapping[Any, Any] | EnsembleConfig | NetworkConfig
           ) -> list[NetworkConfig]:
    """Flatten ensembles and networks into a list of networks, first occurrence kept.

    Parameters
    ----------
    configs : EnsembleConfig, NetworkConfig, or an iterable / mapping of them
        a mapping contributes its values (e.g. the dict of :func:`nonlinear_sweep`).

    Returns
    -------
    list of NetworkConfig
        in order, duplicates (same :attr:`NetworkConfig.key`) removed.

    Raises
    ------
    TypeError
        if an entry is neither an :class:`EnsembleConfig` nor a :class:`NetworkConfig`.
    """
    if isinstance(configs, (EnsembleConfig, NetworkConfig)):
        configs = [configs]
    elif isinstance(configs, Mapping):
        configs = list(configs.values())
    out, seen = [], set()
    for c in configs:
        if isinstance(c, EnsembleConfig):
            nets = c.networks()
        elif isinstance(c, NetworkConfig):
            nets = [c]
        else:
            raise TypeError(f"configs must hold EnsembleConfig or NetworkConfig objects; got {c!r}")
        for n in nets:
            if n.key not in seen:
                seen.add(n.key)
                out.append(n)
    return out


def plan(networks: list[NetworkConfig], max_ensemble: int) -> list[list[NetworkConfig]]:
    """Group compatible networks into ensembles of at most ``max_ensemble``, sizes as
    equal as possible, each group ordered by (g, seed); groups in order of first
    appearance.

    Parameters
    ----------
    networks : list of NetworkConfig
    max_ensemble : int
        largest group size, >= 1.

    Returns
    -------
    list of list of NetworkConfig
        each inner list shares one :attr:`NetworkConfig.group_key` and can be
        trained by :func:`~lrbook.experiments.train_networks`.
    """
    by_group: dict[tuple, list[NetworkConfig]] = {}
    for n in networks:
        by_group.setdefault(n.group_key, []).append(n)
    out = []
    for nets in by_group.values():
        nets = sorted(nets, key=lambda c: (c.g, c.seed, -1.0 if c.lr is None else c.lr))
        n_chunks = math.ceil(len(nets) / max_ensemble)
        for idx in np.array_split(np.arange(len(nets)), n_chunks):
            out.append([nets[i] for i in idx])
    return out


def _summary(cfg: NetworkConfig, s: dict[str, Any]) -> dict[str, Any]:
    return {"key": cfg.key, "task": cfg.task, "N": cfg.N, "g": cfg.g, "seed": cfg.seed,
            "epochs": cfg.epochs, **s}


def run_group(configs: list[dict], folder: str, threads: int | None = None) -> list[dict]:
    """Train one group of networks and write them to the cache at ``folder``.

    The unit of work sent to executors: plain dicts and a folder in, summaries out
    (arrays stay on disk).

    Parameters
    ----------
    configs : list of dict
        :meth:`NetworkConfig.to_dict` of networks sharing a group key.
    folder : str
        the cache folder.
    threads : int, optional
        torch threads while training.

    Returns
    -------
    list of dict
        :meth:`NetworkResult.summary` of each network, in order.
    """
    nets = [NetworkConfig.from_dict(d) for d in configs]
    parts = train_networks(nets, cache=ResultCache(folder), threads=threads)
    return [p.summary() for p in parts]


def sweep(configs: Iterable[Any] | Mapping[Any, Any] | EnsembleConfig | NetworkConfig, *,
          executor: Executor | None = None, max_ensemble: int | None = None,
          progress: bool = True, cache: str | os.PathLike | ResultCache | None = None,
          threads: int | None = None) -> SweepResult:
    """Train every network of ``configs`` that the cache lacks; resumable.

    See :doc:`/book/05_scaling`; from the shell, ``lrbook sweep``.

    Parameters
    ----------
    configs : EnsembleConfig, NetworkConfig, or an iterable / mapping of them
        the networks (ensembles are expanded; duplicates are trained once).
    executor : concurrent.futures.Executor, optional
        where groups run; default: in this process, one after the other. E.g.
        ``distributed.Client(...).get_executor()`` or a ``ProcessPoolExecutor``.
    max_ensemble : int, optional
        at most this many networks per ensemble (default :data:`DEFAULT_MAX_ENSEMBLE`).
    progress : bool
        tqdm bar over networks (cached ones are counted at the start).
    cache : str, PathLike or ResultCache, optional
        the cache folder, shared with the workers; default :func:`lrbook.config.cache_dir`.
    threads : int, optional
        torch threads per group (pass 1 when several workers share the cores).

    Returns
    -------
    SweepResult
        status and summary of every network; load the arrays with
        :func:`lrbook.experiments.run_ensemble` (which then reads the cache).

    Raises
    ------
    ValueError, TypeError
        for an argument out of range, or a config entry of the wrong type.
    """
    t0 = time.perf_counter()
    max_ensemble = V.integer("max_ensemble", max_ensemble if max_ensemble is not None
                             else DEFAULT_MAX_ENSEMBLE, lo=1)
    if threads is not None:
        threads = V.integer("threads", threads, lo=1)
    if executor is not None and not isinstance(executor, Executor) \
            and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor; got {executor!r}")
    store = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    nets = expand(configs)
    store.clean_temp()
    summaries: dict[str, dict[str, Any]] = {}
    status: dict[str, str] = {}
    for n in nets:
        found = store.load(n)
        if found is not None:
            summaries[n.key], status[n.key] = _summary(n, found.summary()), "cached"
    groups = plan([n for n in nets if n.key not in status], max_ensemble)

    from tqdm.auto import tqdm
    bar = tqdm(total=len(nets), initial=len(status), desc="sweep", unit="net", disable=not progress)
    folder = str(store.root)
    try:
        if executor is None:
            for grp in groups:
                _record(grp, run_group([c.to_dict() for c in grp], folder, threads), summaries, status, bar)
        else:
            futures = {executor.submit(run_group, [c.to_dict() for c in grp], folder, threads): grp
                       for grp in groups}
            try:
                for fut in as_completed(futures):
                    _record(futures[fut], fut.result(), summaries, status, bar)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        bar.close()
    return SweepResult(networks=nets, status=[status[n.key] for n in nets],
                       summaries=[summaries[n.key] for n in nets], cache=folder,
                       groups=[len(g) for g in groups], seconds=time.perf_counter() - t0)


def _record(grp, sums, summaries, status, bar) -> None:
    for c, s in zip(grp, sums):
        summaries[c.key], status[c.key] = _summary(c, s), "trained"
    bar.update(len(grp))
