r"""Linearisation around fixed points and the latent dynamics of low-rank networks.

A network whose recurrent matrix has rank R, :math:`W = U S V^\top` (orthonormal
:math:`U, V`, shape (N, R)), driven by inputs through :math:`W_{in}`, keeps its
state in the span of the columns of :math:`U` and the input vectors when it starts
there (Mastrogiuseppe & Ostojic 2018). Writing :math:`x = U\kappa + W_{in}^\top v`,

.. math::

    \dot\kappa = -\kappa + S V^\top \phi(U\kappa + W_{in}^\top v), \qquad \dot v = -v + u ,

an R + n_in dimensional system that reproduces the N-dimensional one exactly, also
after Euler discretisation (both updates are linear in the state's coordinates).
See :doc:`/book/07_dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from ..engine import PHIS, phi_fn
from .fixed_points import FixedPoint, as_weights, jacobian

__all__ = ["Linearisation", "linearise", "LowRankSystem", "low_rank_system", "subspace_fraction"]


def subspace_fraction(v: Any, basis: Any) -> np.ndarray | float:
    r"""Fraction of the squared norm of each vector inside the span of ``basis``.

    .. math:: |P v|^2 / |v|^2

    Parameters
    ----------
    v : array, shape (N,) or (P, N)
        real or complex vectors (rows).
    basis : array, shape (N, d)
        spanning vectors as columns (need not be orthonormal).

    Returns
    -------
    ndarray, shape (P,) (or a float for one vector)
    """
    B = np.asarray(basis)
    q, r = np.linalg.qr(B.astype(np.complex128) if np.iscomplexobj(B) else B.astype(np.float64))
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, float(np.abs(r).max()))
    Q = q[:, keep]
    a = np.atleast_2d(np.asarray(v))
    if a.shape[-1] != B.shape[0]:
        raise ValueError(f"v has {a.shape[-1]} entries; basis has {B.shape[0]} rows")
    inside = np.sum(np.abs(a @ Q.conj()) ** 2, axis=-1)
    total = np.sum(np.abs(a) ** 2, axis=-1)
    out = np.where(total > 0, inside / np.where(total > 0, total, 1.0), 0.0)
    return float(out[0]) if np.ndim(v) == 1 else out


@dataclass
class Linearisation:
    r"""The leading modes of the Jacobian at a fixed point.

    Attributes
    ----------
    eigenvalues : ndarray of complex, shape (n,)
        the n eigenvalues of :math:`\partial F/\partial x` with the largest real part
        (the slowest or unstable modes), in decreasing order of real part.
    vectors : ndarray of complex, shape (n, N)
        the matching right eigenvectors (unit norm), as rows.
    alignment : dict of str to ndarray, shape (n,)
        for each named subspace (e.g. ``"inputs"``, ``"readout"``, ``"dW top-R"``),
        the fraction of each eigenvector inside it (:func:`subspace_fraction`).
    """

    eigenvalues: np.ndarray
    vectors: np.ndarray
    alignment: dict[str, np.ndarray]


def linearise(point: FixedPoint | Any, W: Any, *, phi: str = "tanh", n: int = 4,
              subspaces: dict[str, Any] | None = None) -> Linearisation:
    r"""Leading eigenmodes of the Jacobian at a state, and their alignment with subspaces.

    See :doc:`/book/07_dynamics`.

    Parameters
    ----------
    point : FixedPoint or array, shape (N,)
    W : array, shape (N, N)
        recurrent weights of that network.
    phi : {"tanh", "linear", "relu", "softplus"}
    n : int
        how many modes, 1..N.
    subspaces : dict of str to array (N, d), optional
        spanning vectors (columns) of the subspaces to compare with.

    Returns
    -------
    Linearisation
    """
    phi = V.choice("phi", phi, PHIS)
    x = point.x if isinstance(point, FixedPoint) else np.asarray(point, dtype=np.float64)
    Wt, _, _, _ = as_weights(W)
    if Wt.shape[0] != 1 or x.shape != (Wt.shape[-1],):
        raise ValueError(f"point must be a state of shape ({Wt.shape[-1]},) of one network (N, N); "
                         f"got {x.shape} and W {tuple(Wt.shape)}")
    n = V.integer("n", n, lo=1, hi=x.size)
    J = jacobian(torch.from_numpy(x)[None, None], Wt, phi=phi)[0, 0].numpy()
    ev, vec = np.linalg.eig(J)
    order = np.argsort(-ev.real, kind="stable")[:n]
    vectors = vec[:, order].T
    align = {name: np.atleast_1d(subspace_fraction(vectors, basis))
             for name, basis in (subspaces or {}).items()}
    return Linearisation(eigenvalues=ev[order], vectors=vectors, alignment=align)


@dataclass
class LowRankSystem:
    r"""The exact latent system of a rank-R network.

    Attributes
    ----------
    U : ndarray, shape (N, R)
        left singular vectors of the recurrent matrix (orthonormal columns).
    S : ndarray, shape (R,)
        its singular values.
    V : ndarray, shape (N, R)
        right singular vectors.
    W_in : ndarray, shape (n_in, N)
    phi : str
    """

    U: np.ndarray
    S: np.ndarray
    V: np.ndarray
    W_in: np.ndarray
    phi: str = "tanh"

    @property
    def R(self) -> int:
        """The rank."""
        return int(self.S.size)

    @property
    def W(self) -> np.ndarray:
        r"""The recurrent matrix :math:`U\,\mathrm{diag}(S)\,V^\top`, shape (N, N)."""
        return (self.U * self.S) @ self.V.T

    def state(self, kappa: Any, v: Any | None = None) -> np.ndarray:
        r"""Full states :math:`x = U\kappa + W_{in}^\top v`.

        Parameters
        ----------
        kappa : array, shape (..., R)
        v : array, shape (..., n_in), optional

        Returns
        -------
        ndarray, shape (..., N)
        """
        x = np.asarray(kappa) @ self.U.T
        return x if v is None else x + np.asarray(v) @ self.W_in

    def velocity(self, kappa: Any, v: Any | None = None) -> np.ndarray:
        r""":math:`\dot\kappa = -\kappa + S V^\top\phi(U\kappa + W_{in}^\top v)`.

        Parameters
        ----------
        kappa : array, shape (..., R)
        v : array, shape (..., n_in), optional
            input coordinates (default 0: no input).

        Returns
        -------
        ndarray, shape (..., R)
        """
        k = np.asarray(kappa, dtype=np.float64)
        r = phi_fn(self.phi, torch.from_numpy(self.state(k, v))).numpy()
        return -k + (r @ self.V) * self.S

    def flow(self, grid: Any) -> tuple[np.ndarray, np.ndarray]:
        """The velocity on a grid of a 2-D latent plane (R = 2, no input).

        Parameters
        ----------
        grid : array, shape (G,)
            values of each coordinate.

        Returns
        -------
        kappa : ndarray, shape (G, G, 2)
        velocity : ndarray, shape (G, G, 2)
        """
        if self.R != 2:
            raise ValueError(f"flow needs a rank-2 system; this one has R = {self.R}")
        g = np.asarray(grid, dtype=np.float64)
        k1, k2 = np.meshgrid(g, g, indexing="xy")
        kappa = np.stack([k1, k2], -1)
        return kappa, self.velocity(kappa)

    def simulate(self, u: Any, dt: float, kappa0: Any | None = None) -> tuple[np.ndarray, np.ndarray]:
        r"""Euler steps of the latent system for inputs ``u``.

        .. math::

            \kappa_{t+1} = \kappa_t + \Delta t\,(-\kappa_t + S V^\top\phi(x_t)), \quad
            v_{t+1} = v_t + \Delta t\,(-v_t + u_t)

        Parameters
        ----------
        u : array, shape (B, T, n_in)
        dt : float
        kappa0 : array, shape (B, R) or (R,), optional
            default 0 (with v = 0: the network's x0 = 0).

        Returns
        -------
        kappa : ndarray, shape (B, T + 1, R)
        x : ndarray, shape (B, T + 1, N)
            the full states :math:`U\kappa_t + W_{in}^\top v_t`.
        """
        dt = V.real("dt", dt, lo=0.0, hi=1.0, lo_open=True)
        uu = np.asarray(u, dtype=np.float64)
        B, T, _ = uu.shape
        k = np.zeros((B, self.R)) if kappa0 is None else np.broadcast_to(
            np.asarray(kappa0, dtype=np.float64), (B, self.R)).copy()
        v = np.zeros((B, self.W_in.shape[0]))
        ks, xs = [k], [self.state(k, v)]
        for t in range(T):
            k = k + dt * self.velocity(k, v)
            v = v + dt * (-v + uu[:, t])
            ks.append(k)
            xs.append(self.state(k, v))
        return np.stack(ks, 1), np.stack(xs, 1)


def low_rank_system(W: Any, W_in: Any, R: int, *, phi: str = "tanh") -> LowRankSystem:
    r"""The latent system of :math:`\mathrm{SVD}_R(W)` (exact when W has rank R).

    Use it on :math:`\Delta W` of a network trained from :math:`g = 0`, or on a
    truncated :math:`\mathrm{SVD}_R(\Delta W)` with :math:`W_0` removed.
    See :doc:`/book/07_dynamics`.

    Parameters
    ----------
    W : array, shape (N, N)
    W_in : array, shape (n_in, N)
    R : int
        1..N.
    phi : {"tanh", "linear", "relu", "softplus"}

    Returns
    -------
    LowRankSystem
    """
    phi = V.choice("phi", phi, PHIS)
    Wt, Wi, _, _ = as_weights(W, W_in)
    if Wt.shape[0] != 1:
        raise ValueError(f"W must be one (N, N) matrix; got {tuple(Wt.shape)}")
    A = Wt[0].numpy()
    R = V.integer("R", R, lo=1, hi=A.shape[0])
    u, s, vt = np.linalg.svd(A)
    return LowRankSystem(U=u[:, :R], S=s[:R], V=vt[:R].T, W_in=Wi[0].numpy(), phi=phi)
