r"""Scalar measures of a connectivity change and of a learning curve.

- :func:`norm_dW`: Frobenius norm :math:`\|\Delta W\|_F` (O(1) although
  :math:`\|W_0\|_F \approx g\sqrt N`, claim 2 of the paper; :doc:`/book/05_randomness`).
- :func:`convergence_epoch`: first epoch with loss below 5 % of the initial loss
  (:doc:`/book/02_training`).
- effective ranks of :math:`\Delta W` from its singular values: :func:`top_fraction`,
  :func:`participation_ratio`, :func:`entropy_rank`, :func:`stable_rank`,
  :func:`rank_for_fraction` (:doc:`/book/04_low_rank`).
- :func:`loglog_slope`: exponent of a power law fitted in log-log, e.g. of
  :math:`\|\Delta W\|_F` against :math:`N` (:doc:`/book/06_scaling`).

Functions of singular values take ``s`` of shape (..., n) (descending or not) and
reduce the last axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate as V
from ._arrays import matrices, same_shape, to_numpy

#: Default relative threshold of the paper (5 % of the reference loss).
THRESHOLD = 0.05


def norm_dW(W0: Any, W: Any) -> np.ndarray | float:
    r"""Frobenius norm of :math:`\Delta W = W - W_0`.

    .. math:: \|\Delta W\|_F = \Big(\sum_{ij} \Delta W_{ij}^2\Big)^{1/2}

    See :doc:`/book/05_randomness` (a small change to a large matrix) and
    :doc:`/book/06_scaling`.

    Parameters
    ----------
    W0, W : array or Tensor, shape (N, N) or (K, N, N)

    Returns
    -------
    float, or ndarray of shape (K,)
    """
    w0 = matrices("W0", W0, square=False)
    w = matrices("W", W, square=False)
    same_shape("W0", w0, "W", w)
    out = np.linalg.norm(w - w0, axis=(-2, -1))
    return float(out) if out.ndim == 0 else out


def convergence_epoch(loss: Any, *, threshold: float = THRESHOLD, L0: Any = None) -> np.ndarray | int:
    r"""First epoch at which the training loss falls below ``threshold * L0``.

    .. math:: e^* = \min\{e : L_e < \theta\, L_0\}, \qquad \theta = 0.05

    See :doc:`/book/02_training` (random connectivity accelerates learning) and
    :doc:`/book/06_scaling`.

    Parameters
    ----------
    loss : array, shape (epochs,) or (epochs, K)
        training loss per epoch (``TrainResult.loss``); NaN entries (after a
        divergence) never count as converged.
    threshold : float
        in (0, 1); 0.05 in the paper.
    L0 : float or array of shape (K,), optional
        reference loss; default ``loss[0]``.

    Returns
    -------
    int, or ndarray of int of shape (K,)
        the epoch index (0-based), or **-1 when the loss never falls below the
        threshold** (the same convention as ``TrainResult.diverged_epoch``).

    Raises
    ------
    ValueError
        if ``loss`` is not (epochs,) or (epochs, K) with epochs >= 1, the shape of
        ``L0`` is not ``loss.shape[1:]``, or ``threshold`` is outside (0, 1).
    """
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    L = to_numpy("loss", loss)
    if L.ndim not in (1, 2) or L.shape[0] == 0:
        raise ValueError(f"loss must have shape (epochs,) or (epochs, K) with epochs >= 1; got {L.shape}")
    ref = L[0] if L0 is None else to_numpy("L0", L0)
    if np.shape(ref) != L.shape[1:]:
        raise ValueError(f"L0 must have shape {L.shape[1:]}; got {np.shape(ref)}")
    with np.errstate(invalid="ignore"):
        below = L < threshold * ref                       # NaN compares False
    hit = below.any(axis=0)
    out = np.where(hit, below.argmax(axis=0), -1).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def _sv(s: Any) -> np.ndarray:
    a = to_numpy("s", s)
    if a.ndim < 1 or a.shape[-1] == 0:
        raise ValueError(f"s must have shape (..., n) with n >= 1; got {a.shape}")
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ValueError("s must hold finite singular values >= 0")
    return -np.sort(-a, axis=-1)


def top_fraction(s: Any, r: int | None = None) -> np.ndarray:
    r"""Fraction of :math:`\|\Delta W\|_F^2` carried by the top singular values.

    .. math:: f_r = \sum_{i \le r} s_i^2 \Big/ \sum_i s_i^2

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    s : array, shape (..., n)
        singular values.
    r : int, optional
        1 <= r <= n; when given return :math:`f_r` only, else all of
        :math:`f_1, \dots, f_n`.

    Returns
    -------
    ndarray, shape (...) if ``r`` is given, else (..., n)
        NaN for a zero matrix.
    """
    a = _sv(s)
    e = np.cumsum(a ** 2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = e / e[..., -1:]
    if r is None:
        return f
    r = V.integer("r", r, lo=1, hi=a.shape[-1])
    return f[..., r - 1]


def rank_for_fraction(s: Any, fraction: float = 0.99) -> np.ndarray | int:
    r"""Smallest r with :math:`f_r \ge` ``fraction`` (see :func:`top_fraction`).

    .. math:: r^* = \min\Big\{r : \sum_{i \le r} s_i^2 \ge \mathrm{fraction} \sum_i s_i^2\Big\}

    (with a relative tolerance of 1e-12 on ``fraction``).

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    s : array, shape (..., n)
        singular values (finite, >= 0; any order).
    fraction : float
        in (0, 1]; default 0.99.

    Returns
    -------
    int, or ndarray of int of shape (...)
        r in 1..n; 0 for a zero matrix.
    """
    fraction = V.real("fraction", fraction, lo=0.0, hi=1.0, lo_open=True)
    f = top_fraction(s)
    ok = np.nan_to_num(f, nan=1.0) >= fraction * (1 - 1e-12)
    out = np.where(np.isnan(f[..., -1]), 0, ok.argmax(axis=-1) + 1).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def participation_ratio(s: Any) -> np.ndarray | float:
    r"""Participation ratio of the squared singular values.

    .. math:: \mathrm{PR} = \frac{\big(\sum_i s_i^2\big)^2}{\sum_i s_i^4}

    It is 1 for a rank-1 matrix, r for r equal singular values, N for an
    orthogonal matrix, and 0 (by convention) for a zero matrix.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    s : array, shape (..., n)
        singular values (finite, >= 0; any order).

    Returns
    -------
    float, or ndarray of shape (...)
    """
    a = _sv(s)
    s2 = (a ** 2).sum(-1)
    s4 = (a ** 4).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s4 > 0, s2 ** 2 / np.where(s4 > 0, s4, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def entropy_rank(s: Any) -> np.ndarray | float:
    r"""Entropy effective rank (Roy & Vetterli, 2007).

    .. math:: \mathrm{erank} = \exp\Big(-\sum_i p_i \log p_i\Big), \qquad p_i = s_i / \sum_j s_j

    Between 1 (rank 1) and the number of non-zero singular values; 0 for a zero matrix.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    s : array, shape (..., n)
        singular values (finite, >= 0; any order).

    Returns
    -------
    float, or ndarray of shape (...)
    """
    a = _sv(s)
    tot = a.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tot > 0, a / np.where(tot > 0, tot, 1.0), 0.0)
        h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    out = np.where(tot[..., 0] > 0, np.exp(h), 0.0)
    return float(out) if out.ndim == 0 else out


def stable_rank(s: Any) -> np.ndarray | float:
    r"""Stable (numerical) rank of :math:`\Delta W`.

    .. math:: \mathrm{srank} = \frac{\|\Delta W\|_F^2}{\|\Delta W\|_2^2} = \frac{\sum_i s_i^2}{s_1^2}

    Between 1 and the rank; 0 for a zero matrix.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    s : array, shape (..., n)
        singular values (finite, >= 0; any order), :math:`s_1` the largest.

    Returns
    -------
    float, or ndarray of shape (...)
    """
    a = _sv(s)
    s1 = a[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s1 > 0, (a ** 2).sum(-1) / np.where(s1 > 0, s1, 1.0) ** 2, 0.0)
    return float(out) if out.ndim == 0 else out


def loglog_slope(x: Any, y: Any) -> np.ndarray | float:
    r"""Exponent of a power law :math:`y \propto x^a`, fitted by least squares in log-log.

    .. math:: a = \frac{\sum_i (\log x_i - \overline{\log x})(\log y_i - \overline{\log y})}
                       {\sum_i (\log x_i - \overline{\log x})^2}

    For an exact power law :math:`y = c\,x^a` it returns :math:`a`. Used to tell
    :math:`\|\Delta W\|_F = O(1)` (slope 0) from growth like :math:`\sqrt N` (slope 1/2)
    in :doc:`/book/06_scaling`.

    Parameters
    ----------
    x : array, shape (n,)
        positive abscissae (e.g. network sizes N), at least two distinct values.
    y : array, shape (..., n)
        positive values; each row along the last axis is fitted separately
        (e.g. one row per seed).

    Returns
    -------
    float, or ndarray of shape (...)
        the slope(s) :math:`a`.

    Raises
    ------
    ValueError
        if a value is not finite and positive, the shapes do not match, or ``x`` has
        fewer than two distinct values.

    Examples
    --------
    >>> N = np.array([32, 64, 128, 256])
    >>> round(loglog_slope(N, 3 * np.sqrt(N)), 12)
    0.5
    """
    lx = to_numpy("x", x)
    ly = to_numpy("y", y)
    if lx.ndim != 1 or ly.ndim < 1 or ly.shape[-1] != lx.shape[0]:
        raise ValueError(f"x must have shape (n,) and y shape (..., n); got {lx.shape} and {ly.shape}")
    for name, a in (("x", lx), ("y", ly)):
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name} must hold finite values > 0 (a power law is fitted in log-log)")
    if np.unique(lx).size < 2:
        raise ValueError(f"x must hold at least two distinct values; got {lx.tolist()}")
    lx, ly = np.log(lx), np.log(ly)
    dx = lx - lx.mean()
    out = ((ly - ly.mean(-1, keepdims=True)) * dx).sum(-1) / (dx ** 2).sum()
    return float(out) if out.ndim == 0 else out
