r"""Figures of the linear-theory part of the book: simulation (solid) against theory (dashed).

Every function takes plain arrays (fields of a :class:`lrbook.training.TrainResult`,
values of :mod:`lrbook.theory`), draws on the given ``Axes`` (or on a new figure in
lrbook's style) and returns the ``Axes`` (an array of them for multi-panel figures);
the caller shows the figure. Networks are coloured by ``g`` with
:func:`lrbook.plotting.style.g_colors`; line styles distinguish ``z_hat``.

Used by the chapters :doc:`/book/08_linear_rnn`, :doc:`/book/09_acceleration`,
:doc:`/book/10_eigenvalues` and :doc:`/book/11_cosine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .style import g_colors, use_style

__all__ = [
    "plot_fixed_point_approach", "plot_dW_spectrum", "plot_reduced_flow_check",
    "plot_learning_collapse", "plot_singular_value_growth", "plot_measures_vs_g",
    "plot_shuffle_vs_g", "plot_eigenvalue_snapshots", "plot_outlier_over_training",
    "plot_cosine_learning",
]

THEORY = dict(ls="--", lw=1.2, color="k")
ZHAT_MARKERS = ("o", "s", "^", "D", "v")


def _axes(axes, n: int, width: float = 3.4, height: float = 3.1, **kw):
    if axes is not None:
        axes = np.atleast_1d(axes)
        if axes.size != n:
            raise ValueError(f"axes must hold {n} Axes; got {axes.size}")
        return axes
    use_style()
    _, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, **kw)
    return axes[0]


def _arr(name: str, x: Any, ndim: int) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {a.shape}")
    return a


def _per_row(name: str, x: Any, n: int) -> np.ndarray:
    """``x`` of shape (n,) or (n, J) as (n, J); ValueError otherwise (a transposed (J, n) included)."""
    a = np.asarray(x, dtype=float)
    if a.ndim not in (1, 2) or a.shape[0] != n:
        raise ValueError(f"{name} must have one row per g: shape ({n},) or ({n}, J); got shape {a.shape}")
    return a.reshape(n, -1)


def _check_z_hat(z_hat: Sequence[float] | None, J: int) -> None:
    if z_hat is not None and len(z_hat) < J:
        raise ValueError(f"z_hat must have an entry for each of the {J} columns; got {len(z_hat)}")


# --------------------------------------------------------------------------- chapter 8
def plot_fixed_point_approach(time: Any, z: Any, z_star: Any, g: Any, ax=None):
    r"""Output of untrained linear networks over a fixed-point trial, and the fixed-point value.

    See :doc:`/book/08_linear_rnn`.

    Parameters
    ----------
    time : array, shape (T,)
        time of each step (``task.time``).
    z : array, shape (K, T)
        output of each network.
    z_star : array, shape (K,)
        :math:`w^\top (1-W)^{-1} m / N` of each network (dashed).
    g : array, shape (K,)
    """
    t = _arr("time", time, 1)
    z = _arr("z", z, 2)
    zs = _arr("z_star", z_star, 1)
    g = _arr("g", g, 1)
    if z.shape != (g.size, t.size) or zs.size != g.size:
        raise ValueError(f"z must have shape (K, T) = ({g.size}, {t.size}) and z_star K entries")
    ax = _axes(ax, 1, width=5.6)[0]
    for k, c in enumerate(g_colors(g)):
        ax.plot(t, z[k], color=c, label=f"$g = {g[k]:g}$")
        ax.axhline(zs[k], color=c, ls="--", lw=1.0)
    ax.set_xlabel(r"time ($\tau$)")
    ax.set_ylabel("output $z$")
    ax.legend(title="simulation; dashed: $z^*$")
    return ax


def plot_dW_spectrum(s: Any, labels: Sequence[str], ax=None, *, n_show: int = 12, colors=None):
    r"""Leading singular values of :math:`\Delta W` of several networks, on a log scale.

    See :doc:`/book/08_linear_rnn`.

    Parameters
    ----------
    s : array, shape (K, n)
        descending singular values of each network's :math:`\Delta W`.
    labels : sequence of K str
    n_show : int
        how many singular values to draw.
    """
    s = _arr("s", s, 2)
    if len(labels) != s.shape[0]:
        raise ValueError(f"labels must have {s.shape[0]} entries; got {len(labels)}")
    ax = _axes(ax, 1, width=4.6)[0]
    idx = np.arange(1, min(n_show, s.shape[1]) + 1)
    cols = colors if colors is not None else [f"C{i}" for i in range(s.shape[0])]
    for k, (lab, c) in enumerate(zip(labels, cols)):
        ax.semilogy(idx, np.maximum(s[k, :idx.size], 1e-300), "o-", ms=4, color=c, label=lab)
    ax.set_xlabel("index $i$")
    ax.set_ylabel(r"singular value $s_i$ of $\Delta W$")
    ax.set_xticks(idx[::max(1, idx.size // 6)])
    ax.legend()
    return ax


def plot_reduced_flow_check(epochs: Any, loss: Any, loss_theory: Any, snapshot_epochs: Any,
                            sv: Any, sv_theory: Any, z_hat: Sequence[float], axes=None,
                            *, theory_label: str = "reduced flow"):
    r"""The trained network (solid) against the reduced flow (dashed): loss and the two
    singular values of :math:`\Delta W` over training, one colour per ``z_hat``.

    See :doc:`/book/08_linear_rnn`.

    Parameters
    ----------
    epochs : array, shape (E,)
    loss, loss_theory : array, shape (E, J)
        one column per ``z_hat``.
    snapshot_epochs : array, shape (S,)
    sv, sv_theory : array, shape (S, J, 2)
        :math:`s_1, s_2` at the snapshots.
    z_hat : sequence of J floats

    Returns
    -------
    ndarray of 2 Axes
    """
    ep = _arr("epochs", epochs, 1)
    L, Lt = _arr("loss", loss, 2), _arr("loss_theory", loss_theory, 2)
    se = _arr("snapshot_epochs", snapshot_epochs, 1)
    s, st = _arr("sv", sv, 3), _arr("sv_theory", sv_theory, 3)
    J = len(z_hat)
    if L.shape != (ep.size, J) or Lt.shape != L.shape or s.shape != (se.size, J, 2) or st.shape != s.shape:
        raise ValueError("loss/loss_theory must be (E, J) and sv/sv_theory (S, J, 2) for J z_hat values")
    axes = _axes(axes, 2, width=3.9)
    for j, zh in enumerate(z_hat):
        c = f"C{j}"
        axes[0].semilogy(ep, L[:, j], color=c, label=rf"$\hat z = {zh:g}$")
        axes[0].semilogy(ep, Lt[:, j], color="k", ls="--", lw=1.0)
        for i, mk in enumerate(("o", "s")):
            axes[1].semilogy(se[1:], s[1:, j, i], color=c, marker=mk, ms=3.5, lw=1.2,
                             label=rf"$\hat z = {zh:g}$" if i == 0 else None)
            axes[1].semilogy(se[1:], st[1:, j, i], color="k", ls="--", lw=1.0)
    axes[0].plot([], [], color="k", ls="--", lw=1.0, label=theory_label)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel(r"$s_1$ (circles), $s_2$ (squares)")
    return axes


# --------------------------------------------------------------------------- chapter 9
def plot_learning_collapse(tau: Any, tau_eff: Any, loss: Any, g: Any, axes=None, *,
                           theory_tau_eff: Any = None, theory_loss: Any = None,
                           relative: bool = True, title: str | None = None):
    r"""Loss against the learning time :math:`\tau` (left) and the effective learning time
    :math:`\tilde\tau = \tau/(1-g^2)^2` (right): the curves of different ``g`` collapse.

    See :doc:`/book/09_acceleration`.

    Parameters
    ----------
    tau, tau_eff : array, shape (E, K)
        learning times of every epoch for each network.
    loss : array, shape (E, K)
    g : array, shape (K,)
    theory_tau_eff, theory_loss : array, shape (M,), optional
        a theory curve drawn dashed in the right panel.
    relative : bool
        divide by :math:`L_0`.
    """
    t, te, L = _arr("tau", tau, 2), _arr("tau_eff", tau_eff, 2), _arr("loss", loss, 2)
    g = _arr("g", g, 1)
    if not (t.shape == te.shape == L.shape) or L.shape[1] != g.size:
        raise ValueError("tau, tau_eff and loss must all have shape (E, K) with K = len(g)")
    if relative:
        L = L / L[0]
    axes = _axes(axes, 2, width=3.6, sharey=True)
    for k, c in enumerate(g_colors(g)):
        axes[0].semilogy(t[:, k], L[:, k], color=c, label=f"$g = {g[k]:g}$")
        axes[1].semilogy(te[:, k], L[:, k], color=c)
    if theory_tau_eff is not None and theory_loss is not None:
        tl = np.asarray(theory_loss, dtype=float)
        axes[1].semilogy(theory_tau_eff, tl / tl[0] if relative else tl, **THEORY, label="theory")
        axes[1].legend()
    axes[0].set_xlabel(r"learning time $\tau$")
    axes[1].set_xlabel(r"effective time $\tilde\tau = \tau/(1-g^2)^2$")
    axes[0].set_ylabel(r"loss / $L_0$" if relative else "loss")
    axes[0].legend()
    if title:
        axes[0].set_title(title, loc="left")
    return axes


def plot_singular_value_growth(tau_eff: Any, sv: Any, g: Any, series_tau_eff: Any, s1_series: Any,
                               s2_series: Any, axes=None, *, title: str | None = None):
    r""":math:`s_1` (left) and :math:`s_2` (right) of :math:`\Delta W` against the effective
    learning time, simulation (solid) and third-order series (dashed), one colour per ``g``.

    See :doc:`/book/09_acceleration`.

    Parameters
    ----------
    tau_eff : array, shape (S, K)
        effective learning time of each snapshot and network.
    sv : array, shape (S, K, 2)
    g : array, shape (K,)
    series_tau_eff : array, shape (M, K)
    s1_series, s2_series : array, shape (M, K)
    """
    te, s, g = _arr("tau_eff", tau_eff, 2), _arr("sv", sv, 3), _arr("g", g, 1)
    ts, a1, a2 = (_arr(n, v, 2) for n, v in (("series_tau_eff", series_tau_eff),
                                              ("s1_series", s1_series), ("s2_series", s2_series)))
    K = g.size
    if te.shape[1] != K or s.shape != (*te.shape, 2):
        raise ValueError(f"tau_eff must have shape (S, K) and sv shape (S, K, 2) with K = len(g) = {K}; "
                         f"got {te.shape} and {s.shape}")
    if ts.shape[1] != K or not (ts.shape == a1.shape == a2.shape):
        raise ValueError(f"series_tau_eff, s1_series and s2_series must have shape (M, K) with K = {K}; "
                         f"got {ts.shape}, {a1.shape} and {a2.shape}")
    axes = _axes(axes, 2, width=3.6)
    for k, c in enumerate(g_colors(g)):
        for i, (ax, ser) in enumerate(zip(axes, (a1, a2))):
            ax.loglog(te[1:, k], s[1:, k, i], color=c, marker="o", ms=3, lw=1.2,
                      label=f"$g = {g[k]:g}$" if i == 0 else None)
            ax.loglog(ts[1:, k], ser[1:, k], color=c, ls="--", lw=1.0)
    axes[0].plot([], [], color="k", ls="--", lw=1.0, label="series")
    axes[0].set_ylabel(r"$s_1$")
    axes[1].set_ylabel(r"$s_2$")
    for ax in axes:
        ax.set_xlabel(r"effective time $\tilde\tau$")
    axes[0].legend()
    if title:
        axes[0].set_title(title, loc="left")
    return axes


def plot_measures_vs_g(g: Any, measures: dict, theory_g: Any = None, theory: dict | None = None,
                       axes=None, *, z_hat: Sequence[float] | None = None, ylabels: dict | None = None,
                       log: Sequence[str] = ()):
    r"""Several measures against ``g``, one panel each: simulation (markers) and theory (dashed).

    See :doc:`/book/09_acceleration`.

    Parameters
    ----------
    g : array, shape (G,)
    measures : dict of name -> array, shape (G, J)
        one column per ``z_hat``.
    theory_g : array, shape (M,), optional
    theory : dict of name -> array, shape (M, J), optional
    z_hat : sequence of J floats
    ylabels : dict of name -> str
    log : names of the panels with a log y axis
    """
    g = _arr("g", g, 1)
    names = list(measures)
    values = {name: _per_row(f"measures[{name!r}]", measures[name], g.size) for name in names}
    for name in names:
        _check_z_hat(z_hat, values[name].shape[1])
    axes = _axes(axes, len(names), width=3.1)
    for ax, name in zip(axes, names):
        v = values[name]
        J = v.shape[1]
        for j in range(J):
            lab = rf"$\hat z = {z_hat[j]:g}$" if z_hat is not None else None
            ax.plot(g, v[:, j], ZHAT_MARKERS[j % len(ZHAT_MARKERS)], color=f"C{j}", ms=5, label=lab)
            if theory is not None and name in theory and theory[name] is not None:
                tv = _per_row(f"theory[{name!r}]", theory[name], np.size(theory_g))
                ax.plot(theory_g, tv[:, min(j, tv.shape[1] - 1)], color=f"C{j}", ls="--", lw=1.0)
        ax.set_xlabel("$g$")
        ax.set_ylabel((ylabels or {}).get(name, name))
        if name in log:
            ax.set_yscale("log")
    if z_hat is not None:
        axes[0].legend()
    return axes


def plot_shuffle_vs_g(g: Any, ratio: Any, ax=None, *, z_hat: Sequence[float] | None = None):
    r"""Loss after the shuffle test (:math:`\pi(W_0) + \Delta W`) relative to :math:`L_0`, against g.

    See :doc:`/book/09_acceleration`.

    Parameters
    ----------
    g : array, shape (G,)
    ratio : array, shape (G, J)
        one column per ``z_hat``.
    """
    g = _arr("g", g, 1)
    r = _per_row("ratio", ratio, g.size)
    _check_z_hat(z_hat, r.shape[1])
    ax = _axes(ax, 1, width=4.2)[0]
    for j in range(r.shape[1]):
        ax.plot(g, r[:, j], ZHAT_MARKERS[j % len(ZHAT_MARKERS)] + "-", color=f"C{j}", ms=5,
                label=rf"$\hat z = {z_hat[j]:g}$" if z_hat is not None else None)
    ax.axhline(1.0, color="0.4", lw=0.8, ls=":")
    ax.set_xlabel("$g$")
    ax.set_ylabel(r"loss after shuffle / $L_0$")
    if z_hat is not None:
        ax.legend()
    return ax


# --------------------------------------------------------------------------- chapter 10
def plot_eigenvalue_snapshots(eigs: Sequence[Any], epochs: Sequence[int], g: float, axes=None,
                              *, theory: Sequence[Any] | None = None, lim: float | None = None):
    r"""Eigenvalues of ``W`` in the complex plane at a few epochs, one panel each.

    See :doc:`/book/10_eigenvalues`.

    Parameters
    ----------
    eigs : sequence of arrays, shape (N,)
        eigenvalues at each of the epochs.
    epochs : sequence of int
    g : float
        draws the circle of radius ``g`` (the bulk) and the line Re = 1.
    theory : sequence of arrays, optional
        predicted outliers per panel (crosses).
    """
    n = len(eigs)
    if len(epochs) != n:
        raise ValueError(f"epochs must have {n} entries; got {len(epochs)}")
    axes = _axes(axes, n, width=2.7, height=2.8, sharey=True)
    phi = np.linspace(0, 2 * np.pi, 200)
    lim = lim or max(1.15, 1.1 * max(float(np.max(np.abs(np.asarray(e)))) for e in eigs))
    for i, (ax, ev, ep) in enumerate(zip(axes, eigs, epochs)):
        ev = np.asarray(ev)
        ax.plot(g * np.cos(phi), g * np.sin(phi), color="0.5", lw=0.8)
        ax.axvline(1.0, color="C3", lw=0.8, ls=":")
        ax.plot(ev.real, ev.imag, ".", ms=2.5, color="C0")
        top = ev[np.argmax(ev.real)]
        ax.plot(top.real, top.imag, "o", ms=6, mfc="none", color="C1")
        if theory is not None and theory[i] is not None:
            th = np.atleast_1d(np.asarray(theory[i]))
            ax.plot(th.real, th.imag, "x", ms=7, color="k")
        ax.set_aspect("equal")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(f"epoch {ep}")
        ax.set_xlabel(r"Re $\lambda$")
    axes[0].set_ylabel(r"Im $\lambda$")
    return axes


def plot_outlier_over_training(epochs: Any, outlier: Any, loss: Any, labels: Sequence[str],
                               diverged_epoch: Any = None, axes=None):
    r"""Loss (left) and the real part of the outlier eigenvalue of ``W`` (right) over training
    for several runs; a cross marks the epoch at which a run diverged.

    See :doc:`/book/10_eigenvalues`.

    Parameters
    ----------
    epochs : array, shape (S,)
        epochs of the snapshots (for the outlier).
    outlier : array, shape (S, K)
        real part of the eigenvalue of ``W`` with the largest real part.
    loss : array, shape (E, K)
        training loss (NaN after a divergence).
    labels : sequence of K str
    diverged_epoch : array, shape (K,), optional
        -1 when the run did not diverge.
    """
    se, o, L = _arr("epochs", epochs, 1), _arr("outlier", outlier, 2), _arr("loss", loss, 2)
    K = o.shape[1]
    if len(labels) != K or L.shape[1] != K or o.shape[0] != se.size:
        raise ValueError("outlier must be (S, K), loss (E, K) and labels K entries")
    de = np.full(K, -1) if diverged_epoch is None else np.asarray(diverged_epoch)
    axes = _axes(axes, 2, width=3.8)
    for k in range(K):
        c = f"C{k}"
        axes[0].semilogy(np.arange(L.shape[0]), L[:, k], color=c, label=labels[k])
        axes[1].plot(se, o[:, k], color=c, marker=".", ms=3)
        if de[k] >= 0:
            last = np.flatnonzero(np.isfinite(L[:, k]))
            axes[0].plot(de[k], L[last[-1], k] if last.size else np.nan, "x", color=c, ms=9, mew=2)
            ok = np.isfinite(o[:, k])
            if ok.any():
                axes[1].plot(se[ok][-1], o[ok, k][-1], "x", color=c, ms=9, mew=2)
    axes[1].axhline(1.0, color="C3", lw=0.8, ls=":")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel(r"Re $\lambda_{out}$ (largest real part)")
    axes[0].legend(fontsize=8)
    return axes


# --------------------------------------------------------------------------- chapter 11
def plot_cosine_learning(loss: Any, snapshot_epochs: Any, eig_re: Any, eig_im: Any, g: Any, *,
                         target_im: float | None = None, target_re: float | None = None, axes=None):
    r"""Cosine task: loss (left), real (middle) and imaginary part (right) of the leading
    complex-conjugate eigenvalue pair of ``W`` over training, one colour per ``g``.

    See :doc:`/book/11_cosine`.

    Parameters
    ----------
    loss : array, shape (E, K)
    snapshot_epochs : array, shape (S,)
    eig_re, eig_im : array, shape (S, K)
        real part and (positive) imaginary part of the leading pair.
    g : array, shape (K,)
    target_im, target_re : float, optional
        dashed lines: the eigenvalue that produces the target frequency without decay.
    """
    L, se = _arr("loss", loss, 2), _arr("snapshot_epochs", snapshot_epochs, 1)
    re, im, g = _arr("eig_re", eig_re, 2), _arr("eig_im", eig_im, 2), _arr("g", g, 1)
    K = g.size
    if L.shape[1] != K or re.shape != (se.size, K) or im.shape != re.shape:
        raise ValueError(f"loss must have shape (E, K) and eig_re, eig_im shape (S, K) with K = len(g) = {K} "
                         f"and S = len(snapshot_epochs) = {se.size}; got {L.shape}, {re.shape} and {im.shape}")
    axes = _axes(axes, 3, width=3.1)
    for k, c in enumerate(g_colors(g)):
        axes[0].semilogy(np.arange(L.shape[0]), L[:, k], color=c, label=f"$g = {g[k]:g}$")
        axes[1].plot(se, re[:, k], color=c)
        axes[2].plot(se, im[:, k], color=c)
    if target_re is not None:
        axes[1].axhline(target_re, **THEORY)
    if target_im is not None:
        axes[2].axhline(target_im, **THEORY)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel(r"Re $\lambda$")
    axes[2].set_ylabel(r"Im $\lambda$")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend()
    return axes
