r"""Rank-R truncation of the connectivity change and the functional rank.

Keeping only the top R singular components of :math:`\Delta W`,

.. math::

    W_R = W_0 + \mathrm{SVD}_R(\Delta W) = W_0 + \sum_{r=1}^{R} s_r\, u_r v_r^\top ,

and measuring the loss of the network with :math:`W_R` (trained ``W_in``, ``W_out``)
shows how many dimensions of the change matter: the **functional rank** is the
smallest R whose loss is below 5 % of the loss at R = 0 (:doc:`/book/04_low_rank`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import _validate as V
from ._arrays import matrices, ranks_arg, same_shape, to_numpy
from .measures import THRESHOLD

#: Ranks of the paper's truncation curves, R = 0..25.
DEFAULT_RANKS = range(0, 26)


def ranks_for(ranks: Iterable[int], N: int) -> np.ndarray:
    """Truncation ranks for networks of N neurons, validated (int64, each in 0..N, order kept).

    :data:`DEFAULT_RANKS` becomes R = 0..min(25, N); any other value is checked as given.
    """
    return ranks_arg(range(0, min(25, N) + 1) if ranks is DEFAULT_RANKS else ranks, N)


def from_svd(U: np.ndarray, s: np.ndarray, Vt: np.ndarray, R: int) -> np.ndarray:
    r""":math:`\sum_{r \le R} s_r u_r v_r^\top` from an SVD ``U, s, Vt`` (the one place it is written).

    Parameters
    ----------
    U : ndarray, shape (..., N, M)
    s : ndarray, shape (..., M)
    Vt : ndarray, shape (..., M, M)
    R : int
        0 <= R <= M (not checked: callers validate).

    Returns
    -------
    ndarray, shape (..., N, M)
    """
    return (U[..., :, :R] * s[..., None, :R]) @ Vt[..., :R, :]


def svd_truncate(dW: Any, R: int) -> np.ndarray:
    r"""Best rank-R approximation :math:`\mathrm{SVD}_R(\Delta W)` (Eckart–Young).

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    dW : array or Tensor, shape (N, M) or (K, N, M)
    R : int
        0 <= R <= min(N, M); R = 0 gives zeros, R = min(N, M) gives ``dW`` back.

    Returns
    -------
    ndarray, shape of ``dW`` (float64)
        :math:`\sum_{r \le R} s_r u_r v_r^\top` for each matrix.
    """
    d = matrices("dW", dW, square=False)
    R = V.integer("R", R, lo=0, hi=min(d.shape[-2:]))
    return from_svd(*np.linalg.svd(d, full_matrices=False), R)


def truncate(W0: Any, dW: Any, R: int) -> np.ndarray:
    r"""The truncated connectivity :math:`W_0 + \mathrm{SVD}_R(\Delta W)`.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    W0, dW : array or Tensor, shape (N, N) or (K, N, N)
    R : int
        0 <= R <= N. ``truncate(W0, dW, 0)`` is ``W0``; ``truncate(W0, dW, N)`` is
        ``W0 + dW`` (up to rounding).

    Returns
    -------
    ndarray, shape of ``W0`` (float64)
    """
    w0 = matrices("W0", W0, square=False)
    d = matrices("dW", dW, square=False)
    same_shape("W0", w0, "dW", d)
    return w0 + svd_truncate(d, R)


def truncations(W0: Any, dW: Any, ranks: Iterable[int] = DEFAULT_RANKS) -> np.ndarray:
    """:func:`truncate` at several ranks from one SVD.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    W0, dW : array or Tensor, shape (N, N) or (K, N, N)
    ranks : sequence of int
        each in 0..N.

    Returns
    -------
    ndarray, shape (len(ranks), N, N) or (len(ranks), K, N, N)
        float64, in the order of ``ranks``.
    """
    w0 = matrices("W0", W0, square=False)
    d = matrices("dW", dW, square=False)
    same_shape("W0", w0, "dW", d)
    rk = ranks_arg(ranks, min(d.shape[-2:]))
    U, s, Vt = np.linalg.svd(d, full_matrices=False)
    return np.stack([w0 + from_svd(U, s, Vt, int(R)) for R in rk])


def functional_rank(losses: Any, ranks: Iterable[int] = DEFAULT_RANKS, *,
                    threshold: float = THRESHOLD) -> np.ma.MaskedArray | int | None:
    r"""Smallest rank whose truncated network reaches ``threshold`` times the R = 0 loss.

    .. math:: R^* = \min\{R : L(W_0 + \mathrm{SVD}_R(\Delta W)) < \theta\, L(W_0)\}

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    losses : array, shape (len(ranks),) or (K, len(ranks))
        loss of each truncation (e.g. from :func:`truncation_curve` or
        :func:`lrbook.analysis.truncation_losses`).
    ranks : sequence of int
        the ranks of the columns of ``losses``; must contain 0 (the reference).
    threshold : float
        :math:`\theta` in (0, 1), 0.05 in the paper.

    Returns
    -------
    int or None, or masked array of int of shape (K,)
        the smallest listed R meeting the criterion. Where no listed rank meets it
        (e.g. training stopped before the loss fell below 5 % of L(R=0), or
        ``ranks`` stops too early) the rank is **undefined**: ``None`` for one
        curve, a masked entry for K curves (count them with
        ``numpy.ma.count_masked``; they are never a number that a mean could
        silently include). NaN losses never meet the criterion.

    Raises
    ------
    ValueError
        if the shape of ``losses`` does not match ``ranks``, ``ranks`` lacks 0, or
        ``threshold`` is outside (0, 1).
    """
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    L = to_numpy("losses", losses)
    rk = ranks_arg(ranks, np.iinfo(np.int64).max)
    if L.ndim not in (1, 2) or L.shape[-1] != rk.size:
        raise ValueError(f"losses must have shape ({rk.size},) or (K, {rk.size}) to match ranks; "
                         f"got {L.shape}")
    zero = np.flatnonzero(rk == 0)
    if zero.size == 0:
        raise ValueError(f"ranks must contain 0 (the reference loss L(R=0)); got {rk.tolist()}")
    ref = L[..., zero[0]]
    order = np.argsort(rk, kind="stable")
    with np.errstate(invalid="ignore"):
        ok = L[..., order] < threshold * ref[..., None]
    hit = ok.any(axis=-1)
    out = np.where(hit, rk[order][ok.argmax(axis=-1)], 0).astype(np.int64)
    if out.ndim == 0:
        return int(out) if hit else None
    return np.ma.MaskedArray(out, mask=~hit)


def truncation_curve(loss_fn: Callable[[Any], float], W0: Any, dW: Any,
                     ranks: Iterable[int] = DEFAULT_RANKS) -> np.ndarray:
    r"""Loss of :math:`W_0 + \mathrm{SVD}_R(\Delta W)` for each R, one network.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(W) -> float`` for a recurrent matrix ``W`` (N, N); it receives
        a float64 numpy array.
    W0, dW : array or Tensor, shape (N, N)
    ranks : sequence of int
        each in 0..N.

    Returns
    -------
    ndarray, shape (len(ranks),)
        ``loss_fn(truncate(W0, dW, R))`` for each R, in the order of ``ranks``.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, loss_fn(W) -> float; got {type(loss_fn).__name__}")
    w0 = matrices("W0", W0, square=False)
    if w0.ndim != 2:
        raise ValueError(f"W0 must have shape (N, N) for truncation_curve; got {w0.shape}")
    return np.array([float(loss_fn(Wr)) for Wr in truncations(w0, dW, ranks)])
