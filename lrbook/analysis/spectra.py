r"""Singular values and eigenvalues of the connectivity before, after and during training.

The central object is the connectivity change :math:`\Delta W = W - W_0`. The
paper's first claim is that its singular values :math:`s_1 \ge s_2 \ge \dots`
have a few large values and a bulk of tiny ones (:doc:`/book/04_low_rank`), while
:math:`W_0` itself is full rank with a circular eigenvalue bulk of radius ``g``
(:doc:`/book/05_randomness`).

Every function accepts one matrix (N, N) or a stack (K, N, N) (also (S, K, N, N)),
as numpy arrays or torch tensors, and computes in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import jsonable, matrices, same_shape


def singular_values(A: Any) -> np.ndarray:
    """Singular values of a matrix or of each matrix of a stack, descending.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    A : array or Tensor, shape (..., N, M)

    Returns
    -------
    ndarray, shape (..., min(N, M))
        float64, descending along the last axis.

    Raises
    ------
    ValueError
        if ``A`` is not at least 2-d, is empty, or holds NaN or inf.
    """
    a = matrices("A", A, square=False)
    return np.linalg.svd(a, compute_uv=False)


def dW_singular_values(W0: Any, W: Any) -> np.ndarray:
    r"""Singular values of :math:`\Delta W = W - W_0`, descending.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    W0, W : array or Tensor, shape (N, N) or (K, N, N)

    Returns
    -------
    ndarray, shape (N,) or (K, N)
    """
    w0 = matrices("W0", W0, square=False)
    w = matrices("W", W, square=False)
    same_shape("W0", w0, "W", w)
    return np.linalg.svd(w - w0, compute_uv=False)


def singular_values_over_training(snapshots: Any, W0: Any | None = None) -> np.ndarray:
    r"""Singular values of :math:`W(t) - W_0` for every snapshot of training.

    See :doc:`/book/04_low_rank`.

    Parameters
    ----------
    snapshots : array or Tensor, shape (S, N, N) or (S, K, N, N)
        recurrent weights at S moments of training (e.g.
        :attr:`lrbook.training.TrainResult.snapshots`).
    W0 : array or Tensor, shape (N, N) or (K, N, N), optional
        the initial weights; default ``snapshots[0]``.

    Returns
    -------
    ndarray, shape (S, N) or (S, K, N)
        descending singular values of each :math:`\Delta W(t)`.
    """
    s = matrices("snapshots", snapshots, square=False)
    if s.ndim < 3:
        raise ValueError(f"snapshots must have shape (S, N, N) or (S, K, N, N); got shape {s.shape}")
    w0 = s[0] if W0 is None else matrices("W0", W0, square=False)
    if w0.shape != s.shape[1:]:
        raise ValueError(f"W0 must have the shape of one snapshot {s.shape[1:]}; got {w0.shape}")
    return np.linalg.svd(s - w0[None], compute_uv=False)


def eigenvalues(A: Any) -> np.ndarray:
    r"""Eigenvalues of a square matrix or of each matrix of a stack.

    Sorted by decreasing modulus :math:`|\lambda|` (ties by decreasing real part).
    For :math:`W_0 = g\chi` with :math:`\chi_{ij} \sim \mathcal N(0, 1/N)` they fill
    the disc of radius ``g`` uniformly for large N (the circular law);
    see :doc:`/book/05_randomness`.

    Parameters
    ----------
    A : array or Tensor, shape (..., N, N)

    Returns
    -------
    ndarray of complex128, shape (..., N)
    """
    a = matrices("A", A)
    ev = np.linalg.eigvals(a).astype(np.complex128)
    order = np.lexsort((-ev.real, -np.abs(ev)), axis=-1)
    return np.take_along_axis(ev, order, axis=-1)


@dataclass
class Spectra:
    r"""Singular values and eigenvalues of :math:`W_0`, :math:`W` and :math:`\Delta W`.

    Leading axes (K,) when computed for a stack of K networks.

    See :doc:`/book/04_low_rank` (singular values) and :doc:`/book/05_randomness`
    (eigenvalues).

    Attributes
    ----------
    sv_dW, sv_W0, sv_W : ndarray, shape (..., N)
        singular values, descending.
    eig_dW, eig_W0, eig_W : ndarray of complex, shape (..., N)
        eigenvalues, by decreasing modulus.
    """

    sv_dW: np.ndarray
    sv_W0: np.ndarray
    sv_W: np.ndarray
    eig_dW: np.ndarray
    eig_W0: np.ndarray
    eig_W: np.ndarray

    def to_dict(self) -> dict:
        """JSON-serialisable dict (complex numbers as ``[re, im]`` pairs).

        Returns
        -------
        dict
        """
        return {k: jsonable(v) for k, v in self.__dict__.items()}


def spectra(W0: Any, W: Any) -> Spectra:
    r"""All spectra of one network (N, N) or of K networks (K, N, N).

    See :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Parameters
    ----------
    W0, W : array or Tensor, shape (N, N) or (K, N, N)

    Returns
    -------
    Spectra
        with :math:`\Delta W = W - W_0`.

    Examples
    --------
    >>> import numpy as np
    >>> W0 = np.random.default_rng(0).standard_normal((50, 50)) / np.sqrt(50)
    >>> sp = spectra(W0, W0 + np.outer(np.ones(50), np.ones(50)) / 50)
    >>> round(float(sp.sv_dW[0]), 6), round(float(sp.sv_dW[1]), 6)
    (1.0, 0.0)
    """
    w0 = matrices("W0", W0)
    w = matrices("W", W)
    same_shape("W0", w0, "W", w)
    dW = w - w0
    return Spectra(sv_dW=np.linalg.svd(dW, compute_uv=False), sv_W0=np.linalg.svd(w0, compute_uv=False),
                   sv_W=np.linalg.svd(w, compute_uv=False), eig_dW=eigenvalues(dW),
                   eig_W0=eigenvalues(w0), eig_W=eigenvalues(w))
