r"""Fixed points of rate networks, found in batches and classified by their Jacobians.

For a network with recurrent weights :math:`W`, input weights :math:`W_{in}` and a
constant input :math:`u`, the vector field of the continuous-time dynamics is

.. math:: F(x) = -x + W\phi(x) + W_{in}^\top u ,

and its fixed points :math:`F(x^*) = 0` are also the fixed points of the Euler map
:math:`x \mapsto x + \Delta t\, F(x)` (whose Jacobian has eigenvalues
:math:`1 + \Delta t\,\lambda`). Following Sussillo & Barak (2013), the points are
found by minimising the speed :math:`q(x) = \tfrac12 |F(x)|^2` from many states at
once: first Adam on :math:`q` (which also finds slow regions), then a damped Newton
(Levenberg-Marquardt) polish that converges to the exact zeros. Points whose
:math:`q` stays above ``q_tol`` are reported separately as *slow points*.
Everything is batched over the K networks of an ensemble and the S starts of each.

A discrete map :math:`h \mapsto \tanh(W h + W_{in}^\top u + b)` (a ``torch.nn.RNN``
step) is handled with ``discrete=True``: then :math:`F(h) = -h + \phi(W h + W_{in}^\top u + b)`,
whose zeros are the map's fixed points; the map's Jacobian eigenvalues are
:math:`1 + \lambda`.

See :doc:`/book/07_dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from .._threads import flush_denormals
from ..engine import PHIS, phi_fn

__all__ = ["FixedPoint", "FixedPoints", "vector_field", "jacobian", "find_fixed_points",
           "as_weights"]


def _dphi(phi: str, x: torch.Tensor) -> torch.Tensor:
    if phi == "tanh":
        return 1 - torch.tanh(x) ** 2
    if phi == "linear":
        return torch.ones_like(x)
    if phi == "relu":
        return (x > 0).to(x.dtype)
    return torch.sigmoid(x)                      # softplus


def as_weights(W: Any, W_in: Any = None, W_out: Any = None, b: Any = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Weights as float64 tensors with a leading network axis K.

    Parameters
    ----------
    W : array or Tensor, shape (N, N) or (K, N, N)
    W_in : array or Tensor, shape (n_in, N) or (K, n_in, N), optional
        default: no input (``n_in = 0``).
    W_out : array or Tensor, shape (N, n_out) or (K, N, n_out), optional
    b : array or Tensor, shape (N,) or (K, N), optional
        a bias inside the nonlinearity of a discrete map (``torch.nn.RNN``).

    Returns
    -------
    W, W_in, W_out, b : Tensor
        (K, N, N), (K, n_in, N), (K, N, n_out) or None, (K, N).

    Raises
    ------
    ValueError
        on inconsistent shapes, complex or non-finite values.
    """
    def t(name, a, ndim):
        if a is None:
            return None
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu()
        arr = np.asarray(a)
        if np.iscomplexobj(arr):
            raise ValueError(f"{name} must be real; got a complex array")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an array of numbers") from None
        if arr.ndim == ndim - 1:
            arr = arr[None]
        if arr.ndim != ndim:
            raise ValueError(f"{name} must have {ndim - 1} or {ndim} dimensions; got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite")
        return torch.from_numpy(np.ascontiguousarray(arr))

    Wt = t("W", W, 3)
    if Wt.shape[-1] != Wt.shape[-2]:
        raise ValueError(f"W must be square, (N, N) or (K, N, N); got {tuple(Wt.shape)}")
    K, N = Wt.shape[0], Wt.shape[-1]
    Wi = t("W_in", W_in, 3) if W_in is not None else torch.zeros(K, 0, N, dtype=torch.float64)
    Wo = t("W_out", W_out, 3)
    bt = t("b", b, 2) if b is not None else torch.zeros(K, N, dtype=torch.float64)
    for name, a, pos in (("W_in", Wi, -1), ("W_out", Wo, -2), ("b", bt, -1)):
        if a is None:
            continue
        if a.shape[0] == 1 and K > 1:
            a = a.expand(K, *a.shape[1:])
        if a.shape[0] != K or a.shape[pos] != N:
            raise ValueError(f"{name} does not match W of shape {tuple(Wt.shape)}: got {tuple(a.shape)}")
        if name == "W_in":
            Wi = a
        elif name == "W_out":
            Wo = a
        else:
            bt = a
    return Wt, Wi, Wo, bt


