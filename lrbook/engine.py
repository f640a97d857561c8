r"""The Euler-discretised rate RNN, forward and exact backward (BPTT), for an ensemble.

This is the numerical core of lrbook. An *ensemble* of K independent networks is
held in stacked tensors with a leading dimension K, so one time step of all K
networks is one batched matrix product. The backward pass is written by hand
(no autograd tape over the time loop), with every buffer preallocated:

.. math::

    x_{t+1} = (1 - \Delta t)\, x_t + \Delta t\, \big(W \phi(x_t) + W_{in}^\top u_t\big) + \xi_t,
    \qquad z_t = W_{out}^\top \phi(x_{t+1}).

The nonlinearity :math:`\phi` is one of :data:`PHIS`: the paper's tanh (nonlinear
networks) and identity (linear networks), and relu and softplus (used in
:doc:`/book/13_beyond`). The backward pass needs :math:`\phi'(x_t)`, which for each of
them is a function of the stored rate :math:`r_t = \phi(x_t)` alone
(:func:`dphi_from_rate`), so only the rates are kept.

Shapes (time-major inside the engine; the public model API is batch-first):

- ``W_in`` (K, n_in, N), ``W`` (K, N, N), ``W_out`` (K, N, n_out): the weights are always
  passed in this order, that of :data:`lrbook.models.PARAMS`
- ``u`` (K, T, B, n_in), ``z`` (K, T, B, n_out)
- ``R`` (K, T+1, B, N): the rates ``phi(x_t)`` for t = 0..T.

The chapter :doc:`/book/01_tasks` introduces the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import torch
from torch.nn import functional as F

from . import _validate as V

#: The nonlinearities :math:`\phi` of the engine.
PHIS = ("tanh", "linear", "relu", "softplus")


def _check_phi(phi: str) -> None:
    if phi not in PHIS:
        raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")


def phi_fn(phi: str, x: torch.Tensor) -> torch.Tensor:
    r"""The rate :math:`\phi(x)`.

    .. math::

        \tanh(x), \quad x, \quad \max(x, 0), \quad \log(1 + e^x)

    for ``phi`` = tanh, linear, relu, softplus. Differentiable (autograd); the engine's
    own loop computes tanh as :math:`2\sigma(2x) - 1` instead. See :doc:`/book/13_beyond`.

    Parameters
    ----------
    phi : {"tanh", "linear", "relu", "softplus"}
    x : Tensor, any shape

    Returns
    -------
    Tensor, shape of ``x``
    """
    _check_phi(phi)
    if phi == "tanh":
        return torch.tanh(x)
    if phi == "relu":
        return torch.relu(x)
    if phi == "softplus":
        return F.softplus(x)
    return x


def dphi_from_rate(phi: str, r: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\phi'(x)` written as a function of the rate :math:`r = \phi(x)`.

    .. math::

        \tanh' = 1 - r^2, \quad \mathrm{id}' = 1, \quad \mathrm{relu}' = [r > 0], \quad
        \mathrm{softplus}' = \sigma(x) = 1 - e^{-r}.

    (relu's derivative at the kink :math:`x = 0` is taken as 0.) See :doc:`/book/13_beyond`.

    Parameters
    ----------
    phi : {"tanh", "linear", "relu", "softplus"}
    r : Tensor, any shape
        rates :math:`\phi(x)`.
    out : Tensor, shape of ``r``, optional
        written in place and returned.

    Returns
    -------
    Tensor, shape of ``r``
    """
    _check_phi(phi)
    if out is None:
        out = torch.empty_like(r)
    if phi == "tanh":
        return torch.mul(r, r, out=out).neg_().add_(1.0)
    if phi == "relu":
        return torch.sign(r, out=out)                       # r >= 0: sign is [r > 0]
    if phi == "softplus":
        return torch.neg(r, out=out).expm1_().neg_()
    return out.fill_(1.0)


