"""Figures of the dynamics chapter: fixed points in state space, out-of-span fractions,
readouts of fixed points and the flow of a rank-2 latent system.

Numbers come from :mod:`lrbook.dynamics`; these functions only draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_state_space", "plot_span_fractions_vs_g", "plot_fixed_point_readouts",
           "plot_latent_flow", "plot_jacobian_spectrum"]

STABLE = dict(marker="o", s=46, edgecolors="k", linewidths=0.8, zorder=5)
UNSTABLE = dict(marker="o", s=46, facecolors="white", edgecolors="k", linewidths=1.0, zorder=5)


def _ax(ax=None, **fig_kw):
    if ax is None:
        _, ax = plt.subplots(**fig_kw)
    return ax


def _fixed_points(ax, xy: np.ndarray, stable: np.ndarray, color: Any = "C3",
                  labels: bool = True) -> None:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    stable = np.asarray(stable, dtype=bool).reshape(-1)
    if stable.any():
        ax.scatter(xy[stable, 0], xy[stable, 1], c=[color], label="stable" if labels else None,
                   **STABLE)
    if (~stable).any():
        ax.scatter(xy[~stable, 0], xy[~stable, 1], label="unstable" if labels else None,
                   **UNSTABLE)


def plot_state_space(trajectories: Any, points: dict[str, tuple[Any, Any]], ax=None, *,
                     colors: Sequence[Any] | None = None, arrows: Any = None,
                     title: str | None = None):
    """Trajectories of a few trials and fixed points, on two principal components.

    Parameters
    ----------
    trajectories : array, shape (B, T, 2)
        projected states of B trials (e.g. :meth:`lrbook.dynamics.PCA.project`).
    points : dict of label to (array (P, 2), array of bool (P,))
        projected fixed points and their stability, one colour per label; stable
        points filled, unstable ones open.
    ax : matplotlib Axes, optional
    colors : sequence, optional
        one colour per trial.
    arrows : array, shape (A, 2, 2), optional
        (start, direction) pairs, e.g. slow eigenvectors at a fixed point.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(4, 4))
    tr = np.asarray(trajectories, dtype=float)
    for b in range(tr.shape[0]):
        c = colors[b % len(colors)] if colors is not None else f"C{b % 10}"
        ax.plot(tr[b, :, 0], tr[b, :, 1], lw=0.9, alpha=0.7, color=c)
        ax.plot(tr[b, -1, 0], tr[b, -1, 1], ">", ms=4, color=c)
    fp_colors = ["C3", "C2", "C4", "C1", "C5"]
    for i, (label, (xy, st)) in enumerate(points.items()):
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        st = np.asarray(st, dtype=bool).reshape(-1)
        c = fp_colors[i % len(fp_colors)]
        if st.any():
            ax.scatter(xy[st, 0], xy[st, 1], c=[c], label=f"{label}: stable", **STABLE)
        if (~st).any():
            ax.scatter(xy[~st, 0], xy[~st, 1], label=f"{label}: unstable",
                       **{**UNSTABLE, "edgecolors": c})
    if arrows is not None:
        for (x0, d) in np.asarray(arrows, dtype=float):
            ax.annotate("", xy=x0 + d, xytext=x0 - d,
                        arrowprops=dict(arrowstyle="<->", color="k", lw=1.2), zorder=6)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize="x-small")
    if title:
        ax.set_title(title)
    return ax


