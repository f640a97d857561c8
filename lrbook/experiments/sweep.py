"""Sweeps over many networks: grouped into ensembles, resumable, on any executor.

A sweep takes network configs (tasks x g x seeds x N ...), skips those already in
the cache, groups the others into ensembles of compatible networks (same task, N,
epochs, optimizer, batch size, trained weights, phi, snapshots; ``g``, ``seed`` and
``lr`` may differ) of at most ``max_ensemble`` networks, and trains each group with
:func:`lrbook.experiments.run.train_networks`, which writes every network of the
group atomically as soon as the group finishes. Interrupt it at any time: every
network of every finished group is kept, and the next call trains only the rest.

The unit of resumption is the group, not the network: the networks of a group
train in lockstep as one batched ensemble (one update of all of them per epoch), so
they finish together, and a group interrupted part-way has no finished network
and is trained again from its first epoch by the next call. At most
``max_ensemble`` networks' worth of training is lost by an interruption; lower
``max_ensemble`` (``--max-ensemble``) to lose less, at some cost in speed.

A network that diverges does not stop its group: it is stored as diverged (its
``diverged_epoch`` and last finite weights) beside the healthy networks, reported
in :attr:`SweepResult.diverged` (and by a :class:`~lrbook.experiments.DivergenceWarning`
when trained now), and never retrained.

Groups run in-process one after the other by default, or on any
:class:`concurrent.futures.Executor`: a process pool, or a Dask cluster through
``distributed.Client(...).get_executor()``. Workers receive the cache folder
explicitly and write to it themselves, so it must be shared between them (the
same machine, or a shared file system).

Used by the chapter :doc:`/book/06_scaling` and the command ``lrbook sweep``.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _memory
from .. import _validate as V
from ..training import default_optimizer
from .cache import ResultCache
from .run import DivergenceWarning, diverged_lines, train_networks
from .specs import EnsembleConfig, NetworkConfig

#: Networks per ensemble when ``max_ensemble`` is not given (memory stays in the
#: hundreds of MB at N = 256; ensembles of K >= 8 use the CPU well).
DEFAULT_MAX_ENSEMBLE = 32


@dataclass
class SweepResult:
    """What a sweep did.

    See :doc:`/book/06_scaling`.

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

    @property
    def diverged(self) -> list[dict[str, Any]]:
        """Summaries of the networks that diverged (trained now or earlier), with their status."""
        return [{**s, "status": st} for s, st in zip(self.summaries, self.status) if s["diverged_epoch"] >= 0]

    def diverged_report(self) -> list[str]:
        """One line per diverged network: task, N, g, seed and epoch of divergence."""
        return diverged_lines([(c, s["diverged_epoch"]) for c, s in zip(self.networks, self.summaries)
                               if s["diverged_epoch"] >= 0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN losses become None).

        Returns
        -------
        dict
            ``cache``, ``seconds``, ``n_networks``, ``n_trained``, ``n_cached``,
            ``n_diverged``, ``diverged`` (the keys of the diverged networks), ``groups``
            and ``networks`` (each summary with its ``status``).
        """
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        return {
            "cache": self.cache, "seconds": self.seconds, "n_networks": len(self.networks),
            "n_trained": self.n_trained, "n_cached": self.n_cached, "n_diverged": self.n_diverged,
            "diverged": [s["key"] for s in self.diverged],
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


def group_memory(group: list[NetworkConfig]) -> dict[str, int]:
    """Bytes that training one group (one ensemble) needs, by part, before it starts.

    Parameters
    ----------
    group : list of NetworkConfig
        networks sharing a group key (as planned by :func:`plan`).

    Returns
    -------
    dict of str to int
        see :func:`lrbook.training.train_memory`, plus the model's weights.
    """
    c, K = group[0], len(group)
    task = c.make_task()
    assert c.batch_size is not None                     # resolved by NetworkConfig
    n_snap = 0 if c.snapshot_every is None else c.epochs // c.snapshot_every + 2
    parts = _memory.training_bytes(c.N, K, c.batch_size, task.n_steps, task.n_in, task.n_out, 4,
                                   epochs=c.epochs, n_snapshots=n_snap,
                                   adam=(c.optimizer or default_optimizer(task)) == "adam")
    parts["weights"] += _memory.weights_bytes(c.N, K, task.n_in, task.n_out, 4)["weights"]
    return parts


def _summary(cfg: NetworkConfig, s: dict[str, Any]) -> dict[str, Any]:
    return {"key": cfg.key, "task": cfg.task, "N": cfg.N, "g": cfg.g, "seed": cfg.seed,
            "epochs": cfg.epochs, **s}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it, else
    ``os.cpu_count()``; at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A pool of worker processes for :func:`sweep` and the studies that take an executor.

    Small networks train faster on several one-thread processes than on the threads of
    one process (each Python step of one process waits for the others'), so the
    chapters train their ensembles on this pool with ``sweep(..., executor=pool,
    threads=1)``; see :doc:`/book/02_training`. The workers are started with
    ``spawn``, not ``fork``: a forked child of a process whose torch threads have
    started can hang. Every network draws from its own seed, so the results do not
    depend on the number of workers.

    Parameters
    ----------
    workers : int, optional
        worker processes, 1..1024; default: the cores this process may use
        (:func:`usable_cores`).

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        use it as a context manager (``with process_pool() as pool: ...``) so that its
        processes end with the block.

    Raises
    ------
    ValueError
        if ``workers`` is not an integer in 1..1024 (before any process starts).
    """
    import multiprocessing

    n = usable_cores() if workers is None else V.integer("workers", workers, lo=1, hi=1024)
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))


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

    See :doc:`/book/06_scaling`; from the shell, ``lrbook sweep``.

    Parameters
    ----------
    configs : EnsembleConfig, NetworkConfig, or an iterable / mapping of them
        the networks (ensembles are expanded; duplicates are trained once).
    executor : concurrent.futures.Executor, optional
        where groups run; default: in this process, one after the other. E.g.
        ``distributed.Client(...).get_executor()`` or a ``ProcessPoolExecutor``.
    max_ensemble : int, optional
        at most this many networks per ensemble, 1..10000 (default
        :data:`DEFAULT_MAX_ENSEMBLE`); also the most networks an interruption can cost.
    progress : bool
        tqdm bar over networks (cached ones are counted at the start).
    cache : str, PathLike or ResultCache, optional
        the cache folder (a non-empty path), shared with the workers; default
        :func:`lrbook.config.cache_dir`.
    threads : int, optional
        torch threads per group, 1..1024 (pass 1 when several workers share the cores).

    Returns
    -------
    SweepResult
        status and summary of every network; load the arrays with
        :func:`lrbook.experiments.run_ensemble` (which then reads the cache).

    Raises
    ------
    ValueError, TypeError
        for an argument out of range, a config entry of the wrong type, a cache
        folder that cannot be used (:meth:`ResultCache.check`; a read-only one is only
        read, with a warning), or, without an executor, an ensemble that would not
        fit in the available memory: all before anything is trained.

    Warns
    -----
    DivergenceWarning
        naming the networks that diverged in this call (they are stored as diverged).
    """
    t0 = time.perf_counter()
    max_ensemble = V.integer("max_ensemble", max_ensemble if max_ensemble is not None
                             else DEFAULT_MAX_ENSEMBLE, lo=1)
    if max_ensemble > V.MAX_NETWORKS:
        raise ValueError(f"max_ensemble must be an integer <= {V.MAX_NETWORKS}; got {max_ensemble}")
    if threads is not None:
        threads = V.integer("threads", threads, lo=1, hi=V.MAX_THREADS)
    if executor is not None and not isinstance(executor, Executor) \
            and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor; got {executor!r}")
    if isinstance(cache, (str, os.PathLike)) and not str(os.fspath(cache)).strip():
        raise ValueError(f"cache must be a non-empty folder path (or None for the default); got {cache!r}")
    store = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    nets = expand(configs)
    store.check()                                       # a cache that cannot be used: refuse now
    store.clean_temp()
    summaries: dict[str, dict[str, Any]] = {}
    status: dict[str, str] = {}
    for n in nets:
        found = store.load(n)
        if found is not None:
            summaries[n.key], status[n.key] = _summary(n, found.summary()), "cached"
    groups = plan([n for n in nets if n.key not in status], max_ensemble)
    if executor is None and groups:                     # the workers of an executor may be elsewhere
        big = max(groups, key=lambda g: sum(group_memory(g).values()))
        c = big[0]
        _memory.check(group_memory(big), {"N": c.N, "K": len(big), "batch_size": c.batch_size,
                                          "T": c.make_task().n_steps, "epochs": c.epochs,
                                          "snapshot_every": c.snapshot_every},
                      names={"K": "max_ensemble (networks per ensemble)"})

    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(nets), initial=len(status), desc="sweep", unit="net")
    else:                                  # no tqdm import: in a notebook without ipywidgets
        bar = _NoBar()                     # it warns on stderr even when disabled
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
    result = SweepResult(networks=nets, status=[status[n.key] for n in nets],
                         summaries=[summaries[n.key] for n in nets], cache=folder,
                         groups=[len(g) for g in groups], seconds=time.perf_counter() - t0)
    fresh = [(n, summaries[n.key]["diverged_epoch"]) for n in nets
             if status[n.key] == "trained" and summaries[n.key]["diverged_epoch"] >= 0]
    if fresh:
        warnings.warn(f"{len(fresh)} of {len(nets)} networks diverged (stored as diverged; the others "
                      f"trained to the end): {'; '.join(diverged_lines(fresh))}", DivergenceWarning,
                      stacklevel=2)
    return result


class _NoBar:
    """The part of a tqdm bar that a sweep uses, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _record(grp, sums, summaries, status, bar) -> None:
    for c, s in zip(grp, sums):
        summaries[c.key], status[c.key] = _summary(c, s), "trained"
    bar.update(len(grp))