def _rate_(phi: str, y: torch.Tensor, out: torch.Tensor, neg_ones: torch.Tensor) -> None:
    """``out = phi(x)`` from the tracked state ``y`` (``y = 2x`` for tanh, else ``x``).

    ``neg_ones`` holds -1 (shape of ``y``): ``2 s - 1`` is one kernel, ``-1 + 2 s``,
    bit-identical to ``s * 2 - 1`` (``2 s`` is exact).
    """
    if phi == "tanh":                                       # tanh(x) = 2 sigmoid(2x) - 1
        torch.add(neg_ones, torch.sigmoid(y, out=out), alpha=2.0, out=out)
    elif phi == "relu":
        torch.clamp(y, min=0.0, out=out)
    else:
        out.copy_(F.softplus(y))


@dataclass
class Workspace:
    """Preallocated buffers, reused across epochs when shapes match.

    ``RA[:, t] = [phi(x_t), u_t]`` (K, T+1, B, N+n_in) and
    ``HA[:, t] = [dL/dx_{t+1}, dL/dz_{t-1}]`` (K, T+1, B, N+n_out): one time step is
    one batched product with a block matrix (``Mf`` forward, ``Mb`` backward), and all
    weight gradients are one product ``HA^T RA`` (into ``G``). Every buffer lives on the
    weights' device; nothing is allocated per time step. Build one with :meth:`get`.

    Attributes
    ----------
    RA : Tensor, shape (K, T+1, B, N + n_in)
        rates and inputs of every step (``u_T`` is 0), written by :func:`forward`.
    HA : Tensor, shape (K, T+1, B, N + n_out), or None
        adjoints and output gradients, allocated by the first :func:`backward`.
    y, tmp, bufb, ones, neg_ones : Tensor, shape (K, B, N)
        state (``2 x`` for tanh), scratch buffers, ones and minus ones.
    buf : Tensor, shape (K, B, N + n_out)
        result of one forward step (drive and readout).
    Mf : Tensor, shape (K, N + n_in, N + n_out)
        the forward block matrix ``[W^T, W_out; W_in, 0]`` (its lower right block stays 0).
    Mb : Tensor, shape (K, N + n_out, N)
        the backward block matrix ``[dt W; W_out^T]``.
    G : Tensor, shape (K, N + n_out, N + n_in), or None
        ``HA^T RA``, allocated with ``HA``.
    """

    RA: torch.Tensor
    HA: torch.Tensor | None       # allocated by the first backward pass only
    y: torch.Tensor
    tmp: torch.Tensor
    buf: torch.Tensor
    bufb: torch.Tensor
    ones: torch.Tensor
    neg_ones: torch.Tensor
    Mf: torch.Tensor
    Mb: torch.Tensor
    G: torch.Tensor | None = None  # allocated with HA

    @classmethod
    def get(cls, ws: Workspace | None, K: int, T: int, B: int, N: int, n_in: int, n_out: int,
            dtype: torch.dtype, device: torch.device) -> Workspace:
        """``ws`` if its buffers fit these shapes, dtype and device, else new (uninitialised) buffers.

        Parameters
        ----------
        ws : Workspace or None
            buffers to reuse.
        K, T, B, N, n_in, n_out : int
            networks, steps, trials, neurons, input and output dimensions.
        dtype : torch.dtype
        device : torch.device

        Returns
        -------
        Workspace
        """
        device = torch.device(device)
        if ws is not None and ws.RA.shape == (K, T + 1, B, N + n_in) and ws.y.shape == (K, B, N) \
                and ws.buf.shape == (K, B, N + n_out) and ws.RA.dtype == dtype \
                and ws.RA.device == device:
            return ws
        def new(*shape: int) -> torch.Tensor:
            return torch.empty(shape, dtype=dtype, device=device)

        return cls(RA=new(K, T + 1, B, N + n_in), HA=None,
                   y=new(K, B, N), tmp=new(K, B, N), buf=new(K, B, N + n_out), bufb=new(K, B, N),
                   ones=new(K, B, N).fill_(1.0), neg_ones=new(K, B, N).fill_(-1.0),
                   Mf=torch.zeros(K, N + n_in, N + n_out, dtype=dtype, device=device),
                   Mb=new(K, N + n_out, N))

    @property
    def N(self) -> int:
        """Neurons per network."""
        return self.y.shape[-1]

    def rates(self) -> torch.Tensor:
        """``phi(x_t)`` for t = 0..T, a view of shape (K, T+1, B, N)."""
        return self.RA[..., :self.N]