def _drive(W_in: torch.Tensor, u: Any, b: torch.Tensor) -> torch.Tensor:
    """The constant drive W_in^T u + b, shape (K, 1, N)."""
    K, n_in, N = W_in.shape
    if u is None:
        uu = torch.zeros(K, n_in, dtype=torch.float64)
    else:
        arr = np.asarray(u, dtype=np.float64)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (K, arr.size))
        if arr.shape != (K, n_in):
            raise ValueError(f"u must have shape ({n_in},) or ({K}, {n_in}); got {np.shape(u)}")
        if not np.isfinite(arr).all():
            raise ValueError("u must be finite")
        uu = torch.from_numpy(np.array(arr))
    return (torch.einsum("ki,kin->kn", uu, W_in) + b).unsqueeze(1)


def vector_field(x: torch.Tensor, W: torch.Tensor, drive: torch.Tensor, phi: str = "tanh",
                 discrete: bool = False) -> torch.Tensor:
    r"""The speed :math:`F(x) = -x + W\phi(x) + d` (or :math:`-h + \phi(Wh + d)` for a map).

    Parameters
    ----------
    x : Tensor, shape (K, S, N)
        S states of each of K networks.
    W : Tensor, shape (K, N, N)
    drive : Tensor, shape (K, 1, N)
        :math:`W_{in}^\top u` (plus the bias of a map).
    phi : {"tanh", "linear", "relu", "softplus"}
    discrete : bool
        the map form.

    Returns
    -------
    Tensor, shape (K, S, N)
    """
    if discrete:
        return -x + phi_fn(phi, x @ W.transpose(1, 2) + drive)
    return -x + phi_fn(phi, x) @ W.transpose(1, 2) + drive


def jacobian(x: torch.Tensor, W: torch.Tensor, drive: torch.Tensor | None = None, phi: str = "tanh",
             discrete: bool = False) -> torch.Tensor:
    r"""Jacobian :math:`\partial F / \partial x = -I + W\,\mathrm{diag}\,\phi'(x)`.

    For a map, :math:`-I + \mathrm{diag}\,\phi'(Wh + d)\, W`.

    Parameters
    ----------
    x : Tensor, shape (K, S, N)
    W : Tensor, shape (K, N, N)
    drive : Tensor, shape (K, 1, N), optional
        needed for ``discrete=True`` only.
    phi : {"tanh", "linear", "relu", "softplus"}
    discrete : bool

    Returns
    -------
    Tensor, shape (K, S, N, N)
    """
    N = x.shape[-1]
    eye = torch.eye(N, dtype=x.dtype)
    if discrete:
        assert drive is not None
        d = _dphi(phi, x @ W.transpose(1, 2) + drive)              # (K, S, N)
        return -eye + d.unsqueeze(-1) * W.unsqueeze(1)
    return -eye + W.unsqueeze(1) * _dphi(phi, x).unsqueeze(-2)


