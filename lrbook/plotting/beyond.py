r"""Figures of the part "Beyond the paper": variants of the training, low-rank training,
and the LSTM sentiment classifier.

Each function returns the matplotlib ``Figure`` (or draws on given ``Axes``). Used by
the chapters :doc:`/book/13_beyond` and :doc:`/book/14_sentiment`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .style import g_colors

#: One colour per training variant (the same in every figure).
VARIANT_COLORS = {"tanh": "0072B2", "tanh, W only": "56B4E9", "relu": "D55E00", "softplus": "009E73"}
GATE_COLORS = {"i": "0072B2", "f": "D55E00", "g": "009E73", "o": "CC79A7"}


def _color(hex_: str) -> str:
    return "#" + hex_


def _spread(ax, x, ys, color, label, marker="o"):
    """Median over seeds with the individual networks as faint dots."""
    x = np.asarray(x, dtype=float)
    med = np.array([np.nanmedian(y) if np.isfinite(y).any() else np.nan for y in ys])
    ax.plot(x, med, marker=marker, color=color, label=label, ms=4)
    for xi, y in zip(x, ys):
        y = np.asarray(y, dtype=float)
        ax.scatter(np.full(y.size, xi), y, s=9, color=color, alpha=0.35, linewidths=0)


def plot_variant_summary(summaries: Mapping[tuple[str, str], Any], tasks: Sequence[str],
                         variants: Sequence[str], *, N: int | None = None):
    """Convergence epoch, functional rank and :math:`\\|\\Delta W\\|` against g, per task and variant.

    Parameters
    ----------
    summaries : dict of (task, variant) to :class:`lrbook.beyond.study.VariantSummary`
    tasks, variants : sequences of str
    N : int, optional
        shown in the title.

    Notes
    -----
    Networks that never reach 5 % of their initial loss are drawn at the last epoch
    (censored); networks without a functional rank (masked in
    ``functional_rank``: no listed rank recovers the loss) are left out of the middle
    row.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(tasks), figsize=(3.4 * len(tasks), 7.4), squeeze=False, sharex=True)
    for j, t in enumerate(tasks):
        for v in variants:
            s = summaries[(t, v)]
            c = _color(VARIANT_COLORS.get(v, "000000"))
            gs = np.unique(s.g)
            conv = s.convergence_time()
            _spread(axes[0, j], gs, [conv[s.g == g] for g in gs], c, v)
            fr = np.ma.filled(np.ma.asarray(s.functional_rank).astype(float), np.nan)
            _spread(axes[1, j], gs, [fr[s.g == g] for g in gs], c, v)
            nd = np.where(s.diverged, np.nan, s.norm_dW)
            _spread(axes[2, j], gs, [nd[s.g == g] for g in gs], c, v)
        E = summaries[(t, variants[0])].epochs
        axes[0, j].axhline(E, color="0.6", lw=0.8, ls=":")
        axes[0, j].set_title(t)
        axes[2, j].set_xlabel("$g$")
    axes[0, 0].set_ylabel("convergence epoch\n(dotted: never)")
    axes[1, 0].set_ylabel("functional rank")
    axes[2, 0].set_ylabel(r"$\|\Delta W\|_F$")
    axes[0, -1].legend(fontsize=8)
    if N is not None:
        fig.suptitle(f"N = {N}", fontsize=10)
    return fig


