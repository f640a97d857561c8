r"""Figures of the analyses (:mod:`lrbook.analysis`): singular values, eigenvalues,
truncation curves, singular values during training, alignment.

Each ``plot_*`` function draws on a given matplotlib ``Axes`` (or a new figure) and
returns the ``Axes``; :func:`report_figures` draws the figures of one
:class:`lrbook.analysis.Report` with lrbook's style. Used by the chapters
:doc:`/book/04_low_rank`, :doc:`/book/05_randomness` and :doc:`/book/15_own_network`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np

from .style import style_path


def _ax(ax=None, **fig_kw):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(**fig_kw)
    return ax


def plot_singular_values(s: Any, ax=None, *, n: int | None = 30, label: str | None = None,
                         color=None, log: bool = True, marker: str = "o", **kw):
    r"""Singular values :math:`s_1 \ge s_2 \ge \dots` against their index (1-based).

    Parameters
    ----------
    s : array, shape (n_all,)
        singular values (e.g. ``Report.singular_values``).
    n : int or None
        plot the first ``n`` only (None: all).
    log : bool
        logarithmic y axis (the gap between the few large values and the bulk shows best).
    """
    ax = _ax(ax)
    s = np.asarray(s, dtype=float)
    s = s[:n] if n is not None else s
    ax.plot(np.arange(1, s.size + 1), s, marker=marker, ms=3, label=label, color=color, **kw)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("index $r$")
    ax.set_ylabel(r"singular value $s_r$ of $\Delta W$")
    if label is not None:
        ax.legend()
    return ax


def plot_eigenvalues(eigs: Mapping[str, Any], ax=None, *, radius: float | None = None,
                     colors: Sequence | None = None, s: float = 6.0):
    r"""Eigenvalues in the complex plane, one scatter per entry of ``eigs``.

    Parameters
    ----------
    eigs : mapping of label to complex array
        e.g. ``{"$W_0$": rep.eigenvalues_W0, "$W$": rep.eigenvalues_W}``.
    radius : float, optional
        draw the circle of this radius (``g``: the circular-law bulk of :math:`W_0`).
    """
    ax = _ax(ax)
    for i, (label, ev) in enumerate(eigs.items()):
        ev = np.asarray(ev)
        c = None if colors is None else colors[i]
        ax.scatter(ev.real, ev.imag, s=s, label=label, color=c, alpha=0.7, linewidths=0)
    if radius is not None and radius > 0:
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(radius * np.cos(t), radius * np.sin(t), color="0.5", lw=0.8, ls="--")
    ax.axvline(1.0, color="0.7", lw=0.6, ls=":")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.legend(markerscale=2)
    return ax


def plot_truncation(ranks: Any, losses: Any, ax=None, *, reference: float | None = None,
                    threshold: float = 0.05, functional_rank: int | None = None,
                    label: str | None = None, color=None, log: bool = True, **kw):
    r"""Loss of :math:`W_0 + \mathrm{SVD}_R(\Delta W)` against the rank R.

    Parameters
    ----------
    ranks, losses : array, shape (n_ranks,)
    reference : float, optional
        loss at R = 0; draws the line ``threshold * reference`` that defines the
        functional rank.
    functional_rank : int, optional
        marked with a vertical line when >= 0.
    """
    ax = _ax(ax)
    ranks = np.asarray(ranks)
    line, = ax.plot(ranks, np.asarray(losses, dtype=float), marker="o", ms=3, label=label, color=color, **kw)
    if reference is not None:
        ax.axhline(threshold * reference, color=line.get_color(), lw=0.8, ls="--")
    if functional_rank is not None and functional_rank >= 0:
        ax.axvline(functional_rank, color=line.get_color(), lw=0.8, ls=":")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("rank $R$ of the truncation")
    ax.set_ylabel(r"loss of $W_0 + \mathrm{SVD}_R(\Delta W)$")
    if label is not None:
        ax.legend()
    return ax


def plot_singular_values_over_training(epochs: Any, sv: Any, ax=None, *, n: int = 5, log: bool = True):
    r"""The top ``n`` singular values of :math:`W(t) - W_0` against the epoch.

    Parameters
    ----------
    epochs : array, shape (S,)
    sv : array, shape (S, N)
        e.g. ``Report.snapshot_singular_values``.
    """
    ax = _ax(ax)
    sv = np.asarray(sv, dtype=float)
    epochs = np.asarray(epochs)
    cmap = mpl.colormaps["viridis"]
    n = min(n, sv.shape[1])
    for r in range(n):
        y = sv[:, r]
        if log:
            y = np.where(y > 0, y, np.nan)
        ax.plot(epochs, y, color=cmap(r / max(n - 1, 1) * 0.9), label=f"$s_{{{r + 1}}}$")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"singular values of $W(t) - W_0$")
    ax.legend(ncol=2)
    return ax


def _tex(label: str) -> str:
    """``"W0^T w1"`` -> ``"$W_0^T w_1$"`` for the tick labels of :func:`plot_alignment`."""
    import re

    m = re.fullmatch(r"(W0\^T |W0 )?([mw])(\d+)", label)
    if m is None:
        return label
    pre = {"W0^T ": r"W_0^\top ", "W0 ": "W_0 ", None: ""}[m.group(1)]
    return f"${pre}{m.group(2)}_{{{m.group(3)}}}$"


def plot_alignment(al, axes=None):
    r"""Heat maps of :math:`|\cos|` between the top singular vectors of :math:`\Delta W` and
    the reference vectors (an :class:`lrbook.analysis.Alignment`): left vectors, right vectors."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(7.0, 2.2 + 0.25 * len(al.singular_values)), sharey=True)
    r = len(al.singular_values)
    for ax, mat, title in zip(axes, (al.left, al.right), (r"left vectors $u_i$ (written)",
                                                          r"right vectors $v_i$ (read)")):
        im = ax.imshow(np.nan_to_num(np.asarray(mat, dtype=float), nan=0.0), vmin=0, vmax=1,
                       cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(al.labels)), [_tex(lb) for lb in al.labels], rotation=45, ha="right")
        ax.set_yticks(range(r), [f"{i + 1}" for i in range(r)])
        ax.set_title(title)
    axes[0].set_ylabel("singular component $i$")
    axes[0].figure.colorbar(im, ax=list(axes), label=r"$|\cos|$", shrink=0.9)
    return axes


