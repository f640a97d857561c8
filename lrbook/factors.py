r"""The low-rank parametrisation of the recurrent change, an option of the one training loop.

With ``rank=R``, :func:`lrbook.training.train` trains the factors of

.. math:: W = W_0 + U V^\top, \qquad U, V \in \mathbb R^{N \times R},

instead of :math:`W` itself (a "LoRA" parametrisation): the change
:math:`\Delta W = U V^\top` has rank at most R from the first update on.
:math:`U_0 = 0`, so training starts from :math:`W_0` exactly, and the columns of
:math:`V_0` are random unit vectors drawn from the network's seed (stream
:data:`lrbook.seeding.STREAM_FACTORS`). The gradients follow from the engine's exact
:math:`G = \partial L / \partial W`:

.. math:: \frac{\partial L}{\partial U} = G V, \qquad \frac{\partial L}{\partial V} = G^\top U.

The chapter :doc:`/book/13_beyond` compares rank-R training with unconstrained training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from . import _validate as V
from .seeding import STREAM_FACTORS, rng_for

__all__ = ["Factors", "lowrank_lr", "per_network"]


def lowrank_lr(N: int, rank: int | np.ndarray, lr_W: float | np.ndarray) -> np.ndarray:
    r"""Learning rate of the factors that matches the size of the first update of the full W.

    Adam moves every entry of a parameter by about its learning rate on its first
    steps. An unconstrained :math:`W` then changes by :math:`\|\delta W\|_F \approx
    \eta_W N`; the factor :math:`U` (:math:`N \times R`, with unit-norm columns of
    :math:`V`) changes :math:`W` by :math:`\|\delta U V^\top\|_F \approx \eta_U \sqrt{N R}`.
    Equal sizes give

    .. math:: \eta_U = \eta_V = \eta_W \sqrt{N / R}.

    See :doc:`/book/13_beyond`.

    Parameters
    ----------
    N : int
        neurons.
    rank : int or ndarray of int, shape (K,)
        rank of each network's change (values below 1 count as 1).
    lr_W : float or ndarray, shape (K,)
        the learning rate of the unconstrained W (the paper's 0.05 / N).

    Returns
    -------
    ndarray, shape (K,) or ()
        float64.

    Examples
    --------
    >>> lowrank_lr(256, [1, 4], 0.05 / 256).round(6).tolist()
    [0.003125, 0.001563]
    """
    r = np.maximum(np.asarray(rank, dtype=float), 1.0)
    return np.asarray(lr_W, dtype=float) * np.sqrt(N / r)


def per_network(name: str, value: float | Sequence[float] | np.ndarray, K: int, *,
                integer: bool = False, hi: int | None = None) -> np.ndarray:
    """One value or K values, validated: reals > 0, or integers in 1..``hi``.

    Parameters
    ----------
    name : str
        the parameter's name, for the error message.
    value : scalar or sequence
    K : int
        networks in the ensemble.
    integer : bool
        integers >= 1 (and <= ``hi``) instead of positive reals.
    hi : int, optional
        largest allowed integer.

    Returns
    -------
    ndarray, shape (K,)
        float64, or int64 with ``integer=True``.

    Raises
    ------
    ValueError, TypeError
        naming ``name``, the value and the allowed range.
    """
    a = np.atleast_1d(np.asarray(value, dtype=object))
    if a.ndim != 1 or a.size not in (1, K):
        raise ValueError(f"{name} must be one value or K={K} values; got {a.size}")
    vals: list[float] = []
    for i, x in enumerate(a.tolist()):
        label = name if a.size == 1 else f"{name}[{i}]"
        if integer:
            if isinstance(x, (float, np.floating)) and float(x).is_integer():
                x = int(x)
            vals.append(V.integer(label, x, lo=1, hi=hi))
        else:
            vals.append(V.real(label, x, lo=0.0, lo_open=True))
    out = np.full(K, vals[0]) if a.size == 1 else np.asarray(vals)
    return out.astype(np.int64 if integer else np.float64)


class Factors:
    r"""The factors U, V of K networks whose recurrent change has rank ``ranks[k]``.

    Networks of one ensemble may have different ranks: the factors are stored with
    ``R = max(ranks)`` columns, and the columns beyond a network's rank are held at 0
    (its gradients are masked).

    Parameters
    ----------
    W0 : Tensor, shape (K, N, N)
        initial recurrent weights (copied).
    seeds : sequence of int, length K
        network seeds; V0 is drawn from ``rng_for(seed, STREAM_FACTORS)``.
    ranks : ndarray of int, shape (K,)
        each in 1..N.

    Attributes
    ----------
    U, V : Tensor, shape (K, N, R)
        the trained factors (U starts at 0, V at unit-norm random columns).
    ranks : ndarray of int, shape (K,)
    mask : Tensor, shape (K, 1, R)
        1 for the columns within each network's rank.
    """

    def __init__(self, W0: torch.Tensor, seeds: Sequence[int] | np.ndarray, ranks: np.ndarray):
        K, N = W0.shape[0], W0.shape[-1]
        self.ranks = np.asarray(ranks, dtype=np.int64)
        R = int(self.ranks.max())
        cols = np.arange(R)[None, :] < self.ranks[:, None]
        self.mask = torch.as_tensor(cols, dtype=W0.dtype, device=W0.device).unsqueeze(1)
        v0 = np.empty((K, N, R))
        for k, s in enumerate(seeds):
            v = rng_for(int(s), STREAM_FACTORS).standard_normal((N, R))
            v0[k] = v / np.linalg.norm(v, axis=0, keepdims=True)
        self.W0 = W0.detach().clone()
        self.U = torch.zeros(K, N, R, dtype=W0.dtype, device=W0.device)
        self.V = torch.as_tensor(v0, dtype=W0.dtype, device=W0.device) * self.mask

    def weights(self) -> torch.Tensor:
        r""":math:`W = W_0 + U V^\top`, shape (K, N, N)."""
        return torch.baddbmm(self.W0, self.U, self.V.transpose(1, 2))

    def grads(self, gW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(dL/dU, dL/dV) = (G V, G^T U)`` from ``G = dL/dW`` (K, N, N), masked."""
        return (torch.bmm(gW, self.V).mul_(self.mask),
                torch.bmm(gW.transpose(1, 2), self.U).mul_(self.mask))
