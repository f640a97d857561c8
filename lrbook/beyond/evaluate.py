r"""Test losses, truncation curves and functional ranks of variant networks (any phi).

The same measurements as :func:`lrbook.analysis.evaluate_result` — the test batch of
512 trials of every network (``rng_for(seed, STREAM_EVAL)``), the loss of
:math:`W_0 + \mathrm{SVD}_R(\Delta W)` with the trained ``W_in``, ``W_out``, and the
functional rank (smallest R with loss < 5 % of the loss at R = 0) — for networks of
:func:`lrbook.beyond.train_variant`, whose nonlinearity may be relu or softplus.
For tanh networks the numbers equal those of :func:`lrbook.analysis.evaluate_result`
(tested). See the chapter :doc:`/book/13_beyond`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _validate as V
from ..analysis import EVAL_BATCH, Evaluation, eval_batch, functional_rank, losses
from ..analysis.evaluate import MAX_BYTES
from ..analysis.truncation import DEFAULT_RANKS, ranks_for
from ..tasks import Batch, Task
from ..training import TrainResult


def _check(result: TrainResult, task: Task) -> None:
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult; got {type(result).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be an lrbook Task; got {type(task).__name__}")
    if task.n_in != result.W_in.shape[1] or task.n_out != result.W_out.shape[2]:
        raise ValueError(f"task {task.name} (n_in={task.n_in}, n_out={task.n_out}) does not match the "
                         f"networks (n_in={result.W_in.shape[1]}, n_out={result.W_out.shape[2]})")


def variant_losses(result: TrainResult, task: Task, W: Any = None, *, weights: str = "final",
                   batch: Batch | None = None, batch_size: int = EVAL_BATCH,
                   max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Test loss of every network, optionally with replaced recurrent weights.

    Parameters
    ----------
    result : TrainResult or VariantResult
        its ``config["phi"]`` may be any of :data:`lrbook.engine.PHIS`.
    task : Task
    W : array, shape (K, N, N) or (M, K, N, N), optional
        recurrent weights to use (default the trained ``W`` or, with
        ``weights="initial"``, ``W0``).
    weights : {"final", "initial"}
        which ``W_in``, ``W_out`` (and default ``W``) to use.
    batch : Batch, optional
        test trials (K, B, T, n); default :func:`lrbook.analysis.eval_batch`.
    batch_size, max_bytes : int

    Returns
    -------
    ndarray, shape (K,) or (M, K)
    """
    _check(result, task)
    V.choice("weights", weights, ("final", "initial"))
    model = result.model(weights)
    if W is None:
        W = model.W
    return losses(model, task, W, batch=batch, batch_size=batch_size, max_bytes=max_bytes)


def silent_loss(task: Task, seeds: Any, batch_size: int = EVAL_BATCH) -> np.ndarray:
    r"""Test loss of a silent network (:math:`z \equiv 0`) on each network's test batch.

    .. math:: L_{silent} = \tfrac12 \sum \mathrm{mask}\, \hat z^2 \Big/ \sum \mathrm{mask}

    The loss of a network that has learnt nothing and says nothing; for the paper's
    tanh networks it is close to the initial loss :math:`L_0`.

    Returns
    -------
    ndarray, shape (K,)
    """
    b = eval_batch(task, seeds, batch_size)
    K = b.target.shape[0]
    num = (b.mask * b.target.astype(np.float64) ** 2).reshape(K, -1).sum(1)
    return 0.5 * num / np.maximum(b.mask.reshape(K, -1).sum(1), 1.0)


def evaluate_variant(result: TrainResult, task: Task, *, ranks: Iterable[int] = DEFAULT_RANKS,
                     threshold: float = 0.05, reference: str = "paper", batch_size: int = EVAL_BATCH,
                     max_bytes: int = MAX_BYTES) -> Evaluation:
    r"""Truncation curve, functional rank and test-batch L0 of every network (no shuffle test).

    Parameters
    ----------
    result : TrainResult or VariantResult
    task : Task
    ranks : iterable of int
        default 0..25 (clipped to N); R = 0 is always measured (the reference).
    threshold : float
        of the functional rank, in (0, 1).
    reference : {"paper", "capped"}
        the loss the functional rank is relative to: the paper's :math:`L(R=0)`, or
        ``"capped"``: :math:`\min(L(R=0), L_{silent})` (:func:`silent_loss`). The cap
        matters only when :math:`W_0` with the trained input and output weights does
        *worse* than a silent network — e.g. relu networks whose activity explodes at
        large g — where 5 % of :math:`L(R=0)` would call a network that merely
        calmed down "recovered".
    batch_size, max_bytes : int

    Returns
    -------
    lrbook.analysis.Evaluation
        with ``shuffle_losses`` of shape (K, 0) and ``functional_rank`` a masked
        array of int, masked where no listed rank meets the criterion (undefined).
        A diverged network (non-finite weights) gets NaN losses and a masked
        functional rank.
    """
    _check(result, task)
    N, K = result.N, result.K
    rk = ranks_for(ranks, N)
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    V.choice("reference", reference, ("paper", "capped"))
    rk_eval = rk if 0 in rk else np.r_[0, rk]
    batch = eval_batch(task, result.seeds, batch_size)
    W0 = result.W0.astype(np.float64)
    dW = result.W.astype(np.float64) - W0
    ok = np.asarray(np.isfinite(dW).all(axis=(1, 2)))
    dW_safe = np.where(ok[:, None, None], dW, 0.0)
    U, s, Vt = np.linalg.svd(dW_safe, full_matrices=False)
    cands = np.stack([W0 + (U[:, :, :R] * s[:, None, :R]) @ Vt[:, :R, :] for R in rk_eval])   # (nR, K, N, N)
    trunc = variant_losses(result, task, cands, batch=batch, max_bytes=max_bytes).T            # (K, nR)
    trained = variant_losses(result, task, batch=batch, max_bytes=max_bytes)
    L0 = variant_losses(result, task, weights="initial", batch=batch, max_bytes=max_bytes)
    trunc[~ok] = np.nan
    trained[~ok] = np.nan
    ranked = trunc.copy()
    if reference == "capped":
        ranked[:, 0] = np.fmin(trunc[:, 0], silent_loss(task, result.seeds, batch_size))
    fr = functional_rank(ranked, rk_eval, threshold=threshold)
    assert isinstance(fr, np.ma.MaskedArray)      # (K, n_ranks) losses: one (maybe masked) rank per network
    if rk_eval.size != rk.size:
        trunc = trunc[:, 1:]
    return Evaluation(networks=np.arange(K), ranks=rk, truncation_losses=trunc, functional_rank=fr,
                      shuffle_losses=np.zeros((K, 0)), L0=L0, loss_trained=trained, threshold=threshold,
                      batch_size=int(batch.u.shape[1]))
