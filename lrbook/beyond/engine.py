r"""The Euler rate RNN with any of four nonlinearities, forward and exact backward (BPTT).

:mod:`lrbook.engine` simulates the paper's networks, :math:`\phi \in \{\tanh, \mathrm{id}\}`.
The chapter :doc:`/book/10_beyond` also trains networks with

.. math::

    \phi(x) = \mathrm{relu}(x) = \max(x, 0), \qquad
    \phi(x) = \mathrm{softplus}(x) = \log(1 + e^x).

This module runs the same model for every :math:`\phi` in :data:`PHIS`, with the same
shapes and conventions as :func:`lrbook.engine.forward` / :func:`lrbook.engine.backward`
(which it calls for ``tanh`` and ``linear``, the fast path):

.. math::

    x_{t+1} = (1 - \Delta t)\, x_t + \Delta t \big(W \phi(x_t) + W_{in}^\top u_t\big), \qquad
    z_t = W_{out}^\top \phi(x_{t+1}).

The backward pass needs :math:`\phi'(x_t)`, which for all four nonlinearities is a
function of the rate :math:`r_t = \phi(x_t)` alone — :math:`1 - r^2` (tanh), 1
(linear), :math:`[r > 0]` (relu) and :math:`1 - e^{-r}` (softplus, since
:math:`\phi'(x) = \sigma(x) = 1 - e^{-\phi(x)}`) — so only the rates are stored.
No state noise (:math:`\sigma = 0`, as in all the paper's experiments).

Shapes: ``W`` (K, N, N), ``W_in`` (K, n_in, N), ``W_out`` (K, N, n_out), time-major
``u`` (K, T, B, n_in), ``z`` (K, T, B, n_out).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .. import engine as core

#: Nonlinearities of this module; the first two run on :mod:`lrbook.engine`.
PHIS = ("tanh", "linear", "relu", "softplus")


def phi_fn(phi: str, x: torch.Tensor) -> torch.Tensor:
    """:math:`\\phi(x)` for a name in :data:`PHIS`."""
    if phi == "tanh":
        return torch.tanh(x)
    if phi == "linear":
        return x
    if phi == "relu":
        return torch.relu(x)
    if phi == "softplus":
        return F.softplus(x)
    raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")


def dphi_from_rate(phi: str, r: torch.Tensor) -> torch.Tensor:
    """:math:`\\phi'(x)` written as a function of the rate :math:`r = \\phi(x)`."""
    if phi == "tanh":
        return 1.0 - r * r
    if phi == "linear":
        return torch.ones_like(r)
    if phi == "relu":
        return (r > 0).to(r.dtype)
    if phi == "softplus":
        return -torch.expm1(-r)
    raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")


@dataclass
class Rollout:
    """What :func:`backward` needs from :func:`forward`.

    Attributes
    ----------
    phi : str
    ws : lrbook.engine.Workspace or None
        the fast path's buffers (tanh, linear).
    R : Tensor, shape (K, T+1, B, N) or None
        rates :math:`\\phi(x_t)`, t = 0..T (relu, softplus, or ``fast=False``).
    """

    phi: str
    ws: core.Workspace | None = None
    R: torch.Tensor | None = None

    def rates(self) -> torch.Tensor:
        """Rates for t = 0..T, shape (K, T+1, B, N)."""
        if self.ws is not None:
            return self.ws.rates()
        if self.R is None:
            raise ValueError("the rollout holds no rates")
        return self.R


def forward(W: torch.Tensor, W_in: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor, *, dt: float,
            phi: str = "tanh", x0: torch.Tensor | None = None, fast: bool = True,
            ws: core.Workspace | None = None) -> tuple[torch.Tensor, Rollout]:
    """Run K networks over T steps (no gradient tape).

    Parameters
    ----------
    W, W_in, W_out : Tensor
        (K, N, N), (K, n_in, N), (K, N, n_out).
    u : Tensor, shape (K, T, B, n_in)
    dt : float
    phi : {"tanh", "linear", "relu", "softplus"}
    x0 : Tensor, shape (K, B, N) or (K, 1, N), optional
        initial state (default 0).
    fast : bool
        use :func:`lrbook.engine.forward` for tanh and linear (default); False runs
        this module's generic loop for every phi (used to test one against the other).
    ws : lrbook.engine.Workspace, optional
        buffers of the fast path to reuse.

    Returns
    -------
    z : Tensor, shape (K, T, B, n_out)
    rollout : Rollout
    """
    if phi not in PHIS:
        raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")
    if fast and phi in core.PHIS:
        z, ws = core.forward(W, W_in, W_out, u, dt=dt, phi=phi, x0=x0, ws=ws)
        return z, Rollout(phi, ws=ws)
    K, T, B, n_in = u.shape
    N, n_out = W.shape[-1], W_out.shape[-1]
    R = W.new_empty(K, T + 1, B, N)
    drive = torch.bmm(u.reshape(K, T * B, n_in), W_in).view(K, T, B, N)
    x = W.new_zeros(K, B, N) if x0 is None else x0.expand(K, B, N).clone()
    R[:, 0] = phi_fn(phi, x)
    Wt = W.transpose(1, 2)
    for t in range(T):
        rec = torch.baddbmm(drive[:, t], R[:, t], Wt)           # W r_t + W_in^T u_t (row form)
        x.mul_(1.0 - dt).add_(rec, alpha=dt)
        R[:, t + 1] = phi_fn(phi, x)
    z = torch.bmm(R[:, 1:].reshape(K, T * B, N), W_out).view(K, T, B, n_out)
    return z, Rollout(phi, R=R)


def backward(W: torch.Tensor, W_in: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor, dz: torch.Tensor,
             rollout: Rollout, *, dt: float, need: tuple[bool, bool, bool] = (True, True, True)
             ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    r"""Exact gradients through :func:`forward`, given :math:`\partial L/\partial z`.

    With :math:`h_t = \partial L/\partial x_t` (t = 1..T, :math:`h_{T+1} = 0`),

    .. math::

        h_t = \phi'(x_t) \odot \big(W_{out}\, \partial_{z_{t-1}} L + \Delta t\, W^\top h_{t+1}\big)
              + (1 - \Delta t)\, h_{t+1},

    :math:`\partial L/\partial W = \Delta t \sum_t h_{t+1} \phi(x_t)^\top`,
    :math:`\partial L/\partial W_{in} = \Delta t \sum_t u_t h_{t+1}^\top` and
    :math:`\partial L/\partial W_{out} = \sum_t \phi(x_{t+1})\, \partial_{z_t} L^\top`.

    Parameters
    ----------
    dz : Tensor, shape (K, T, B, n_out)
    rollout : Rollout
        from :func:`forward` on the same weights and inputs.
    need : (bool, bool, bool)
        which of (W_in, W, W_out) gradients to return.

    Returns
    -------
    gW_in, gW, gW_out : Tensor or None
    """
    phi = rollout.phi
    if rollout.ws is not None:
        return core.backward(W, W_in, W_out, u, dz, rollout.ws, dt=dt, phi=phi, need=need)
    R = rollout.rates()
    K, T, B, n_in = u.shape
    N, n_out = W.shape[-1], W_out.shape[-1]
    a = 1.0 - dt
    # direct drive of each state by the loss: W_out dz_{t-1}, for t = 1..T (row form dz W_out^T)
    D = torch.bmm(dz.reshape(K, T * B, n_out), W_out.transpose(1, 2)).view(K, T, B, N)
    Hs = W.new_empty(K, T, B, N)                                # Hs[:, t-1] = h_t
    h_next = W.new_zeros(K, B, N)
    for t in range(T, 0, -1):
        back = torch.baddbmm(D[:, t - 1], h_next, W, alpha=dt)   # W_out dz + dt W^T h_{t+1}
        h = back.mul_(dphi_from_rate(phi, R[:, t])).add_(h_next, alpha=a)
        Hs[:, t - 1] = h
        h_next = h
    Hf = Hs.view(K, T * B, N)
    gW = torch.bmm(Hf.transpose(1, 2), R[:, :T].reshape(K, T * B, N)).mul_(dt) if need[1] else None
    gW_in = torch.bmm(u.reshape(K, T * B, n_in).transpose(1, 2), Hf).mul_(dt) if need[0] else None
    gW_out = torch.bmm(R[:, 1:].reshape(K, T * B, N).transpose(1, 2), dz.reshape(K, T * B, n_out)) \
        if need[2] else None
    return gW_in, gW, gW_out