def report_figures(report, *, n_sv: int = 30) -> dict:
    """The figures of one :class:`lrbook.analysis.Report`, drawn with lrbook's style.

    Returns
    -------
    dict of str to Figure
        ``"singular_values"`` (dW, W0, W), ``"eigenvalues"`` (W0, W, dW), and when the
        report has them ``"training"`` (snapshots), ``"truncation"`` and ``"alignment"``.
    """
    import matplotlib.pyplot as plt

    figs: dict = {}
    title = report.name or ""
    with plt.style.context(style_path()):
        fig, ax = plt.subplots()
        plot_singular_values(report.singular_values, ax, n=n_sv, label=r"$\Delta W$")
        plot_singular_values(report.singular_values_W0, ax, n=n_sv, label=r"$W_0$", marker=".")
        plot_singular_values(report.singular_values_W, ax, n=n_sv, label=r"$W$", marker=".")
        ax.set_ylabel("singular value")
        ax.set_title(title)
        figs["singular_values"] = fig

        fig, ax = plt.subplots(figsize=(4.8, 4.4))
        g = report.meta.get("g") if isinstance(report.meta, dict) else None
        plot_eigenvalues({r"$W_0$": report.eigenvalues_W0, r"$W$": report.eigenvalues_W,
                          r"$\Delta W$": report.eigenvalues_dW}, ax, radius=g)
        ax.set_title(title)
        figs["eigenvalues"] = fig

        if report.snapshot_singular_values is not None:
            fig, ax = plt.subplots()
            plot_singular_values_over_training(report.snapshot_epochs, report.snapshot_singular_values, ax)
            ax.set_title(title)
            figs["training"] = fig

        if report.truncation_losses is not None:
            fig, ax = plt.subplots()
            ref = None
            if report.ranks is not None and 0 in report.ranks:
                ref = float(report.truncation_losses[list(report.ranks).index(0)])
            plot_truncation(report.ranks, report.truncation_losses, ax, reference=ref,
                            threshold=report.threshold, functional_rank=report.functional_rank,
                            label="truncated")
            if report.L0 is not None:
                ax.axhline(report.L0, color="0.4", lw=0.8, label="$L_0$")
            ratio = report.shuffle_loss_ratio
            if ratio is not None and report.L0 is not None:
                ax.axhline(ratio * report.L0, color="C1", lw=0.8, ls="-.", label=r"shuffled $W_0$ + $\Delta W$")
            ax.legend()
            ax.set_title(title)
            figs["truncation"] = fig

        if report.alignment is not None:
            axes = plot_alignment(report.alignment)
            axes[0].figure.suptitle(title)
            figs["alignment"] = axes[0].figure
    return figs
