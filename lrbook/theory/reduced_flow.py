r"""Reduced gradient flow of the linear network at g = 0: learning as an ODE in four numbers.

At ``g = 0`` the network starts from ``W0 = 0`` and every gradient
:math:`-(\hat z - z)\, a b^\top` has :math:`a \in \mathrm{span}\{w, \dots\}` and
:math:`b \in \mathrm{span}\{m, \dots\}` built from ``w``, ``m`` and ``W`` itself, so
``W`` never leaves :math:`\mathrm{span}\{w, m\} \otimes \mathrm{span}\{w, m\}`. Write

.. math::

    W = \frac1N\, U C U^\top, \qquad U = [\,w \;\; m\,] \in \mathbb R^{N \times 2},
    \qquad G = \frac1N U^\top U = \begin{pmatrix} 1 & \rho \\ \rho & 1 \end{pmatrix},

with :math:`\rho = w^\top m / N` (:math:`O(N^{-1/2})`). Because
:math:`(1 - W)\, U = U (I - C G)`, the fixed point and the output are

.. math::

    b = (1 - W)^{-1} m = U q,\quad q = (I - C G)^{-1} e_2, \qquad
    N a = (1 - W)^{-\top} w = U p,\quad p = (I - C^\top G)^{-1} e_1, \qquad
    z = e_1^\top G\, q,

and gradient descent on :math:`L = \tfrac12 (z - \hat z)^2`,
:math:`\dot W = (\hat z - z)\, a b^\top = \frac1N U\, (\hat z - z)\, p q^\top\, U^\top`, is the
four-dimensional ODE in the learning time :math:`\tau`

.. math::

    \frac{dC}{d\tau} = (\hat z - z)\; p\, q^\top, \qquad C(0) = 0 .

The singular values of :math:`\Delta W = W` are those of :math:`L^\top C L` with
:math:`G = L L^\top` (Cholesky), its nonzero eigenvalues those of :math:`C G`.
Plain gradient descent with learning rate ``lr`` is the Euler map
:math:`C \mapsto C + lr\,(\hat z - z)\, p q^\top` (:func:`reduced_descent`), which is
what the trained network follows update by update.

Explained in the chapter :doc:`/book/08_linear_rnn`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate as V


# --------------------------------------------------------------------------- 2 x 2 algebra
def _rhs(C, zh, G):
    """(dC/dtau, z) for C = ((c00, c01), (c10, c11)) as floats; G = (g00, g01, g11)."""
    c00, c01, c10, c11 = C
    g00, g01, g11 = G
    # P = I - C G
    p00 = 1 - (c00 * g00 + c01 * g01)
    p01 = -(c00 * g01 + c01 * g11)
    p10 = -(c10 * g00 + c11 * g01)
    p11 = 1 - (c10 * g01 + c11 * g11)
    det = p00 * p11 - p01 * p10
    q0, q1 = -p01 / det, p00 / det                      # (I - C G)^{-1} e_2
    # Pt = I - C^T G
    t00 = 1 - (c00 * g00 + c10 * g01)
    t01 = -(c00 * g01 + c10 * g11)
    t10 = -(c01 * g00 + c11 * g01)
    t11 = 1 - (c01 * g01 + c11 * g11)
    dett = t00 * t11 - t01 * t10
    r0, r1 = t11 / dett, -t10 / dett                     # (I - C^T G)^{-1} e_1
    z = g00 * q0 + g01 * q1
    e = zh - z
    return (e * r0 * q0, e * r0 * q1, e * r1 * q0, e * r1 * q1), z


def _rate(C, G) -> float:
    """Local rate of the flow, dz/dtau / (z_hat - z) = (p^T G p)(q^T G q)."""
    c00, c01, c10, c11 = C
    g00, g01, g11 = G
    p00, p01 = 1 - (c00 * g00 + c01 * g01), -(c00 * g01 + c01 * g11)
    p10, p11 = -(c10 * g00 + c11 * g01), 1 - (c10 * g01 + c11 * g11)
    det = p00 * p11 - p01 * p10
    q0, q1 = -p01 / det, p00 / det
    t00, t01 = 1 - (c00 * g00 + c10 * g01), -(c00 * g01 + c10 * g11)
    t10, t11 = -(c01 * g00 + c11 * g01), 1 - (c01 * g01 + c11 * g11)
    dett = t00 * t11 - t01 * t10
    r0, r1 = t11 / dett, -t10 / dett
    return (g00 * r0 * r0 + 2 * g01 * r0 * r1 + g11 * r1 * r1) * \
        (g00 * q0 * q0 + 2 * g01 * q0 * q1 + g11 * q1 * q1)


def _advance(C, zh, G, span, h_max):
    """Integrate over ``span`` with RK4 steps <= h_max and <= 0.05 / rate."""
    done = 0.0
    while done < span:
        rate = _rate(C, G)
        if not math.isfinite(rate):
            return (math.nan,) * 4
        h = min(h_max, 0.05 / max(rate * abs(zh) / max(abs(zh), 1e-300), 1e-12), span - done)
        if span - done - h < 1e-12 * span:
            h = span - done
        C = _rk4_step(C, zh, G, h)
        done += h
    return C


def _rk4_step(C, zh, G, h):
    add = lambda X, Y, s: tuple(x + s * y for x, y in zip(X, Y))  # noqa: E731
    k1, _ = _rhs(C, zh, G)
    k2, _ = _rhs(add(C, k1, h / 2), zh, G)
    k3, _ = _rhs(add(C, k2, h / 2), zh, G)
    k4, _ = _rhs(add(C, k3, h), zh, G)
    return tuple(c + h / 6 * (a + 2 * b + 2 * cc + d) for c, a, b, cc, d in zip(C, k1, k2, k3, k4))


def _readout(C, G) -> float:
    return _rhs(C, 0.0, G)[1]


def _gram_tuple(gram) -> tuple[float, float, float]:
    if gram is None:
        return 1.0, 0.0, 1.0
    G = np.asarray(gram, dtype=float)
    if G.shape != (2, 2) or not np.all(np.isfinite(G)):
        raise ValueError(f"gram must be a finite 2 x 2 matrix; got shape {G.shape}")
    if abs(G[0, 1] - G[1, 0]) > 1e-10 * max(1.0, abs(G[0, 1])):
        raise ValueError(f"gram must be symmetric; got off-diagonal {G[0, 1]} and {G[1, 0]}")
    if G[0, 0] <= 0 or G[0, 0] * G[1, 1] - G[0, 1] ** 2 <= 0:
        raise ValueError("gram must be positive definite (w and m linearly independent); "
                         f"got {G.tolist()}")
    return float(G[0, 0]), float(G[0, 1]), float(G[1, 1])


def gram_matrix(w, m) -> np.ndarray:
    r"""The Gram matrix :math:`G = U^\top U / N` of the basis :math:`U = [w, m]`, shape (2, 2).

    Parameters
    ----------
    w, m : array, shape (N,)
        output and input vectors (:func:`lrbook.theory.io_vectors`).
    """
    w = np.asarray(w, dtype=float)
    m = np.asarray(m, dtype=float)
    if w.ndim != 1 or m.shape != w.shape:
        raise ValueError(f"w and m must be vectors of the same length N; got {w.shape} and {m.shape}")
    U = np.stack([w, m], axis=1)
    return U.T @ U / w.size


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class ReducedFlow:
    r"""A solution of the reduced flow (:func:`reduced_flow` or :func:`reduced_descent`).

    Attributes
    ----------
    tau : ndarray, shape (S,)
        learning times.
    C : ndarray, shape (S, 2, 2)
        coefficients of :math:`\Delta W = U C U^\top / N` in the basis :math:`U = [w, m]`.
    z : ndarray, shape (S,)
        fixed-point output.
    z_hat : float
    gram : ndarray, shape (2, 2)
        :math:`G = U^\top U / N` (identity = the large-N limit).
    lr : float or None
        learning rate of :func:`reduced_descent`, None for the continuous flow.
    """

    tau: np.ndarray
    C: np.ndarray
    z: np.ndarray
    z_hat: float
    gram: np.ndarray
    lr: float | None = None

    @property
    def loss(self) -> np.ndarray:
        r""":math:`\tfrac12 (z - \hat z)^2`, shape (S,)."""
        return 0.5 * (self.z - self.z_hat) ** 2

    @property
    def _core(self) -> np.ndarray:
        L = np.linalg.cholesky(self.gram)
        return L.T @ self.C @ L

    @property
    def singular_values(self) -> np.ndarray:
        r"""The two nonzero singular values of :math:`\Delta W` (descending), shape (S, 2)."""
        return np.linalg.svd(self._core, compute_uv=False)

    @property
    def dW_norm(self) -> np.ndarray:
        r"""Frobenius norm :math:`\|\Delta W\|`, shape (S,)."""
        return np.linalg.norm(self._core, axis=(-2, -1))

    def _pq(self) -> tuple[np.ndarray, np.ndarray]:
        eye = np.eye(2)
        q = np.linalg.solve(eye - self.C @ self.gram, np.broadcast_to([0.0, 1.0], self.C.shape[:-1])[..., None])
        p = np.linalg.solve(eye - np.swapaxes(self.C, -1, -2) @ self.gram,
                            np.broadcast_to([1.0, 0.0], self.C.shape[:-1])[..., None])
        return p[..., 0], q[..., 0]

    @property
    def rate(self) -> np.ndarray:
        r"""Local learning rate :math:`|a|^2 |b|^2 = (p^\top G p)(q^\top G q)` of
        :math:`\dot z = (\hat z - z) |a|^2 |b|^2`, shape (S,); 1 at the start when ``G = I``."""
        p, q = self._pq()
        G = self.gram
        return np.einsum("si,ij,sj->s", p, G, p) * np.einsum("si,ij,sj->s", q, G, q)

    @property
    def gradient_norm(self) -> np.ndarray:
        r"""Frobenius norm of the gradient :math:`|\hat z - z|\,|a|\,|b|`, shape (S,)."""
        return np.abs(self.z_hat - self.z) * np.sqrt(self.rate)

    @property
    def eigenvalues(self) -> np.ndarray:
        r"""The two nonzero eigenvalues of :math:`W = \Delta W` (those of :math:`C G`), shape (S, 2),
        complex."""
        return np.linalg.eigvals(self.C @ self.gram)

    def dW(self, w, m, index: int = -1) -> np.ndarray:
        r""":math:`\Delta W = U C U^\top / N` at ``tau[index]`` for the vectors ``w``, ``m``, shape (N, N)."""
        return expand_coefficients(self.C[index], w, m)


# --------------------------------------------------------------------------- solvers
def reduced_flow(z_hat: float, tau, *, gram=None, max_step: float = 0.01) -> ReducedFlow:
    r"""Solve the reduced gradient flow :math:`dC/d\tau = (\hat z - z)\, p q^\top` (continuous learning time).

    .. math::

        \frac{dC}{d\tau} = (\hat z - z)\, p\, q^\top,\quad
        q = (I - C G)^{-1} e_2,\; p = (I - C^\top G)^{-1} e_1,\; z = e_1^\top G q

    Integrated with the classical Runge-Kutta scheme (local error :math:`O(h^5)`).

    Parameters
    ----------
    z_hat : float
        target output.
    tau : array, shape (S,)
        non-decreasing learning times >= 0 at which to report (the flow starts at 0).
    gram : array, shape (2, 2), optional
        :func:`gram_matrix` of the network's ``w`` and ``m``; default the identity (the
        large-N limit, :math:`\rho = 0`).
    max_step : float
        largest Runge-Kutta step in :math:`\tau`, > 0.

    Returns
    -------
    ReducedFlow

    Raises
    ------
    ValueError
        for bad arguments, or if the fixed point is lost (``I - C G`` singular) on the way.
    """
    zh = V.real("z_hat", z_hat)
    h_max = V.real("max_step", max_step, lo=0.0, lo_open=True)
    G = _gram_tuple(gram)
    t = np.atleast_1d(np.asarray(tau, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("tau must be a non-decreasing 1-d array of finite times >= 0")
    C = (0.0, 0.0, 0.0, 0.0)
    now = 0.0
    Cs = np.empty((t.size, 2, 2))
    zs = np.empty(t.size)
    for i, target in enumerate(t):
        span = target - now
        if span > 0:
            C = _advance(C, zh, G, span, h_max)
            now = float(target)
            if not all(math.isfinite(c) for c in C):
                raise ValueError(f"the reduced flow lost its fixed point before tau={target:g} "
                                 f"(z_hat={zh:g}): I - C G became singular")
        Cs[i] = np.reshape(C, (2, 2))
        zs[i] = _readout(C, G)
    return ReducedFlow(tau=t.copy(), C=Cs, z=zs, z_hat=zh, gram=np.array([[G[0], G[1]], [G[1], G[2]]]))


def reduced_descent(z_hat: float, epochs: int, lr: float, *, gram=None) -> ReducedFlow:
    r"""Plain gradient descent in the four coefficients: the exact image of the network's SGD.

    .. math::

        C_{e+1} = C_e + lr\,(\hat z - z_e)\, p_e\, q_e^\top, \qquad C_0 = 0 .

    This is the Euler scheme of :func:`reduced_flow` with step ``lr``; the trained
    network (g = 0, fixed-point task, batch 1) follows it update by update.

    Parameters
    ----------
    z_hat : float
    epochs : int
        number of updates, >= 1.
    lr : float
        learning rate, > 0.
    gram : array, shape (2, 2), optional
        as in :func:`reduced_flow`.

    Returns
    -------
    ReducedFlow
        ``epochs + 1`` states: entry ``e`` is the network before update ``e`` (so
        ``loss[:epochs]`` lines up with :attr:`lrbook.training.TrainResult.loss`), the last
        is the final network; ``tau = lr * arange(epochs + 1)``.
    """
    zh = V.real("z_hat", z_hat)
    n = V.integer("epochs", epochs, lo=1)
    lr = V.real("lr", lr, lo=0.0, lo_open=True)
    G = _gram_tuple(gram)
    C = (0.0, 0.0, 0.0, 0.0)
    Cs = np.empty((n + 1, 2, 2))
    zs = np.empty(n + 1)
    for e in range(n + 1):
        d, z = _rhs(C, zh, G)
        Cs[e] = np.reshape(C, (2, 2))
        zs[e] = z
        if not math.isfinite(z):
            raise ValueError(f"reduced gradient descent lost its fixed point at epoch {e} "
                             f"(z_hat={zh:g}, lr={lr:g}): I - C G became singular")
        C = tuple(c + lr * x for c, x in zip(C, d))
    return ReducedFlow(tau=lr * np.arange(n + 1), C=Cs, z=zs, z_hat=zh,
                       gram=np.array([[G[0], G[1]], [G[1], G[2]]]), lr=lr)


# --------------------------------------------------------------------------- network <-> coefficients
def _basis(w, m) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    m = np.asarray(m, dtype=float)
    if w.ndim != 1 or m.shape != w.shape:
        raise ValueError(f"w and m must be vectors of the same length N; got {w.shape} and {m.shape}")
    return np.stack([w, m], axis=1)


def expand_coefficients(C, w, m) -> np.ndarray:
    r""":math:`\Delta W = U C U^\top / N` with :math:`U = [w, m]`.

    Parameters
    ----------
    C : array, shape (2, 2)
    w, m : array, shape (N,)

    Returns
    -------
    ndarray, shape (N, N)
    """
    U = _basis(w, m)
    C = np.asarray(C, dtype=float)
    if C.shape != (2, 2):
        raise ValueError(f"C must have shape (2, 2); got {C.shape}")
    return U @ C @ U.T / U.shape[0]


def project_coefficients(dW, w, m) -> tuple[np.ndarray, float]:
    r"""Coefficients of a trained :math:`\Delta W` in the basis :math:`[w, m]`, and what is left.

    .. math::

        C = G^{-1}\, \frac{U^\top \Delta W\, U}{N}\, G^{-1}, \qquad
        \text{residual} = \frac{\| \Delta W - U C U^\top / N \|_F}{\|\Delta W\|_F}

    (``C`` is the least-squares fit; the residual is 0 exactly when :math:`\Delta W` lies
    in :math:`\mathrm{span}\{w, m\} \otimes \mathrm{span}\{w, m\}`.)

    Parameters
    ----------
    dW : array, shape (N, N)
    w, m : array, shape (N,)

    Returns
    -------
    C : ndarray, shape (2, 2)
    residual : float
    """
    U = _basis(w, m)
    dW = np.asarray(dW, dtype=float)
    N = U.shape[0]
    if dW.shape != (N, N):
        raise ValueError(f"dW must have shape ({N}, {N}) to match w and m; got {dW.shape}")
    G = U.T @ U / N
    C = np.linalg.solve(G, np.linalg.solve(G, (U.T @ dW @ U / N).T).T)
    nrm = np.linalg.norm(dW)
    res = float(np.linalg.norm(dW - U @ C @ U.T / N) / nrm) if nrm > 0 else 0.0
    return C, res


# --------------------------------------------------------------------------- convergence
def convergence_of_flow(z_hat: float, criterion: float = 0.05, *, gram=None,
                        step: float = 0.005, tau_max: float = 100.0) -> tuple[float, float]:
    r"""Learning time at which the reduced flow reaches ``loss < criterion * L0``, and
    :math:`\|\Delta W\|` after full convergence (:math:`\tau \to \infty`).

    Parameters
    ----------
    z_hat : float
        nonzero.
    criterion : float
        in (0, 1).
    gram : array, shape (2, 2), optional
        as in :func:`reduced_flow`.
    step : float
        grid of the search in :math:`\tau` (the crossing is interpolated in log loss).
    tau_max : float
        give up (ValueError) if not converged by then.

    Returns
    -------
    tau_c : float
        convergence time in learning time (divide by ``lr`` for epochs).
    dW_norm : float
        Frobenius norm of :math:`\Delta W` once :math:`z = \hat z` (loss below 1e-20 L0).
    """
    zh = V.real("z_hat", z_hat)
    if zh == 0.0:
        raise ValueError("z_hat must be nonzero (the loss starts at 0 otherwise); got 0.0")
    c = V.real("criterion", criterion, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    step = V.real("step", step, lo=0.0, lo_open=True)
    tau_max = V.real("tau_max", tau_max, lo=0.0, lo_open=True)
    G = _gram_tuple(gram)
    C = (0.0, 0.0, 0.0, 0.0)
    L0 = 0.5 * (zh - _readout(C, G)) ** 2
    tau, loss, tau_c = 0.0, L0, None
    while True:
        C_new = _advance(C, zh, G, step, step)
        z_new = _readout(C_new, G)
        if not math.isfinite(z_new):
            raise ValueError(f"the reduced flow lost its fixed point at tau={tau:g} (z_hat={zh:g})")
        loss_new = 0.5 * (zh - z_new) ** 2
        if tau_c is None and loss_new < c * L0:
            l1, l2 = math.log(loss), math.log(loss_new)
            tau_c = tau + (math.log(c * L0) - l1) / (l2 - l1) * step
        C, tau, loss = C_new, tau + step, loss_new
        if loss < 1e-20 * L0:
            break
        if tau > tau_max:
            raise ValueError(f"the reduced flow did not converge by tau_max={tau_max:g} (z_hat={zh:g})")
    assert tau_c is not None                     # set before the loss fell below 1e-20 L0
    L = np.linalg.cholesky(np.array([[G[0], G[1]], [G[1], G[2]]]))
    return float(tau_c), float(np.linalg.norm(L.T @ np.reshape(C, (2, 2)) @ L))
