r"""The two studies of the chapter :doc:`/book/13_beyond`, sized per scale.

:func:`variant_study`
    the paper's three tasks trained with the paper's settings (tanh, ``W_in``, ``W``,
    ``W_out`` trained), with **only** ``W`` trained, and with relu or softplus instead
    of tanh: convergence epoch, functional rank and :math:`\|\Delta W\|` against ``g``.
:func:`lowrank_study`
    the recurrent change constrained to rank R from the first update
    (:math:`W = W_0 + U V^\top`, R = 1, 2, 4, 8) against unconstrained training: loss
    curves, convergence epoch and final loss.

Sizes live in :data:`VARIANT_SIZES` and :data:`LOWRANK_SIZES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from ..analysis import THRESHOLD, convergence_epoch, evaluate_result, silent_loss
from ..analysis.evaluate import batch_silent_loss
from ..config import get_scale
from ..experiments import EnsembleConfig, NetworkConfig, ResultCache, run_ensemble, run_networks, stack, sweep
from ..factors import lowrank_lr
from ..models import PARAMS
from ..seeding import STREAM_DATA, rng_for
from ..tasks import TASKS as TASKS_BY_NAME
from ..tasks import Task, make_task
from ..training import default_batch_size

TASKS = ("flipflop", "mante", "romo")

#: The four ways of training compared by :func:`variant_study`: (phi, trained weights).
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tanh": ("tanh", PARAMS),
    "tanh, W only": ("tanh", ("W",)),
    "relu": ("relu", PARAMS),
    "softplus": ("softplus", PARAMS),
}

#: Sizes of :func:`variant_study` per scale. The ranks of every scale include N/4, the
#: bound of the chapter's low-rank claim. ``book`` trains the paper's N = 256, but two of
#: the three tasks, two seeds and fewer epochs than the paper (working memory needs
#: thousands of epochs at g = 0); :func:`network_epochs` gives the cost. ``paper`` trains
#: the same two tasks with the paper's epochs (1000 and 2000) and three of its five seeds
#: (the tanh networks are those of the Figure 2 sweep): the paper's five seeds and the
#: working-memory task (6000 epochs) would cost 590 000 network-epochs, over four times as
#: many, for a study the paper did not make.
VARIANT_SIZES: dict[str, dict] = {
    "ci": {"N": 64, "g": (0.0, 0.9, 1.8), "seeds": 1, "tasks": ("flipflop",),
           "epochs": {"flipflop": 250, "mante": 250, "romo": 250},
           "ranks": (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32), "eval_batch": 128},
    "book": {"N": 256, "g": (0.0, 0.9, 1.8), "seeds": 2, "tasks": ("flipflop", "mante"),
             "epochs": {"flipflop": 250, "mante": 300, "romo": 600},
             "ranks": tuple(range(0, 17)) + (20, 25, 32, 64), "eval_batch": 256},
    "paper": {"N": 256, "g": (0.0, 0.9, 1.8), "seeds": 3, "tasks": ("flipflop", "mante"),
              "epochs": {t: TASKS_BY_NAME[t].paper_epochs for t in TASKS},
              "ranks": tuple(range(0, 26)) + (32, 64), "eval_batch": 512},
}

#: Sizes of :func:`lowrank_study` per scale (``paper``: the paper's epochs, three seeds).
LOWRANK_SIZES: dict[str, dict] = {
    "ci": {"N": 64, "g": (0.0, 0.9), "seeds": 1, "ranks": (1, 2, 4, 8), "epochs": {"flipflop": 250},
           "eval_batch": 128},
    "book": {"N": 256, "g": (0.0, 0.9), "seeds": 2, "ranks": (1, 2, 4, 8), "epochs": {"flipflop": 300},
             "eval_batch": 256},
    "paper": {"N": 256, "g": (0.0, 0.9), "seeds": 3, "ranks": (1, 2, 4, 8),
              "epochs": {t: TASKS_BY_NAME[t].paper_epochs for t in ("flipflop", "mante")}, "eval_batch": 512},
}


def first_batch_silent_loss(task: Task, seeds: Sequence[int] | np.ndarray,
                            batch_size: int | None = None) -> np.ndarray:
    r"""Loss a silent network (:math:`z \equiv 0`) has on each network's first training batch.

    The reference of "learnt nothing" at epoch 0, beside the initial training loss
    :math:`L_0` (the same trials: ``rng_for(seed, STREAM_DATA)``'s first batch).

    Parameters
    ----------
    task : Task
    seeds : sequence of int
        network seeds.
    batch_size : int, optional
        default :func:`lrbook.training.default_batch_size`.

    Returns
    -------
    ndarray, shape (K,)
    """
    B = default_batch_size(task) if batch_size is None else V.integer("batch_size", batch_size, lo=1)
    return batch_silent_loss(task.batches(B, [rng_for(int(s), STREAM_DATA) for s in seeds]))


def network_epochs(scale: str | None = None, task: str = "flipflop") -> dict[str, int]:
    """Training cost of the two studies at a scale, in network-epochs (networks x epochs).

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        default ``LRBOOK_SCALE``.
    task : str
        the task of :func:`lowrank_study`.

    Returns
    -------
    dict
        ``"variants"``: :func:`variant_study` (every task of the scale, every variant of
        :data:`VARIANTS`), ``"lowrank"``: :func:`lowrank_study` (unconstrained and every
        rank), ``"total"``.

    Examples
    --------
    >>> network_epochs("ci")
    {'variants': 3000, 'lowrank': 2500, 'total': 5500}
    """
    sc = get_scale(scale)
    p, q = VARIANT_SIZES[sc], LOWRANK_SIZES[sc]
    V.choice("task", task, tuple(q["epochs"]))
    nv = len(VARIANTS) * len(p["g"]) * p["seeds"] * sum(p["epochs"][t] for t in p["tasks"])
    nl = len(q["g"]) * q["seeds"] * (1 + len(q["ranks"])) * q["epochs"][task]
    return {"variants": int(nv), "lowrank": int(nl), "total": int(nv + nl)}


class _Summary:
    """What both summaries derive from the training curves: ``epochs`` and ``converged``."""

    loss: np.ndarray
    convergence_epoch: np.ndarray

    @property
    def epochs(self) -> int:
        return int(self.loss.shape[0])

    @property
    def converged(self) -> np.ndarray:
        """Whether each network reached 5 % of its reference (see ``convergence_epoch``) within
        the epochs, bool (K,)."""
        return np.asarray(self.convergence_epoch) >= 0


@dataclass
class VariantSummary(_Summary):
    """One task trained one way, over the g grid and seeds (network k: ``g[k]``, ``seeds[k]``).

    Attributes
    ----------
    task, variant, phi : str
    trained : tuple of str
    g, seeds : ndarray, shape (K,)
    loss : ndarray, shape (epochs, K)
        training loss per epoch (NaN after a divergence).
    convergence_epoch : ndarray of int, shape (K,)
        first epoch with training loss < 5 % of the reference
        :math:`\\min(L_0, L_{silent})`; -1 if never (see :attr:`converged`).
    functional_rank : numpy.ma.MaskedArray of int, shape (K,)
        smallest R with test loss of :math:`W_0 + \\mathrm{SVD}_R(\\Delta W)` below 5 % of
        :math:`\\min(L(R{=}0), L_{silent})`; **masked** where no listed rank does
        (undefined; count them with ``numpy.ma.count_masked``).
    ranks : ndarray of int
    truncation_losses : ndarray, shape (K, n_ranks)
    L0, test_loss : ndarray, shape (K,)
        test loss of the initial and the trained network.
    L_silent : ndarray, shape (K,)
        test loss of a silent network (z = 0): the reference of "learnt nothing".
    norm_dW : ndarray, shape (K,)
    diverged : ndarray of bool, shape (K,)
    seconds : float
        training time.
    """

    task: str
    variant: str
    phi: str
    trained: tuple[str, ...]
    g: np.ndarray
    seeds: np.ndarray
    loss: np.ndarray
    convergence_epoch: np.ndarray
    functional_rank: np.ma.MaskedArray
    ranks: np.ndarray
    truncation_losses: np.ndarray
    L0: np.ndarray
    test_loss: np.ndarray
    norm_dW: np.ndarray
    diverged: np.ndarray
    seconds: float
    L_silent: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def learnt(self) -> np.ndarray:
        r"""Whether each trained network does the task on the test trials, bool (K,).

        Its test loss is below 5 % of the functional rank's reference
        :math:`\min(L(R{=}0), L_{silent})`: exactly the networks that have a
        functional rank when the listed ranks go up to N. A network that converged
        on its training batches may still miss this (a loss spike at the end of
        training); a diverged one never meets it.
        """
        zero = int(np.flatnonzero(np.asarray(self.ranks) == 0)[0])
        ref = np.fmin(self.truncation_losses[:, zero], self.L_silent)
        with np.errstate(invalid="ignore"):
            return np.asarray(self.test_loss < THRESHOLD * ref)

    def at(self, g: float) -> np.ndarray:
        """Which networks have this g, bool (K,)."""
        return np.isclose(self.g, g)

    def by_g(self, values: np.ndarray, reduce=np.nanmedian) -> tuple[np.ndarray, np.ndarray]:
        """``(g values, reduce(values) over the seeds of each g)``."""
        gs = np.unique(self.g)
        return gs, np.array([reduce(values[self.g == g]) for g in gs])

    def convergence_time(self) -> np.ndarray:
        """Convergence epoch with non-converged networks counted as ``epochs`` (censored), float (K,)."""
        c = self.convergence_epoch.astype(float)
        return np.where(c < 0, float(self.epochs), c)


def _pretrain(configs: list, cache: bool | str | ResultCache, executor: Executor | None) -> None:
    """Train the networks of ``configs`` that the cache lacks on ``executor`` (one torch
    thread per ensemble; :func:`lrbook.experiments.sweep`); nothing without an executor."""
    if executor is None:
        return
    if cache is False:
        raise ValueError("executor needs a cache (the workers store the networks there); got cache=False")
    sweep(configs, executor=executor, threads=1, progress=False, cache=None if cache is True else cache)


def variant_study(scale: str | None = None, tasks: Sequence[str] | None = None,
                  variants: Sequence[str] = tuple(VARIANTS), *, progress: bool = False,
                  cache: bool | str | ResultCache = True,
                  executor: Executor | None = None) -> dict[tuple[str, str], VariantSummary]:
    """Train every task every way of :data:`VARIANTS` over the g grid, and measure.

    The paper's criteria (loss below 5 % of a reference) use the reference
    :math:`\\min(L_0, L_{silent})`: for tanh networks this is the paper's :math:`L_0`
    (their initial output is tiny, :math:`L_0 \\approx L_{silent}`), while a relu or
    softplus network whose initial activity explodes (g large) has a huge :math:`L_0`
    and would otherwise count as "converged" as soon as it calms down.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        sizes from :data:`VARIANT_SIZES` (default ``LRBOOK_SCALE``).
    tasks : sequence of {"flipflop", "mante", "romo"}, optional
        default the scale's (``ci``: flip-flop only).
    variants : sequence of keys of :data:`VARIANTS`
    progress : bool
    cache : bool, str or ResultCache
        where the trained networks are stored and read back
        (:func:`lrbook.experiments.run_ensemble`): a second call trains nothing.
    executor : concurrent.futures.Executor, optional
        train the networks the cache lacks there first, one torch thread per ensemble
        (:func:`lrbook.experiments.sweep`; e.g. a ``ProcessPoolExecutor`` with a worker
        per core, faster than threads for ensembles of a few networks); needs a cache.

    Returns
    -------
    dict of (task, variant) to VariantSummary

    Raises
    ------
    ValueError
        if an executor is given with ``cache=False`` (the workers hand their networks
        over through the cache).
    """
    p = VARIANT_SIZES[get_scale(scale)]
    tasks = p["tasks"] if tasks is None else tuple(tasks)
    for t in tasks:
        V.choice("tasks", t, TASKS)
    for v in variants:
        V.choice("variants", v, VARIANTS)
    cfgs = {(t, v): EnsembleConfig(t, N=p["N"], g=p["g"], seeds=tuple(range(p["seeds"])),
                                   epochs=p["epochs"][t], phi=VARIANTS[v][0], trained=VARIANTS[v][1])
            for t in tasks for v in variants}
    _pretrain(list(cfgs.values()), cache, executor)
    out = {}
    for t in tasks:
        task = make_task(t)
        for v in variants:
            phi, trained = VARIANTS[v]
            res = run_ensemble(cfgs[(t, v)], cache=cache, progress=progress)
            ev = evaluate_result(res, task, ranks=p["ranks"], n_shuffles=0, reference="capped",
                                 batch_size=p["eval_batch"])
            dW = res.W.astype(float) - res.W0
            ref = np.fmin(res.loss[0], first_batch_silent_loss(task, res.seeds, res.config["batch_size"]))
            out[(t, v)] = VariantSummary(
                task=t, variant=v, phi=phi, trained=tuple(trained), g=res.g, seeds=res.seeds, loss=res.loss,
                convergence_epoch=np.atleast_1d(convergence_epoch(res.loss, L0=ref)),
                functional_rank=ev.functional_rank, ranks=ev.ranks, truncation_losses=ev.truncation_losses,
                L0=ev.L0, test_loss=ev.loss_trained, norm_dW=np.linalg.norm(dW, axis=(1, 2)),
                diverged=res.diverged, seconds=res.seconds,
                L_silent=silent_loss(task, res.seeds, p["eval_batch"]))
    return out


@dataclass
class LowRankSummary(_Summary):
    """One task trained with the recurrent change constrained to rank R, and unconstrained.

    Network k has ``g[k]``, ``seeds[k]`` and ``rank[k]`` (-1: unconstrained).

    Attributes
    ----------
    task : str
    g, seeds, rank : ndarray, shape (K,)
    loss : ndarray, shape (epochs, K)
        training loss per epoch.
    convergence_epoch : ndarray of int, shape (K,)
        first epoch with training loss < 5 % of L0; -1 if never (see :attr:`converged`).
    final_loss : ndarray, shape (K,)
        mean training loss over the last 5 % of the epochs.
    test_loss, L0 : ndarray, shape (K,)
        test loss of the trained and of the initial network.
    dW_singular_values : ndarray, shape (K, N)
        of the final change (a rank-R network has at most R non-zero ones).
    lr, lr_factors : ndarray, shape (K,)
        learning rates of the full weights and of the factors (NaN when unconstrained).
    seconds : float
    """

    task: str
    g: np.ndarray
    seeds: np.ndarray
    rank: np.ndarray
    loss: np.ndarray
    convergence_epoch: np.ndarray
    final_loss: np.ndarray
    test_loss: np.ndarray
    L0: np.ndarray
    dW_singular_values: np.ndarray
    lr: np.ndarray
    lr_factors: np.ndarray
    seconds: float
    sizes: dict = field(default_factory=dict)

    def select(self, g: float, rank: int) -> np.ndarray:
        """Indices of the networks with this g and rank (-1: unconstrained)."""
        return np.flatnonzero(np.isclose(self.g, g) & (self.rank == rank))

    def convergence_time(self) -> np.ndarray:
        """Convergence epoch with non-converged networks counted as ``epochs``, float (K,)."""
        c = self.convergence_epoch.astype(float)
        return np.where(c < 0, float(self.epochs), c)


def lowrank_study(scale: str | None = None, task: str = "flipflop", *, lr_factor: float = 1.0,
                  progress: bool = False, cache: bool | str | ResultCache = True,
                  executor: Executor | None = None) -> LowRankSummary:
    """Rank-R constrained training (R from :data:`LOWRANK_SIZES`) against unconstrained training.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
    task : str
        a task of ``LOWRANK_SIZES[scale]["epochs"]``.
    lr_factor : float
        multiplies the factors' default learning rate :func:`lowrank_lr`, > 0.
    progress : bool
    cache : bool, str or ResultCache
        where the networks are stored and read back
        (:func:`lrbook.experiments.run_networks`): a second call trains nothing.
    executor : concurrent.futures.Executor, optional
        as in :func:`variant_study`: train what the cache lacks there first.

    Returns
    -------
    LowRankSummary

    Raises
    ------
    ValueError
        if an executor is given with ``cache=False``.
    """
    p = LOWRANK_SIZES[get_scale(scale)]
    V.choice("task", task, tuple(p["epochs"]))
    lr_factor = V.real("lr_factor", lr_factor, lo=0.0, lo_open=True)
    tk = make_task(task)
    N, E = p["N"], p["epochs"][task]
    full_cfgs = [NetworkConfig(task, N=N, g=g, seed=s, epochs=E) for g in p["g"] for s in range(p["seeds"])]
    low_cfgs = [NetworkConfig(task, N=N, g=g, seed=s, epochs=E, rank=R,
                              lr_factors=None if lr_factor == 1.0 else
                              float(lr_factor * lowrank_lr(N, R, float(tk.paper_lr(N, g)[0]))))
                for g in p["g"] for R in p["ranks"] for s in range(p["seeds"])]
    _pretrain(full_cfgs + low_cfgs, cache, executor)
    nets = run_networks(full_cfgs + low_cfgs, cache=cache, progress=progress)
    full, low = stack(nets[:len(full_cfgs)]), stack(nets[len(full_cfgs):])
    assert low.rank is not None and low.lr_factors is not None
    tail = max(1, E // 20)
    parts = (full, low)
    cat = lambda f: np.concatenate([f(r) for r in parts], axis=-1)  # noqa: E731
    loss = cat(lambda r: r.loss)
    evs = [evaluate_result(r, tk, ranks=[0], n_shuffles=0, batch_size=p["eval_batch"]) for r in parts]
    test = np.concatenate([ev.loss_trained for ev in evs])
    L0 = np.concatenate([ev.L0 for ev in evs])
    dW = np.concatenate([r.W.astype(float) - r.W0 for r in parts])
    return LowRankSummary(
        task=task, g=np.r_[full.g, low.g], seeds=np.r_[full.seeds, low.seeds],
        rank=np.r_[np.full(full.K, -1), low.rank],
        loss=loss, convergence_epoch=np.atleast_1d(convergence_epoch(loss)),
        final_loss=np.nanmean(loss[-tail:], axis=0), test_loss=test, L0=L0,
        dW_singular_values=np.linalg.svd(dW, compute_uv=False), lr=np.r_[full.lr, low.lr],
        lr_factors=np.r_[np.full(full.K, np.nan), low.lr_factors], seconds=full.seconds + low.seconds,
        sizes={**p, "task": task, "lr_factor": lr_factor})


def variant_table(summaries: dict[tuple[str, str], VariantSummary]) -> list[dict]:
    """One row per (task, variant, g): medians over the seeds.

    Columns: ``task``, ``variant``, ``g``, ``networks``, ``converged`` (networks that
    reached 5 % of the reference), ``epochs`` (median convergence epoch of the
    networks that converged, NaN if none did), ``rank`` (median functional rank of
    the networks that have one, NaN if none), ``undefined`` (networks without a
    functional rank), ``norm_dW`` (median over the networks that did not diverge),
    ``test`` (median test loss / :math:`L_{silent}`), ``diverged``.
    """
    rows = []
    for (t, v), s in summaries.items():
        for g in np.unique(s.g):
            m = s.g == g
            fr = np.ma.asarray(s.functional_rank)[m]
            conv = s.convergence_epoch[m & s.converged]
            rows.append({"task": t, "variant": v, "g": float(g), "networks": int(m.sum()),
                         "converged": int(conv.size),
                         "epochs": float(np.median(conv)) if conv.size else float("nan"),
                         "rank": float(np.ma.median(fr)) if fr.count() else float("nan"),
                         "undefined": int(np.ma.count_masked(fr)),
                         "norm_dW": float(np.nanmedian(np.where(s.diverged[m], np.nan, s.norm_dW[m])))
                         if (~s.diverged[m]).any() else float("nan"),
                         "test": float(np.nanmedian(s.test_loss[m] / s.L_silent[m])),
                         "diverged": int(s.diverged[m].sum())})
    return rows


def lowrank_table(summary: LowRankSummary) -> list[dict]:
    """One row per (g, rank) of a :class:`LowRankSummary` (rank -1: unconstrained), medians over seeds.

    Columns: ``g``, ``rank``, ``networks``, ``converged``, ``epochs`` (median
    convergence epoch of the networks that converged, NaN if none did), ``final``
    (final training loss / L0), ``test`` (test loss / test L0).
    """
    s = summary
    rows = []
    for g in np.unique(s.g):
        for R in [-1] + sorted(r for r in np.unique(s.rank) if r > 0):
            idx = s.select(g, R)
            conv = s.convergence_epoch[idx][s.converged[idx]]
            rows.append({"g": float(g), "rank": int(R), "networks": int(idx.size),
                         "converged": int(conv.size),
                         "epochs": float(np.median(conv)) if conv.size else float("nan"),
                         "final": float(np.median(s.final_loss[idx] / s.loss[0, idx])),
                         "test": float(np.median(s.test_loss[idx] / s.L0[idx]))})
    return rows