@dataclass
class FixedPoint:
    """One fixed point (or slow point) of one network.

    Attributes
    ----------
    network : int
        index k in the ensemble.
    x : ndarray, shape (N,)
        the state.
    q : float
        speed :math:`\\tfrac12 |F(x)|^2` there.
    readout : ndarray, shape (n_out,)
        :math:`z^* = W_{out}^\\top \\phi(x^*)` (empty without ``W_out``).
    eigenvalues : ndarray of complex, shape (N,)
        of the Jacobian of :math:`F`, by decreasing real part.
    n_starts : int
        how many starts converged here (after merging).
    """

    network: int
    x: np.ndarray
    q: float
    readout: np.ndarray
    eigenvalues: np.ndarray
    n_starts: int = 1

    @property
    def max_real_eigenvalue(self) -> float:
        """Largest real part of the Jacobian's eigenvalues."""
        return float(self.eigenvalues.real.max())

    @property
    def n_unstable(self) -> int:
        """Number of eigenvalues with positive real part (unstable directions)."""
        return int((self.eigenvalues.real > 0).sum())

    @property
    def stable(self) -> bool:
        """True when every eigenvalue has a negative real part."""
        return self.n_unstable == 0

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """JSON-ready summary (``full``: also the state and all eigenvalues).

        Parameters
        ----------
        full : bool

        Returns
        -------
        dict
            ``network``, ``readout``, ``stable``, ``q``, ``max_real_eigenvalue``,
            ``n_unstable``, ``n_starts`` (and ``x``, ``eigenvalues_real``,
            ``eigenvalues_imag`` when ``full``).
        """
        d = {"network": self.network, "readout": [float(v) for v in self.readout],
             "stable": self.stable, "q": float(self.q),
             "max_real_eigenvalue": self.max_real_eigenvalue, "n_unstable": self.n_unstable,
             "n_starts": self.n_starts}
        if full:
            d.update(x=self.x.tolist(), eigenvalues_real=self.eigenvalues.real.tolist(),
                     eigenvalues_imag=self.eigenvalues.imag.tolist())
        return d


