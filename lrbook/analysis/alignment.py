r"""Where does the learned change point? Alignment of :math:`\Delta W` with the task vectors.

Write :math:`\Delta W = \sum_r s_r u_r v_r^\top`. The right vectors :math:`v_r`
are the directions of activity that :math:`\Delta W` *reads*, the left vectors
:math:`u_r` the directions it *writes*. For the linear theory of the paper
(:doc:`/book/05_randomness`) the gradient is
:math:`-(\hat z - z)\, a b^\top` with :math:`b = (1 - W)^{-1} m = m + W m + \dots`
and :math:`a \propto (1 - W)^{-\top} w = w + W^\top w + \dots`: the change reads
along the input vector ``m`` and its images :math:`W_0 m`, and writes along the
output vector ``w`` and :math:`W_0^\top w`. At g = 0 both live in
:math:`\mathrm{span}\{m, w\}` and :math:`\Delta W` has rank 2.

Alignment is :math:`|\cos|` between unit vectors (the sign of a singular vector is
arbitrary). 1 means the singular vector *is* the reference direction; the level
of two random directions in N dimensions is about :math:`\sqrt{2/(\pi N)}`
(:attr:`Alignment.chance`), so values well above it show structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate as V
from ._arrays import jsonable, matrices, to_numpy


@dataclass
class Alignment:
    r"""Alignment of the top singular vectors of :math:`\Delta W` with reference vectors.

    See :doc:`/book/05_randomness`.

    Attributes
    ----------
    labels : list of str, length n_ref
        names of the reference vectors: ``m1..`` (rows of ``W_in``), ``w1..``
        (columns of ``W_out``), ``W0 m1..`` and ``W0^T w1..`` (when ``W0`` is given),
        then any user vectors.
    singular_values : ndarray, shape (r,)
        :math:`s_1 \ge \dots \ge s_r` of :math:`\Delta W`.
    left, right : ndarray, shape (r, n_ref)
        :math:`|\cos(u_i, x_j)|` and :math:`|\cos(v_i, x_j)|`; NaN for a zero reference
        (e.g. :math:`W_0 m` at g = 0).
    left_span, right_span : ndarray, shape (r,)
        norm of the projection of :math:`u_i` (resp. :math:`v_i`) onto the span of all
        non-zero references: 1 means the singular vector lies in that span. Unlike
        ``left``/``right`` it does not depend on how degenerate singular vectors
        are rotated.
    chance : float
        :math:`\sqrt{2/(\pi N)}`, the typical :math:`|\cos|` of two random directions.
    """

    labels: list[str]
    singular_values: np.ndarray
    left: np.ndarray
    right: np.ndarray
    left_span: np.ndarray
    right_span: np.ndarray
    chance: float = field(default=float("nan"))

    def to_dict(self) -> dict:
        """Every field as JSON types (lists; NaN as None).

        Returns
        -------
        dict
        """
        return {k: jsonable(v) for k, v in self.__dict__.items()}


def _unit_columns(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-12 * max(1.0, float(n.max(initial=0.0))), X / np.where(n > 0, n, 1.0), np.nan)


def _span_norm(vecs: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Norm of the projection of each unit column of ``vecs`` onto span(columns of refs)."""
    ok = ~np.isnan(refs).any(axis=0)
    if not ok.any():
        return np.full(vecs.shape[1], np.nan)
    Q, s, _ = np.linalg.svd(refs[:, ok], full_matrices=False)
    Q = Q[:, s > 1e-10 * s[0]]
    return np.linalg.norm(Q.T @ vecs, axis=0)


