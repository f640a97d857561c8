r"""Test-batch evaluations of cached networks, cached next to them.

:func:`lrbook.analysis.evaluate_result` measures, for every network, the test loss of
:math:`W_0 + \mathrm{SVD}_R(\Delta W)` for R = 0..25, of shuffled :math:`W_0 + \Delta W`,
of the initial and of the trained network: 28 and more forward passes of 512 trials,
which costs as much as a few hundred training epochs. :func:`evaluate_cached` stores
each network's losses in the :class:`~lrbook.experiments.ResultCache` folder::

    <cache>/
        evaluations/
            <key>.npz     one network's evaluation (key: evaluation_key)

keyed by the network's cache key, the task, the ranks, the number of shuffles and the
test batch size (and, like the networks, lrbook's version). Files are written
atomically and verified when read (version, key, array shapes, sha256 of the arrays);
a file failing a check is reported with a :class:`~lrbook.experiments.CacheWarning`,
moved to ``corrupt/`` and recomputed. The functional rank is not stored: it is
recomputed from the stored losses for the requested threshold.

Used by the chapters :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from .. import _validate as V
from .._version import __version__
from ..analysis import EVAL_BATCH, Evaluation, Report, evaluate_result, functional_rank, reports_from_result
from ..analysis.evaluate import MAX_BYTES
from ..analysis.measures import THRESHOLD
from ..analysis.truncation import DEFAULT_RANKS, ranks_for
from ..tasks import Task
from .cache import CacheCorruptError, ResultCache, _atomic_write, payload_sha256
from .run import EnsembleResult, as_cache
from .specs import SCHEMA_VERSION, _key

#: Arrays stored per network (float64 losses; ``ranks`` int64, R = 0 always included).
EVAL_ARRAYS = ("ranks", "truncation_losses", "shuffle_losses", "L0", "loss_trained")


def evaluation_key(network_key: str, task: Task, ranks: Iterable[int], n_shuffles: int, batch_size: int) -> str:
    """Cache key of one network's evaluation.

    Parameters
    ----------
    network_key : str
        the network's :attr:`NetworkConfig.key`.
    task : Task
        the task whose test batch is used.
    ranks : iterable of int
        the truncation ranks measured (with 0).
    n_shuffles, batch_size : int

    Returns
    -------
    str
        64 lowercase hex characters.
    """
    body = {"network": network_key, "task": task.params(), "ranks": [int(r) for r in ranks],
            "n_shuffles": int(n_shuffles), "batch_size": int(batch_size)}
    return _key("evaluation", json.loads(json.dumps(body)))


def _path(cache: ResultCache, key: str) -> Path:
    return cache.root / "evaluations" / f"{key}.npz"


def _save(cache: ResultCache, key: str, arrays: dict[str, np.ndarray]) -> None:
    if cache.read_only:
        return
    meta = {"schema": SCHEMA_VERSION, "lrbook_version": __version__, "key": key,
            "arrays": {k: [v.dtype.str, list(v.shape)] for k, v in arrays.items()},
            "sha256": payload_sha256(arrays)}
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    path = _path(cache, key)
    _atomic_write(path, lambda f: np.savez(f, meta=blob, **arrays), path.parent, tag=key)  # type: ignore[arg-type]


def _read(path: Path, key: str, n_ranks: int, n_shuffles: int) -> dict[str, np.ndarray]:
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        if "meta" not in z.files:
            raise CacheCorruptError("no metadata")
        arrays = {n: z[n] for n in z.files if n != "meta"}
        meta = json.loads(z["meta"].tobytes().decode())
    if meta.get("schema") != SCHEMA_VERSION or meta.get("lrbook_version") != __version__:
        raise CacheCorruptError(f"schema/version {meta.get('schema')}/{meta.get('lrbook_version')} != "
                                f"{SCHEMA_VERSION}/{__version__}")
    if meta.get("key") != key:
        raise CacheCorruptError("key does not match the file name")
    shapes = {"ranks": (n_ranks,), "truncation_losses": (n_ranks,), "shuffle_losses": (n_shuffles,),
              "L0": (), "loss_trained": ()}
    if set(arrays) != set(shapes):
        raise CacheCorruptError(f"arrays {sorted(arrays)} != {sorted(shapes)}")
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise CacheCorruptError(f"{name} has shape {arrays[name].shape}, expected {shape}")
    if payload_sha256(arrays) != meta.get("sha256"):
        raise CacheCorruptError("sha256 checksum of the arrays does not match")
    return arrays


def evaluate_cached(result: EnsembleResult, task: Task, *, ranks: Iterable[int] = DEFAULT_RANKS,
                    n_shuffles: int = 1, threshold: float = THRESHOLD, batch_size: int = EVAL_BATCH,
                    max_bytes: int = MAX_BYTES, cache: Any = True) -> Evaluation:
    """:func:`lrbook.analysis.evaluate_result` of every network, read from the cache where stored.

    Networks whose evaluation is missing are evaluated together in one batched pass
    and stored; the others are read back. The numbers are those of
    :func:`~lrbook.analysis.evaluate_result` on the whole ensemble (to float rounding of
    the batched products). See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    result : EnsembleResult
        from :func:`run_ensemble` or :func:`sweep` (its networks have cache keys).
    task : Task
        the task the networks were trained on.
    ranks, n_shuffles, threshold, batch_size, max_bytes
        as in :func:`~lrbook.analysis.evaluate_result`.
    cache : bool, str, PathLike or ResultCache
        ``True``: the default cache; a folder or a :class:`ResultCache`; ``False``: no
        cache (plain :func:`~lrbook.analysis.evaluate_result`).

    Returns
    -------
    Evaluation
        of networks 0..K-1.

    Raises
    ------
    TypeError
        if ``result`` is not an :class:`EnsembleResult` with one config per network.
    """
    if not isinstance(result, EnsembleResult) or len(result.networks) != result.K:
        raise TypeError(f"result must be an EnsembleResult of run_ensemble or sweep (with a config per "
                        f"network); got {type(result).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be an lrbook Task; got {type(task).__name__}")
    store = as_cache(cache)
    kw: dict[str, Any] = dict(n_shuffles=n_shuffles, threshold=threshold, batch_size=batch_size,
                              max_bytes=max_bytes)
    if store is None:
        return evaluate_result(result, task, ranks=ranks, **kw)
    store.check()                                       # before evaluating anything
    N, K = result.N, result.K
    rk = ranks_for(ranks, N)
    rk_eval = rk if 0 in rk else np.r_[0, rk]
    n_shuffles = V.integer("n_shuffles", n_shuffles, lo=0)
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    B = V.integer("batch_size", batch_size, lo=1)
    B_used = 1 if task.deterministic else B
    keys = [evaluation_key(k, task, rk_eval, n_shuffles, B_used) for k in result.keys]
    found = [store.read_verified(_path(store, key), partial(_read, key=key, n_ranks=rk_eval.size,
                                                            n_shuffles=n_shuffles)) for key in keys]
    missing = [k for k, f in enumerate(found) if f is None]
    if missing:
        ev = evaluate_result(result, task, ranks=rk_eval, networks=missing, **kw)
        for j, k in enumerate(missing):
            arrays = {"ranks": rk_eval.astype(np.int64), "truncation_losses": ev.truncation_losses[j].copy(),
                      "shuffle_losses": ev.shuffle_losses[j].copy(), "L0": np.asarray(ev.L0[j]),
                      "loss_trained": np.asarray(ev.loss_trained[j])}
            _save(store, keys[k], arrays)
            found[k] = arrays
    rows = [f for f in found if f is not None]
    trunc = np.stack([f["truncation_losses"] for f in rows])
    fr = np.ma.atleast_1d(cast(np.ma.MaskedArray, functional_rank(trunc, rk_eval, threshold=threshold)))
    if rk_eval.size != rk.size:
        trunc = trunc[:, 1:]
    return Evaluation(networks=np.arange(K), ranks=rk, truncation_losses=trunc, functional_rank=fr,
                      shuffle_losses=np.stack([f["shuffle_losses"] for f in rows]).reshape(K, n_shuffles),
                      L0=np.array([float(f["L0"]) for f in rows]),
                      loss_trained=np.array([float(f["loss_trained"]) for f in rows]),
                      threshold=threshold, batch_size=B_used)


def cached_reports(result: EnsembleResult, task: Task, *, ranks: Iterable[int] = DEFAULT_RANKS,
                   n_shuffles: int = 1, threshold: float = THRESHOLD, r_align: int | None = None,
                   batch_size: int = EVAL_BATCH, cache: Any = True) -> list[Report]:
    """:func:`lrbook.analysis.reports_from_result` with the evaluation of :func:`evaluate_cached`.

    See :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Parameters
    ----------
    result : EnsembleResult
    task : Task
    ranks, n_shuffles, threshold, r_align, batch_size
        as in :func:`~lrbook.analysis.reports_from_result`.
    cache : bool, str, PathLike or ResultCache
        see :func:`evaluate_cached`.

    Returns
    -------
    list of Report
        one per network.
    """
    ev = evaluate_cached(result, task, ranks=ranks, n_shuffles=n_shuffles, threshold=threshold,
                         batch_size=batch_size, cache=cache)
    return reports_from_result(result, task, threshold=threshold, r_align=r_align, evaluation=ev)