@dataclass
class FixedPoints:
    """The fixed points and slow points of K networks.

    Attributes
    ----------
    points : list of FixedPoint
        true fixed points (``q < q_tol``), merged, for all networks.
    slow_points : list of FixedPoint
        minima of q that are not zeros (``q >= q_tol``), merged.
    K : int
    n_starts : int
        starts per network.
    q_tol, merge_tol : float
        the tolerances used.
    phi : str
    discrete : bool
    """

    points: list[FixedPoint]
    slow_points: list[FixedPoint]
    K: int
    n_starts: int
    q_tol: float
    merge_tol: float
    phi: str
    discrete: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def of(self, k: int, slow: bool = False) -> list[FixedPoint]:
        """The points of network ``k`` (slow points with ``slow=True``).

        Parameters
        ----------
        k : int
        slow : bool

        Returns
        -------
        list of FixedPoint
        """
        return [p for p in (self.slow_points if slow else self.points) if p.network == k]

    def stable(self, k: int | None = None) -> list[FixedPoint]:
        """Stable fixed points (of network ``k``, or all)."""
        return [p for p in self.points if p.stable and (k is None or p.network == k)]

    def unstable(self, k: int | None = None) -> list[FixedPoint]:
        """Unstable fixed points (saddles and repellers; of network ``k``, or all)."""
        return [p for p in self.points if not p.stable and (k is None or p.network == k)]

    def states(self, k: int) -> np.ndarray:
        """States of network ``k``'s fixed points, shape (P, N)."""
        pts = self.of(k)
        return np.stack([p.x for p in pts]) if pts else np.zeros((0, self.info.get("N", 0)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: per network, its fixed points and the count of slow points."""
        return {"K": self.K, "n_starts": self.n_starts, "q_tol": self.q_tol, "phi": self.phi,
                "discrete": self.discrete,
                "networks": [{"network": k, "fixed_points": [p.to_dict() for p in self.of(k)],
                              "slow_points": len(self.of(k, slow=True))} for k in range(self.K)]}


def _merge(x: np.ndarray, q: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Greedy merge of states closer than ``tol`` (RMS per neuron): (representative, count)."""
    order = np.argsort(q, kind="stable")
    reps: list[int] = []
    counts: list[int] = []
    for i in order:
        for j, r in enumerate(reps):
            if np.sqrt(np.mean((x[i] - x[r]) ** 2)) < tol:
                counts[j] += 1
                break
        else:
            reps.append(int(i))
            counts.append(1)
    return list(zip(reps, counts))


def find_fixed_points(W: Any, W_in: Any = None, starts: Any = None, *, u: Any = None,
                      W_out: Any = None, b: Any = None, phi: str = "tanh", discrete: bool = False,
                      q_tol: float = 1e-12, merge_tol: float = 1e-3, adam_steps: int = 400,
                      adam_lr: float = 0.05, newton_steps: int = 30) -> FixedPoints:
    r"""Fixed points of K networks from S starts each, merged and classified.

    See :doc:`/book/07_dynamics`.

    Parameters
    ----------
    W : array, shape (N, N) or (K, N, N)
        recurrent weights (``W[i, j]``: from j to i).
    W_in : array, shape (n_in, N) or (K, n_in, N), optional
    starts : array, shape (S, N) or (K, S, N)
        initial states, e.g. from :func:`lrbook.dynamics.starts_from_trajectories`.
    u : array, shape (n_in,) or (K, n_in), optional
        the constant input (default zero: the memory period of the tasks).
    W_out : array, shape (N, n_out) or (K, N, n_out), optional
        for the readouts :math:`z^*`.
    b : array, shape (N,) or (K, N), optional
        bias of a discrete map.
    phi : {"tanh", "linear", "relu", "softplus"}
    discrete : bool
        find the fixed points of :math:`h \mapsto \phi(Wh + W_{in}^\top u + b)` instead.
    q_tol : float
        a point is a fixed point when :math:`q < q_\mathrm{tol}`, else a slow point.
    merge_tol : float
        points closer than this (root-mean-square difference per neuron) are one.
    adam_steps, newton_steps : int
        iterations of the two stages.
    adam_lr : float

    Returns
    -------
    FixedPoints

    Raises
    ------
    ValueError, TypeError
        naming the parameter.
    """
    phi = V.choice("phi", phi, PHIS)
    q_tol = V.real("q_tol", q_tol, lo=0.0, lo_open=True)
    merge_tol = V.real("merge_tol", merge_tol, lo=0.0, lo_open=True)
    adam_steps = V.integer("adam_steps", adam_steps, lo=0, hi=100_000)
    newton_steps = V.integer("newton_steps", newton_steps, lo=0, hi=10_000)
    adam_lr = V.real("adam_lr", adam_lr, lo=0.0, lo_open=True)
    Wt, Wi, Wo, bt = as_weights(W, W_in, W_out, b)
    K, N = Wt.shape[0], Wt.shape[-1]
    if starts is None:
        raise ValueError("starts must be given: an array of initial states, shape (S, N) or (K, S, N)")
    x0 = np.asarray(starts.detach().cpu() if isinstance(starts, torch.Tensor) else starts,
                    dtype=np.float64)
    if x0.ndim == 2:
        x0 = np.broadcast_to(x0, (K,) + x0.shape)
    if x0.ndim != 3 or x0.shape[0] != K or x0.shape[-1] != N or x0.shape[1] < 1:
        raise ValueError(f"starts must have shape (S, {N}) or ({K}, S, {N}); got {np.shape(starts)}")
    if not np.isfinite(x0).all():
        raise ValueError("starts must be finite")
    drive = _drive(Wi, u, bt)
    S = x0.shape[1]

    # stage 1: Adam on q, with the exact gradient J^T F
    x = torch.from_numpy(np.array(x0)).requires_grad_()
    opt = torch.optim.Adam([x], lr=adam_lr)
    for _ in range(adam_steps):
        with torch.no_grad():
            F = vector_field(x, Wt, drive, phi, discrete)
            if discrete:
                d = _dphi(phi, x @ Wt.transpose(1, 2) + drive)
                g = -F + (F * d) @ Wt
            else:
                g = -F + _dphi(phi, x) * (F @ Wt)
        x.grad = g
        opt.step()
    xs = x.detach()

    # stage 2: Levenberg-Marquardt polish, per point damping
    def q_of(z, W_, d_):
        return 0.5 * (vector_field(z, W_, d_, phi, discrete) ** 2).sum(-1)

    # Each point is polished on its own: the points still moving are gathered, with
    # their network's weights, into one batch per step (P, 1, N), so that points that
    # have converged, or networks whose points all have, cost nothing.
    xs = xs.reshape(K * S, N).clone()
    q = q_of(xs.view(K, S, N), Wt, drive).reshape(K * S)
    mu = torch.full((K * S,), 1e-3, dtype=torch.float64)
    net_of = torch.arange(K).repeat_interleave(S)
    eye = torch.eye(N, dtype=torch.float64)
    # Newton converges quadratically: states heading for x = 0 would reach subnormal
    # numbers, on which the linear algebra is orders of magnitude slower. Flush them to
    # zero here, and stop polishing the points that have converged.
    with flush_denormals():
        for _ in range(newton_steps):
            idx = (q >= q_tol * 1e-4).nonzero().squeeze(1)  # points with work left
            if idx.numel() == 0:
                break
            ks = net_of[idx]
            Wk, dk, xk = Wt[ks], drive[ks], xs[idx].unsqueeze(1)   # (P, N, N), (P, 1, N) x2
            F = vector_field(xk, Wk, dk, phi, discrete)
            J = jacobian(xk, Wk, dk, phi, discrete)[:, 0]         # (P, N, N)
            JT = J.transpose(-1, -2)
            A = JT @ J + mu[idx][:, None, None] * eye
            step = torch.linalg.solve(A, -(JT @ F.transpose(1, 2))).transpose(1, 2)
            x_new = xk + step
            q_new = q_of(x_new, Wk, dk)[:, 0]
            better = q_new < q[idx]
            xs[idx] = torch.where(better.unsqueeze(-1), x_new[:, 0], xk[:, 0])
            q[idx] = torch.where(better, q_new, q[idx])
            mu[idx] = torch.where(better, mu[idx] / 3, mu[idx] * 10).clamp(1e-12, 1e12)
    xs = xs.reshape(K, S, N)
    q = q.reshape(K, S)

    X = xs.numpy()
    Q = q.numpy()
    found: list[tuple[int, int, int, bool]] = []          # (network, start, merged count, slow)
    for k in range(K):
        for is_slow, sel in ((False, Q[k] < q_tol), (True, Q[k] >= q_tol)):
            idx = np.flatnonzero(sel)
            if idx.size:
                found += [(k, int(idx[rep]), count, is_slow)
                          for rep, count in _merge(X[k, idx], Q[k, idx], merge_tol)]
    # the Jacobians' eigenvalues, one LAPACK call per point (calls from several threads
    # at once make numpy's BLAS threads spin against each other: one after the other)
    def spectrum(item: tuple[int, int, int, bool]) -> np.ndarray:
        k, i = item[0], item[1]
        xt = torch.from_numpy(X[k, i][None, None])
        ev = np.linalg.eigvals(jacobian(xt, Wt[k:k + 1], drive[k:k + 1], phi, discrete)[0, 0].numpy())
        return ev[np.argsort(-ev.real, kind="stable")]

    spectra = [spectrum(item) for item in found]
    points: list[FixedPoint] = []
    slow: list[FixedPoint] = []
    for (k, i, count, is_slow), ev in zip(found, spectra):
        if Wo is None:
            z = np.zeros(0)
        else:
            r = phi_fn(phi, torch.from_numpy(X[k, i])) if not discrete else torch.from_numpy(X[k, i])
            z = (r @ Wo[k]).numpy()
        (slow if is_slow else points).append(FixedPoint(network=k, x=X[k, i].copy(), q=float(Q[k, i]),
                                                        readout=z, eigenvalues=ev, n_starts=count))
    return FixedPoints(points=points, slow_points=slow, K=K, n_starts=S, q_tol=q_tol,
                       merge_tol=merge_tol, phi=phi, discrete=discrete, info={"N": N})

