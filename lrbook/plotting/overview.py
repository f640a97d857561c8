r"""The figure of the book's front page: :math:`W = W_0 + \Delta W`.

A trained network's recurrent weights are its random initial weights :math:`W_0`
plus a change :math:`\Delta W` that is small and of low rank. Drawn on
:doc:`/book/intro` from a network trained when the page runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_weight_change"]


def plot_weight_change(W0: Any, W: Any, axes=None, *, n_sv: int = 20,
                       cmap: str = "RdBu_r") -> dict:
    r"""Images of :math:`W_0`, :math:`\Delta W = W - W_0` and :math:`W`, and their singular values.

    The three images share one colour scale, set by the largest entry of
    :math:`W_0` and :math:`W`, so that the change looks as small as it is;
    :math:`\Delta W` is drawn a second time, magnified to its own largest entry, so
    that its structure shows. The last panel plots the largest singular values of
    the three matrices (logarithmic axis): a few for :math:`\Delta W`, then a drop.

    Parameters
    ----------
    W0, W : array, shape (N, N)
        recurrent weights before and after training.
    axes : sequence of 5 matplotlib Axes, optional
        for the images of :math:`W_0`, :math:`\Delta W`, :math:`W`, the magnified
        :math:`\Delta W` and the singular values (default: a new figure, one row).
    n_sv : int
        singular values shown per matrix, >= 1 (default 20).
    cmap : str
        diverging colour map of the images, centred on 0.

    Returns
    -------
    dict
        ``axes`` (the five Axes), ``scale`` (the shared colour limit),
        ``magnification`` (of the fourth image) and ``singular_values`` (a dict
        ``"W0"``, ``"dW"``, ``"W"`` of the full spectra, largest first).

    Raises
    ------
    ValueError
        if the matrices are not square of one shape, or ``n_sv < 1``.
    """
    W0 = np.asarray(W0, dtype=float)
    W = np.asarray(W, dtype=float)
    if W0.ndim != 2 or W0.shape[0] != W0.shape[1] or W.shape != W0.shape:
        raise ValueError(f"W0 and W must be square matrices of one shape; got {W0.shape} and {W.shape}")
    if int(n_sv) < 1:
        raise ValueError(f"n_sv must be >= 1; got {n_sv}")
    if axes is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(12, 2.9))
        grid = fig.add_gridspec(1, 5, width_ratios=[1, 1, 1, 1, 1.5], wspace=0.35)
        axes = [fig.add_subplot(grid[0, i]) for i in range(5)]
    if len(axes) != 5:
        raise ValueError(f"axes must hold 5 Axes; got {len(axes)}")
    dW = W - W0
    scale = float(max(np.abs(W0).max(), np.abs(W).max())) or 1.0
    top_dW = float(np.abs(dW).max())
    magnification = scale / top_dW if top_dW > 0 else 1.0
    images = [(W0, r"$W_0$ (random)"), (dW, r"$\Delta W$ (learned)"),
              (W, r"$W = W_0 + \Delta W$"),
              (dW * magnification, rf"$\Delta W$, magnified $\times${magnification:.0f}")]
    for ax, (M, title) in zip(axes[:4], images):
        ax.imshow(M, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest")
        ax.set_title(title, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    svs = {name: np.linalg.svd(M, compute_uv=False) for name, M in (("W0", W0), ("dW", dW), ("W", W))}
    ax = axes[4]
    n = min(int(n_sv), W0.shape[0])
    r = np.arange(1, n + 1)
    ax.plot(r, svs["W0"][:n], "o-", ms=3, color="0.55", label=r"$W_0$")
    ax.plot(r, svs["W"][:n], "s--", ms=3, color="C0", mfc="none", label=r"$W$")
    ax.plot(r, svs["dW"][:n], "o-", ms=4, color="C1", label=r"$\Delta W$")
    ax.set_yscale("log")
    ax.set_xlabel("index $r$")
    ax.set_ylabel("singular value $s_r$")
    ax.legend(fontsize="small")
    return {"axes": list(axes), "scale": scale, "magnification": magnification,
            "singular_values": svs}
