r"""Training variants of the paper's networks: other nonlinearities, and a low-rank recurrent change.

:func:`train_variant` trains an ensemble of K networks like :func:`lrbook.training.train`
(same initialisation, same training trials from each network's seed, Adam with
PyTorch's formula, the paper's learning rates), with two extensions used by the
chapter :doc:`/book/13_beyond`:

- ``phi`` may be any of :data:`lrbook.engine.PHIS` (tanh, linear, relu, softplus);
- ``rank=R`` constrains the recurrent change to rank R from the first update:

  .. math:: W = W_0 + U V^\top, \qquad U, V \in \mathbb R^{N \times R},

  with :math:`U` and :math:`V` trained instead of :math:`W` (a "LoRA" parametrisation).
  :math:`U_0 = 0`, so training starts from :math:`W_0` exactly, and the columns of
  :math:`V_0` are random unit vectors (seeded by the network seed, stream
  :data:`STREAM_FACTORS`). The gradients follow from the exact
  :math:`G = \partial L/\partial W` of the engine: :math:`\partial L/\partial U = G V`,
  :math:`\partial L/\partial V = G^\top U`.

With ``phi`` in (tanh, linear) and no rank, :func:`train_variant` reproduces
:func:`lrbook.training.train` (tested to float32 tolerance).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from .. import engine as core
from ..models import PARAMS, STREAM_DATA, init_weights, rng_for
from ..tasks import Task
from ..training import TrainingDivergedError, TrainResult, default_batch_size, default_lr

#: Random stream of the initial factor V0 of a low-rank network (after lrbook.models' 0-4).
STREAM_FACTORS = 5
#: Default learning rate of the factors U, V, as a multiple of :func:`lowrank_lr`.
LOWRANK_LR_FACTOR = 1.0


def lowrank_lr(N: int, rank: int | np.ndarray, lr_W: float | np.ndarray) -> np.ndarray:
    r"""Learning rate of the factors that matches the size of the first update of the full W.

    Adam moves every entry of a parameter by about its learning rate on its first
    steps. An unconstrained :math:`W` then changes by :math:`\|\delta W\|_F \approx
    \eta_W N`; the factor :math:`U` (:math:`N \times R`, with unit-norm columns of
    :math:`V`) changes :math:`W` by :math:`\|\delta U V^\top\|_F \approx \eta_U \sqrt{N R}`.
    Equal sizes give

    .. math:: \eta_U = \eta_V = \eta_W \sqrt{N / R}.

    Parameters
    ----------
    N : int
    rank : int or array of int (>= 1)
    lr_W : float or array
        the learning rate of the unconstrained W (the paper's 0.05 / N).
    """
    r = np.maximum(np.asarray(rank, dtype=float), 1.0)
    return np.asarray(lr_W, dtype=float) * np.sqrt(N / r)


@dataclass
class VariantResult(TrainResult):
    """A :class:`lrbook.training.TrainResult` with the variant's settings.

    ``config`` also holds ``"phi"`` (any of :data:`lrbook.engine.PHIS`) and
    ``"rank"``. :meth:`model` works for tanh and linear networks only; use
    :func:`lrbook.beyond.variant_losses` for every phi.

    Attributes
    ----------
    rank : ndarray of int, shape (K,)
        rank constraint of each network's recurrent change, -1 when unconstrained.
    U, V : ndarray, shape (K, N, R_max) or None
        final factors of the low-rank networks (columns beyond a network's rank are 0).
    lr_factors : ndarray, shape (K,) or None
        learning rate of U and V.
    loss_silent : ndarray, shape (epochs, K)
        loss a silent network (z = 0) would have had on each epoch's training batch.
    """

    rank: np.ndarray = None  # type: ignore[assignment]
    loss_silent: np.ndarray | None = None
    U: np.ndarray | None = None
    V: np.ndarray | None = None
    lr_factors: np.ndarray | None = None

    @property
    def phi(self) -> str:
        return self.config["phi"]


class _Adam:
    """Adam (PyTorch's formula) with one learning rate per network and parameter."""

    def __init__(self, params: dict[str, torch.Tensor], lrs: dict[str, torch.Tensor],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lrs, self.betas, self.eps, self.t = params, lrs, betas, eps, 0
        self.m = {k: torch.zeros_like(p) for k, p in params.items()}
        self.v = {k: torch.zeros_like(p) for k, p in params.items()}

    def step(self, grads: dict[str, torch.Tensor], active: torch.Tensor) -> None:
        self.t += 1
        b1, b2 = self.betas
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for name, p in self.params.items():
            g = grads[name]
            m, v = self.m[name], self.v[name]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            lr = (self.lrs[name] * active).view((-1,) + (1,) * (p.dim() - 1))
            denom = (v.sqrt() / math.sqrt(bc2)).add_(self.eps)
            p.sub_(m.div(denom).mul_(lr / bc1))


def _per_network(name: str, value: Any, K: int, integer: bool = False) -> np.ndarray:
    """One value or K values: positive reals, or integers >= 1 (``integer=True``)."""
    a = np.atleast_1d(np.asarray(value))
    if a.ndim != 1 or a.size not in (1, K):
        raise ValueError(f"{name} must be one value or K={K} values; got {a.size}")
    vals: list[float] = []
    for i, x in enumerate(a.tolist()):
        if integer:
            vals.append(V.integer(f"{name}[{i}]", int(x) if float(x).is_integer() else x, lo=1))
        else:
            vals.append(V.real(f"{name}[{i}]", x, lo=0.0, lo_open=True))
    return np.full(K, vals[0]) if a.size == 1 else np.asarray(vals)


def _batch(task: Task, rngs: list[np.random.Generator], B: int, dtype) -> tuple[torch.Tensor, ...]:
    bs = [task.batch(B, r) for r in rngs]
    return tuple(torch.from_numpy(np.ascontiguousarray(np.stack([b[i] for b in bs]).transpose(0, 2, 1, 3)))
                 .to(dtype) for i in range(3))


def train_variant(task: Task, N: int, g: float | Sequence[float], seeds: int | Sequence[int], epochs: int, *,
                  phi: str = "tanh", trained: Sequence[str] = PARAMS, rank: int | Sequence[int] | None = None,
                  lr: float | Sequence[float] | None = None, lr_factors: float | Sequence[float] | None = None,
                  batch_size: int | None = None, on_divergence: str = "stop",
                  progress: bool = False, threads: int | None = 1) -> VariantResult:
    """Train K networks (Adam) with any nonlinearity and optionally a rank-R recurrent change.

    Parameters
    ----------
    task : Task
        a nonlinear task (flip-flop, Mante, Romo) or any lrbook task.
    N : int
        neurons, >= 1.
    g, seeds : float / int or sequences
        broadcast against each other like :meth:`lrbook.RNN.create` (K networks).
    epochs : int
        parameter updates, >= 1.
    phi : {"tanh", "linear", "relu", "softplus"}
    trained : sequence of {"W_in", "W", "W_out"}
        the weights that learn (with ``rank``, ``"W"`` means the factors U, V).
    rank : int or sequence of K ints, optional
        constrain the recurrent change to this rank (>= 1); None: unconstrained.
    lr : float or sequence, optional
        learning rate of the unconstrained weights; default
        :func:`lrbook.training.default_lr` (0.05 / N for the nonlinear tasks).
    lr_factors : float or sequence, optional
        learning rate of U and V; default :func:`lowrank_lr` (``lr * sqrt(N / rank)``).
    batch_size : int, optional
        default :func:`lrbook.training.default_batch_size` (32).
    on_divergence : {"stop", "raise"}
        a network whose loss or gradient turns NaN/inf stops learning (its epoch is
        recorded in ``diverged_epoch``), or :class:`lrbook.TrainingDivergedError` is raised.
    progress : bool
        tqdm bar.
    threads : int or None
        torch intra-op threads during training (default 1: these ensembles are small,
        the time goes on per-step overhead, and one thread is robust on a shared
        machine); None leaves torch's setting.

    Returns
    -------
    VariantResult
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an lrbook Task; got {type(task).__name__}")
    N = V.integer("N", N, lo=1)
    epochs = V.integer("epochs", epochs, lo=1)
    V.choice("phi", phi, core.PHIS)
    V.choice("on_divergence", on_divergence, ("stop", "raise"))
    trained = tuple(p for p in PARAMS if p in tuple(trained))
    for p in tuple(trained):
        V.choice("trained", p, PARAMS)
    if not trained:
        raise ValueError("trained must name at least one of W_in, W, W_out; got ()")
    gs, sd = V.g_and_seeds(g, seeds)
    K = len(gs)
    B = V.integer("batch_size", batch_size if batch_size is not None else default_batch_size(task), lo=1)
    lrs = default_lr(task, N, gs) if lr is None else _per_network("lr", lr, K)
    lowrank = rank is not None
    ranks = np.full(K, -1, dtype=np.int64)
    lr_f = None
    if lowrank:
        if "W" not in trained:
            raise ValueError(f"rank constrains the change of W: trained must include 'W'; got {trained}")
        ranks = _per_network("rank", rank, K, integer=True).astype(np.int64)
        if ranks.max() > N:
            raise ValueError(f"rank must be in 1..N={N}; got {int(ranks.max())}")
        lr_f = lowrank_lr(N, ranks, lrs) * LOWRANK_LR_FACTOR if lr_factors is None else \
            _per_network("lr_factors", lr_factors, K)

    dtype = torch.float32
    mats = [init_weights(N, task.n_in, task.n_out, gi, si) for gi, si in zip(gs, sd)]
    as_t = lambda i: torch.as_tensor(np.stack([m[i] for m in mats]), dtype=dtype)  # noqa: E731
    W_in, W0, W_out = as_t(0), as_t(1), as_t(2)
    W = W0.clone()
    params: dict[str, torch.Tensor] = {}
    lr_t = torch.as_tensor(lrs, dtype=dtype)
    lr_map: dict[str, torch.Tensor] = {}
    if "W_in" in trained:
        params["W_in"], lr_map["W_in"] = W_in, lr_t
    if "W_out" in trained:
        params["W_out"], lr_map["W_out"] = W_out, lr_t
    # the factors (K, N, R_max); empty when unconstrained
    U = Vf = torch.zeros(K, N, 0, dtype=dtype)
    mask = torch.zeros(K, 1, 0, dtype=dtype)
    if lowrank:
        R_max = int(ranks.max())
        mask = torch.as_tensor(np.arange(R_max)[None, :] < ranks[:, None], dtype=dtype).unsqueeze(1)  # (K,1,R)
        v0 = np.zeros((K, N, R_max))
        for k, s in enumerate(sd):
            v = rng_for(s, STREAM_FACTORS).standard_normal((N, R_max))
            v0[k] = v / np.linalg.norm(v, axis=0, keepdims=True)
        U = torch.zeros(K, N, R_max, dtype=dtype)
        Vf = torch.as_tensor(v0, dtype=dtype) * mask
        params["U"], params["V"] = U, Vf
        lr_map["U"] = lr_map["V"] = torch.as_tensor(lr_f, dtype=dtype)
    elif "W" in trained:
        params["W"], lr_map["W"] = W, lr_t
    opt = _Adam(params, lr_map)
    need = ("W_in" in trained, "W" in trained, "W_out" in trained)
    x0_input = task.x0 == "input"

    rngs = [rng_for(s, STREAM_DATA) for s in sd]
    fixed = _batch(task, rngs, B, dtype) if task.deterministic else None
    loss_hist = np.full((epochs, K), np.nan)
    silent_hist = np.full((epochs, K), np.nan)
    gn_hist = np.full((epochs, K), np.nan)
    diverged = np.full(K, -1, dtype=np.int64)
    active = torch.ones(K, dtype=dtype)
    W_in0, W_out0 = W_in.numpy().copy(), W_out.numpy().copy()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=f"{task.name} {phi} K={K} N={N}", unit="epoch", leave=False)
    ws = None
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(V.integer("threads", threads, lo=1))
    t0 = time.perf_counter()
    try:
        for ep in range(epochs):
            u, target, msk = fixed if fixed is not None else _batch(task, rngs, B, dtype)
            if lowrank:
                W = torch.baddbmm(W0, U, Vf.transpose(1, 2))
            x0 = W_in[:, :1, :] if x0_input else None
            z, ws = core.forward(W, W_in, W_out, u, dt=task.dt, phi=phi, x0=x0, ws=ws)
            loss, dz = core.masked_mse(z, target, msk)
            gr_in, gW, gr_out = core.backward(W, W_in, W_out, u, dz, ws, dt=task.dt, phi=phi, need=need)
            grads: dict[str, torch.Tensor] = {}
            if gr_in is not None:
                grads["W_in"] = gr_in
            if gr_out is not None:
                grads["W_out"] = gr_out
            if lowrank:
                assert gW is not None                        # "W" is trained
                grads["U"] = torch.bmm(gW, Vf).mul_(mask)
                grads["V"] = torch.bmm(gW.transpose(1, 2), U).mul_(mask)
            elif gW is not None:
                grads["W"] = gW
            loss_np = loss.double().numpy()
            silent_hist[ep] = core.masked_mse(torch.zeros_like(z), target, msk)[0].double().numpy()
            gsq = torch.stack([gr.reshape(K, -1).pow(2).sum(1) for gr in grads.values()]).sum(0).double().numpy()
            loss_hist[ep] = loss_np
            if gW is not None:
                gn_hist[ep] = gW.reshape(K, -1).norm(dim=1).double().numpy()
            bad = ~(np.isfinite(loss_np) & np.isfinite(gsq)) & (diverged < 0)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                if on_divergence == "raise":
                    what = "the loss" if not np.isfinite(loss_np[k]) else "the gradient"
                    raise TrainingDivergedError(ep, k, float(gs[k]), int(sd[k]), what)
                diverged[bad] = ep
                active[torch.as_tensor(np.flatnonzero(bad))] = 0.0
            if (diverged >= 0).any():
                for gr in grads.values():
                    torch.nan_to_num(gr, nan=0.0, posinf=0.0, neginf=0.0, out=gr)
            if (diverged >= 0).all():
                break
            opt.step(grads, active)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        torch.set_num_threads(old_threads)
    seconds = time.perf_counter() - t0
    for k, e in enumerate(diverged):
        if e >= 0:
            loss_hist[e + 1:, k] = np.nan
            gn_hist[e + 1:, k] = np.nan
    if lowrank:
        W = torch.baddbmm(W0, U, Vf.transpose(1, 2))
    config: dict[str, Any] = {
        "task": task.params(), "N": N, "dt": task.dt, "phi": phi, "sigma": 0.0, "optimizer": "adam",
        "batch_size": B, "epochs": epochs, "trained": list(trained), "x0_mode": task.x0,
        "rank": ranks.tolist(), "lowrank_init": "U0 = 0, V0 unit columns" if lowrank else None,
    }
    return VariantResult(
        loss=loss_hist, grad_norm=gn_hist, W0=W0.numpy().copy(), W=W.numpy().copy(), W_in0=W_in0,
        W_in=W_in.numpy().copy(), W_out0=W_out0, W_out=W_out.numpy().copy(),
        g=np.asarray(gs, dtype=float), seeds=np.asarray(sd, dtype=np.int64), lr=np.asarray(lrs, dtype=float),
        config=config, seconds=seconds, diverged_epoch=diverged, rank=ranks,
        U=U.numpy().copy() if lowrank else None, V=Vf.numpy().copy() if lowrank else None,
        lr_factors=None if lr_f is None else np.asarray(lr_f, dtype=float), loss_silent=silent_hist)
