r"""One-call analysis of any recurrent network's weights: :func:`analyse` -> :class:`Report`.

Give the recurrent matrix before (:math:`W_0`) and after (:math:`W`) training, and
optionally a function that returns the loss of the network for a recurrent matrix.
The report holds everything the book measures on lrbook's own networks:
the singular values of :math:`\Delta W` (and during training, from snapshots), effective
ranks, spectra, the truncation curve and functional rank, the shuffle test and the
alignment with the input/output vectors. The chapter :doc:`/book/15_own_network`
walks through it for a network trained outside lrbook; :func:`report_from_result`
does the same for a :class:`lrbook.training.TrainResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .. import _validate as V
from ..tasks import Task
from ..training import TrainResult
from ._arrays import jsonable, matrices, same_shape, to_numpy
from .alignment import Alignment, alignment
from .evaluate import EVAL_BATCH, MAX_BYTES, Evaluation, evaluate_result
from .measures import (
    THRESHOLD,
    convergence_epoch,
    entropy_rank,
    participation_ratio,
    rank_for_fraction,
    stable_rank,
    top_fraction,
)
from .shuffle import ShuffleTest, shuffle_ratio, shuffle_test
from .spectra import eigenvalues
from .truncation import DEFAULT_RANKS, functional_rank, ranks_for, truncation_curve

#: Number of leading singular values summarised in :meth:`Report.summary`.
TOP = 10


@dataclass
class Report:
    r"""Analysis of one recurrent matrix before and after training (see :func:`analyse`).

    See :doc:`/book/15_own_network` (and :doc:`/book/04_low_rank`,
    :doc:`/book/05_randomness` for the quantities).

    Attributes
    ----------
    N : int
        neurons (the matrices are N x N).
    singular_values : ndarray, shape (N,)
        of :math:`\Delta W = W - W_0`, descending.
    singular_values_W0, singular_values_W : ndarray, shape (N,)
    eigenvalues_W0, eigenvalues_W, eigenvalues_dW : ndarray of complex, shape (N,)
        by decreasing modulus.
    norm_dW, norm_W0 : float
        Frobenius norms.
    participation_ratio, entropy_rank, stable_rank : float
        effective ranks of :math:`\Delta W` (:mod:`lrbook.analysis.measures`).
    top_fraction : ndarray, shape (min(10, N),)
        :math:`f_r`, the fraction of :math:`\|\Delta W\|_F^2` in the top r singular values, r = 1..
    rank_99 : int
        smallest r with :math:`f_r \ge 0.99`.
    snapshot_epochs : ndarray of int, shape (S,) or None
    snapshot_singular_values : ndarray, shape (S, N) or None
        singular values of :math:`W(t) - W_0` at each snapshot.
    ranks : ndarray of int, shape (n_ranks,) or None
    truncation_losses : ndarray, shape (n_ranks,) or None
        loss of :math:`W_0 + \mathrm{SVD}_R(\Delta W)` (needs a loss function).
    functional_rank : int or None
        smallest listed R with loss < ``threshold`` * loss(R = 0); None if no listed
        rank meets it (undefined), and
        None when no loss was measured.
    threshold : float
    shuffle : ShuffleTest or None
        losses of :math:`\pi(W_0) + \Delta W`.
    L0 : float or None
        loss of the untrained network on the test trials, the denominator of the
        shuffle ratio (:func:`~lrbook.analysis.shuffle_ratio`): for
        :func:`analyse` the ``L0`` given, else ``loss_fn(W0)``; for
        :func:`report_from_result` the initial network on the test batch.
    loss_trained : float or None
        loss with :math:`W`.
    loss_curve : ndarray, shape (epochs,) or None
        training loss per epoch, if given.
    L0_train, final_loss : float or None
        first and last finite entries of ``loss_curve``.
    convergence_epoch : int or None
        first epoch with training loss < ``threshold`` * ``L0_train``; -1 if never;
        None without a loss curve.
    alignment : Alignment or None
        of the top singular vectors with ``W_in`` / ``W_out`` (and ``W0`` applied to them).
    seed : int
        seed of the shuffles.
    name : str or None
    meta : dict
        free-form description (task, g, seed, ... for lrbook results).
    """

    N: int
    singular_values: np.ndarray
    singular_values_W0: np.ndarray
    singular_values_W: np.ndarray
    eigenvalues_W0: np.ndarray
    eigenvalues_W: np.ndarray
    eigenvalues_dW: np.ndarray
    norm_dW: float
    norm_W0: float
    participation_ratio: float
    entropy_rank: float
    stable_rank: float
    top_fraction: np.ndarray
    rank_99: int
    seed: int = 0
    threshold: float = THRESHOLD
    snapshot_epochs: np.ndarray | None = None
    snapshot_singular_values: np.ndarray | None = None
    ranks: np.ndarray | None = None
    truncation_losses: np.ndarray | None = None
    functional_rank: int | None = None
    shuffle: ShuffleTest | None = None
    L0: float | None = None
    loss_trained: float | None = None
    loss_curve: np.ndarray | None = None
    L0_train: float | None = None
    final_loss: float | None = None
    convergence_epoch: int | None = None
    alignment: Alignment | None = None
    name: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def shuffle_loss_ratio(self) -> float | None:
        r"""The shuffle ratio (:func:`~lrbook.analysis.shuffle_ratio`); None without a shuffle test.

        .. math:: \rho = \big\langle L\big(\pi(W_0) + \Delta W\big)\big\rangle_\pi / L_0

        NaN when :math:`L_0 = 0`.
        """
        if self.shuffle is None or self.L0 is None:
            return None
        return float(shuffle_ratio(self.shuffle.losses, self.L0))

    def to_dict(self) -> dict:
        """Every field as JSON types (lists; complex as ``[re, im]``; NaN/inf as None).

        Returns
        -------
        dict
            the fields, plus ``shuffle_loss_ratio``.
        """
        d = {k: jsonable(v) for k, v in self.__dict__.items()}
        d["shuffle_loss_ratio"] = jsonable(self.shuffle_loss_ratio)
        return d

    def summary(self, n_sv: int = TOP, max_rank: int = 10) -> dict:
        """The headline numbers as JSON types.

        Parameters
        ----------
        n_sv : int
            number of leading singular values of dW to keep, >= 1 (default 10).
        max_rank : int
            keep the truncation losses of the measured ranks R <= ``max_rank``, >= 0
            (default 10).

        Returns
        -------
        dict
            ``L0`` (training-curve L0 if a loss curve was given, else the
            reference L0), ``final_loss`` (of the loss curve, else the loss with
            ``W``), ``convergence_epoch``, ``norm_dW``, ``singular_values`` (top
            ``n_sv`` of dW), ``truncation_losses`` (R = 0..``max_rank`` among the
            measured ranks), ``functional_rank``, ``shuffle_loss_ratio``; None for
            what was not measured.
        """
        n_sv = V.integer("n_sv", n_sv, lo=1)
        max_rank = V.integer("max_rank", max_rank, lo=0)
        trunc = None
        if self.truncation_losses is not None and self.ranks is not None:
            sel = self.ranks <= max_rank
            trunc = self.truncation_losses[sel]
        return jsonable({
            "L0": self.L0_train if self.L0_train is not None else self.L0,
            "final_loss": self.final_loss if self.final_loss is not None else self.loss_trained,
            "convergence_epoch": self.convergence_epoch, "norm_dW": self.norm_dW,
            "singular_values": self.singular_values[:n_sv], "truncation_losses": trunc,
            "functional_rank": self.functional_rank, "shuffle_loss_ratio": self.shuffle_loss_ratio,
        })

    def plot(self, *, n_sv: int = 30) -> dict:
        """Draw the report's figures (see :func:`lrbook.plotting.analysis.report_figures`).

        Parameters
        ----------
        n_sv : int
            number of leading singular values drawn (default 30).

        Returns
        -------
        dict of str to matplotlib Figure
            ``"singular_values"``, ``"eigenvalues"``, and when available
            ``"training"`` (snapshots), ``"truncation"`` and ``"alignment"``.
        """
        from ..plotting.analysis import report_figures  # lazy: plotting sits above analysis

        return report_figures(self, n_sv=n_sv)


# --------------------------------------------------------------------------- building
def _curve_stats(loss_curve: Any, threshold: float) -> tuple[np.ndarray, float, float, int]:
    c = to_numpy("loss_curve", loss_curve)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"loss_curve must have shape (epochs,) with epochs >= 1; got {c.shape}")
    finite = np.flatnonzero(np.isfinite(c))
    L0 = float(c[0])
    final = float(c[finite[-1]]) if finite.size else float("nan")
    return c, L0, final, int(convergence_epoch(c, threshold=threshold))


def _base_report(w0: np.ndarray, w: np.ndarray, *, seed: int, threshold: float, name, meta) -> Report:
    dW = w - w0
    s = np.linalg.svd(dW, compute_uv=False)
    return Report(
        N=int(w0.shape[0]), singular_values=s,
        singular_values_W0=np.linalg.svd(w0, compute_uv=False),
        singular_values_W=np.linalg.svd(w, compute_uv=False),
        eigenvalues_W0=eigenvalues(w0), eigenvalues_W=eigenvalues(w), eigenvalues_dW=eigenvalues(dW),
        norm_dW=float(np.linalg.norm(dW)), norm_W0=float(np.linalg.norm(w0)),
        participation_ratio=float(participation_ratio(s)), entropy_rank=float(entropy_rank(s)),
        stable_rank=float(stable_rank(s)), top_fraction=top_fraction(s)[:TOP],
        rank_99=int(rank_for_fraction(s, 0.99)), seed=seed, threshold=threshold,
        name=name, meta=dict(meta or {}))


def _snapshots(rep: Report, w0: np.ndarray, snapshots: Any, snapshot_epochs: Any) -> None:
    snaps = matrices("snapshots", snapshots)
    if snaps.ndim != 3 or snaps.shape[1:] != w0.shape:
        raise ValueError(f"snapshots must have shape (S, {w0.shape[0]}, {w0.shape[1]}); got {snaps.shape}")
    rep.snapshot_singular_values = np.linalg.svd(snaps - w0[None], compute_uv=False)
    if snapshot_epochs is None:
        rep.snapshot_epochs = np.arange(snaps.shape[0])
    else:
        ep = np.asarray(to_numpy("snapshot_epochs", snapshot_epochs), dtype=np.int64)
        if ep.shape != (snaps.shape[0],):
            raise ValueError(f"snapshot_epochs must have shape ({snaps.shape[0]},); got {ep.shape}")
        rep.snapshot_epochs = ep


def analyse(W0: Any, W: Any, loss_fn: Callable[[Any], float] | None = None, *,
            snapshots: Any = None, snapshot_epochs: Any = None, W_in: Any = None, W_out: Any = None,
            ranks: Iterable[int] = DEFAULT_RANKS, seed: int = 0, n_shuffles: int = 1,
            L0: float | None = None, loss_curve: Any = None, threshold: float = THRESHOLD,
            r_align: int | None = None, name: str | None = None, meta: dict | None = None) -> Report:
    r"""Analyse the change of any recurrent matrix: bring your own weights.

    See :doc:`/book/15_own_network`.

    Parameters
    ----------
    W0, W : array or Tensor, shape (N, N)
        recurrent weights before and after training (for gated networks, one gate's
        block, see :mod:`lrbook.analysis.adapters`).
    loss_fn : callable, optional
        ``loss_fn(W) -> float``: the loss of the network with recurrent matrix ``W``
        and every other parameter as trained. It receives a matrix of the same kind as
        the ``W`` argument (a torch tensor with ``W``'s dtype and device, or a float64
        numpy array). With it the report includes the truncation curve, the functional
        rank and the shuffle test.
    snapshots : array or Tensor, shape (S, N, N), optional
        ``W`` during training; gives the singular values of :math:`W(t) - W_0`.
    snapshot_epochs : array of int, shape (S,), optional
        default 0..S-1.
    W_in : array or Tensor, shape (n_in, N), optional
        rows are input vectors (for :func:`~lrbook.analysis.alignment`).
    W_out : array or Tensor, shape (N, n_out), optional
        columns are output vectors.
    ranks : sequence of int
        truncation ranks, each in 0..N; default R = 0..min(25, N).
    seed : int
        >= 0, seeds the shuffles (stream ``STREAM_SHUFFLE``).
    n_shuffles : int
        >= 0 shuffles of ``W0`` (0 skips the test).
    L0 : float, optional
        the loss of the untrained network (every weight at its initial value) on the
        same test trials as ``loss_fn``: the denominator of the shuffle ratio
        (:func:`~lrbook.analysis.shuffle_ratio`). Default ``loss_fn(W0)``, which is
        that loss only when the recurrent matrix is the only trained weight; pass it
        when other weights (input, readout, biases) were trained too.
    loss_curve : array, shape (epochs,), optional
        training loss per epoch, for ``L0_train``, ``final_loss`` and ``convergence_epoch``.
    threshold : float
        in (0, 1), 0.05 in the paper (functional rank and convergence).
    r_align : int, optional
        number of singular components in the alignment, 1..N; default ``min(3, N)``.
    name : str, optional
    meta : dict, optional
        stored as is (JSON types please).

    Returns
    -------
    Report

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W0 = 0.5 * rng.standard_normal((40, 40)) / np.sqrt(40)
    >>> u, v = rng.standard_normal(40), rng.standard_normal(40)
    >>> rep = analyse(W0, W0 + np.outer(u, v) / 40)
    >>> round(rep.participation_ratio, 6), bool(rep.singular_values[1] < 1e-12)
    (1.0, True)
    """
    w0 = matrices("W0", W0)
    w = matrices("W", W)
    same_shape("W0", w0, "W", w)
    if w0.ndim != 2:
        raise ValueError(f"W0 must have shape (N, N) (one matrix; loop over networks); got {w0.shape}")
    N = w0.shape[0]
    seed = V.integer("seed", seed, lo=0)
    n_shuffles = V.integer("n_shuffles", n_shuffles, lo=0)
    threshold = V.real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    r_align = min(3, N) if r_align is None else V.integer("r_align", r_align, lo=1, hi=N)
    rk = ranks_for(ranks, N)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, loss_fn(W) -> float; got {type(loss_fn).__name__}")
    if L0 is not None:
        L0 = V.real("L0", L0, lo=0.0)

    rep = _base_report(w0, w, seed=seed, threshold=threshold, name=name, meta=meta)
    if snapshots is not None:
        _snapshots(rep, w0, snapshots, snapshot_epochs)
    if loss_curve is not None:
        rep.loss_curve, rep.L0_train, rep.final_loss, rep.convergence_epoch = _curve_stats(loss_curve, threshold)
    if W_in is not None or W_out is not None:
        rep.alignment = alignment(w - w0, W_in=W_in, W_out=W_out, W0=w0, r=r_align)
    if loss_fn is not None:
        fn = _same_kind(loss_fn, W)
        rep.ranks = rk
        rep.truncation_losses = truncation_curve(fn, w0, w - w0, rk)
        loss_R0 = float(fn(w0))                       # W_0 with the other weights as trained
        rep.functional_rank = cast("int | None", functional_rank(
            np.r_[loss_R0, rep.truncation_losses], np.r_[0, rk], threshold=threshold))
        rep.L0 = loss_R0 if L0 is None else L0
        rep.loss_trained = float(fn(w))
        if n_shuffles:
            rep.shuffle = shuffle_test(fn, w0, w - w0, seed=seed, n_shuffles=n_shuffles, L0=rep.L0)
            rep.shuffle.loss_trained = rep.loss_trained
    elif L0 is not None:
        rep.L0 = L0
    return rep


def _same_kind(loss_fn: Callable, like: Any) -> Callable[[np.ndarray], float]:
    """Wrap ``loss_fn`` so that it receives matrices of the same kind as ``like``."""
    if hasattr(like, "detach") and hasattr(like, "dtype") and hasattr(like, "device"):
        import torch

        def fn(W: np.ndarray) -> float:
            return float(loss_fn(torch.as_tensor(W, dtype=like.dtype, device=like.device)))
        return fn
    return lambda W: float(loss_fn(W))


# --------------------------------------------------------------------------- lrbook results
def reports_from_result(result: TrainResult, task: Task, networks: Iterable[int] | int | None = None, *,
                        ranks: Iterable[int] = DEFAULT_RANKS, n_shuffles: int = 1,
                        threshold: float = THRESHOLD, r_align: int | None = None,
                        batch_size: int = EVAL_BATCH, max_bytes: int = MAX_BYTES,
                        evaluation: Evaluation | None = None) -> list[Report]:
    r"""A :class:`Report` for each network of an lrbook :class:`~lrbook.training.TrainResult`.

    Losses are measured on each network's test batch (:func:`~lrbook.analysis.eval_batch`),
    all networks and all truncations in one batched pass; the truncations keep the
    trained ``W_in``, ``W_out``; ``L0`` is the initial network's loss on the same test batch
    and ``L0_train`` / ``convergence_epoch`` come from the training curve.

    See :doc:`/book/04_low_rank` and :doc:`/book/05_randomness`.

    Parameters
    ----------
    result : TrainResult
    task : Task
        the task the networks were trained on.
    networks : int or sequence of int, optional
        indices into the result (default all).
    ranks, n_shuffles, threshold, r_align
        as in :func:`analyse` (the shuffles are seeded by each network's seed;
        ``r_align`` defaults to ``min(3, N)``, so networks of one or two neurons work).
    batch_size, max_bytes
        see :func:`lrbook.analysis.losses`.
    evaluation : Evaluation, optional
        the test-batch losses of these networks, already measured (by
        :func:`~lrbook.analysis.evaluate_result` or, cached on disk,
        :func:`lrbook.experiments.evaluate_cached`); ``ranks``, ``n_shuffles`` and
        ``batch_size`` are then those of the evaluation.

    Returns
    -------
    list of Report
        in the order of ``networks``.

    Raises
    ------
    ValueError
        if ``evaluation`` covers other networks or used another threshold.
    """
    if evaluation is None:
        ev = evaluate_result(result, task, ranks=ranks, n_shuffles=n_shuffles, networks=networks,
                             threshold=threshold, batch_size=batch_size, max_bytes=max_bytes)
    else:
        if not isinstance(evaluation, Evaluation):
            raise TypeError(f"evaluation must be an lrbook Evaluation; got {type(evaluation).__name__}")
        ev = evaluation
        want = np.arange(result.K) if networks is None else np.atleast_1d(np.asarray(networks))
        if not np.array_equal(np.asarray(ev.networks), want):
            raise ValueError(f"evaluation covers networks {np.asarray(ev.networks).tolist()}; "
                             f"expected {want.tolist()}")
        if ev.threshold != threshold:
            raise ValueError(f"evaluation used threshold {ev.threshold:g}; got threshold={threshold:g}")
    r_align = min(3, result.N) if r_align is None else V.integer("r_align", r_align, lo=1, hi=result.N)
    out = []
    for j, k in enumerate(ev.networks):
        w0 = result.W0[k].astype(np.float64)
        w = result.W[k].astype(np.float64)
        meta = {"task": result.config.get("task"), "g": float(result.g[k]), "seed": int(result.seeds[k]),
                "N": int(result.N), "epochs": int(result.loss.shape[0]), "lr": float(result.lr[k]),
                "network": int(k), "diverged_epoch": int(result.diverged_epoch[k]),
                "eval_batch_size": ev.batch_size}
        rep = _base_report(w0, w, seed=int(result.seeds[k]), threshold=threshold,
                           name=f"{task.name} g={result.g[k]:g} seed={int(result.seeds[k])}", meta=meta)
        if result.snapshots is not None:
            _snapshots(rep, w0, result.snapshots[:, k].astype(np.float64), result.snapshot_epochs)
        rep.loss_curve, rep.L0_train, rep.final_loss, rep.convergence_epoch = \
            _curve_stats(result.loss[:, k], threshold)
        rep.alignment = alignment(w - w0, W_in=result.W_in[k], W_out=result.W_out[k], W0=w0, r=r_align)
        rep.ranks = ev.ranks
        rep.truncation_losses = ev.truncation_losses[j]
        fr = ev.functional_rank[j]
        rep.functional_rank = None if fr is np.ma.masked else int(fr)
        rep.L0 = float(ev.L0[j])
        rep.loss_trained = float(ev.loss_trained[j])
        if ev.shuffle_losses.shape[1]:
            rep.shuffle = ShuffleTest(losses=ev.shuffle_losses[j], L0=rep.L0, loss_trained=rep.loss_trained,
                                      seed=int(result.seeds[k]))
        out.append(rep)
    return out


def report_from_result(result: TrainResult, task: Task, k: int = 0, **kwargs: Any) -> Report:
    """The :class:`Report` of network ``k`` of a :class:`~lrbook.training.TrainResult`.

    The same as ``reports_from_result(result, task, [k], **kwargs)[0]``: test-batch
    losses (truncation curve, functional rank, shuffle test, ``L0``) plus the
    training curve, snapshots and alignment of that network.

    See :doc:`/book/04_low_rank`, :doc:`/book/05_randomness` and
    :doc:`/book/15_own_network`.

    Parameters
    ----------
    result : TrainResult
    task : Task
        the task the networks were trained on.
    k : int
        index of the network, 0..K-1.
    **kwargs : Any
        ``ranks``, ``n_shuffles``, ``threshold``, ``r_align``, ``batch_size``,
        ``max_bytes`` as in :func:`reports_from_result`.

    Returns
    -------
    Report

    Raises
    ------
    TypeError
        if ``result`` is not a :class:`~lrbook.training.TrainResult`.
    ValueError
        if ``k`` is out of range (or another argument is).
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be an lrbook TrainResult; got {type(result).__name__}")
    k = V.integer("k", k, lo=0, hi=result.K - 1)
    return reports_from_result(result, task, [k], **kwargs)[0]