def forward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor, *,
            dt: float, phi: str = "tanh", x0: torch.Tensor | None = None,
            noise: torch.Tensor | None = None, ws: Workspace | None = None,
            trajectory: bool = True) -> tuple[torch.Tensor, Workspace]:
    r"""Run K networks over T steps.

    .. math::

        x_{t+1} = (1 - \Delta t)\, x_t + \Delta t\, \big(W \phi(x_t) + W_{in}^\top u_t\big) + \xi_t,
        \qquad z_t = W_{out}^\top \phi(x_{t+1}),

    for t = 0..T-1, from :math:`x_0` (``x0``). For tanh the state is tracked as
    :math:`y = 2x`, with :math:`\tanh(x) = 2\sigma(y) - 1` (absolute error below 3e-7).

    See :doc:`/book/01_tasks` (the model).

    Parameters
    ----------
    W_in, W, W_out : Tensor
        (K, n_in, N), (K, N, N), (K, N, n_out).
    u : Tensor, shape (K, T, B, n_in)
        inputs, time-major.
    dt : float
        Euler step (tau = 1).
    phi : {"tanh", "linear", "relu", "softplus"}
    x0 : Tensor, shape (K, B, N) or (K, 1, N), optional
        initial state (default 0).
    noise : Tensor, shape (K, T, B, N), optional
        additive state noise per step, already scaled (``sqrt(dt) * sigma * xi``).
    ws : Workspace, optional
        buffers to reuse.
    trajectory : bool
        keep the rates of every step (default), as :func:`backward` needs; False keeps
        two steps only (``ws.RA`` of shape (K, 2, B, N + n_in), the same outputs) when
        only ``z`` is wanted, e.g. a loss: far less memory, and the rows of a step stay
        in cache.

    Returns
    -------
    z : Tensor, shape (K, T, B, n_out)
    ws : Workspace
        holds the rates, needed by :func:`backward` (with ``trajectory=True``).

    Raises
    ------
    ValueError
        if ``phi`` is not one of :data:`PHIS`.
    """
    _check_phi(phi)
    K, T, B, n_in = u.shape
    N, n_out = W.shape[-1], W_out.shape[-1]
    ws = Workspace.get(ws, K, T if trajectory else 1, B, N, n_in, n_out, W.dtype, W.device)
    y, buf, Mf, neg_ones = ws.y, ws.buf, ws.Mf, ws.neg_ones
    a = 1.0 - dt
    # block matrix: [r_t, u_t] @ Mf = [recurrent + input drive, readout of r_t]
    # (its block Mf[:, N:, N:] is 0 from Workspace.get and never written)
    linear = phi == "linear"
    if linear:
        eye = torch.eye(N, dtype=W.dtype, device=W.device)
        Mf[:, :N, :N] = a * eye + dt * W.transpose(1, 2)
        Mf[:, N:, :N] = dt * W_in
    else:
        Mf[:, :N, :N] = W.transpose(1, 2)
        Mf[:, N:, :N] = W_in
    Mf[:, :N, N:] = W_out
    z = W.new_empty(K, T, B, n_out)
    # the views of every step, made once: ra[t] = [r_t, u_t], r[t] = r_t, ui[t] = u_t in RA.
    # u_t is copied into RA at its step, while those rows are in cache (one copy of all
    # of u into the (T+1) B rows of RA misses the cache on every row).
    ra, r, ui = ws.RA.unbind(1), ws.rates().unbind(1), ws.RA[..., N:].unbind(1)
    if trajectory:
        ui[T].zero_()                                        # u_T = 0: no input gradient from t = T
    else:                                                    # two rows, used in turn
        ra, r, ui = (tuple(v[t % 2] for t in range(T + 1)) for v in (ra, r, ui))
    us, zs = u.unbind(1), z.unbind(1)
    noises = None if noise is None else noise.unbind(1)
    drive, readout = buf[..., :N], buf[..., N:]
    if not linear:
        # the state is tracked as y = s x, with s = 2 for tanh so that tanh(x) = 2 sigmoid(y) - 1
        # (3x faster than torch.tanh on CPU, absolute error < 3e-7; see tests/test_engine.py)
        s = 2.0 if phi == "tanh" else 1.0
        if x0 is None:
            y.zero_()
        else:
            y.copy_(x0.expand(K, B, N)).mul_(s)
        _rate_(phi, y, r[0], neg_ones)
        for t in range(T):
            ui[t].copy_(us[t])
            torch.bmm(ra[t], Mf, out=buf)
            y.mul_(a).add_(drive, alpha=s * dt)              # x <- (1-dt) x + dt (W r + W_in u)
            if noises is not None:
                y.add_(noises[t], alpha=s)
            _rate_(phi, y, r[t + 1], neg_ones)
            if t > 0:
                zs[t - 1].copy_(readout)
    else:
        if x0 is None:
            r[0].zero_()
        else:
            r[0].copy_(x0.expand(K, B, N))
        for t in range(T):
            ui[t].copy_(us[t])
            torch.bmm(ra[t], Mf, out=buf)                    # x <- x ((1-dt) + dt W^T) + dt W_in u
            r[t + 1].copy_(drive)
            if noises is not None:
                r[t + 1].add_(noises[t])
            if t > 0:
                zs[t - 1].copy_(readout)
    torch.bmm(r[T], W_out, out=zs[T - 1])
    return z, ws


