"""Figures of :doc:`/book/03_gradient`: the gradient's singular values and the span it lives in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_gradient_singular_values", "plot_span_fractions"]


def _ax(ax=None, **fig_kw):
    if ax is None:
        _, ax = plt.subplots(**fig_kw)
    return ax


def plot_gradient_singular_values(sv: Mapping[str, Any], ax=None, *, n: int = 12,
                                  floor: float = 1e-12):
    """Singular values of gradients, each normalised by its largest (log scale).

    Parameters
    ----------
    sv : mapping of label to array, shape (N,) or (S, N)
        singular values, in decreasing order; 2-d arrays (several seeds) are drawn
        as their geometric mean with one line per label.
    ax : matplotlib Axes, optional
    n : int
        how many singular values to show.
    floor : float
        values below this (relative) are drawn at ``floor`` (exact zeros on a log axis).

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(5, 3.4))
    for label, s in sv.items():
        s = np.atleast_2d(np.asarray(s, dtype=float))[:, :n]
        rel = np.maximum(s / s[:, :1], floor)
        ax.plot(np.arange(1, rel.shape[1] + 1), np.exp(np.log(rel).mean(0)), "o-", ms=4, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("index r")
    ax.set_ylabel("$s_r / s_1$ of the gradient")
    ax.legend(fontsize="small")
    return ax


def plot_span_fractions(orders: Sequence[int], fractions: Mapping[str, Any], ax=None):
    """Fraction of the gradient's norm in the Krylov spaces of order p (one line per case).

    Parameters
    ----------
    orders : sequence of int
        the orders p (x axis).
    fractions : mapping of label to array, shape (len(orders),) or (S, len(orders))
        from :func:`lrbook.analysis.krylov_fraction`; 2-d arrays are averaged over seeds.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(5, 3.4))
    for label, f in fractions.items():
        f = np.atleast_2d(np.asarray(f, dtype=float))
        ax.plot(orders, f.mean(0), "o-", ms=4, label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("order p (passes through $W_0$)")
    ax.set_ylabel("fraction of $\\|G\\|_F^2$ in span")
    ax.legend(fontsize="small")
    return ax
