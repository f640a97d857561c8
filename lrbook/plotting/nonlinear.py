r"""Figures of the nonlinear part of the book: trained networks over a grid of ``g``.

Every function takes plain arrays (for example the fields of a
:class:`lrbook.training.TrainResult` or of :mod:`lrbook.analysis` results), draws
on a given matplotlib ``Axes`` (or on a new figure in lrbook's style) and returns
the ``Axes``; the caller shows the figure. Networks are coloured by ``g`` with
:func:`lrbook.plotting.style.g_colors`, the same mapping in every figure, and
networks with the same ``g`` (different seeds) are summarised by their mean, with
each seed drawn thinly or as a small dot.

Used by the chapters :doc:`/book/02_training` (loss curves, trained trials,
convergence epoch), :doc:`/book/04_low_rank` (spectra, truncation, functional rank),
:doc:`/book/05_randomness` (shuffle test, norms, alignment) and
:doc:`/book/06_scaling` (measures against the network size ``N``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.measures import top_fraction
from ..tasks import Task
from .style import g_colors, use_style
from .tasks import plot_trials

__all__ = [
    "group_by_g", "plot_loss_curves", "plot_network_trials", "plot_vs_g", "plot_spectra",
    "plot_singular_values_during_training", "plot_truncation_by_g", "plot_top_fraction",
    "plot_norms_vs_g", "plot_eigenvalues_by_g", "plot_alignment_vs_g", "plot_vs_N",
]


# --------------------------------------------------------------------------- helpers
def _ax(ax=None, **fig_kw):
    if ax is not None:
        return ax
    use_style()
    _, ax = plt.subplots(**fig_kw)
    return ax


def _vector(name: str, x: Any, n: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {a.shape}")
    if n is not None and a.size != n:
        raise ValueError(f"{name} must have {n} entries (one per network); got {a.size}")
    return a


def group_by_g(g: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct values of ``g`` (sorted) and the network indices of each.

    Parameters
    ----------
    g : array, shape (K,)
        ``g`` of each network.

    Returns
    -------
    values : ndarray, shape (n_g,)
    index : list of ndarray of int
        ``index[i]``: the networks with ``g == values[i]``.

    Examples
    --------
    >>> vals, idx = group_by_g([0.0, 0.0, 0.9, 0.9])
    >>> vals.tolist(), [i.tolist() for i in idx]
    ([0.0, 0.9], [[0, 1], [2, 3]])
    """
    g = _vector("g", g)
    values = np.unique(np.round(g, 10))
    return values, [np.flatnonzero(np.isclose(g, v, atol=1e-9)) for v in values]


def _g_label(g: float) -> str:
    return f"$g = {g:g}$"


# --------------------------------------------------------------------------- chapter 2
def plot_loss_curves(loss: Any, g: Any, ax=None, *, relative: bool = True, threshold: float | None = 0.05,
                     log: bool = True, legend: bool = True, colors: Sequence | None = None):
    r"""Training loss against the epoch, one colour per ``g``.

    Each network is a thin line; the thick line is the geometric mean over the
    networks (seeds) of the same ``g``.

    Parameters
    ----------
    loss : array, shape (epochs, K)
        training loss per epoch (``TrainResult.loss``; NaN after a divergence).
    g : array, shape (K,)
    relative : bool
        divide each curve by its initial loss :math:`L_0` (the first epoch).
    threshold : float or None
        draw the convergence level ``threshold`` (times :math:`L_0` if ``relative``).
    log : bool
        logarithmic loss axis.
    colors : sequence, optional
        one colour per distinct ``g`` (default :func:`~lrbook.plotting.style.g_colors`).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/02_training`.
    """
    L = np.asarray(loss, dtype=float)
    if L.ndim != 2:
        raise ValueError(f"loss must have shape (epochs, K); got {L.shape}")
    g = _vector("g", g, L.shape[1])
    ax = _ax(ax)
    if relative:
        L = L / L[0]
    vals, idx = group_by_g(g)
    cols = list(colors) if colors is not None else g_colors(vals)
    ep = np.arange(L.shape[0])
    for v, ix, c in zip(vals, idx, cols):
        for k in ix:
            ax.plot(ep, L[:, k], color=c, lw=0.5, alpha=0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.exp(np.nanmean(np.log(L[:, ix]), axis=1)) if log else np.nanmean(L[:, ix], axis=1)
        ax.plot(ep, mean, color=c, lw=1.8, label=_g_label(v))
    if threshold is not None:
        ax.axhline(threshold if relative else threshold * np.nanmean(L[0]), color="0.3", lw=0.8, ls="--")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"loss / $L_0$" if relative else "loss")
    if legend:
        ax.legend(ncol=2 if len(vals) > 4 else 1)
    return ax