_Grad = torch.Tensor | None


@overload
def backward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor,
             dz: torch.Tensor, ws: Workspace, *, dt: float, phi: str = ...,
             need: tuple[bool, bool, bool] = ..., x0_grad: Literal[False] = ...,
             out: tuple[_Grad, _Grad, _Grad] | None = ...) -> tuple[_Grad, _Grad, _Grad]: ...


@overload
def backward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor,
             dz: torch.Tensor, ws: Workspace, *, dt: float, phi: str = ...,
             need: tuple[bool, bool, bool] = ..., x0_grad: Literal[True],
             out: tuple[_Grad, _Grad, _Grad] | None = ...) -> tuple[_Grad, _Grad, _Grad, torch.Tensor]: ...


@overload
def backward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor,
             dz: torch.Tensor, ws: Workspace, *, dt: float, phi: str = ...,
             need: tuple[bool, bool, bool] = ..., x0_grad: bool, out: tuple[_Grad, _Grad, _Grad] | None = ...
             ) -> tuple[_Grad, _Grad, _Grad] | tuple[_Grad, _Grad, _Grad, torch.Tensor]: ...


def backward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor,
             dz: torch.Tensor, ws: Workspace, *, dt: float, phi: str = "tanh",
             need: tuple[bool, bool, bool] = (True, True, True), x0_grad: bool = False,
             out: tuple[_Grad, _Grad, _Grad] | None = None
             ) -> tuple[_Grad, _Grad, _Grad] | tuple[_Grad, _Grad, _Grad, torch.Tensor]:
    r"""Exact gradients of a loss through :func:`forward`, given ``dL/dz``.

    Parameters
    ----------
    W_in, W, W_out : Tensor
        (K, n_in, N), (K, N, N), (K, N, n_out), as given to :func:`forward`.
    u : Tensor, shape (K, T, B, n_in)
        the inputs given to :func:`forward`.
    dz : Tensor, shape (K, T, B, n_out)
        gradient of the loss with respect to the outputs.
    ws : Workspace
        as returned by :func:`forward` on the same inputs (holds the rates; not one of
        ``trajectory=False``).
    dt : float
        Euler step.
    phi : {"tanh", "linear", "relu", "softplus"}
    need : (bool, bool, bool)
        which of (W_in, W, W_out) gradients to return.
    x0_grad : bool
        also return :math:`\partial L / \partial x_0`, the gradient with respect to the
        initial state given to :func:`forward` (default False).
    out : (Tensor or None, Tensor or None, Tensor or None), optional
        tensors of the shapes of ``W_in``, ``W``, ``W_out`` (on their device and dtype) to
        write the needed gradients into, instead of new tensors (the same numbers); None
        entries give new tensors.

    Returns
    -------
    gW_in, gW, gW_out : Tensor or None
        shapes of ``W_in``, ``W``, ``W_out`` (the tensors of ``out`` where given); None
        where ``need`` is False.
    gx0 : Tensor, shape (K, B, N)
        only with ``x0_grad=True``: :math:`\partial L / \partial x_0` of every trial. An
        initial state shared by the trials (shape (K, 1, N)) gets the sum over trials,
        ``gx0.sum(1, keepdim=True)``; one taken from the weights (``x0_mode="input"``,
        :meth:`lrbook.models.RNN.x0`) passes it on to them.

    Raises
    ------
    ValueError
        if ``phi`` is not one of :data:`PHIS`, or ``ws`` does not hold the rates of every
        step of these shapes.

    Notes
    -----
    With :math:`h_t = \partial L / \partial x_t` (t = 1..T) the adjoint runs backwards,

    .. math::

        h_t = \phi'(x_t) \odot \big(W_{out}\, \partial_{z_{t-1}} L + \Delta t\, W^\top h_{t+1}\big)
              + (1 - \Delta t)\, h_{t+1},

    and :math:`\partial L/\partial W = \Delta t \sum_t h_{t+1} \phi(x_t)^\top`,
    :math:`\partial L/\partial W_{in} = \Delta t \sum_t u_t h_{t+1}^\top`,
    :math:`\partial L/\partial W_{out} = \sum_t \phi(x_{t+1})\, (\partial_{z_t} L)^\top`
    (sums also over the trials). One more step of the recursion, without a readout of
    :math:`x_0`, gives :math:`\partial L/\partial x_0 = \phi'(x_0) \odot \Delta t\, W^\top h_1
    + (1 - \Delta t)\, h_1`. ``tests/test_engine.py`` checks them against finite
    differences and ``torch.autograd`` through :func:`reference_forward`. Training
    (:func:`lrbook.training.train`) is introduced in :doc:`/book/01_tasks`.
    """
    _check_phi(phi)
    K, T, B, n_in = u.shape
    N, n_out = W.shape[-1], W_out.shape[-1]
    if ws.RA.shape != (K, T + 1, B, N + n_in):
        raise ValueError(f"ws must hold the rates of every step, shape {(K, T + 1, B, N + n_in)} (a "
                         f"forward pass with trajectory=True); got {tuple(ws.RA.shape)}")
    if ws.HA is None or ws.G is None or ws.HA.shape != (K, T + 1, B, N + n_out) \
            or ws.G.shape != (K, N + n_out, N + n_in):
        ws.HA = torch.empty(K, T + 1, B, N + n_out, dtype=W.dtype, device=W.device)
        ws.G = torch.empty(K, N + n_out, N + n_in, dtype=W.dtype, device=W.device)
    RA, HA, tmp, bufb, ones, Mb = ws.RA, ws.HA, ws.tmp, ws.bufb, ws.ones, ws.Mb
    a = 1.0 - dt
    # the views of every step, made once: ha[t] = [h_t, dz_{t-1}], h[t], r[t], and the
    # slot of dz_{t-1} in HA, written at its step (while those rows are in cache)
    ha, h, r = HA.unbind(1), HA[..., :N].unbind(1), RA[..., :N].unbind(1)
    do, dzs = HA[..., N:].unbind(1), dz.unbind(1)
    do[0].zero_()
    h[T].zero_()
    linear = phi == "linear"
    if linear:
        eye = torch.eye(N, dtype=W.dtype, device=W.device)
        Mb[:, :N] = a * eye + dt * W
    else:
        torch.mul(W, dt, out=Mb[:, :N])
    Mb[:, N:] = W_out.transpose(1, 2)
    for t in range(T, 0, -1):
        # [h_{t+1}, dz_{t-1}] @ Mb = dt W^T h_{t+1} + W_out dz_{t-1}   (row-vector form)
        do[t].copy_(dzs[t - 1])
        torch.bmm(ha[t], Mb, out=bufb)
        if linear:
            h[t - 1].copy_(bufb)
        else:
            if phi == "tanh":                                 # phi'(x_t) = 1 - r_t^2, one kernel
                torch.addcmul(ones, r[t], r[t], value=-1.0, out=tmp)
            else:
                dphi_from_rate(phi, r[t], out=tmp)
            torch.mul(bufb, tmp, out=h[t - 1]).add_(h[t], alpha=a)
    gx0 = None
    if x0_grad:
        # h_0 = dL/dx_0: the step above once more, with t = 0 (x_0 has no readout: the
        # output part of HA[:, 0] is zero)
        torch.bmm(ha[0], Mb, out=bufb)
        if linear:
            gx0 = bufb.clone()
        else:
            gx0 = bufb.mul(dphi_from_rate(phi, r[0], out=tmp)).add_(h[0], alpha=a)
    G = torch.bmm(HA.view(K, (T + 1) * B, N + n_out).transpose(1, 2),
                  RA.view(K, (T + 1) * B, N + n_in), out=ws.G)
    o_in, o_W, o_out = (None, None, None) if out is None else out
    gW = gW_in = gW_out = None
    if need[1]:
        gW = G[:, :N, :N].mul(dt) if o_W is None else torch.mul(G[:, :N, :N], dt, out=o_W)
    if need[0]:
        blk = G[:, :N, N:].transpose(1, 2)
        gW_in = blk.mul(dt) if o_in is None else torch.mul(blk, dt, out=o_in)
    if need[2]:
        blk = G[:, N:, :N].transpose(1, 2)
        gW_out = blk.contiguous() if o_out is None else o_out.copy_(blk)
    if gx0 is not None:
        return gW_in, gW, gW_out, gx0
    return gW_in, gW, gW_out


