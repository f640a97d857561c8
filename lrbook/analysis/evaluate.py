r"""Losses of trained lrbook networks with replaced recurrent weights, on test trials.

Every evaluation uses a fresh **test batch** of 512 trials per network, drawn from
``rng_for(seed, STREAM_EVAL)`` of that network's seed: reproducible, and
independent of the training trials (stream ``STREAM_DATA``). Deterministic tasks
(fixed point, cosine) have one distinct trial, so their test batch holds 1 trial
(the loss is the same as with 512 copies).

Many candidate matrices (truncations, shuffles) of many networks are evaluated
together as one large ensemble of independent networks, the way training runs them
(:func:`lrbook.training.train`): in chunks of a few networks, one batched product per
time step each (:func:`lrbook.engine.forward`, without keeping the trajectory), the
chunks spread over the cores (one core each, :func:`lrbook.training.default_workers`)
and held within ``max_bytes`` of memory. See :doc:`/book/04_low_rank` and
:doc:`/book/05_randomness`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import torch

from .. import _validate as V
from .. import engine
from .._threads import flush_denormals, one_core_worker, torch_threads
from ..models import RNN
from ..seeding import STREAM_EVAL, rng_for
from ..tasks import Batch, Task
from ..training import TrainResult, default_workers
from ._arrays import jsonable, to_numpy
from .shuffle import shuffle_entries, shuffle_ratio
from .truncation import DEFAULT_RANKS, from_svd, functional_rank, ranks_for

#: Trials per test batch (the paper's 512).
EVAL_BATCH = 512
#: Default memory budget of one evaluation chunk (bytes).
MAX_BYTES = 256 * 2 ** 20


def eval_batch(task: Task, seeds: int | Sequence[int] | np.ndarray, batch_size: int = EVAL_BATCH) -> Batch:
    """The test trials of each network, stacked.

    See :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Parameters
    ----------
    task : Task
    seeds : int or sequence of K ints
        network seeds; network k's trials come from ``rng_for(seeds[k], STREAM_EVAL)``.
    batch_size : int
        trials per network, >= 1 (1 is used for deterministic tasks).

    Returns
    -------
    Batch
        ``u`` (K, B, T, n_in), ``target`` and ``mask`` (K, B, T, n_out), float32.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an lrbook Task; got {type(task).__name__}")
    batch_size = V.integer("batch_size", batch_size, lo=1)
    seed_list = [V.integer(f"seeds[{i}]", s, lo=0) for i, s in enumerate(np.asarray(seeds).ravel())]
    B = 1 if task.deterministic else batch_size
    return task.batches(B, [rng_for(s, STREAM_EVAL) for s in seed_list])


def _check_task(model: RNN, task: Task) -> None:
    if not isinstance(task, Task):
        raise TypeError(f"task must be an lrbook Task; got {type(task).__name__}")
    if task.n_in != model.n_in or task.n_out != model.n_out or abs(task.dt - model.dt) > 1e-12:
        raise ValueError(f"task {task.name} (n_in={task.n_in}, n_out={task.n_out}, dt={task.dt}) does not "
                         f"match the networks (n_in={model.n_in}, n_out={model.n_out}, dt={model.dt})")


Pair = tuple[int, Callable[[], np.ndarray], Any, Any]

#: Trials per batched product that an evaluation chunk aims at on CPU (B = 512: 2 networks).
CHUNK_TRIALS = 1024


def _pair_bytes(model: RNN, B: int, T: int) -> int:
    """Bytes that one network of an evaluation chunk holds while it runs."""
    N, n_in, n_out, item = model.N, model.n_in, model.n_out, model.W.element_size()
    steps = 2 * B * (N + n_in) + 6 * B * N + B * (N + n_out)            # two steps of rates, scratch
    blocks = (N + n_in) * (N + n_out) + (N + n_out) * N                  # the block matrices
    trials = T * B * (n_in + 6 * n_out) + (2 * T * B * N if model.sigma > 0 else 0)   # + outputs, noise
    weights = 4 * (N * N + N * (n_in + n_out))                           # copies of the weights
    return item * (steps + blocks + trials + weights) + 2 * 8 * N * N    # + float64 candidates


def eval_chunk(n: int, B: int, workers: int = 1, device: str | torch.device = "cpu",
               fit: int | None = None) -> int:
    """Networks per chunk of an evaluation of ``n`` independent networks on ``B`` trials each.

    On CPU about :data:`CHUNK_TRIALS` trials per batched product (2 networks of the 512
    test trials; at most 8 networks, as in training, :func:`lrbook.training.default_chunk`),
    with the number of chunks a multiple of ``workers`` so that no core waits; on a GPU
    all ``n`` at once. Never more than ``fit`` (what fits in memory).

    Parameters
    ----------
    n : int
        networks to evaluate.
    B : int
        trials per network.
    workers : int
        chunks evaluated concurrently.
    device : str or torch.device
    fit : int, optional
        most networks per chunk that fit in memory.

    Returns
    -------
    int
        the chunk size, >= 1.
    """
    cap = max(1, n if fit is None else min(n, fit))
    if torch.device(device).type != "cpu":
        return cap
    size = max(1, min(8, -(-CHUNK_TRIALS // max(B, 1)), cap))
    w = max(1, workers)
    n_chunks = -(-max(n, 1) // size)
    n_chunks = -(-n_chunks // w) * w
    return max(1, -(-n // n_chunks))


def _pair_losses(model: RNN, batch: Batch, pairs: Sequence[Pair], max_bytes: int) -> np.ndarray:
    """Loss of each (k, make_W, W_in, W_out) pair: network k of ``model`` with those weights.

    The pairs are independent networks: chunks of :func:`eval_chunk` of them run as
    ensembles through :func:`lrbook.engine.forward` (``trajectory=False``), the chunks
    concurrently on CPU, one core each, all chunks in flight within ``max_bytes``.
    """
    u, target, mask = batch
    _, B, T, _ = u.shape
    dev = model.device
    ut = model._inputs(u)                            # (K, T, B, n), time-major, checked once
    tt, mt = model._targets(target, "target"), model._targets(mask, "mask")
    workers = default_workers(len(pairs), dev)
    fit = int(max_bytes // max(_pair_bytes(model, B, T) * workers, 1))
    chunk = eval_chunk(len(pairs), B, workers, dev, fit)
    out = np.empty(len(pairs))
    local = threading.local()                        # each thread reuses its buffers

    def run(lo: int) -> None:
        part = pairs[lo:lo + chunk]
        ks = [p[0] for p in part]
        sub = model.subset(ks)
        W_in = None if all(p[2] is None for p in part) else \
            np.stack([sub.W_in[i].cpu().numpy() if p[2] is None else p[2] for i, p in enumerate(part)])
        W_out = None if all(p[3] is None for p in part) else \
            np.stack([sub.W_out[i].cpu().numpy() if p[3] is None else p[3] for i, p in enumerate(part)])
        t = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
        sub = sub.with_weights(W=t(np.stack([p[1]() for p in part])), W_in=t(W_in), W_out=t(W_out))
        idx = torch.as_tensor(ks, device=dev)
        z, local.ws = engine.forward(sub.W_in, sub.W, sub.W_out, ut[idx], dt=sub.dt, phi=sub.phi,
                                     x0=sub.x0(B), noise=sub.noise(T, B), ws=getattr(local, "ws", None),
                                     trajectory=False)
        out[lo:lo + len(part)] = engine.masked_mse(z, tt[idx], mt[idx])[0].double().cpu().numpy()

    starts = range(0, len(pairs), chunk)
    if workers > 1 and len(starts) > 1:
        # one core per chunk; torch_threads puts back the threads the workers changed
        with torch_threads(None), flush_denormals(), \
                ThreadPoolExecutor(workers, initializer=one_core_worker) as pool:
            list(pool.map(run, starts))
    else:
        with flush_denormals():
            for lo in starts:
                run(lo)
    return out


def losses(model: RNN, task: Task, W: Any = None, *, batch: Batch | None = None,
           batch_size: int = EVAL_BATCH, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Test loss of each network of ``model`` with (optionally) replaced recurrent weights.

    See :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Parameters
    ----------
    model : RNN
        K networks (their ``W_in``, ``W_out``, ``dt``, ``phi``, ``seeds`` are used).
    task : Task
    W : array or Tensor, shape (K, N, N) or (M, K, N, N), optional
        replacement recurrent weights (M candidates per network); default ``model.W``.
    batch : Batch, optional
        test trials (K, B, T, n) as from :func:`eval_batch`; default
        ``eval_batch(task, model.seeds, batch_size)``.
    batch_size : int
        trials per network, default 512.
    max_bytes : int
        memory budget of the chunks of networks evaluated at once (:func:`eval_chunk`).

    Returns
    -------
    ndarray, shape (K,) or (M, K)
        masked MSE (see :func:`lrbook.engine.masked_mse`); (K,) when ``W`` is None
        or 3-d.

    Raises
    ------
    ValueError
        if ``W`` has the wrong shape or ``task`` does not match the networks.
    """
    if not isinstance(model, RNN):
        raise TypeError(f"model must be an lrbook RNN; got {type(model).__name__}")
    _check_task(model, task)
    max_bytes = V.integer("max_bytes", max_bytes, lo=1)
    K, N = model.K, model.N
    Wa = model.W.detach().cpu().numpy()[None] if W is None else to_numpy("W", W)
    squeeze = W is None or Wa.ndim == 3
    if Wa.ndim == 3:
        Wa = Wa[None]
    if Wa.ndim != 4 or Wa.shape[1:] != (K, N, N):
        raise ValueError(f"W must have shape ({K}, {N}, {N}) or (M, {K}, {N}, {N}); got {Wa.shape}")
    if batch is None:
        batch = eval_batch(task, model.seeds, batch_size)
    M = Wa.shape[0]
    pairs: list[Pair] = [(k, partial(_item, Wa, m, k), None, None) for m in range(M) for k in range(K)]
    out = _pair_losses(model, batch, pairs, max_bytes).reshape(M, K)
    return out[0] if squeeze else out


def _item(a: np.ndarray, *index: int) -> np.ndarray:
    return a[index]


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b


def _truncated(W0: np.ndarray, U: np.ndarray, s: np.ndarray, Vt: np.ndarray, R: int) -> np.ndarray:
    return W0 + from_svd(U, s, Vt, R)


@dataclass
class Evaluation:
    r"""Test-batch evaluation of trained networks (:func:`evaluate_result`).

    See :doc:`/book/04_low_rank` (truncation) and :doc:`/book/05_randomness` (shuffle).

    Attributes
    ----------
    networks : ndarray of int, shape (K,)
        indices of the evaluated networks in the :class:`~lrbook.training.TrainResult`.
    ranks : ndarray of int, shape (n_ranks,)
    truncation_losses : ndarray, shape (K, n_ranks)
        loss of :math:`W_0 + \mathrm{SVD}_R(\Delta W)` with the trained ``W_in``, ``W_out``.
    functional_rank : masked array of int, shape (K,)
        smallest R with loss < ``threshold`` * loss(R = 0); masked where no listed
        rank does (see :func:`~lrbook.analysis.functional_rank`).
    shuffle_losses : ndarray, shape (K, n_shuffles)
        loss of :math:`\pi(W_0) + \Delta W`, trained ``W_in``, ``W_out``.
    L0 : ndarray, shape (K,)
        loss of the *initial* network (``W0``, ``W_in0``, ``W_out0``) on the same test batch.
    loss_trained : ndarray, shape (K,)
        loss of the trained network on the test batch.
    threshold : float
    batch_size : int
        test trials per network actually used.
    """

    networks: np.ndarray
    ranks: np.ndarray
    truncation_losses: np.ndarray
    functional_rank: np.ma.MaskedArray
    shuffle_losses: np.ndarray
    L0: np.ndarray
    loss_trained: np.ndarray
    threshold: float
    batch_size: int

    @property
    def shuffle_loss_ratio(self) -> np.ndarray:
        r"""The shuffle ratio (:func:`~lrbook.analysis.shuffle_ratio`) of each network, shape (K,).

        NaN without shuffles (``n_shuffles = 0``).
        """
        return np.asarray(shuffle_ratio(self.shuffle_losses, self.L0))

    def to_dict(self) -> dict:
        """The fields and :attr:`shuffle_loss_ratio` as JSON types (NaN as None).

        Returns
        -------
        dict
        """
        d = {k: jsonable(v) for k, v in self.__dict__.items()}
        d["shuffle_loss_ratio"] = jsonable(self.shuffle_loss_ratio)
        return d


def _networks(result: TrainResult, networks: Iterable[int] | int | None) -> np.ndarray:
    if networks is None:
        return np.arange(result.K)
    return np.asarray([V.integer(f"networks[{i}]", k, lo=0, hi=result.K - 1)
                       for i, k in enumerate(np.asarray(networks).ravel())], dtype=np.int64)


def silent_loss(task: Task, seeds: int | Sequence[int] | np.ndarray,
                batch_size: int = EVAL_BATCH) -> np.ndarray:
    r"""Test loss of a silent network (:math:`z \equiv 0`) on each network's test batch.

    .. math:: L_{silent} = \tfrac12 \sum \mathrm{mask}\, \hat z^2 \Big/ \sum \mathrm{mask}

    The loss of a network that has learnt nothing and says nothing; for the paper's
    tanh networks it is close to the initial loss :math:`L_0`. See :doc:`/book/13_beyond`.

    Parameters
    ----------
    task : Task
    seeds : int or sequence of int
        network seeds (their test batches, :func:`eval_batch`).
    batch_size : int

    Returns
    -------
    ndarray, shape (K,)
    """
    return batch_silent_loss(eval_batch(task, seeds, batch_size))


def batch_silent_loss(batch: Batch) -> np.ndarray:
    r"""Loss of a silent network (:math:`z \equiv 0`) on each network's trials of ``batch``.

    The one formula behind :func:`silent_loss` (test trials) and the training-batch
    reference of :doc:`/book/13_beyond`.

    Parameters
    ----------
    batch : Batch
        ``target`` and ``mask`` of shape (K, B, T, n_out), as from :meth:`Task.batches`.

    Returns
    -------
    ndarray, shape (K,)
    """
    K = batch.target.shape[0]
    num = (batch.mask * batch.target.astype(np.float64) ** 2).reshape(K, -1).sum(1)
    return 0.5 * num / np.maximum(batch.mask.reshape(K, -1).sum(1), 1.0)


def evaluate_result(result: TrainResult, task: Task, *, ranks: Iterable[int] = DEFAULT_RANKS,
                    n_shuffles: int = 1, networks: Iterable[int] | int | None = None,
                    threshold: float = 0.05, reference: str = "paper", batch_size: int = EVAL_BATCH,
                    max_bytes: int = MAX_BYTES) -> Evaluation:
    r"""Truncation curve, shuffle test and test-batch L0 of trained networks, in one batched pass.

    See :doc:`/book/04_low_rank` (truncation) and :doc:`/book/05_randomness` (shuffle).

    Parameters
    ----------
    result : TrainResult
    task : Task
        the task the networks were trained on.
    ranks : sequence of int
        each in 0..N (default R = 0..25, clipped to N); R = 0, the reference of the
        functional rank, is measured even when not listed.
    n_shuffles : int
        >= 0 shuffles of :math:`W_0` per network (seeded by the network seed,
        stream ``STREAM_SHUFFLE``); 0 skips the test.
    networks : int or sequence of int, optional
        which networks of ``result`` (default all).
    threshold : float
        of the functional rank, in (0, 1).
    reference : {"paper", "capped"}
        the loss the functional rank is relative to: the paper's :math:`L(R=0)`, or
        ``"capped"``: :math:`\min(L(R=0), L_{silent})` (:func:`silent_loss`). The cap
        matters only when :math:`W_0` with the trained input and output weights does
        *worse* than a silent network (e.g. relu networks whose activity explodes at
        large g, :doc:`/book/13_beyond`), where 5 % of :math:`L(R=0)` would call a
        network that merely calmed down "recovered".
    batch_size, max_bytes : int
        see :func:`losses`.

    Returns
    -------
    Evaluation
        a network whose weights are not finite (it diverged) gets NaN losses and a
        masked functional rank.
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be an lrbook TrainResult; got {type(result).__name__}")
    N = result.N
    rk = ranks_for(ranks, N)
    n_shuffles = V.integer("n_shuffles", n_shuffles, lo=0)
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    V.choice("reference", reference, ("paper", "capped"))
    max_bytes = V.integer("max_bytes", max_bytes, lo=1)
    idx = _networks(result, networks)
    model = result.model("final").subset(idx.tolist())
    _check_task(model, task)
    batch = eval_batch(task, model.seeds, batch_size)
    W0 = result.W0[idx].astype(np.float64)
    dW = result.W[idx].astype(np.float64) - W0
    ok = np.isfinite(dW).all(axis=(1, 2)) & np.isfinite(W0).all(axis=(1, 2))
    dW = np.where(ok[:, None, None], dW, 0.0)          # diverged networks: NaN losses below
    U, s, Vt = np.linalg.svd(dW, full_matrices=False)
    shuffled = [shuffle_entries(W0[j], int(model.seeds[j]), n=n_shuffles) for j in range(len(idx))] \
        if n_shuffles else []
    # R = 0 is always measured: it is the reference of the functional rank
    rk_eval = rk if 0 in rk else np.r_[0, rk]
    nR = rk_eval.size
    pairs: list[Pair] = []
    for j in range(len(idx)):
        pairs.append((j, partial(_item, W0, j), result.W_in0[idx[j]], result.W_out0[idx[j]]))   # L0
        pairs.append((j, partial(_add, W0[j], dW[j]), None, None))                              # trained
        for R in rk_eval:
            pairs.append((j, partial(_truncated, W0[j], U[j], s[j], Vt[j], int(R)), None, None))
        for i in range(n_shuffles):
            pairs.append((j, partial(_add, shuffled[j][i], dW[j]), None, None))
    out = _pair_losses(model, batch, pairs, max_bytes).reshape(len(idx), 2 + nR + n_shuffles)
    out[~ok, 1:] = np.nan
    trunc = out[:, 2:2 + nR]
    ranked = trunc.copy()
    if reference == "capped":
        ranked[:, 0] = np.fmin(trunc[:, 0], silent_loss(task, model.seeds, batch_size))
    fr = np.ma.atleast_1d(cast(np.ma.MaskedArray, functional_rank(ranked, rk_eval, threshold=threshold)))
    if rk_eval.size != rk.size:
        trunc = trunc[:, 1:]
    return Evaluation(networks=idx, ranks=rk, truncation_losses=trunc, functional_rank=fr,
                      shuffle_losses=out[:, 2 + nR:], L0=out[:, 0], loss_trained=out[:, 1],
                      threshold=threshold, batch_size=int(batch.u.shape[1]))


def truncation_losses(result: TrainResult, task: Task, ranks: Iterable[int] = DEFAULT_RANKS, *,
                      networks: Iterable[int] | int | None = None, batch_size: int = EVAL_BATCH,
                      max_bytes: int = MAX_BYTES) -> np.ndarray:
    r"""Test loss of :math:`W_0 + \mathrm{SVD}_R(\Delta W)` with the trained ``W_in``, ``W_out``.

    Use :func:`lrbook.analysis.functional_rank` on the result (ranks must contain 0),
    or :func:`evaluate_result`, which also returns it.
    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    result : TrainResult
    task : Task
    ranks : sequence of int
        each in 0..N (default R = 0..25, clipped to N).
    networks : int or sequence of int, optional
        default all K networks.
    batch_size, max_bytes : int
        see :func:`losses`.

    Returns
    -------
    ndarray, shape (K, len(ranks))
        K the number of selected networks.
    """
    ev = evaluate_result(result, task, ranks=ranks, n_shuffles=0, networks=networks,
                         batch_size=batch_size, max_bytes=max_bytes)
    return ev.truncation_losses


def shuffle_losses(result: TrainResult, task: Task, n_shuffles: int = 1, *,
                   networks: Iterable[int] | int | None = None, batch_size: int = EVAL_BATCH,
                   max_bytes: int = MAX_BYTES) -> tuple[np.ndarray, np.ndarray]:
    r"""Shuffle test of trained networks: losses of :math:`\pi(W_0) + \Delta W` and the test L0.

    .. math:: \rho_k = \big\langle L\big(\pi(W_0) + \Delta W\big) \big\rangle_\pi \big/ L_0

    See :doc:`/book/05_randomness`.

    Parameters
    ----------
    result : TrainResult
    task : Task
        the task the networks were trained on.
    n_shuffles : int
        >= 1 shuffles of :math:`W_0` per network (seeded by the network seed,
        stream ``STREAM_SHUFFLE``).
    networks : int or sequence of int, optional
        default all K networks.
    batch_size, max_bytes : int
        see :func:`losses`.

    Returns
    -------
    losses : ndarray, shape (K, n_shuffles)
    L0 : ndarray, shape (K,)
        loss of the initial network on the same test batch;
        ``shuffle_ratio(losses, L0)`` is the shuffle ratio
        (:func:`~lrbook.analysis.shuffle_ratio`; about 1 for g > 0, claim 3). The training-curve L0
        is ``result.L0``.
    """
    n_shuffles = V.integer("n_shuffles", n_shuffles, lo=1)
    ev = evaluate_result(result, task, ranks=[0], n_shuffles=n_shuffles, networks=networks,
                         batch_size=batch_size, max_bytes=max_bytes)
    return ev.shuffle_losses, ev.L0
