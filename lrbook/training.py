"""Training an ensemble of K networks at once (Adam or SGD), tensors in, tensors out.

Every network of the ensemble draws its own training trials from its own seed,
so a network trained alone or inside an ensemble sees the same data and gives
the same losses (to float32 tolerance). See the chapter :doc:`/book/01_tasks`;
the loss curves are discussed in :doc:`/book/02_training`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import _memory, engine
from . import _validate as V
from ._threads import flush_denormals, one_core_worker, torch_threads
from .factors import Factors, lowrank_lr, per_network
from .models import PARAMS, RNN, _Ensemble
from .seeding import STREAM_DATA, STREAM_NOISE, rng_for
from .tasks import Task

__all__ = ["train", "model_for", "TrainResult", "TrainingDivergedError", "default_lr",
           "default_optimizer", "default_batch_size", "default_workers", "default_chunk", "train_memory"]

OPTIMIZERS = ("adam", "sgd")
ON_DIVERGENCE = ("raise", "stop")


class TrainingDivergedError(RuntimeError):
    """Raised when the loss, the gradient or the weights of a network become NaN or inf.

    :func:`train` raises it with ``on_divergence="raise"`` (the default), at the
    first epoch where a network's loss, gradient or updated weights are not finite;
    the message names the epoch, the network, its ``g`` and seed. The CLI turns it
    into exit code 3. Inputs that are not finite in the training dtype (a task
    parameter, a batch, ``g`` or ``lr``) are refused with a :class:`ValueError`
    before training instead: they are bad input, not divergence.

    A smaller learning rate or g usually avoids it; the chapter :doc:`/book/02_training` checks
    that no network of its sweep diverged.

    Parameters
    ----------
    epoch : int
        0-based epoch at which the divergence was detected: the loss or gradient of
        that epoch, or the weights its update produced, are not finite.
    network : int
        index of the (first) diverging network in the ensemble.
    g : float
        its initial connectivity strength.
    seed : int
        its seed.
    what : str
        ``"the loss"``, ``"the gradient"`` or ``"the updated weights"``: which
        quantity is not finite.

    Attributes
    ----------
    epoch, network, g, seed
        as given.
    """

    def __init__(self, epoch: int, network: int, g: float, seed: int, what: str):
        self.epoch, self.network, self.g, self.seed = epoch, network, g, seed
        super().__init__(f"training diverged at epoch {epoch} in network {network} "
                         f"(g={g:g}, seed={seed}): {what} is not finite")


#: How the factors of a rank-constrained run start (``config["lowrank"]``).
LOWRANK_INIT = "W = W0 + U V^T, U0 = 0, V0 unit columns"


# --------------------------------------------------------------------------- defaults
# The paper's choices are facts of each task class (lrbook.tasks.Task, Attributes).

def default_optimizer(task: Task) -> str:
    """The paper's optimizer for ``task``: its ``optimizer`` fact.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    task : Task

    Returns
    -------
    {"sgd", "adam"}
        ``"sgd"`` (plain gradient descent) for the linear tasks :class:`~lrbook.tasks.FixedPoint`
        and :class:`~lrbook.tasks.Cosine`, ``"adam"`` for the nonlinear ones.
    """
    return task.optimizer


def default_batch_size(task: Task) -> int:
    """The paper's batch size for ``task``.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    task : Task

    Returns
    -------
    int
        1 for deterministic tasks (every trial is the same), else 32.
    """
    return 1 if task.deterministic else 32


def default_lr(task: Task, N: int, g: float | Sequence[float] | np.ndarray) -> np.ndarray:
    r"""The paper's learning rate(s), one per network: the task's rule :meth:`~lrbook.tasks.Task.paper_lr`.

    - nonlinear tasks (Adam): ``0.05 / N``;
    - fixed point (SGD): :math:`\eta = \eta_0 (1 - g^2)^2` with :math:`\eta_0`
      0.015, 0.009, 0.003 for ``z_hat`` 0.5, 1, 2 (the listed value nearest to
      ``|z_hat|`` otherwise);
    - cosine (SGD): 0.2, 0.15, 0.05 at g = 0, 0.4, 0.8, linear in between and
      constant outside [0, 0.8].

    See :doc:`/book/06_scaling` (why :math:`0.05/N`).

    Parameters
    ----------
    task : Task
        any registered task (its ``paper_lr``).
    N : int
        neurons per network.
    g : float or sequence of float or ndarray
        initial connectivity strength of each network.

    Returns
    -------
    ndarray, shape (K,)
        float64, one learning rate per entry of ``g`` (K = 1 for a scalar).

    Examples
    --------
    >>> from lrbook.tasks import FixedPoint, FlipFlop
    >>> default_lr(FlipFlop(), 256, [0.0, 0.9]).tolist()
    [0.0001953125, 0.0001953125]
    >>> default_lr(FixedPoint(z_hat=2.0), 1024, 0.5).round(6).tolist()
    [0.001688]
    """
    return np.asarray(task.paper_lr(N, g), dtype=float)


def default_workers(K: int, device: str | torch.device = "cpu") -> int:
    """Concurrent chunks: one per torch thread on CPU (each chunk on one core, no
    synchronisation between cores inside a time step), 1 on a GPU.

    See :doc:`/book/01_tasks` (training).

    Parameters
    ----------
    K : int
        networks in the ensemble.
    device : str or torch.device
        where they train.

    Returns
    -------
    int
        ``max(1, min(torch.get_num_threads(), K))`` on CPU, 1 on any other device.
    """
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), K))


def default_chunk(K: int, workers: int = 1, device: str | torch.device = "cpu") -> int:
    """Networks per chunk.

    On CPU at most 8, so that a chunk's weights stay in cache (measured fastest on a
    2-core machine, see ``benchmarks/README.md``), with the number of chunks a
    multiple of ``workers`` so that no core waits (K = 40 on 2 workers: 6 chunks of
    at most 7); all K on a GPU. Explained in :doc:`/book/01_tasks`.

    Parameters
    ----------
    K : int
        networks in the ensemble.
    workers : int
        chunks processed concurrently.
    device : str or torch.device

    Returns
    -------
    int
        the chunk size.
    """
    if torch.device(device).type != "cpu":
        return K
    w = max(1, workers)
    n_chunks = -(-K // 8)
    n_chunks = -(-n_chunks // w) * w
    return max(1, -(-K // n_chunks))


# --------------------------------------------------------------------------- results
@dataclass
class TrainResult(_Ensemble):
    """Everything a training run produced (numpy arrays, float32 weights).

    Epochs after a network diverged hold NaN in ``loss`` and ``grad_norm``; when
    every network diverged the loop stopped early and later rows are NaN. The loss
    curves are shown in :doc:`/book/02_training`, ``dW`` is analysed in
    :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Attributes
    ----------
    loss : ndarray, shape (epochs, K)
        training loss of each network at each epoch, before that epoch's update.
    grad_norm : ndarray, shape (epochs, K)
        Frobenius norm of dL/dW (recurrent weights) at each epoch.
    W0, W : ndarray, shape (K, N, N)
        recurrent weights before and after training.
    W_in0, W_in : ndarray, shape (K, n_in, N)
    W_out0, W_out : ndarray, shape (K, N, n_out)
    g, seeds : ndarray, shape (K,)
    lr : ndarray, shape (K,)
    snapshots : ndarray, shape (S, K, N, N) or None
        ``W`` at ``snapshot_epochs`` (the first is epoch 0 = ``W0``).
    snapshot_epochs : ndarray, shape (S,)
    diverged_epoch : ndarray, shape (K,)
        epoch at which the network diverged and stopped, -1 if it did not. Its
        weights in ``W``, ``W_in``, ``W_out`` are the last finite ones: those it had
        at that epoch, before the update.
    config : dict
        ``task`` (its parameters), ``N``, ``dt``, ``phi``, ``sigma``, ``optimizer``,
        ``batch_size``, ``epochs``, ``trained``, ``x0_mode``; and ``lowrank`` (how
        the factors start) for a run trained with ``rank``.
    seconds : float
        wall time of the training loop.
    rank : ndarray of int, shape (K,) or None
        the rank of each network's change when trained with ``rank`` (else None).
    U, V : ndarray, shape (K, N, R) or None
        the final factors, ``W = W0 + U V^T`` (columns beyond a network's rank are 0).
    lr_factors : ndarray, shape (K,) or None
        the learning rate of U and V.
    K, N : int
        properties: the number of networks and of neurons per network (the shape of ``W``).
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    W0: np.ndarray
    W: np.ndarray
    W_in0: np.ndarray
    W_in: np.ndarray
    W_out0: np.ndarray
    W_out: np.ndarray
    g: np.ndarray
    seeds: np.ndarray
    lr: np.ndarray
    config: dict
    seconds: float
    diverged_epoch: np.ndarray
    snapshots: np.ndarray | None = None
    snapshot_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rank: np.ndarray | None = None
    U: np.ndarray | None = None
    V: np.ndarray | None = None
    lr_factors: np.ndarray | None = None

    @property
    def dW(self) -> np.ndarray:
        """``W - W0``, shape (K, N, N)."""
        return self.W - self.W0

    @property
    def L0(self) -> np.ndarray:
        """Initial loss of each network (first epoch), shape (K,)."""
        return self.loss[0]

    @property
    def final_loss(self) -> np.ndarray:
        """Training loss at the last epoch reached (the divergence epoch if diverged)."""
        out = self.loss[-1].copy()
        for k, e in enumerate(self.diverged_epoch):
            if e >= 0:
                out[k] = self.loss[e, k]
        return out

    @property
    def diverged(self) -> np.ndarray:
        """Boolean (K,): which networks diverged."""
        return self.diverged_epoch >= 0

    def network(self, k: int) -> TrainResult:
        """Network ``k`` alone, as a one-network TrainResult.

        Parameters
        ----------
        k : int
            index of the network, 0..K-1.

        Returns
        -------
        TrainResult
            K = 1, arrays sliced (views, not copies; the factors cut to the network's
            own rank); ``seconds`` is this result's ``seconds / K``, ``config`` shared.
        """
        k = V.integer("k", k, lo=0, hi=self.K - 1)
        sl = slice(k, k + 1)
        R = None if self.rank is None else int(self.rank[k])
        cut = lambda a: None if a is None else a[sl, :, :R]  # noqa: E731
        return TrainResult(
            loss=self.loss[:, sl], grad_norm=self.grad_norm[:, sl], W0=self.W0[sl], W=self.W[sl],
            W_in0=self.W_in0[sl], W_in=self.W_in[sl], W_out0=self.W_out0[sl], W_out=self.W_out[sl],
            g=self.g[sl], seeds=self.seeds[sl], lr=self.lr[sl], config=self.config,
            seconds=self.seconds / max(self.K, 1), diverged_epoch=self.diverged_epoch[sl],
            snapshots=None if self.snapshots is None else self.snapshots[:, sl],
            snapshot_epochs=self.snapshot_epochs,
            rank=None if self.rank is None else self.rank[sl], U=cut(self.U), V=cut(self.V),
            lr_factors=None if self.lr_factors is None else self.lr_factors[sl])

    def model(self, which: str = "final", *, dtype: torch.dtype = torch.float32,
              device: str | torch.device = "cpu") -> RNN:
        """Rebuild the ensemble with the ``"final"`` or ``"initial"`` weights.

        Parameters
        ----------
        which : {"final", "initial"}
            trained weights (``W``, ``W_in``, ``W_out``) or the initial ones
            (``W0``, ``W_in0``, ``W_out0``).
        dtype : torch.dtype
            of the rebuilt weights (default float32).
        device : str or torch.device
            where they live.

        Returns
        -------
        RNN
            K networks with the stored ``g``, ``seeds``, ``dt``, ``phi``, ``sigma``,
            ``trained`` and ``x0_mode``.
        """
        if which not in ("final", "initial"):
            raise ValueError(f"which must be one of final, initial; got {which!r}")
        c = self.config
        W, W_in, W_out = (self.W, self.W_in, self.W_out) if which == "final" else \
            (self.W0, self.W_in0, self.W_out0)
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
        return RNN(W=t(W), W_in=t(W_in), W_out=t(W_out), g=self.g.copy(), seeds=self.seeds.copy(),
                   dt=c["dt"], phi=c["phi"], sigma=c["sigma"], trained=tuple(c["trained"]),
                   x0_mode=c["x0_mode"])


# --------------------------------------------------------------------------- optimisers
class _Optimizer:
    """Adam (PyTorch's formula) or SGD with a learning rate per network and parameter.

    ``lrs[name]`` has shape (K,): the learning rate of each network for the parameter
    ``name`` (the low-rank factors U, V have their own, see :func:`lowrank_lr`).
    ``scratch[name]`` (shape of the parameter) holds the step while it is computed,
    so that a step allocates nothing of the parameters' size; between steps it is free
    scratch space.
    """

    def __init__(self, kind: str, params: dict[str, torch.Tensor], lrs: dict[str, torch.Tensor],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.kind, self.params, self.lrs, self.betas, self.eps = kind, params, lrs, betas, eps
        self.t = 0
        self.scratch = {k: torch.empty_like(p) for k, p in params.items()}
        if kind == "adam":
            self.m = {k: torch.zeros_like(p) for k, p in params.items()}
            self.v = {k: torch.zeros_like(p) for k, p in params.items()}

    def step(self, grads: dict[str, torch.Tensor], active: torch.Tensor) -> None:
        self.t += 1
        b1, b2 = self.betas
        for name, p in self.params.items():
            gr = grads[name]
            lr = self.lrs[name] * active                       # frozen networks: lr 0
            lr_k = lr.view((-1,) + (1,) * (p.dim() - 1))
            buf = self.scratch[name]                            # the same kernels, written in place
            if self.kind == "sgd":
                p.sub_(torch.mul(gr, lr_k, out=buf))
                continue
            m, v = self.m[name], self.v[name]
            m.mul_(b1).add_(gr, alpha=1 - b1)
            v.mul_(b2).addcmul_(gr, gr, value=1 - b2)
            bc1 = 1 - b1 ** self.t
            bc2 = 1 - b2 ** self.t
            denom = torch.sqrt(v, out=buf).div_(math.sqrt(bc2)).add_(self.eps)
            p.sub_(torch.div(m, denom, out=buf).mul_(lr_k / bc1))


# --------------------------------------------------------------------------- data
class _Trials:
    """Training trials of each network from its own seed, prefetched in a thread."""

    def __init__(self, task: Task, seeds: np.ndarray, B: int, device, dtype):
        self.task, self.B, self.device, self.dtype = task, B, device, dtype
        self.rngs = [rng_for(int(s), STREAM_DATA) for s in seeds]
        self.fixed = None
        if task.deterministic:
            self.fixed = self._make()
        self.pool = None if task.deterministic else ThreadPoolExecutor(1)
        self.next = None if self.pool is None else self.pool.submit(self._make)

    def _make(self):
        b = self.task.batches(self.B, self.rngs)                        # (K, B, T, n)
        return tuple(torch.from_numpy(np.ascontiguousarray(a.transpose(0, 2, 1, 3))).to(self.device, self.dtype)
                     for a in b)                                        # (K, T, B, n)

    def get(self):
        if self.fixed is not None:
            return self.fixed
        assert self.pool is not None and self.next is not None     # not deterministic: prefetching
        cur = self.next.result()
        self.next = self.pool.submit(self._make)
        return cur

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- training
def _check_task(task: Any) -> None:
    if not isinstance(task, Task):
        from .tasks import TASKS
        classes = ", ".join(c.__name__ for c in TASKS.values())
        raise TypeError(f"task must be an lrbook Task ({classes}; or make_task(name) with name one of "
                        f"{', '.join(TASKS)}); got {task!r} ({type(task).__name__})")


def train_memory(model: RNN, task: Task, epochs: int, *, batch_size: int | None = None,
                 optimizer: str | None = None, snapshot_every: int | None = None) -> dict[str, int]:
    """Bytes :func:`train` will allocate beyond the model's weights, by part.

    Known before training from N, K, the batch size B, the trial length T, the
    dtype, the epochs and the snapshots; :func:`train` refuses a run whose total does
    not fit in the available memory.

    Parameters
    ----------
    model : RNN
    task : Task
    epochs : int
    batch_size, optimizer, snapshot_every
        as in :func:`train` (None: the defaults).

    Returns
    -------
    dict of str to int
        ``weights`` (copies, gradients, optimizer state), ``trials`` (the states of
        every step), ``loss curves`` and ``snapshots``.
    """
    B = batch_size if batch_size is not None else default_batch_size(task)
    opt = optimizer or default_optimizer(task)
    n_snap = 0 if snapshot_every is None else epochs // snapshot_every + 2
    frac = sum({"W": model.N, "W_in": model.n_in, "W_out": model.n_out}[p] for p in model.trained) \
        / (model.N + model.n_in + model.n_out)
    return _memory.training_bytes(model.N, model.K, B, task.n_steps, model.n_in, model.n_out,
                                  model.W.element_size(), epochs=epochs, n_snapshots=n_snap,
                                  trained_fraction=frac, adam=opt == "adam")


def train(model: RNN, task: Task, epochs: int, *, lr: float | Sequence[float] | None = None,
          optimizer: str | None = None, batch_size: int | None = None,
          snapshot_every: int | None = None, on_divergence: str = "raise",
          progress: bool = False, threads: int | None = None,
          chunk_size: int | None = None, workers: int | None = None,
          rank: int | Sequence[int] | None = None,
          lr_factors: float | Sequence[float] | None = None) -> TrainResult:
    """Train every network of ``model`` on ``task``, in place, for ``epochs`` updates.

    Parameters
    ----------
    model : RNN
        the ensemble (K networks); its ``trained`` attribute says which weights change.
    task : Task
        ``task.n_in`` / ``n_out`` must match the model.
    epochs : int
        number of parameter updates (one fresh batch each), >= 1.
    lr : float or sequence of K floats, optional
        learning rate(s); default :func:`default_lr` (the paper's).
    optimizer : {"adam", "sgd"}, optional
        default :func:`default_optimizer`.
    batch_size : int, optional
        default :func:`default_batch_size` (32; 1 for deterministic tasks).
    snapshot_every : int, optional
        keep ``W`` every this many epochs (and at the first and last).
    on_divergence : {"raise", "stop"}
        when a network's loss, gradient or updated weights turn NaN/inf: raise
        :class:`TrainingDivergedError` naming the epoch and network, or stop updating
        that network, record the epoch in ``diverged_epoch`` and go on with the
        others. A stopped network keeps (and the result returns) its last finite
        weights: those of epoch ``diverged_epoch``, before that epoch's update, so
        ``loss[diverged_epoch]`` is their loss (NaN/inf when the loss itself diverged).
    progress : bool
        show a tqdm progress bar (epochs, mean loss).
    threads : int, optional
        torch intra-op threads for this call, 1..1024 (default: leave torch's setting).
    chunk_size : int, optional
        networks processed together per time step (default :func:`default_chunk`):
        a chunk's weights then stay in the CPU cache. Results do not depend on it
        beyond float32 rounding.
    workers : int, optional
        process chunks concurrently on this many threads, each using one core
        (default :func:`default_workers`: one per torch thread on CPU). With 1, chunks
        run one after the other, each using torch's intra-op threads.
    rank : int or sequence of K ints, optional
        train the recurrent change as ``W = W0 + U V^T`` with factors of rank
        ``rank`` (1..N, one per network or one for all) from the first update on,
        instead of ``W`` itself (:class:`lrbook.factors.Factors`; needs ``"W"`` in
        ``model.trained``). None (default): ``W`` is trained unconstrained.
    lr_factors : float or sequence of K floats, optional
        learning rate(s) of U and V (> 0); default :func:`lrbook.factors.lowrank_lr`
        (``lr * sqrt(N / rank)``). Only with ``rank``.

    Returns
    -------
    TrainResult
        loss and gradient-norm curves, weights before and after, snapshots.

    Raises
    ------
    TrainingDivergedError
        with ``on_divergence="raise"``, when a loss or gradient is not finite.
    ValueError, TypeError
        for an argument out of range or a task that does not fit the model
        (``n_in``, ``n_out`` or ``dt``); a ``lr`` that the model's dtype cannot
        represent; a task batch holding NaN/inf; or a run that would not fit in the
        available memory (:func:`train_memory`), before anything is trained.

    Notes
    -----
    Each epoch draws one batch per network from ``rng_for(seed, STREAM_DATA)``
    (deterministic tasks reuse their one batch), records the masked MSE
    (:func:`lrbook.engine.masked_mse`) *before* the update and takes one optimizer
    step on the trained weights. Adam uses PyTorch's
    formula (betas 0.9, 0.999, eps 1e-8) with one learning rate per network.

    See :doc:`/book/01_tasks` (model and training) and :doc:`/book/02_training`
    (loss curves).
    """
    if not isinstance(model, RNN):
        raise TypeError(f"model must be an lrbook RNN; got {type(model).__name__}")
    _check_task(task)
    epochs = V.integer("epochs", epochs, lo=1)
    if task.n_in != model.n_in or task.n_out != model.n_out:
        raise ValueError(f"model has n_in={model.n_in}, n_out={model.n_out} but task {task.name} "
                         f"needs n_in={task.n_in}, n_out={task.n_out}")
    if abs(task.dt - model.dt) > 1e-12:
        raise ValueError(f"task dt={task.dt} differs from model dt={model.dt}")
    optimizer = V.choice("optimizer", optimizer or default_optimizer(task), OPTIMIZERS)
    B = V.integer("batch_size", batch_size if batch_size is not None else default_batch_size(task), lo=1)
    V.choice("on_divergence", on_divergence, ON_DIVERGENCE)
    if snapshot_every is not None:
        snapshot_every = V.integer("snapshot_every", snapshot_every, lo=1)
    K = model.K
    if lr is None:
        lrs = default_lr(task, model.N, model.g)
    else:
        if not isinstance(lr, np.ndarray) and isinstance(lr, Sequence) and len(lr) > V.MAX_NETWORKS:
            raise ValueError(f"lr must be one value or K={K} values; got {len(lr)}")
        fin = torch.finfo(model.W.dtype)
        lrs = np.asarray(V.real_sequence("lr", lr, lo=float(fin.tiny), hi=float(fin.max)), dtype=float)
        if lrs.size == 1:
            lrs = np.full(K, lrs[0])
        if lrs.size != K:
            raise ValueError(f"lr must be one value or K={K} values; got {lrs.size}")
    if threads is not None:
        threads = V.integer("threads", threads, lo=1, hi=V.MAX_THREADS)
    workers = None if workers is None else V.integer("workers", workers, lo=1, hi=V.MAX_THREADS)
    chunk_size = None if chunk_size is None else V.integer("chunk_size", chunk_size, lo=1)
    dev, dtype = model.device, model.W.dtype
    _memory.check(train_memory(model, task, epochs, batch_size=B, optimizer=optimizer,
                               snapshot_every=snapshot_every),
                  {"N": model.N, "K": K, "batch_size": B, "T": task.n_steps, "epochs": epochs,
                   "snapshot_every": snapshot_every}, device=dev)
    factors, lr_f = None, None
    if rank is not None:
        if "W" not in model.trained:
            raise ValueError(f"rank constrains the change of W: model.trained must include 'W'; "
                             f"got {model.trained}")
        ranks = per_network("rank", rank, K, integer=True, hi=model.N)
        lr_f = lowrank_lr(model.N, ranks, lrs) if lr_factors is None else \
            per_network("lr_factors", lr_factors, K)
        factors = Factors(model.W, model.seeds, ranks)
    elif lr_factors is not None:
        raise ValueError("lr_factors is the learning rate of the low-rank factors: it needs rank; "
                         "got rank=None")
    trained = {k: v for k, v in model.params().items() if k in model.trained}
    params = {k: v for k, v in trained.items() if factors is None or k != "W"}
    lr_t = torch.as_tensor(lrs, dtype=dtype, device=dev)
    lr_map = {name: lr_t for name in params}
    if factors is not None:
        params.update(U=factors.U, V=factors.V)
        lr_map["U"] = lr_map["V"] = torch.as_tensor(lr_f, dtype=dtype, device=dev)
    opt = _Optimizer(optimizer, params, lr_map)
    # the weights checked after each update: the optimised ones, and W when factors make it
    checked = list(params.values()) + ([] if "W" in params else [model.W])
    active = torch.ones(K, dtype=dtype, device=dev)
    need = ("W_in" in model.trained, "W" in model.trained, "W_out" in model.trained)
    # x0 = W_in[:, :1] (x0_mode "input"): a trained W_in also gets the gradient through x0
    x0_grad = need[0] and model.x0_mode == "input"

    W0, W_in0, W_out0 = (t.detach().cpu().numpy().copy() for t in (model.W, model.W_in, model.W_out))
    loss_hist = np.full((epochs, K), np.nan, dtype=np.float64)
    gn_hist = np.full((epochs, K), np.nan, dtype=np.float64)
    diverged = np.full(K, -1, dtype=np.int64)
    snaps, snap_epochs = [], []
    if snapshot_every is not None:
        snaps.append(W0.copy())
        snap_epochs.append(0)

    noise_gens = None
    if model.sigma > 0:
        noise_gens = [torch.Generator().manual_seed(int(rng_for(int(s), STREAM_NOISE).integers(2**62)))
                      for s in model.seeds]
    data = _Trials(task, model.seeds, B, dev, dtype)
    n_workers = default_workers(K, dev) if workers is None else workers
    chunk = default_chunk(K, n_workers, dev) if chunk_size is None else chunk_size
    slices = [slice(i, min(i + chunk, K)) for i in range(0, K, chunk)]
    wss: dict[int, engine.Workspace] = {}
    # each worker thread uses one core and flushes subnormals (torch_threads below restores
    # the setting afterwards)
    # one chunk runs in this thread, on torch's intra-op threads. Those were started
    # before the flush below and keep subnormals; running the chunk in a new flushing
    # thread instead was measured 2.7x slower for one flip-flop network (its own team of
    # intra-op threads spins against this thread's). With one thread it is all flushed.
    pool = ThreadPoolExecutor(n_workers, initializer=one_core_worker) \
        if n_workers > 1 and len(slices) > 1 else None
    loss = torch.empty(K, dtype=dtype, device=dev)
    grads = {name: torch.empty_like(p) for name, p in trained.items()}   # the engine's dL/dW...
    prev = {name: torch.empty_like(p) for name, p in params.items()}   # the last finite weights
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=f"{task.name} K={K} N={model.N}", unit="epoch", leave=False)
    threads_set = contextlib.ExitStack()           # torch's threads, restored in the finally below
    threads_set.enter_context(torch_threads(threads))
    threads_set.enter_context(flush_denormals())     # subnormals cost 3x on a long trial
    t0 = time.perf_counter()
    try:
        for ep in range(epochs):
            u, target, mask = data.get()
            T = u.shape[1]
            noise = model.noise(T, B, noise_gens)
            x0 = model.x0(B)
            def run_chunk(i: int, u=u, target=target, mask=mask, x0=x0, noise=noise) -> None:
                sl = slices[i]
                z, wss[i] = engine.forward(
                    model.W_in[sl], model.W[sl], model.W_out[sl], u[sl], dt=model.dt, phi=model.phi,
                    x0=None if x0 is None else x0[sl], noise=None if noise is None else noise[sl],
                    ws=wss.get(i))
                loss[sl], dz = engine.masked_mse(z, target[sl], mask[sl])
                # the gradients of the chunk are written into its rows of grads
                rows = [grads[name][sl] if name in grads else None for name in PARAMS]
                gr = engine.backward(model.W_in[sl], model.W[sl], model.W_out[sl], u[sl], dz, wss[i],
                                     dt=model.dt, phi=model.phi, need=need, x0_grad=x0_grad,
                                     out=(rows[0], rows[1], rows[2]))
                if len(gr) == 4:                       # dL/dx0, summed over trials, to W_in[:, 0]
                    grads["W_in"][sl, 0] += gr[3].sum(1)

            if pool is None:
                for i in range(len(slices)):
                    run_chunk(i)
            else:
                list(pool.map(run_chunk, range(len(slices))))
            step = grads                           # the gradients of the optimised parameters
            if factors is not None:
                step = {k: v for k, v in grads.items() if k != "W"}
                step["U"], step["V"] = factors.grads(grads["W"])
            gsq = torch.stack([torch.pow(g, 2, out=opt.scratch[name]).reshape(K, -1).sum(1)
                               for name, g in step.items()]).sum(0)
            gnorm_W = (grads["W"] if "W" in grads else torch.zeros(K, 1, device=dev)).reshape(K, -1).norm(dim=1)
            loss_np = loss.double().cpu().numpy()
            gsq_np = gsq.double().cpu().numpy()
            loss_hist[ep] = loss_np
            gn_hist[ep] = gnorm_W.double().cpu().numpy()
            bad = ~(np.isfinite(loss_np) & np.isfinite(gsq_np)) & (diverged < 0)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                what = "the loss" if not np.isfinite(loss_np[k]) else "the gradient"
                if on_divergence == "raise":
                    raise TrainingDivergedError(ep, k, float(model.g[k]), int(model.seeds[k]), what)
                diverged[bad] = ep
                active[torch.as_tensor(np.flatnonzero(bad), device=dev)] = 0.0
            if (diverged >= 0).any():
                for name in step:
                    torch.nan_to_num(step[name], nan=0.0, posinf=0.0, neginf=0.0, out=step[name])
            if (diverged >= 0).all():
                break
            for name, p in params.items():
                prev[name].copy_(p)
            opt.step(step, active)
            if factors is not None:
                model.W.copy_(factors.weights())
            finite = torch.ones(K, dtype=torch.bool, device=dev)
            for p in checked:
                # the largest and smallest entries are finite exactly when all are (read-only,
                # 10x cheaper than isfinite().all())
                q = p.reshape(K, -1)
                finite &= torch.isfinite(q.amax(1)) & torch.isfinite(q.amin(1))
            bad = ~finite.cpu().numpy() & (diverged < 0)
            if bad.any():                          # this update took the weights out of range
                diverged[bad] = ep
                active[torch.as_tensor(np.flatnonzero(bad), device=dev)] = 0.0
            stopped = diverged >= 0
            if stopped.any():                      # stopped networks keep their last finite weights
                idx = torch.as_tensor(np.flatnonzero(stopped), device=dev)
                for name, p in params.items():
                    p[idx] = prev[name][idx]
                if factors is not None:
                    model.W.copy_(factors.weights())
            if bad.any() and on_divergence == "raise":
                k = int(np.flatnonzero(bad)[0])
                raise TrainingDivergedError(ep, k, float(model.g[k]), int(model.seeds[k]), "the updated weights")
            if snapshot_every is not None and ((ep + 1) % snapshot_every == 0 or ep + 1 == epochs):
                snaps.append(model.W.detach().cpu().numpy().copy())
                snap_epochs.append(ep + 1)
            if bar is not None:
                bar.update(1)
                if ep % max(1, epochs // 100) == 0 or ep + 1 == epochs:
                    ok = diverged < 0
                    bar.set_postfix(loss=f"{np.mean(loss_np[ok]) if ok.any() else float('nan'):.4g}")
    finally:
        data.close()
        if pool is not None:
            pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
        threads_set.close()
    seconds = time.perf_counter() - t0
    # epochs after a network diverged keep NaN in its history
    for k, e in enumerate(diverged):
        if e >= 0:
            loss_hist[e + 1:, k] = np.nan
            gn_hist[e + 1:, k] = np.nan
    config: dict[str, Any] = {
        "task": task.params(), "N": model.N, "dt": model.dt, "phi": model.phi, "sigma": model.sigma,
        "optimizer": optimizer, "batch_size": B, "epochs": epochs, "trained": list(model.trained),
        "x0_mode": model.x0_mode,
    }
    if factors is not None:
        config["lowrank"] = LOWRANK_INIT
    return TrainResult(
        loss=loss_hist, grad_norm=gn_hist, W0=W0, W=model.W.detach().cpu().numpy().copy(),
        W_in0=W_in0, W_in=model.W_in.detach().cpu().numpy().copy(), W_out0=W_out0,
        W_out=model.W_out.detach().cpu().numpy().copy(), g=model.g.copy(), seeds=model.seeds.copy(),
        lr=np.asarray(lrs, dtype=float), config=config, seconds=seconds, diverged_epoch=diverged,
        snapshots=np.stack(snaps) if snaps else None,
        snapshot_epochs=np.asarray(snap_epochs, dtype=np.int64),
        rank=None if factors is None else factors.ranks.copy(),
        U=None if factors is None else factors.U.cpu().numpy().copy(),
        V=None if factors is None else factors.V.cpu().numpy().copy(),
        lr_factors=None if lr_f is None else np.asarray(lr_f, dtype=float))


def model_for(task: Task, N: int, g: float | Sequence[float] = 0.0, seeds: int | Sequence[int] = 0,
              *, phi: str | None = None, trained: Sequence[str] | None = None, sigma: float = 0.0,
              device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> RNN:
    """An ensemble shaped for ``task`` with the paper's choices.

    ``phi`` defaults to ``task.phi`` (tanh for the nonlinear tasks, linear for
    :class:`~lrbook.tasks.FixedPoint` and :class:`~lrbook.tasks.Cosine`);
    ``trained`` defaults to ``task.default_trained``; initial state per ``task.x0``.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    task : Task
        gives ``n_in``, ``n_out``, ``dt``, ``x0`` and the defaults.
    N : int
        neurons per network, >= 1.
    g : float or sequence of float
        initial connectivity strength(s), >= 0.
    seeds : int or sequence of int
        network seed(s), >= 0; broadcast against ``g`` as in :meth:`RNN.create`.
    phi : {"tanh", "linear", "relu", "softplus"}, optional
        default by task (see above).
    trained : sequence of {"W_in", "W", "W_out"}, optional
        default ``task.default_trained``.
    sigma : float
        state-noise strength, >= 0 (default 0, as in the paper).
    device : str or torch.device
    dtype : torch.dtype

    Returns
    -------
    RNN
        initialised by :meth:`RNN.create`, ready for :func:`train`.

    Examples
    --------
    >>> from lrbook.tasks import FlipFlop
    >>> model = model_for(FlipFlop(), N=64, g=[0.0, 0.9], seeds=0)
    >>> model.K, model.N, model.phi
    (2, 64, 'tanh')
    """
    _check_task(task)
    if phi is None:
        phi = task.phi
    return RNN.create(N, task.n_in, task.n_out, g, seeds, dt=task.dt, phi=phi, sigma=sigma,
                      trained=tuple(trained) if trained is not None else task.default_trained,
                      x0_mode=task.x0, device=device, dtype=dtype)