def masked_mse(z: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-network masked MSE and its gradient in ``z``.

    .. math:: L_k = \tfrac12 \sum \mathrm{mask}\,(z - \hat z)^2 / \sum \mathrm{mask}

    The sums run over every entry of network k. The mask weighs each entry: the tasks
    use 0 and 1, and any mask of finite weights >= 0 gives the loss above (a weighted
    mean) and its exact gradient; an all-zero mask gives loss 0 and gradient 0.

    See :doc:`/book/01_tasks` (the loss).

    Parameters
    ----------
    z, target, mask : Tensor, shape (K, ..., n_out)
        outputs, targets :math:`\hat z` and mask; ``z`` is not modified.

    Returns
    -------
    loss : Tensor, shape (K,)
    dz : Tensor, shape of ``z``
        :math:`\partial L_k / \partial z = \mathrm{mask}\,(z - \hat z) / \sum \mathrm{mask}`.

    Raises
    ------
    ValueError
        if ``mask`` holds a negative, NaN or infinite entry.
    """
    V.mask("mask", mask)
    K = z.shape[0]
    err = z - target
    dz = err * mask
    count = mask.reshape(K, -1).sum(1)
    count = torch.where(count > 0, count, torch.ones_like(count))    # all-zero mask: 0 / 1
    loss = 0.5 * (dz * err).reshape(K, -1).sum(1) / count
    dz.div_(count.view((K,) + (1,) * (z.dim() - 1)))
    return loss, dz


def reference_forward(W_in: torch.Tensor, W: torch.Tensor, W_out: torch.Tensor, u: torch.Tensor,
                      *, dt: float, phi: str = "tanh", x0: torch.Tensor | None = None,
                      noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The model written like its equation: a plain Euler loop, differentiable by autograd.

    .. math::

        x_{t+1} = x_t + \Delta t\,\big(-x_t + W \phi(x_t) + W_{in}^\top u_t\big) + \xi_t,
        \qquad z_t = W_{out}^\top \phi(x_{t+1}).

    Slow (a Python loop with an autograd tape) and meant for reading and testing:
    :func:`forward` and :func:`backward` are checked against it (values, and
    gradients through ``torch.autograd``). Noise-free. See :doc:`/book/03_gradient`.

    Parameters
    ----------
    W_in, W, W_out : Tensor
        (K, n_in, N), (K, N, N), (K, N, n_out): the same order and shapes as :func:`forward`.
    u : Tensor, shape (K, T, B, n_in)
        inputs, time-major.
    dt : float
    phi : {"tanh", "linear", "relu", "softplus"}
    x0 : Tensor, shape (K, B, N) or (K, 1, N), optional
        initial state (default 0).
    noise : Tensor, shape (K, T, B, N), optional
        :math:`\xi_t`, added after each step (as in :func:`forward`).

    Returns
    -------
    z : Tensor, shape (K, T, B, n_out)
    x : Tensor, shape (K, T + 1, B, N)
        the states :math:`x_0 \dots x_T` (rows are neurons' currents; rates are ``phi(x)``).
    """
    K, T, B, _ = u.shape
    N = W.shape[-1]
    x = u.new_zeros(K, B, N) if x0 is None else x0.expand(K, B, N)
    xs, zs = [x], []
    for t in range(T):
        # row-vector form of W phi(x) + W_in^T u:  phi(x) W^T + u W_in
        x = x + dt * (-x + phi_fn(phi, x) @ W.transpose(1, 2) + u[:, t] @ W_in)
        if noise is not None:
            x = x + noise[:, t]
        xs.append(x)
        zs.append(phi_fn(phi, x) @ W_out)
    return torch.stack(zs, 1), torch.stack(xs, 1)


class EulerRNN(torch.autograd.Function):
    """Autograd wrapper around :func:`forward` / :func:`backward`.

    Not instantiated: call ``EulerRNN.apply(W_in, W, W_out, u, dt, phi, x0, noise)``.
    Gradients flow to ``W_in``, ``W``, ``W_out`` and to ``x0`` (so an initial state
    taken from the weights, ``x0_mode="input"``, passes its gradient on to them), not
    to ``u`` or ``noise``. Used by :meth:`lrbook.models.RNN.forward`; the model is
    introduced in :doc:`/book/01_tasks`.

    Parameters
    ----------
    W_in, W, W_out : Tensor
        (K, n_in, N), (K, N, N), (K, N, n_out).
    u : Tensor, shape (K, T, B, n_in)
        inputs, time-major.
    dt : float
    phi : {"tanh", "linear", "relu", "softplus"}
    x0 : Tensor, shape (K, B, N) or (K, 1, N), or None
    noise : Tensor, shape (K, T, B, N), or None
        as in :func:`forward`.

    Returns
    -------
    z : Tensor, shape (K, T, B, n_out)
    """

    @staticmethod
    def forward(ctx, W_in, W, W_out, u, dt, phi, x0, noise):  # type: ignore[override]
        """Run :func:`forward` and keep its workspace for the backward pass.

        Parameters
        ----------
        ctx
            the autograd context.
        W_in, W, W_out, u, dt, phi, x0, noise
            see the class docstring.

        Returns
        -------
        z : Tensor, shape (K, T, B, n_out)
        """
        z, ws = forward(W_in, W, W_out, u, dt=dt, phi=phi, x0=x0, noise=noise)
        ctx.save_for_backward(W_in, W, W_out, u)
        ctx.ws, ctx.dt, ctx.phi = ws, dt, phi
        ctx.x0_shape = None if x0 is None else x0.shape
        return z

    @staticmethod
    def backward(ctx, dz):  # type: ignore[override]
        """Gradients of ``W_in``, ``W``, ``W_out`` and ``x0`` by :func:`backward`.

        Parameters
        ----------
        ctx
            the autograd context.
        dz : Tensor, shape (K, T, B, n_out)
            gradient of the loss with respect to ``z``.

        Returns
        -------
        tuple
            ``(gW_in, gW, gW_out, None, None, None, gx0, None)``, one entry per
            input of :meth:`forward`; a gradient is None when not required.
        """
        W_in, W, W_out, u = ctx.saved_tensors
        need = tuple(ctx.needs_input_grad[:3])
        gx0 = None
        if ctx.x0_shape is not None and ctx.needs_input_grad[6]:
            gW_in, gW, gW_out, gx = backward(W_in, W, W_out, u, dz.contiguous(), ctx.ws, dt=ctx.dt,
                                             phi=ctx.phi, need=need, x0_grad=True)
            gx0 = gx.sum_to_size(ctx.x0_shape)
        else:
            gW_in, gW, gW_out = backward(W_in, W, W_out, u, dz.contiguous(), ctx.ws, dt=ctx.dt,
                                         phi=ctx.phi, need=need)
        return gW_in, gW, gW_out, None, None, None, gx0, None