def plot_network_trials(task: Task, batch, z: Any, indices: Sequence[int] = (0, 1),
                        title: str | None = None):
    """Trials of a trained network: inputs (top), targets (solid) and outputs (dashed).

    Parameters
    ----------
    task : Task
    batch : Batch
        ``(u, target, mask)`` with arrays of shape (B, T, n).
    z : array, shape (B, T, n_out)
        the network's outputs on ``batch`` (e.g. ``model.forward(batch.u)[k]``).
    indices : sequence of int
        trials to show, one column each.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    See :doc:`/book/02_training`.
    """
    indices = list(indices)
    if not indices:
        raise ValueError("indices must name at least one trial; got []")
    z = np.asarray(z, dtype=float)
    if z.shape != np.shape(batch.target):
        raise ValueError(f"z must have the shape of the targets {np.shape(batch.target)}; got {z.shape}")
    return plot_trials(task, batch, indices, title=title, z=z)


def plot_vs_g(g: Any, values: Any, ax=None, *, label: str | None = None, color=None,
              ylabel: str | None = None, log: bool = False, missing: float | None = None,
              missing_label: str | None = None, offset: float = 0.0, marker: str = "o"):
    r"""A measure of each network against ``g``: mean :math:`\pm` std over seeds, and each seed.

    Parameters
    ----------
    g : array, shape (K,)
    values : array, shape (K,)
        one number per network (convergence epoch, functional rank, ratio, ...).
        NaN entries are left out.
    label, color
        of the mean curve.
    ylabel : str, optional
    log : bool
        logarithmic y axis.
    missing : float, optional
        draw NaN entries at this height with open markers (e.g. the number of epochs
        for networks that never converged), labelled ``missing_label``; they count at
        that height in the mean (a lower bound).
    offset : float
        horizontal shift of the points (to separate several measures on one axis).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/02_training` and :doc:`/book/05_randomness`.
    """
    g = _vector("g", g)
    y = _vector("values", values, g.size)
    ax = _ax(ax)
    vals, idx = group_by_g(g)
    miss = np.isnan(y)
    yy = np.where(miss, missing, y) if missing is not None else y
    means = np.array([np.nanmean(yy[ix]) if np.isfinite(yy[ix]).any() else np.nan for ix in idx])
    stds = np.array([np.nanstd(yy[ix]) if np.isfinite(yy[ix]).any() else np.nan for ix in idx])
    line = ax.errorbar(vals + offset, means, yerr=stds, color=color, marker=marker, ms=5,
                       capsize=3, label=label)
    c = line[0].get_color()
    ok = ~miss
    ax.plot(g[ok] + offset, y[ok], ls="none", marker=marker, ms=3, color=c, alpha=0.45)
    if missing is not None and miss.any():
        ax.plot(g[miss] + offset, np.full(miss.sum(), missing), ls="none", marker=marker, ms=6,
                mfc="none", mec=c, label=missing_label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("$g$")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if label is not None or (missing_label is not None and miss.any()):
        ax.legend()
    return ax


# --------------------------------------------------------------------------- chapter 4
def plot_spectra(sv_dW: Any, sv_W0: Any, sv_W: Any, ax=None, *, title: str | None = None,
                 floor: float = 1e-4):
    r"""Singular values of :math:`\Delta W`, :math:`W_0` and :math:`W` of one network, all N.

    Parameters
    ----------
    sv_dW, sv_W0, sv_W : array, shape (N,)
        singular values, descending (e.g. from :func:`lrbook.analysis.singular_values`).
    floor : float
        values below this are drawn at ``floor`` (a zero :math:`W_0` at g = 0 has no
        logarithm).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/04_low_rank`.
    """
    ax = _ax(ax)
    for s, lab, kw in ((sv_W0, "$W_0$", dict(color="0.55", lw=1.2)),
                       (sv_W, "$W$", dict(color="C0", lw=1.2, ls="--")),
                       (sv_dW, r"$\Delta W$", dict(color="C1", lw=0, marker="o", ms=3))):
        s = _vector("singular values", s)
        ax.plot(np.arange(1, s.size + 1), np.maximum(s, floor), label=lab, **kw)
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("index $r$")
    ax.set_ylabel("singular value $s_r$")
    if title is not None:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_singular_values_during_training(epochs: Any, sv: Any, loss: Any | None = None, ax=None, *,
                                         n: int = 6, color=None, logx: bool = False):
    r"""Top ``n`` singular values of :math:`W(t) - W_0` against the epoch, for one network.

    Parameters
    ----------
    epochs : array, shape (S,)
        snapshot epochs (``TrainResult.snapshot_epochs``).
    sv : array, shape (S, N)
        singular values of each snapshot's change
        (:func:`lrbook.analysis.singular_values_over_training`).
    loss : array, shape (epochs,), optional
        training loss of the network, drawn on a second axis (relative to its first entry).
    n : int
        how many singular values (the largest) to draw; the rest is shaded as the bulk.
    logx : bool
        logarithmic epoch axis (epoch 0 is left out); shows the fast early growth.

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/04_low_rank`.
    """
    ep = _vector("epochs", epochs)
    sv = np.asarray(sv, dtype=float)
    if sv.ndim != 2 or sv.shape[0] != ep.size:
        raise ValueError(f"sv must have shape ({ep.size}, N); got {sv.shape}")
    ax = _ax(ax)
    if logx:
        keep = ep > 0
        ep, sv = ep[keep], sv[keep]
    n = max(1, min(int(n), sv.shape[1]))
    shades = plt.get_cmap("Oranges")(np.linspace(0.95, 0.45, n))
    for r in range(n):
        ax.plot(ep, sv[:, r], color=shades[r] if color is None else color, lw=1.4,
                label=f"$s_{{{r + 1}}}$" if r < 3 else None)
    if sv.shape[1] > n:
        ax.fill_between(ep, 0, sv[:, n], color="0.8", lw=0, label=f"$s_{{{n + 1}}}, \\dots$ (bulk)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"singular values of $W(t) - W_0$")
    ax.set_ylim(bottom=0)
    if logx:
        ax.set_xscale("log")
        ax.set_xlim(ep[0], ep[-1])
    if loss is not None:
        L = _vector("loss", loss)
        ax2 = ax.twinx()
        e_L = np.arange(L.size)
        ax2.plot(e_L[1:] if logx else e_L, (L / L[0])[1:] if logx else L / L[0], color="0.3", lw=0.8, ls=":")
        ax2.set_yscale("log")
        ax2.set_ylabel(r"loss / $L_0$ (dotted)")
        ax2.spines["right"].set_visible(True)
        if logx:
            ax.set_xlim(ep[0], ep[-1])
    ax.legend(loc="best")
    return ax


def plot_truncation_by_g(ranks: Any, losses: Any, g: Any, ax=None, *, reference: Any | None = None,
                         threshold: float | None = 0.05, colors: Sequence | None = None,
                         legend: bool = True):
    r"""Loss after truncating :math:`\Delta W` to rank R, against R, one colour per ``g``.

    Parameters
    ----------
    ranks : array of int, shape (n_ranks,)
    losses : array, shape (K, n_ranks)
        e.g. ``Evaluation.truncation_losses`` of :func:`lrbook.analysis.evaluate_result`.
    g : array, shape (K,)
    reference : array, shape (K,), optional
        divide each network's curve by this (e.g. its loss at R = 0, or :math:`L_0`);
        default the loss at the first listed rank.
    threshold : float or None
        horizontal line at this relative level (the functional-rank criterion).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/04_low_rank`.
    """
    R = np.asarray(ranks)
    L = np.asarray(losses, dtype=float)
    if L.ndim != 2 or L.shape[1] != R.size:
        raise ValueError(f"losses must have shape (K, {R.size}); got {L.shape}")
    g = _vector("g", g, L.shape[0])
    ref = L[:, 0] if reference is None else _vector("reference", reference, L.shape[0])
    rel = L / ref[:, None]
    ax = _ax(ax)
    vals, idx = group_by_g(g)
    cols = list(colors) if colors is not None else g_colors(vals)
    for v, ix, c in zip(vals, idx, cols):
        for k in ix:
            ax.plot(R, rel[k], color=c, lw=0.5, alpha=0.5)
        ax.plot(R, np.exp(np.mean(np.log(rel[ix]), axis=0)), color=c, lw=1.8, marker="o", ms=3,
                label=_g_label(v))
    if threshold is not None:
        ax.axhline(threshold, color="0.3", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel(r"rank $R$ of $\Delta W$ kept")
    ax.set_ylabel(r"loss of $W_0 + \mathrm{SVD}_R(\Delta W)$, relative")
    if legend:
        ax.legend(ncol=2 if len(vals) > 4 else 1)
    return ax


def plot_top_fraction(sv: Any, g: Any, ax=None, *, r_max: int = 10, colors: Sequence | None = None,
                      legend: bool = True):
    r"""Fraction :math:`f_r = \sum_{i \le r} s_i^2 / \|\Delta W\|_F^2` against r, one colour per ``g``.

    Parameters
    ----------
    sv : array, shape (K, n)
        singular values of each network's :math:`\Delta W` (the fraction is
        :func:`lrbook.analysis.top_fraction`).
    g : array, shape (K,)
    r_max : int
        largest r drawn.

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/04_low_rank`.
    """
    s = np.asarray(sv, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"sv must have shape (K, n); got {s.shape}")
    g = _vector("g", g, s.shape[0])
    f = top_fraction(s)
    r_max = max(1, min(int(r_max), s.shape[1]))
    r = np.arange(1, r_max + 1)
    ax = _ax(ax)
    vals, idx = group_by_g(g)
    cols = list(colors) if colors is not None else g_colors(vals)
    for v, ix, c in zip(vals, idx, cols):
        ax.plot(r, f[ix, :r_max].mean(axis=0), color=c, marker="o", ms=3, label=_g_label(v))
    ax.set_ylim(top=1.02)
    ax.set_xlabel("number $r$ of singular values")
    ax.set_ylabel(r"fraction $f_r$ of $\|\Delta W\|_F^2$")
    if legend:
        ax.legend(ncol=2 if len(vals) > 4 else 1)
    return ax


# --------------------------------------------------------------------------- chapter 5
def plot_norms_vs_g(g: Any, norm_dW: Any, N: int, ax=None, *, color=None, label: str | None = None):
    r""":math:`\|\Delta W\|_F` of each network against ``g``, next to :math:`\|W_0\|_F \approx g\sqrt N`.

    Parameters
    ----------
    g, norm_dW : array, shape (K,)
    N : int
        network size (for the line :math:`g \sqrt N`).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/05_randomness`.
    """
    g = _vector("g", g)
    ax = plot_vs_g(g, norm_dW, ax, color=color, label=label or r"$\|\Delta W\|_F$ (trained)")
    gg = np.linspace(0, float(g.max()), 50)
    ax.plot(gg, gg * np.sqrt(N), color="0.4", ls="--", label=rf"$\|W_0\|_F \approx g\sqrt{{N}}$, $N = {N}$")
    ax.set_ylabel("Frobenius norm")
    ax.legend()
    return ax


def plot_eigenvalues_by_g(eig_W0: Sequence[Any], eig_W: Sequence[Any], eig_dW: Sequence[Any],
                          g: Sequence[float], *, title: str | None = None):
    r"""Eigenvalues of :math:`W_0`, :math:`W` and :math:`\Delta W` in the complex plane,
    one column per network (typically one per ``g``).

    Parameters
    ----------
    eig_W0, eig_W, eig_dW : sequence of complex arrays, each of shape (N,)
    g : sequence of float
        the ``g`` of each column (the circle of radius g is the bulk of :math:`W_0`).

    Returns
    -------
    ndarray of Axes, shape (2, n)
        top: :math:`W_0` and :math:`W`; bottom: :math:`\Delta W`.

    See :doc:`/book/05_randomness`.
    """
    n = len(g)
    if not (len(eig_W0) == len(eig_W) == len(eig_dW) == n) or n == 0:
        raise ValueError("eig_W0, eig_W, eig_dW and g must have the same non-zero length")
    use_style()
    fig, axes = plt.subplots(2, n, figsize=(2.5 * n + 0.6, 5.2), squeeze=False)
    t = np.linspace(0, 2 * np.pi, 200)
    for j in range(n):
        top, bot = axes[0, j], axes[1, j]
        e0, e1, ed = (np.asarray(x) for x in (eig_W0[j], eig_W[j], eig_dW[j]))
        top.scatter(e0.real, e0.imag, s=5, color="0.6", linewidths=0, label="$W_0$")
        top.scatter(e1.real, e1.imag, s=6, color="C0", linewidths=0, alpha=0.8, label="$W$")
        if g[j] > 0:
            top.plot(g[j] * np.cos(t), g[j] * np.sin(t), color="0.4", lw=0.7, ls="--")
        top.axvline(1.0, color="0.7", lw=0.6, ls=":")
        top.set_title(_g_label(g[j]))
        bot.scatter(ed.real, ed.imag, s=6, color="C1", linewidths=0)
        for ax in (top, bot):
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xlabel(r"Re $\lambda$")
        bot.set_title(r"$\Delta W$")
    axes[0, 0].set_ylabel(r"Im $\lambda$")
    axes[1, 0].set_ylabel(r"Im $\lambda$")
    axes[0, 0].legend(markerscale=2, loc="lower left")
    if title is not None:
        fig.suptitle(title)
    return axes


def plot_alignment_vs_g(g: Any, curves: dict[str, Any], ax=None, *, chance: float | None = None,
                        ylabel: str = "overlap", colors: Sequence | None = None):
    r"""Alignment measures of :math:`\Delta W`'s singular vectors against ``g``.

    Parameters
    ----------
    g : array, shape (K,)
    curves : dict of label to array of shape (K,)
        one measure per network for each curve (e.g. the norm of the projection of
        the top left singular vector on span{w}, and on span{w, W0^T w}).
    chance : float, optional
        the level of random directions, drawn as a dotted line.

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/05_randomness`.
    """
    g = _vector("g", g)
    ax = _ax(ax)
    n = len(curves)
    width = 0.03 * (float(np.ptp(g)) or 1.0)
    markers = "osD^v<>"
    for i, (lab, y) in enumerate(curves.items()):
        plot_vs_g(g, y, ax, label=lab, color=None if colors is None else colors[i],
                  offset=(i - (n - 1) / 2) * width, marker=markers[i % len(markers)])
    if chance is not None:
        ax.axhline(chance, color="0.5", lw=0.8, ls=":", label="random directions")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


# --------------------------------------------------------------------------- chapter 6
def plot_vs_N(N: Any, values: Any, g: Any, ax=None, *, reference: dict[str, Any] | None = None,
              ylabel: str | None = None, log: bool = True, logy: bool | None = None,
              colors: Sequence | None = None, missing: float | None = None):
    r"""A measure of each network against the network size ``N``, one colour per ``g``.

    Parameters
    ----------
    N, values, g : array, shape (K,)
        size, measure and ``g`` of each network.
    reference : dict of label to callable or to (callable, colour), optional
        dashed curves ``f(N)`` (e.g. ``{"$0.9\\sqrt{N}$": lambda n: 0.9 * n ** 0.5}``), grey
        unless a colour is given.
    log : bool
        logarithmic axes (a power law is a straight line).
    logy : bool, optional
        logarithmic y axis; default ``log``.
    missing : float, optional
        draw NaN entries at this height with open markers (see :func:`plot_vs_g`).

    Returns
    -------
    matplotlib.axes.Axes

    See :doc:`/book/06_scaling`.
    """
    Ns = _vector("N", N)
    y = _vector("values", values, Ns.size)
    g = _vector("g", g, Ns.size)
    ax = _ax(ax)
    vals, idx = group_by_g(g)
    cols = list(colors) if colors is not None else g_colors(vals)
    for v, ix, c in zip(vals, idx, cols):
        sizes = np.unique(Ns[ix])
        yy = y[ix] if missing is None else np.where(np.isnan(y[ix]), missing, y[ix])
        mean = [np.nanmean(yy[Ns[ix] == n]) for n in sizes]
        ax.plot(sizes, mean, color=c, marker="o", ms=4, label=_g_label(v))
        ok = ~np.isnan(y[ix])
        ax.plot(Ns[ix][ok], y[ix][ok], ls="none", marker="o", ms=2.5, color=c, alpha=0.45)
        if missing is not None and (~ok).any():
            ax.plot(Ns[ix][~ok], np.full((~ok).sum(), missing), ls="none", marker="o", ms=6,
                    mfc="none", mec=c)
    for i, (lab, f) in enumerate((reference or {}).items()):
        f, c = f if isinstance(f, tuple) else (f, str(0.25 + 0.2 * i))
        nn = np.geomspace(Ns.min(), Ns.max(), 50)
        ax.plot(nn, f(nn), color=c, lw=1.0, ls="--", label=lab)
    if log:
        ax.set_xscale("log", base=2)
        ax.set_xticks(np.unique(Ns), [f"{int(n)}" for n in np.unique(Ns)])
        ax.minorticks_off()
    if log if logy is None else logy:
        ax.set_yscale("log")
    ax.set_xlabel("network size $N$")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.legend(ncol=2 if len(vals) + len(reference or {}) > 4 else 1)
    return ax
