"""The one matplotlib style shipped with lrbook, and colour helpers."""

from __future__ import annotations

from importlib import resources

import matplotlib as mpl
import numpy as np

STYLE = "lrbook.mplstyle"


def style_path() -> str:
    """Path of the shipped ``lrbook.mplstyle`` file."""
    return str(resources.files("lrbook.plotting").joinpath(STYLE))


def use_style() -> None:
    """Apply lrbook's style to matplotlib (call once, e.g. at the top of a chapter)."""
    import matplotlib.pyplot as plt

    plt.style.use(style_path())


def g_colors(gs, cmap: str = "viridis"):
    """One colour per value of ``g`` (the same mapping in every figure).

    Parameters
    ----------
    gs : sequence of float
    """
    gs = np.asarray(gs, dtype=float)
    lo, hi = (float(gs.min()), float(gs.max())) if gs.size else (0.0, 1.0)
    norm = mpl.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    cm = mpl.colormaps[cmap]
    return [cm(0.9 * norm(g)) for g in gs]
