r"""The gradient of the loss in W as a sum of outer products, and the directions it spans.

For the Euler-discretised rate RNN

.. math::

    x_{t+1} = x_t + \Delta t\,\big(-x_t + W\phi(x_t) + W_{in}^\top u_t\big),

the gradient of any loss :math:`L` of the states is

.. math::

    \frac{\partial L}{\partial W} = \Delta t \sum_{b} \sum_{t=0}^{T-1}
    \delta_{t+1}^{(b)}\, \phi\big(x_t^{(b)}\big)^\top,
    \qquad \delta_{t+1} = \frac{\partial L}{\partial x_{t+1}},

a sum over trials and time of outer products of the back-propagated error
:math:`\delta` and the activity :math:`\phi(x)`. This module computes both
factors (:func:`gradient_terms`) and measures how much of a matrix lives in given
input-side and output-side subspaces (:func:`span_fraction`,
:func:`krylov_fraction`). See :doc:`/book/03_gradient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from ..engine import phi_fn, reference_forward
from ..models import RNN

__all__ = ["GradientTerms", "gradient_terms", "span_fraction", "krylov_fraction"]


@dataclass
class GradientTerms:
    r"""The two factors of the gradient of one network, and their sum.

    Attributes
    ----------
    delta : ndarray, shape (T, B, N)
        back-propagated errors :math:`\delta_{t+1} = \partial L / \partial x_{t+1}`.
    rates : ndarray, shape (T, B, N)
        activity :math:`\phi(x_t)` for t = 0..T-1.
    G : ndarray, shape (N, N)
        :math:`\Delta t \sum_{b,t} \delta_{t+1} \phi(x_t)^\top`.
    autograd_G : ndarray, shape (N, N)
        :math:`\partial L / \partial W` from ``torch.autograd`` through
        :func:`lrbook.engine.reference_forward`, for comparison.
    loss : float
    """

    delta: np.ndarray
    rates: np.ndarray
    G: np.ndarray
    autograd_G: np.ndarray
    loss: float


def gradient_terms(model: RNN, u: Any, target: Any, mask: Any, k: int = 0) -> GradientTerms:
    r"""Back-propagated errors, activity and their outer-product sum for network ``k``.

    The errors are read off exactly: a zero perturbation :math:`\xi_t` added to
    :math:`x_{t+1}` has :math:`\partial L/\partial \xi_t = \delta_{t+1}`. Everything
    runs in float64 through :func:`lrbook.engine.reference_forward` (a plain loop;
    small networks). The loss is the masked MSE of :func:`lrbook.engine.masked_mse`
    (written out here, differentiable).

    See :doc:`/book/03_gradient`.

    Parameters
    ----------
    model : RNN
        an ensemble; its current weights are used.
    u : array, shape (B, T, n_in)
    target, mask : array, shape (B, T, n_out)
    k : int
        which network of the ensemble.

    Returns
    -------
    GradientTerms

    Raises
    ------
    TypeError, ValueError
        if ``model`` is not an :class:`~lrbook.models.RNN`, ``k`` is out of range,
        the arrays have the wrong shapes or ``mask`` holds a negative, NaN or inf entry.
    """
    if not isinstance(model, RNN):
        raise TypeError(f"model must be an lrbook.models.RNN; got {type(model).__name__}")
    k = V.integer("k", k, lo=0, hi=model.K - 1)
    f64 = torch.float64
    ut = torch.as_tensor(np.asarray(u), dtype=f64)
    yt = torch.as_tensor(np.asarray(target), dtype=f64)
    mt = torch.as_tensor(np.asarray(mask), dtype=f64)
    V.mask("mask", mt)
    if ut.dim() != 3 or ut.shape[-1] != model.n_in:
        raise ValueError(f"u must have shape (B, T, {model.n_in}); got {tuple(ut.shape)}")
    if yt.shape != mt.shape or yt.shape[:2] != ut.shape[:2] or yt.shape[-1] != model.n_out:
        raise ValueError(f"target and mask must have shape {tuple(ut.shape[:2]) + (model.n_out,)}; "
                         f"got {tuple(yt.shape)} and {tuple(mt.shape)}")
    B, T, _ = ut.shape
    W = model.W[k:k + 1].to(f64).clone().requires_grad_()
    W_in = model.W_in[k:k + 1].to(f64)
    W_out = model.W_out[k:k + 1].to(f64)
    x0 = model.x0(B)
    x0 = None if x0 is None else x0[k:k + 1].to(f64)
    xi = torch.zeros(1, T, B, model.N, dtype=f64, requires_grad=True)
    z, x = reference_forward(W_in, W, W_out, ut.transpose(0, 1).unsqueeze(0), dt=model.dt,
                             phi=model.phi, x0=x0, noise=xi)
    mk = mt.transpose(0, 1).unsqueeze(0)
    count = mk.sum()
    loss = 0.5 * (mk * (z - yt.transpose(0, 1).unsqueeze(0)) ** 2).sum() / (count if count > 0 else 1.0)
    loss.backward()
    assert xi.grad is not None and W.grad is not None
    delta = xi.grad[0]
    rates = phi_fn(model.phi, x[0, :-1]).detach()
    G = model.dt * torch.einsum("tbi,tbj->ij", delta, rates)
    return GradientTerms(delta=delta.numpy(), rates=rates.numpy(), G=G.numpy(),
                         autograd_G=W.grad[0].numpy(), loss=float(loss.item()))


def _basis(vectors: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(vectors)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(r).max())
    return q[:, keep]


def span_fraction(M: Any, left: Any, right: Any) -> float:
    r"""Fraction of :math:`\|M\|_F^2` inside ``span(left)`` (rows) and ``span(right)`` (columns).

    .. math:: \frac{\|P_L\, M\, P_R\|_F^2}{\|M\|_F^2}

    with :math:`P_L, P_R` the orthogonal projectors on the column spans of ``left``
    and ``right``. 1 when :math:`M = \sum a_i b_i^\top` with every :math:`a_i` in
    span(left) and :math:`b_i` in span(right). See :doc:`/book/03_gradient`.

    Parameters
    ----------
    M : array, shape (N, N)
    left, right : array, shape (N, p) and (N, q)
        vectors as columns (e.g. ``W_out`` and ``W_in.T``).

    Returns
    -------
    float
        in [0, 1]; 0 for a zero matrix.
    """
    A = np.asarray(M, dtype=np.float64)
    L = _basis(np.asarray(left, dtype=np.float64))
    R = _basis(np.asarray(right, dtype=np.float64))
    if A.ndim != 2 or L.shape[0] != A.shape[0] or R.shape[0] != A.shape[1]:
        raise ValueError(f"M (N, N), left (N, p) and right (N, q) must agree; got {A.shape}, "
                         f"{np.shape(left)}, {np.shape(right)}")
    total = float(np.sum(A ** 2))
    return 0.0 if total == 0 else float(np.sum((L.T @ A @ R) ** 2) / total)


def krylov_fraction(M: Any, W0: Any, W_in: Any, W_out: Any, orders: Sequence[int]) -> np.ndarray:
    r"""Fraction of :math:`\|M\|_F^2` in the Krylov spaces of the readout and input vectors.

    For each order p: the left space is spanned by :math:`(W_0^\top)^i w_k` and the
    right one by :math:`W_0^i m_j`, :math:`i = 0..p` — the directions that the error
    and the activity reach through p passes of :math:`W_0`. See :doc:`/book/03_gradient`.

    Parameters
    ----------
    M, W0 : array, shape (N, N)
    W_in : array, shape (n_in, N)
        rows are the input vectors :math:`m_j`.
    W_out : array, shape (N, n_out)
        columns are the readout vectors :math:`w_k / N`.
    orders : sequence of int
        each >= 0.

    Returns
    -------
    ndarray, shape (len(orders),)
    """
    W0 = np.asarray(W0, dtype=np.float64)
    right = [np.asarray(W_in, dtype=np.float64).T]
    left = [np.asarray(W_out, dtype=np.float64)]
    out = []
    for p in orders:
        p = V.integer("orders", p, lo=0)
        while len(right) <= p:
            right.append(W0 @ right[-1])
            left.append(W0.T @ left[-1])
        out.append(span_fraction(M, np.concatenate(left[:p + 1], 1), np.concatenate(right[:p + 1], 1)))
    return np.array(out)
