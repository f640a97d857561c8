r"""Figures that hold trained nonlinear networks against the linear theory's predictions.

One function, :func:`plot_against_linear`: a measure of each network against ``g``
(one colour per task, mean :math:`\pm` std over seeds and each seed as a dot), the linear
theory's prediction as a dashed black curve where it is defined (:math:`g < 1`), the
region :math:`g \ge 1` shaded, and optional chance levels as dotted lines.

Used by the chapter :ref:`ch-back-to-nonlinear`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .nonlinear import plot_vs_g
from .style import use_style

__all__ = ["plot_against_linear"]


def plot_against_linear(curves: Mapping[str, tuple[Any, Any]], ax=None, *,
                        prediction: Callable[[np.ndarray], Any] | None = None,
                        prediction_label: str = "linear theory", prediction_g_max: float = 0.95,
                        chance: Mapping[str, float] | None = None, ylabel: str | None = None,
                        log: bool = False):
    r"""Measured values against ``g`` for several tasks, next to the linear prediction.

    Parameters
    ----------
    curves : mapping of str to (g, values)
        per label (a task), arrays of shape (K,): the ``g`` of each network and its value.
        NaN values (e.g. networks that did not converge) are left out.
    ax : matplotlib.axes.Axes, optional
        default: a new figure in lrbook's style.
    prediction : callable, optional
        the linear theory's value as a function of an array of ``g`` in ``[0, 1)``; drawn
        on ``[0, prediction_g_max]``.
    prediction_label : str
    prediction_g_max : float
        last ``g`` of the prediction curve (below 1, where the theory diverges).
    chance : mapping of str to float, optional
        a chance level per label, drawn as a dotted line in that label's colour.
    ylabel : str, optional
    log : bool
        logarithmic y axis.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not curves:
        raise ValueError("curves must hold at least one (g, values) pair")
    if not 0 < prediction_g_max < 1:
        raise ValueError(f"prediction_g_max must be in (0, 1); got {prediction_g_max!r}")
    if ax is None:
        use_style()
        _, ax = plt.subplots()
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    g_all = np.concatenate([np.asarray(g, dtype=float) for g, _ in curves.values()])
    width = float(g_all.max() - g_all.min()) or 1.0
    n = len(curves)
    for i, (label, (g, values)) in enumerate(curves.items()):
        c = colors[i % len(colors)]
        offset = (i - (n - 1) / 2) * 0.012 * width
        plot_vs_g(g, values, ax, label=label, color=c, log=log, offset=offset)
        if chance is not None and label in chance:
            ax.axhline(float(chance[label]), color=c, ls=":", lw=1)
    if prediction is not None:
        gg = np.linspace(0.0, prediction_g_max, 100)
        ax.plot(gg, np.broadcast_to(np.asarray(prediction(gg), dtype=float), gg.shape),
                color="k", ls="--", lw=1.2, label=prediction_label)
    lo, hi = ax.get_xlim()
    if hi > 1:
        ax.axvspan(1.0, hi, color="0.9", zorder=0, lw=0, label=r"$g \geq 1$: no linear prediction")
        ax.set_xlim(lo, hi)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax
