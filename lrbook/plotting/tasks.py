"""Figures of the tasks and of untrained networks (chapter :doc:`/book/01_tasks`).

Every function draws with lrbook's style (:func:`lrbook.plotting.style.use_style`)
and returns the matplotlib Figure; the caller shows it (``plt.show()``).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..tasks import Batch, Task
from .style import use_style

#: Grey of the periods where the loss is off (mask 0).
MASK_OFF_COLOR = "0.88"


def _names(task: Task, side: str, n: int) -> list[str]:
    """The task's names of its ``n`` input or output channels (its facts
    ``input_channels``, ``output_channels``), else ``"input 1"``, ..."""
    names = tuple(getattr(task, f"{side}_channels", ()) or ())
    return list(names) if len(names) == n else [f"{side} {i + 1}" for i in range(n)]


def _check_index(batch: Batch, index: int) -> int:
    B = batch.u.shape[0]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an integer; got {index!r}")
    if not -B <= index < B:
        raise ValueError(f"index must be in {-B}..{B - 1} for a batch of {B} trials; got {index}")
    return int(index) % B


def mask_off_spans(mask: np.ndarray, time: np.ndarray, dt: float) -> list[tuple[float, float]]:
    """Time intervals where the loss is off for every output.

    Parameters
    ----------
    mask : ndarray, shape (T, n_out)
        the mask of one trial.
    time : ndarray, shape (T,)
        time of each step (``task.time``); step ``t`` covers ``(time[t] - dt, time[t]]``.
    dt : float

    Returns
    -------
    list of (start, end)
        in units of tau.
    """
    off = np.asarray(mask).max(axis=-1) == 0
    spans, t = [], 0
    T = off.size
    while t < T:
        if off[t]:
            s = t
            while t < T and off[t]:
                t += 1
            spans.append((float(time[s] - dt), float(time[t - 1])))
        else:
            t += 1
    return spans


def plot_trial(task: Task, batch: Batch, index: int = 0, axes: Sequence[plt.Axes] | None = None,
               z: np.ndarray | None = None, title: str | None = None) -> plt.Figure:
    """Inputs (top) and targets with the loss mask (bottom) of one trial.

    Grey bands mark the periods where the mask is 0 (the loss ignores the
    output there). Optionally overlays network outputs ``z`` (dashed).

    Parameters
    ----------
    task : Task
        the task that drew ``batch`` (for the time axis, and the channel names: its
        ``input_channels`` and ``output_channels``).
    batch : Batch
        ``(u, target, mask)`` of shapes (B, T, n_in), (B, T, n_out), (B, T, n_out).
    index : int
        which trial of the batch.
    axes : pair of Axes, optional
        (inputs, outputs); a new figure if omitted.
    z : ndarray, shape (B, T, n_out), optional
        outputs of a network on the same batch.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    i = _check_index(batch, index)
    if batch.u.shape[1] != task.n_steps:
        raise ValueError(f"batch has {batch.u.shape[1]} steps but the task has {task.n_steps}: "
                         "pass the task that drew the batch")
    if z is not None and np.shape(z) != batch.target.shape:
        raise ValueError(f"z must have the shape of the targets {batch.target.shape}; got {np.shape(z)}")
    if axes is None:
        use_style()
        fig, axes = plt.subplots(2, 1, sharex=True, figsize=(7.0, 3.6))
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be a pair (inputs, outputs); got {len(axes)} axes")
        fig = axes[0].figure  # type: ignore[assignment]
    ax_u, ax_z = axes
    t = task.time
    u, target, mask = batch.u[i], batch.target[i], batch.mask[i]
    for ax in (ax_u, ax_z):
        for s, e in mask_off_spans(mask, t, task.dt):
            ax.axvspan(s, e, color=MASK_OFF_COLOR, lw=0, zorder=0)
    in_names = _names(task, "input", u.shape[1])
    for k in range(u.shape[1]):
        ax_u.plot(t, u[:, k], label=in_names[k])
    ax_u.set_ylabel("input $u$")
    if u.shape[1] > 1:
        ax_u.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    out_names = _names(task, "output", target.shape[1])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k in range(target.shape[1]):
        c = colors[k % len(colors)]
        ax_z.plot(t, target[:, k], color=c, label=f"target {out_names[k]}")
        if z is not None:
            ax_z.plot(t, np.asarray(z)[i, :, k], color=c, ls="--", lw=1.2, label=f"$z$ {out_names[k]}")
    ax_z.set_ylabel("target")
    ax_z.set_xlabel(r"time ($\tau$)")
    ax_z.set_xlim(0, float(t[-1]))
    if target.shape[1] > 1 or z is not None:
        ax_z.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title is not None:
        ax_u.set_title(title)
    return fig


def plot_trials(task: Task, batch: Batch, indices: Sequence[int] = (0, 1, 2),
                title: str | None = None, z: np.ndarray | None = None) -> plt.Figure:
    """Several trials side by side: one column per trial, inputs above targets.

    Parameters
    ----------
    task : Task
    batch : Batch
    indices : sequence of int
        trials to show.
    title : str, optional
        figure title.
    z : ndarray, shape of ``batch.target``, optional
        outputs of a network, drawn dashed over the targets.

    Returns
    -------
    matplotlib.figure.Figure
    """
    indices = list(indices)
    if not indices:
        raise ValueError("indices must name at least one trial; got []")
    use_style()
    width = (3.0, 1.6) if z is not None else (2.6, 1.4)
    fig, axes = plt.subplots(2, len(indices), sharex=True, sharey="row",
                             figsize=(width[0] * len(indices) + width[1], 3.6), squeeze=False)
    for c, i in enumerate(indices):
        plot_trial(task, batch, i, axes=list(axes[:, c]), z=z)
        axes[0, c].set_title(f"trial {i}")
        if z is not None and c == 0:
            axes[1, c].set_ylabel("target, output $z$")
        if c > 0:
            axes[0, c].set_ylabel("")
            axes[1, c].set_ylabel("")
        if c < len(indices) - 1:
            for ax in axes[:, c]:
                leg = ax.get_legend()
                if leg is not None:
                    leg.remove()
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_romo_conditions(task: Task, batch: Batch, ax: plt.Axes | None = None) -> plt.Figure:
    """Working-memory trials in the (f1, f2) plane, coloured by the correct answer.

    ``f1`` and ``f2`` are read off the input: the first and the last non-zero
    input value of each trial.

    Parameters
    ----------
    task : WorkingMemory
    batch : Batch
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    f1, f2 = romo_stimuli(batch)
    first = batch.target.max(axis=1)[:, 0] > 0
    if ax is None:
        use_style()
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
    else:
        fig = ax.figure  # type: ignore[assignment]
    ax.scatter(f1[first], f2[first], s=8, label="answer f1 > f2")
    ax.scatter(f1[~first], f2[~first], s=8, label="answer f1 < f2")
    lo, hi = getattr(task, "amplitude", (float(np.min(f1)), float(np.max(f1))))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    ax.set_xlabel("$f_1$")
    ax.set_ylabel("$f_2$")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def romo_stimuli(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """``(f1, f2)`` of each working-memory trial, read off the input.

    Parameters
    ----------
    batch : Batch
        from :class:`lrbook.tasks.WorkingMemory`.

    Returns
    -------
    f1, f2 : ndarray, shape (B,)
    """
    u = batch.u[..., 0]
    on = u != 0
    if not on.any(axis=1).all():
        raise ValueError("batch must come from the working-memory task: a trial has no stimulus")
    first = on.argmax(axis=1)
    last = u.shape[1] - 1 - on[:, ::-1].argmax(axis=1)
    rows = np.arange(u.shape[0])
    return u[rows, first], u[rows, last]


def plot_activity(time: np.ndarray, r: np.ndarray, z: np.ndarray, g: Sequence[float],
                  n_units: int = 8) -> plt.Figure:
    """Rates of a few units and the output of untrained networks, one column per ``g``.

    Parameters
    ----------
    time : ndarray, shape (T,)
    r : ndarray, shape (K, T+1, N)
        rates of one trial for each of the K networks (``Trajectory.r[:, b]``).
    z : ndarray, shape (K, T, n_out)
        outputs of the same trial.
    g : sequence of float, length K
    n_units : int
        units to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    r, z = np.asarray(r), np.asarray(z)
    K = r.shape[0]
    if z.shape[0] != K or len(g) != K:
        raise ValueError(f"r, z and g must describe the same K = {K} networks; "
                         f"got {z.shape[0]} outputs and {len(g)} values of g")
    T = len(time)
    if r.ndim != 3 or r.shape[1] != T + 1 or z.ndim != 3 or z.shape[1] != T:
        raise ValueError(f"with T = {T} times, r must have shape (K, T + 1, N) and z (K, T, n_out); "
                         f"got {r.shape} and {z.shape}")
    use_style()
    fig, axes = plt.subplots(2, K, sharex=True, sharey="row", figsize=(2.6 * K, 3.4), squeeze=False)
    t_r = np.concatenate([[0.0], np.asarray(time)])
    for k in range(K):
        axes[0, k].plot(t_r, r[k, :, :n_units], lw=0.9)
        axes[0, k].set_title(f"$g = {g[k]:g}$")
        axes[1, k].plot(time, z[k], lw=1.2)
        axes[1, k].set_xlabel(r"time ($\tau$)")
    axes[0, 0].set_ylabel(r"rates $\phi(x_i)$")
    axes[1, 0].set_ylabel("output $z$")
    return fig


__all__ = ["plot_trial", "plot_trials", "plot_romo_conditions", "romo_stimuli", "plot_activity",
           "mask_off_spans"]