def alignment(dW: Any, *, W_in: Any = None, W_out: Any = None, W0: Any = None, r: int = 3,
              vectors: Mapping[str, Any] | None = None) -> Alignment:
    r""":math:`|\cos|` between the top-``r`` singular vectors of :math:`\Delta W` and task vectors.

    With :math:`\Delta W = \sum_i s_i u_i v_i^\top` and unit reference vectors
    :math:`\hat x_j`,

    .. math:: \mathrm{left}_{ij} = |u_i^\top \hat x_j|, \qquad \mathrm{right}_{ij} = |v_i^\top \hat x_j| .

    See :doc:`/book/05_randomness`.

    Parameters
    ----------
    dW : array or Tensor, shape (N, N)
        the connectivity change of one network.
    W_in : array or Tensor, shape (n_in, N), optional
        rows are the input vectors ``m``.
    W_out : array or Tensor, shape (N, n_out), optional
        columns are the output vectors (``w / N``; the scale does not matter).
    W0 : array or Tensor, shape (N, N), optional
        adds :math:`W_0 m_i` and :math:`W_0^\top w_k` (the first terms of the
        series of :math:`b` and :math:`a` in the module docstring).
    r : int
        1 <= r <= N, number of singular components.
    vectors : mapping of str to array (N,), optional
        further reference directions.

    Returns
    -------
    Alignment

    Raises
    ------
    ValueError
        if a shape does not match ``dW``, ``r`` is outside 1..N, or no reference
        vector is given.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m, w = rng.standard_normal(100), rng.standard_normal(100)
    >>> al = alignment(np.outer(w, m), W_in=m[None], W_out=w[:, None], r=1)
    >>> al.labels, round(float(al.left[0, 1]), 6), round(float(al.right[0, 0]), 6)
    (['m1', 'w1'], 1.0, 1.0)
    """
    d = matrices("dW", dW)
    if d.ndim != 2:
        raise ValueError(f"dW must have shape (N, N); got {d.shape}")
    N = d.shape[0]
    r = V.integer("r", r, lo=1, hi=N)
    refs, labels = [], []
    m = w = None
    if W_in is not None:
        m = to_numpy("W_in", W_in)
        if m.ndim == 1:
            m = m[None]
        if m.ndim != 2 or m.shape[1] != N:
            raise ValueError(f"W_in must have shape (n_in, {N}) (rows = input vectors); got {m.shape}")
        refs += list(m)
        labels += [f"m{i + 1}" for i in range(m.shape[0])]
    if W_out is not None:
        w = to_numpy("W_out", W_out)
        if w.ndim == 1:
            w = w[:, None]
        if w.ndim != 2 or w.shape[0] != N:
            raise ValueError(f"W_out must have shape ({N}, n_out) (columns = output vectors); got {w.shape}")
        refs += list(w.T)
        labels += [f"w{k + 1}" for k in range(w.shape[1])]
    if W0 is not None:
        w0 = matrices("W0", W0)
        if w0.shape != d.shape:
            raise ValueError(f"W0 must have the shape of dW {d.shape}; got {w0.shape}")
        if m is not None:
            refs += list((w0 @ m.T).T)
            labels += [f"W0 m{i + 1}" for i in range(m.shape[0])]
        if w is not None:
            refs += list((w0.T @ w).T)
            labels += [f"W0^T w{k + 1}" for k in range(w.shape[1])]
    for name, vec in (vectors or {}).items():
        v = to_numpy(f"vectors[{name!r}]", vec).ravel()
        if v.shape != (N,):
            raise ValueError(f"vectors[{name!r}] must have shape ({N},); got {v.shape}")
        refs.append(v)
        labels.append(str(name))
    if not refs:
        raise ValueError("alignment needs reference vectors: give W_in, W_out and/or vectors; got none")
    X = _unit_columns(np.stack(refs, axis=1))                      # (N, n_ref)
    U, s, Vt = np.linalg.svd(d)
    Ur, Vr = U[:, :r], Vt[:r].T
    return Alignment(labels=labels, singular_values=s[:r], left=np.abs(Ur.T @ X), right=np.abs(Vr.T @ X),
                     left_span=_span_norm(Ur, X), right_span=_span_norm(Vr, X),
                     chance=float(np.sqrt(2 / (np.pi * N))))