def plot_span_fractions_vs_g(g: Any, fractions: Any, stable: Any, ax=None, *,
                             floor: float = 1e-6, jitter: float = 0.04, seed: int = 0):
    """Fraction of each fixed point's squared norm outside a subspace, against g.

    Parameters
    ----------
    g : array, shape (P,)
        the g of the network each point belongs to.
    fractions : array, shape (P,)
        out-of-span fraction of each point.
    stable : array of bool, shape (P,)
        filled markers for stable points, open ones for unstable points.
    ax : matplotlib Axes, optional
    floor : float
        values below are drawn at ``floor`` (log axis).
    jitter : float
        horizontal jitter (units of g) so that points of one network do not overlap.
    seed : int
        seeds the jitter.

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(5, 3.4))
    g = np.asarray(g, dtype=float)
    f = np.maximum(np.asarray(fractions, dtype=float), floor)
    st = np.asarray(stable, dtype=bool)
    x = g + jitter * np.random.default_rng(seed).uniform(-1, 1, size=g.shape)
    if st.any():
        ax.scatter(x[st], f[st], c="C0", s=22, edgecolors="k", linewidths=0.5, label="stable")
    if (~st).any():
        ax.scatter(x[~st], f[~st], facecolors="white", edgecolors="C0", s=22, label="unstable")
    ax.set_yscale("log")
    ax.set_xlabel("$g$")
    ax.set_ylabel("fraction of $|x^*|^2$ outside the span")
    ax.legend(fontsize="small")
    return ax


def plot_fixed_point_readouts(readouts: dict[str, tuple[Any, Any]], targets: Any, ax=None, *,
                              tol: float | None = None):
    """Readouts :math:`z^*` of fixed points of several variants of one network, in the plane.

    Parameters
    ----------
    readouts : dict of label to (array (P, 2), array of bool (P,))
        readouts and stability of the points of each variant (e.g. trained,
        truncated, shuffled).
    targets : array, shape (M, 2)
        the task's memory states (drawn as crosses).
    ax : matplotlib Axes, optional
    tol : float, optional
        draw a square of half-width ``tol`` around each target.

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(4, 4))
    tg = np.asarray(targets, dtype=float)
    if tol is not None:
        for t in tg:
            ax.add_patch(plt.Rectangle(t - tol, 2 * tol, 2 * tol, fill=False, ls=":", lw=0.8,
                                       color="0.5"))
    ax.scatter(tg[:, 0], tg[:, 1], marker="x", s=60, c="k", label="memory states", zorder=6)
    markers = ["o", "s", "D", "^", "v"]
    for i, (label, (z, st)) in enumerate(readouts.items()):
        z = np.asarray(z, dtype=float).reshape(-1, 2)
        st = np.asarray(st, dtype=bool).reshape(-1)
        m = markers[i % len(markers)]
        size = 130 if i == 0 else 45          # the first variant drawn larger, behind the others
        if st.any():
            ax.scatter(z[st, 0], z[st, 1], marker=m, s=size, c=f"C{i}", edgecolors="k",
                       linewidths=0.6, label=f"{label}: stable", zorder=3 + i)
        if (~st).any():
            ax.scatter(z[~st, 0], z[~st, 1], marker=m, s=size, facecolors="none", edgecolors=f"C{i}",
                       linewidths=1.2, label=f"{label}: unstable", zorder=3 + i)
    ax.set_xlabel("$z_1^*$")
    ax.set_ylabel("$z_2^*$")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax


def plot_latent_flow(kappa: Any, velocity: Any, points: Any, stable: Any, ax=None, *,
                     trajectories: Any = None, full: Any = None):
    r"""Flow of a rank-2 latent system, its fixed points and trajectories.

    Parameters
    ----------
    kappa : array, shape (G, G, 2)
        grid of latent states (:meth:`lrbook.dynamics.LowRankSystem.flow`).
    velocity : array, shape (G, G, 2)
        :math:`\dot\kappa` on the grid.
    points : array, shape (P, 2)
        fixed points in latent coordinates.
    stable : array of bool, shape (P,)
    ax : matplotlib Axes, optional
    trajectories : array, shape (B, T, 2), optional
        trajectories of the latent system (solid lines).
    full : array, shape (B, T, 2), optional
        the full network's trajectories projected on the same coordinates (dots).

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(4.6, 4.2))
    k = np.asarray(kappa, dtype=float)
    v = np.asarray(velocity, dtype=float)
    speed = np.hypot(v[..., 0], v[..., 1])
    im = ax.contourf(k[..., 0], k[..., 1], speed, levels=12, cmap="Greys", vmax=2.2 * speed.max())
    ax.streamplot(k[0, :, 0], k[:, 0, 1], v[..., 0], v[..., 1], color="0.35", density=1.0,
                  linewidth=0.6, arrowsize=0.7)
    plt.colorbar(im, ax=ax, label=r"speed $|\dot\kappa|$", shrink=0.8)
    if trajectories is not None:
        tr = np.asarray(trajectories, dtype=float)
        for b in range(tr.shape[0]):
            ax.plot(tr[b, :, 0], tr[b, :, 1], lw=1.2, color=f"C{b % 10}")
    if full is not None:
        fu = np.asarray(full, dtype=float)
        for b in range(fu.shape[0]):
            ax.plot(fu[b, ::3, 0], fu[b, ::3, 1], ".", ms=2.5, color=f"C{b % 10}")
    _fixed_points(ax, points, stable)
    ax.set_xlim(k[..., 0].min(), k[..., 0].max())
    ax.set_ylim(k[..., 1].min(), k[..., 1].max())
    ax.set_xlabel(r"$\kappa_1$")
    ax.set_ylabel(r"$\kappa_2$")
    return ax


def plot_jacobian_spectrum(eigenvalues: dict[str, Any], ax=None):
    """Eigenvalues of the Jacobian at fixed points in the complex plane (one colour per case).

    Parameters
    ----------
    eigenvalues : dict of label to array of complex
        all eigenvalues of one or several points.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax, figsize=(4.4, 3.8))
    for i, (label, ev) in enumerate(eigenvalues.items()):
        ev = np.asarray(ev).ravel()
        ax.scatter(ev.real, ev.imag, s=8, c=f"C{i}", alpha=0.7, label=label)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.legend(fontsize="small")
    return ax
