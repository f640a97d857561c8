r"""Small measures for testing the linear theory's predictions on trained nonlinear networks.

The linear theory (:mod:`lrbook.theory`) predicts how the norm of :math:`\Delta W`, its
directions and the speed of learning depend on the strength ``g`` of the random
connectivity. To hold trained tanh networks against those predictions, the chapter
:ref:`ch-back-to-nonlinear` needs a few plain operations on ensembles of networks:

- :func:`converged`: which networks reached the convergence level (only those are compared);
- :func:`io_span_fractions`: the fraction of :math:`\|\Delta W\|_F^2` inside
  :math:`\mathrm{span}\{w_k, m_i\} \times \mathrm{span}\{w_k, m_i\}`, where the linear
  rank-2 solution at g = 0 lies, and :func:`span_chance`, the same for a random matrix;
- :func:`group_mean`: a measure averaged over the networks of each ``g`` (converged ones);
- :func:`largest_below`: the largest ``g`` of a grid below 1, where the theory still applies;
- :func:`effective_exponent`: the power :math:`p` with ``ratio = factor ** p``, to compare a
  measured ratio with a predicted factor on one scale (the prediction is :math:`p = 1`).

All functions are pure (numpy in, numpy out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import to_numpy
from .gradient import span_fraction
from .measures import THRESHOLD, convergence_epoch

__all__ = ["converged", "io_span_fractions", "span_chance", "group_mean", "largest_below",
           "effective_exponent"]


def converged(loss: Any, *, threshold: float = THRESHOLD) -> np.ndarray:
    r"""Which networks reached the convergence level :math:`L_e < \theta L_0` at some epoch.

    The paper's criterion (:func:`~lrbook.analysis.convergence_epoch`), as a boolean mask.

    Parameters
    ----------
    loss : array, shape (epochs, K)
        training loss per epoch of each network.
    threshold : float
        :math:`\theta`, 0.05 in the paper.

    Returns
    -------
    ndarray of bool, shape (K,)
        True for the networks whose loss fell below ``threshold * loss[0]``.

    Examples
    --------
    >>> converged(np.array([[1.0, 1.0], [0.5, 0.01]])).tolist()
    [False, True]
    """
    L = to_numpy("loss", loss)
    if L.ndim != 2:
        raise ValueError(f"loss must have shape (epochs, K); got {L.shape}")
    ce: np.ma.MaskedArray = np.ma.asarray(convergence_epoch(L, threshold=threshold))
    return ~np.ma.getmaskarray(ce) & (np.ma.filled(ce, -1) >= 0)


def io_span_fractions(dW: Any, W_in: Any, W_out: Any) -> np.ndarray:
    r"""Fraction of :math:`\|\Delta W\|_F^2` inside the span of the task vectors, on both sides.

    With :math:`V = [W_{out} \mid W_{in}^\top]` (the output vectors :math:`w_k` and input
    vectors :math:`m_i` as columns) and :math:`P` the orthogonal projector on its columns,

    .. math:: f = \frac{\|P\, \Delta W\, P\|_F^2}{\|\Delta W\|_F^2} .

    The rank-2 solution of the linear network at g = 0 lies in
    :math:`\mathrm{span}\{w, m\} \times \mathrm{span}\{w, m\}`: :math:`f = 1`.

    Parameters
    ----------
    dW : array, shape (K, N, N)
    W_in : array, shape (K, n_in, N)
    W_out : array, shape (K, N, n_out)

    Returns
    -------
    ndarray, shape (K,)
        in [0, 1].
    """
    d = to_numpy("dW", dW)
    wi = to_numpy("W_in", W_in)
    wo = to_numpy("W_out", W_out)
    if d.ndim != 3 or wi.ndim != 3 or wo.ndim != 3 or not (d.shape[0] == wi.shape[0] == wo.shape[0]):
        raise ValueError(f"dW (K, N, N), W_in (K, n_in, N) and W_out (K, N, n_out) must agree; got "
                         f"{d.shape}, {wi.shape}, {wo.shape}")
    out = []
    for k in range(d.shape[0]):
        V = np.concatenate([wo[k], wi[k].T], axis=1)
        out.append(span_fraction(d[k], V, V))
    return np.array(out)


def span_chance(N: int, d: int) -> float:
    r"""Expected fraction of a random matrix's :math:`\|M\|_F^2` inside a :math:`d \times d` pair of subspaces.

    For an :math:`N \times N` matrix with i.i.d. entries and two fixed subspaces of
    dimension :math:`d`, :math:`\mathbb E\, \|P M P\|_F^2 / \|M\|_F^2 = (d/N)^2`: the chance
    level of :func:`io_span_fractions` with :math:`d = n_{in} + n_{out}`.

    Parameters
    ----------
    N : int
        >= 1.
    d : int
        in [0, N].

    Returns
    -------
    float

    Examples
    --------
    >>> span_chance(64, 4)
    0.00390625
    """
    N, d = int(N), int(d)
    if N < 1 or not 0 <= d <= N:
        raise ValueError(f"need N >= 1 and 0 <= d <= N; got N={N}, d={d}")
    return (d / N) ** 2


def group_mean(values: Any, g: Any, mask: Any = None, *, geometric: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Mean of a measure over the networks of each ``g``, using only those in ``mask``.

    Parameters
    ----------
    values : array, shape (K,)
        one number per network.
    g : array, shape (K,)
    mask : array of bool, shape (K,), optional
        networks to include (e.g. :func:`converged`); default all.
    geometric : bool
        geometric instead of arithmetic mean (for positive values spread over decades).

    Returns
    -------
    gs : ndarray, shape (G,)
        the distinct values of ``g``, sorted.
    mean : ndarray, shape (G,)
        NaN where no network of that ``g`` is included.
    count : ndarray of int, shape (G,)
        networks included per ``g``.

    Examples
    --------
    >>> gs, m, n = group_mean([1.0, 3.0, 5.0], [0.0, 0.0, 0.9], [True, True, False])
    >>> m.tolist(), n.tolist()
    ([2.0, nan], [2, 0])
    """
    v = to_numpy("values", values)
    gg = to_numpy("g", g)
    if v.ndim != 1 or gg.shape != v.shape:
        raise ValueError(f"values and g must have the same shape (K,); got {v.shape}, {gg.shape}")
    m = np.ones(v.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != v.shape:
        raise ValueError(f"mask must have shape {v.shape}; got {m.shape}")
    gs = np.unique(gg)
    mean = np.full(gs.shape, np.nan)
    count = np.zeros(gs.shape, dtype=np.int64)
    for i, x in enumerate(gs):
        sel = (gg == x) & m
        count[i] = int(sel.sum())
        if count[i]:
            mean[i] = float(np.exp(np.mean(np.log(v[sel])))) if geometric else float(np.mean(v[sel]))
    return gs, mean, count


def largest_below(gs: Any, limit: float = 1.0) -> float:
    r"""The largest value of a grid strictly below ``limit`` and above 0.

    The linear theory needs a stable :math:`W_0` (:math:`g < 1`); this picks the grid
    point where its predictions are strongest but still defined.

    Parameters
    ----------
    gs : array
        grid of ``g``.
    limit : float
        default 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        if no value lies in (0, limit).

    Examples
    --------
    >>> largest_below([0.0, 0.6, 1.2, 1.8])
    0.6
    """
    a = np.unique(to_numpy("gs", gs))
    inside = a[(a > 0) & (a < limit)]
    if inside.size == 0:
        raise ValueError(f"no g in (0, {limit}) in {a.tolist()}")
    return float(inside.max())


def effective_exponent(ratio: Any, factor: Any) -> np.ndarray | float:
    r"""The power :math:`p` with :math:`\text{ratio} = \text{factor}^p`: :math:`p = \ln r / \ln f`.

    Puts a measured ratio (e.g. :math:`\|\Delta W\|(g) / \|\Delta W\|(0)`) and the linear
    theory's factor (e.g. :math:`1 - g^2`) on one scale: :math:`p = 1` is the prediction,
    :math:`p = 0` no dependence on ``g``.

    Parameters
    ----------
    ratio, factor : float or array
        positive; ``factor`` different from 1.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> round(effective_exponent(0.19 ** 0.5, 0.19), 10)
    0.5
    """
    r = to_numpy("ratio", ratio)
    f = to_numpy("factor", factor)
    if np.any(~np.isfinite(r)) or np.any(r <= 0) or np.any(~np.isfinite(f)) or np.any(f <= 0) \
            or np.any(f == 1):
        raise ValueError(f"ratio and factor must be finite and positive, factor != 1; got {ratio!r}, {factor!r}")
    out = np.log(r) / np.log(f)
    return float(out) if out.ndim == 0 else out
