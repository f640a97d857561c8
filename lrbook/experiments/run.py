"""Cached ensemble runs: train only the networks the cache lacks, in one ensemble.

Used by the chapters :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..factors import lowrank_lr
from ..training import TrainResult, default_lr, model_for, train
from .cache import NetworkResult, ResultCache, split_result
from .specs import EnsembleConfig, NetworkConfig


class DivergenceWarning(RuntimeWarning):
    """Networks of a run diverged: they are stored as diverged (epoch, last finite
    weights) beside the healthy ones, which trained to the end."""


def diverged_lines(items: Sequence[tuple[NetworkConfig, int]]) -> list[str]:
    """``"flipflop N=16 g=6 seed=0: diverged at epoch 0"`` for each (config, epoch)."""
    return [f"{c.task} N={c.N} g={c.g:g} seed={c.seed}: diverged at epoch {e}" for c, e in items]


@dataclass
class EnsembleResult(TrainResult):
    """A :class:`~lrbook.training.TrainResult` stacked over the K networks of a config.

    All the arrays, properties (``dW``, ``L0``, ``final_loss``, ``diverged``) and
    :meth:`model` of :class:`~lrbook.training.TrainResult` apply, network ``k`` being
    ``networks[k]``. Weights are float32; ``seconds`` is the training time of these
    networks, whenever they were trained (each network is charged an equal share of
    its ensemble's time).

    Used by the chapters :doc:`/book/02_training`, :doc:`/book/04_low_rank`,
    :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.

    Attributes
    ----------
    ensemble : EnsembleConfig or None
        the config, when the result comes from :func:`run_ensemble`.
    networks : tuple of NetworkConfig
        one per network, in order.
    from_cache : ndarray of bool, shape (K,)
        True for networks read from the cache, False for those trained by this call.
    """

    ensemble: EnsembleConfig | None = None
    networks: tuple[NetworkConfig, ...] = ()
    from_cache: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def keys(self) -> list[str]:
        """Cache key of each network."""
        return [c.key for c in self.networks]

    @property
    def n_trained(self) -> int:
        """How many networks this call trained (0 when all came from the cache)."""
        return int(np.sum(~self.from_cache))

    def part(self, k: int) -> TrainResult:
        """Network ``k`` alone: the same as :meth:`~lrbook.training.TrainResult.network`."""
        return self.network(k)


def stack(parts: Sequence[NetworkResult], ensemble: EnsembleConfig | None = None) -> EnsembleResult:
    """Stack per-network results (same task, N, epochs, training rule) into one.

    This is how :func:`run_ensemble` assembles its result (chapters
    :doc:`/book/05_randomness`, :doc:`/book/06_scaling`).

    Parameters
    ----------
    parts : sequence of NetworkResult
        one-network results whose ``result.config`` (task, N, dt, phi, optimizer,
        batch size, epochs, trained, ...) and weight shapes are equal.
    ensemble : EnsembleConfig, optional
        stored as :attr:`EnsembleResult.ensemble`.

    Returns
    -------
    EnsembleResult
        network k is ``parts[k]``; arrays concatenated along the network axis,
        ``seconds`` the sum of the parts', ``from_cache`` from each part.
        Snapshots are kept only if every part has them.

    Raises
    ------
    ValueError
        if ``parts`` is empty or the networks cannot be stacked (different shapes or
        training configs).
    """
    if not parts:
        raise ValueError("parts must hold at least one network result; got none")
    rs = [p.result for p in parts]
    base = rs[0].config
    for p, r in zip(parts, rs):
        if r.config != base or r.W.shape != rs[0].W.shape:
            raise ValueError(f"parts must share task, N and training config; network "
                             f"(g={p.config.g}, seed={p.config.seed}) differs from the first")
    cat = lambda name, axis=0: np.concatenate([getattr(r, name) for r in rs], axis=axis)
    snaps = None
    if all(r.snapshots is not None for r in rs):
        snaps = cat("snapshots", axis=1)
    low = [r.rank is not None for r in rs]
    if any(low) and not all(low):
        raise ValueError("parts must all be trained with a rank, or all without")
    factors: dict[str, Any] = {}
    if all(low):
        R = max(int(r.rank[0]) for r in rs)                        # type: ignore[index]
        pad = lambda a: np.pad(a, ((0, 0), (0, 0), (0, R - a.shape[2])))  # noqa: E731
        factors = {"rank": cat("rank"), "lr_factors": cat("lr_factors"),
                   "U": np.concatenate([pad(r.U) for r in rs]), "V": np.concatenate([pad(r.V) for r in rs])}
    return EnsembleResult(
        **factors,
        loss=cat("loss", 1), grad_norm=cat("grad_norm", 1), W0=cat("W0"), W=cat("W"),
        W_in0=cat("W_in0"), W_in=cat("W_in"), W_out0=cat("W_out0"), W_out=cat("W_out"),
        g=cat("g"), seeds=cat("seeds"), lr=cat("lr"), config=base,
        seconds=float(sum(r.seconds for r in rs)), diverged_epoch=cat("diverged_epoch"),
        snapshots=snaps,
        snapshot_epochs=rs[0].snapshot_epochs if snaps is not None else np.zeros(0, dtype=np.int64),
        ensemble=ensemble, networks=tuple(p.config for p in parts),
        from_cache=np.array([p.from_cache for p in parts], dtype=bool))


def as_cache(cache: bool | str | os.PathLike | ResultCache | None) -> ResultCache | None:
    """``True`` -> the default cache, ``False``/``None`` -> no cache, a path -> that folder.

    Parameters
    ----------
    cache : bool, str, PathLike, ResultCache or None

    Returns
    -------
    ResultCache or None
        a :class:`ResultCache` is returned as is.

    Raises
    ------
    TypeError
        for any other type.
    ValueError
        for an empty path (``""`` would silently mean the current folder).
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return ResultCache()
    if isinstance(cache, ResultCache):
        return cache
    if isinstance(cache, (str, os.PathLike)) and not isinstance(cache, bytes):
        if not str(os.fspath(cache)).strip():
            raise ValueError(f"cache must be a non-empty folder path, True, False or a ResultCache; got {cache!r}")
        return ResultCache(cache)
    raise TypeError(f"cache must be a bool, a folder or a ResultCache; got {cache!r}")


def train_networks(configs: Sequence[NetworkConfig], *, cache: ResultCache | None = None,
                   progress: bool = False, threads: int | None = None) -> list[NetworkResult]:
    """Train compatible networks together in ONE ensemble, and store each result.

    Diverging networks do not stop the others (``on_divergence="stop"``): their
    divergence epoch and last finite weights are recorded and stored like any
    result, beside the healthy networks, which train to the end. The networks of an
    ensemble train in lockstep and all finish together, so each is written as soon
    as the ensemble finishes; an ensemble interrupted before that writes nothing.

    Called by :func:`run_ensemble` and :func:`~lrbook.experiments.sweep`
    (:doc:`/book/06_scaling`).

    Parameters
    ----------
    configs : sequence of NetworkConfig
        all with the same :attr:`NetworkConfig.group_key` (task, N, epochs, optimizer,
        batch size, trained weights, phi, snapshots); ``g``, ``seed`` and ``lr`` may differ.
    cache : ResultCache, optional
        where each result is written atomically as soon as the ensemble finishes;
        checked (:meth:`ResultCache.check`) before training: a read-only cache is read
        but not written, with a warning.
    progress : bool
        tqdm bar over epochs.
    threads : int, optional
        torch threads while training (see :func:`lrbook.training.train`).

    Returns
    -------
    list of NetworkResult
        in the order of ``configs`` (empty for no configs); ``from_cache`` False.

    Raises
    ------
    TypeError
        if an entry is not a :class:`NetworkConfig`.
    ValueError
        if the configs do not share a group key.
    """
    configs = list(configs)
    if not configs:
        return []
    if not all(isinstance(c, NetworkConfig) for c in configs):
        raise TypeError("configs must be NetworkConfig objects")
    gk = configs[0].group_key
    for c in configs[1:]:
        if c.group_key != gk:
            raise ValueError("configs must share task, N, epochs, optimizer, batch_size, trained, "
                             f"phi and snapshot_every to train together; {c} differs from {configs[0]}")
    if cache is not None:
        cache.check()                                  # before training, not after
    c0 = configs[0]
    task = c0.make_task()
    model = model_for(task, c0.N, [c.g for c in configs], [c.seed for c in configs],
                      phi=c0.phi, trained=c0.trained)
    lrs = [c.lr if c.lr is not None else float(default_lr(task, c0.N, c.g)[0]) for c in configs]
    low: dict[str, Any] = {}
    if c0.rank is not None:
        low["rank"] = [c.rank for c in configs]
        low["lr_factors"] = [c.lr_factors if c.lr_factors is not None else
                             float(lowrank_lr(c0.N, int(c.rank or 0), lr)) for c, lr in zip(configs, lrs)]
    result = train(model, task, c0.epochs, lr=lrs, optimizer=c0.optimizer,
                   batch_size=c0.batch_size, snapshot_every=c0.snapshot_every,
                   on_divergence="stop", progress=progress, threads=threads, **low)
    parts = split_result(result, configs)
    if cache is not None:
        for p in parts:
            cache.save(p)
    return parts


def run_ensemble(config: EnsembleConfig, *, cache: bool | str | os.PathLike | ResultCache = True,
                 progress: bool = False, threads: int | None = None) -> EnsembleResult:
    """Train (or load) the networks of ``config``; only the missing ones are trained.

    Networks found in the cache (verified: version, config, checksum) are read;
    the others are trained together in one ensemble with
    :func:`lrbook.training.train` (``on_divergence="stop"``), and each is written to
    the cache atomically as soon as that ensemble finishes. Running the same config
    twice trains nothing the second time and returns bit-identical arrays.

    A network that diverges does not take the others down: it is stored as
    diverged (``diverged_epoch``, last finite weights) beside the healthy ones, a
    :class:`DivergenceWarning` names it, and a second run reads all of them from the
    cache. The cache folder is checked before training (:meth:`ResultCache.check`).

    Used by the chapters :doc:`/book/02_training`, :doc:`/book/04_low_rank`,
    :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.

    Parameters
    ----------
    config : EnsembleConfig
    cache : bool, str, PathLike or ResultCache
        True (default): :func:`lrbook.config.cache_dir`; False: train everything and
        write nothing; a folder or a :class:`ResultCache`: use it.
    progress : bool
        tqdm bar over epochs while training.
    threads : int, optional
        torch threads while training.

    Returns
    -------
    EnsembleResult
        networks in the config's order (g-major); ``from_cache`` tells which were read.

    Examples
    --------
    >>> cfg = EnsembleConfig("flipflop", N=32, g=(0.0, 0.9), seeds=(0,), epochs=20)
    >>> res = run_ensemble(cfg, cache=False)
    >>> res.W.shape, res.loss.shape
    ((2, 32, 32), (20, 2))
    """
    if not isinstance(config, EnsembleConfig):
        raise TypeError(f"config must be an EnsembleConfig; got {type(config).__name__}")
    return stack(run_networks(config.networks(), cache=cache, progress=progress, threads=threads),
                 ensemble=config)


def run_networks(configs: Sequence[NetworkConfig], *,
                 cache: bool | str | os.PathLike | ResultCache = True, progress: bool = False,
                 threads: int | None = None) -> list[NetworkResult]:
    """Load or train any networks: each group of compatible ones in one ensemble.

    Like :func:`run_ensemble`, for configs that one :class:`EnsembleConfig` cannot
    describe (e.g. networks of different ranks, see :doc:`/book/13_beyond`): the
    networks found in the cache are read, the others are grouped by
    :attr:`NetworkConfig.group_key` and each group trains in one ensemble
    (:func:`train_networks`), written to the cache as soon as it finishes.

    Parameters
    ----------
    configs : sequence of NetworkConfig
    cache : bool, str, PathLike or ResultCache
        as in :func:`run_ensemble`.
    progress : bool
    threads : int, optional

    Returns
    -------
    list of NetworkResult
        in the order of ``configs``.
    """
    configs = list(configs)
    if not all(isinstance(c, NetworkConfig) for c in configs):
        raise TypeError("configs must be NetworkConfig objects")
    store = as_cache(cache)
    if store is not None:
        store.check()
    parts: list[NetworkResult | None] = [store.load(c) if store is not None else None for c in configs]
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(parts):
        if p is None:
            groups.setdefault(configs[i].group_key, []).append(i)
    bad: list[tuple[NetworkConfig, int]] = []
    for idx in groups.values():
        fresh = train_networks([configs[i] for i in idx], cache=store, progress=progress, threads=threads)
        for i, p in zip(idx, fresh):
            parts[i] = p
        bad += [(p.config, int(p.result.diverged_epoch[0])) for p in fresh if p.result.diverged_epoch[0] >= 0]
    if bad:
        warnings.warn(f"{len(bad)} of {len(configs)} networks diverged (stored as diverged; the others "
                      f"trained to the end): {'; '.join(diverged_lines(bad))}", DivergenceWarning,
                      stacklevel=2)
    return parts  # type: ignore[return-value]


def summaries(result: EnsembleResult) -> list[dict[str, Any]]:
    """One summary dict per network (see :meth:`NetworkResult.summary`), with g and seed.

    See :doc:`/book/02_training` (convergence) and :doc:`/book/05_randomness` (norms).

    Parameters
    ----------
    result : EnsembleResult
        e.g. from :func:`run_ensemble`; needs its ``networks``.

    Returns
    -------
    list of dict
        per network, in order: ``g``, ``seed``, ``key`` (cache key), ``L0``,
        ``final_loss``, ``dW_norm``, ``convergence_epoch`` (first epoch with loss
        < 0.05 L0, -1 if never) and ``diverged_epoch`` (-1 if not).
    """
    out = []
    for k, cfg in enumerate(result.networks):
        nr = NetworkResult(cfg, result.network(k))
        out.append({"g": cfg.g, "seed": cfg.seed, "key": cfg.key, **nr.summary()})
    return out