def plot_variant_losses(summaries: Mapping[tuple[str, str], Any], task: str, variants: Sequence[str]):
    """Training loss / L0 over epochs for each variant (columns) and g (colours), one task."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(variants), figsize=(3.2 * len(variants), 2.9), sharey=True, squeeze=False)
    for ax, v in zip(axes[0], variants):
        s = summaries[(task, v)]
        gs = np.unique(s.g)
        for g, c in zip(gs, g_colors(gs)):
            idx = np.flatnonzero(s.g == g)
            rel = s.loss[:, idx] / s.loss[0, idx]
            for i in range(rel.shape[1]):
                ax.plot(rel[:, i], color=c, lw=1.0, label=f"g = {g:g}" if i == 0 else None)
        ax.axhline(0.05, color="0.6", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(v)
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("training loss / $L_0$")
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(task, fontsize=10)
    return fig


def plot_lowrank(summary: Any):
    """Low-rank training against unconstrained training.

    Left panels (one per g): training loss / L0 over epochs, median over seeds, for the
    unconstrained networks (black) and each rank R. Right: final training loss / L0
    against R, the unconstrained level as a dashed line per g.
    """
    import matplotlib.pyplot as plt

    s = summary
    gs = np.unique(s.g)
    ranks = sorted(r for r in np.unique(s.rank) if r > 0)
    fig, axes = plt.subplots(1, len(gs) + 1, figsize=(3.3 * (len(gs) + 1), 3.0), squeeze=False)
    cmap = plt.get_cmap("viridis")
    rc = {R: cmap(0.85 * i / max(1, len(ranks) - 1)) for i, R in enumerate(ranks)}
    rel = s.loss / s.loss[0]
    for ax, g in zip(axes[0], gs):
        idx = s.select(g, -1)
        ax.plot(np.nanmedian(rel[:, idx], axis=1), color="k", lw=1.8, label="unconstrained")
        for R in ranks:
            ax.plot(np.nanmedian(rel[:, s.select(g, R)], axis=1), color=rc[R], lw=1.2, label=f"R = {R}")
        ax.axhline(0.05, color="0.6", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(f"g = {g:g}")
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("training loss / $L_0$")
    axes[0, 0].legend(fontsize=8)
    ax = axes[0, -1]
    fin = s.final_loss / s.loss[0]
    for g, c in zip(gs, g_colors(gs)):
        med = [np.nanmedian(fin[s.select(g, R)]) for R in ranks]
        ax.plot(ranks, med, marker="o", color=c, label=f"g = {g:g}")
        ax.axhline(np.nanmedian(fin[s.select(g, -1)]), color=c, ls="--", lw=1.0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ranks, [str(r) for r in ranks])
    ax.set_yscale("log")
    ax.set_xlabel("rank $R$ of $\\Delta W = U V^\\top$")
    ax.set_ylabel("final loss / $L_0$")
    ax.set_title("dashed: unconstrained")
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- sentiment LSTM
def plot_accuracy_curves(result: Any, ax=None):
    """Training and test accuracy over epochs of a :class:`lrbook.nlp.ClassifierResult`."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.4, 3.0))
    ax.plot(result.epochs, result.train_acc, marker="o", ms=3, label="train (2000 sentences)")
    ax.plot(result.epochs, result.test_acc, marker="o", ms=3, label="test")
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend()
    return ax.figure


def plot_gate_spectra(analysis: Any, n: int = 40):
    """Singular values of every block's :math:`\\Delta W` (solid) and of its entry-shuffled copy (dashed).

    One panel per layer, one colour per gate (input, forget, cell, output).
    """
    import matplotlib.pyplot as plt

    from ..nlp.analysis import GATE_NAMES

    layers = sorted({k.split(".")[0] for k in analysis.keys})
    fig, axes = plt.subplots(1, len(layers), figsize=(3.8 * len(layers), 3.1), squeeze=False, sharey=True)
    n = min(n, analysis.H)
    idx = np.arange(1, n + 1)
    for ax, layer in zip(axes[0], layers):
        for j, k in enumerate(analysis.keys):
            if not k.startswith(layer + "."):
                continue
            gate = k.split(".")[1]
            c = _color(GATE_COLORS[gate])
            ax.plot(idx, analysis.singular_values[j, :n], marker="o", ms=2.5, color=c, label=GATE_NAMES[gate])
            ax.plot(idx, analysis.singular_values_shuffled[j, :n], ls="--", lw=0.9, color=c)
        ax.set_yscale("log")
        ax.set_title(f"layer {int(layer[1:]) + 1}")
        ax.set_xlabel("index $r$")
    axes[0, 0].set_ylabel(r"singular value of $\Delta W$")
    axes[0, 0].legend(title="gate", fontsize=8)
    return fig


def plot_truncated_accuracy(analysis: Any, ax=None, *, chance: float = 0.5):
    """Test accuracy with every recurrent block truncated to rank R (R = 0: ``W0``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.4, 3.0))
    r = analysis.ranks.astype(float)
    x = np.where(r == 0, 0.5, r)
    ax.plot(x, analysis.accuracy, marker="o", color="k", label="truncated")
    ax.axhline(analysis.accuracy_trained, color="#0072B2", ls="--", lw=1.0, label="trained")
    ax.axhline(chance, color="0.6", lw=0.8, ls=":", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(x, ["0"] + [str(int(v)) for v in r[1:]])
    ax.set_xlabel("rank $R$ of every block's $\\Delta W$")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    return ax.figure
