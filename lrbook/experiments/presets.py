r"""The paper's sweeps at each scale, with every size in one table.

:func:`nonlinear_sweep` is Figure 2 of Schuessler et al. (2020): the three tasks
trained over a grid of ``g`` (science.md, section 3); :func:`nscaling_sweep` is its
supplement over the network size ``N`` at ``g`` in {0, 0.9, 1.8}.

The numbers for each scale live in :data:`NONLINEAR` and :data:`NSCALING`:

``paper``
    the paper's: N = 256, g from 0 in steps of 0.3 up to 2.1 (flip-flop), 2.7
    (Mante), 3.0 (Romo), 5 seeds, 1000 / 2000 / 6000 epochs; N-scaling over
    N = 64 ... 1024.
``book``
    a subset of the g grid across its whole range, 2 seeds, the paper's epochs for
    flip-flop and Mante, Romo shortened; N-scaling over N = 32 ... 256.
``ci``
    small: N = 64, three g, one seed, 300-1500 epochs (seconds per task; long
    enough that the single network per g sits past Adam's loss spikes);
    N-scaling over N = 32, 64, 256.

At every scale the N-scaling sizes span at least a factor of 8, so that a log-log
fit can tell :math:`\|\Delta W\|_F = O(1)` (slope 0) from growth like
:math:`\sqrt N` (slope 1/2).

Used by the chapters :doc:`/book/05_randomness` and :doc:`/book/06_scaling`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import _validate as V
from ..config import SCALES, get_scale
from .config import EnsembleConfig

#: The nonlinear tasks of the paper, by CLI name.
NONLINEAR_TASKS = ("flipflop", "mante", "romo")


def g_grid(g_max: float, step: float = 0.3) -> tuple[float, ...]:
    """``0, step, 2 step, ..., g_max`` (rounded to 10 decimals).

    The paper's g grids of :data:`NONLINEAR` (:doc:`/book/02_training`).

    Parameters
    ----------
    g_max : float
        last value (rounded to the nearest multiple of ``step``).
    step : float
        spacing, default 0.3 (the paper's).

    Returns
    -------
    tuple of float
        ``round(g_max / step) + 1`` values.

    Examples
    --------
    >>> g_grid(0.9)
    (0.0, 0.3, 0.6, 0.9)
    """
    n = int(round(g_max / step))
    return tuple(round(step * i, 10) for i in range(n + 1))


#: Figure 2 sweep per scale: N, seeds (count), epochs and g values per task.
NONLINEAR: dict[str, dict[str, Any]] = {
    "paper": {
        "N": 256, "seeds": 5,
        "epochs": {"flipflop": 1000, "mante": 2000, "romo": 6000},
        "g": {"flipflop": g_grid(2.1), "mante": g_grid(2.7), "romo": g_grid(3.0)},
    },
    "book": {
        "N": 256, "seeds": 2,
        "epochs": {"flipflop": 1000, "mante": 2000, "romo": 2000},
        "g": {"flipflop": (0.0, 0.6, 1.2, 1.8, 2.1), "mante": (0.0, 0.9, 1.8, 2.7),
              "romo": (0.0, 0.9, 1.8, 3.0)},
    },
    "ci": {
        "N": 64, "seeds": 1,
        "epochs": {"flipflop": 300, "mante": 600, "romo": 1500},
        "g": {"flipflop": (0.0, 0.9, 1.8), "mante": (0.0, 0.9, 1.8), "romo": (0.0, 0.9, 1.8)},
    },
}

#: N-scaling supplement per scale: the sizes, g values, seeds and epochs per task.
NSCALING: dict[str, dict[str, Any]] = {
    "paper": {"N": (64, 128, 256, 512, 1024), "g": (0.0, 0.9, 1.8), "seeds": 5,
              "epochs": NONLINEAR["paper"]["epochs"]},
    "book": {"N": (32, 64, 128, 256), "g": (0.0, 0.9, 1.8), "seeds": 2,
             "epochs": NONLINEAR["book"]["epochs"]},
    "ci": {"N": (32, 64, 256), "g": (0.0, 0.9, 1.8), "seeds": 1,
           "epochs": NONLINEAR["ci"]["epochs"]},
}


def _scale(scale: str | None) -> str:
    return get_scale() if scale is None else V.choice("scale", scale, SCALES)


def _tasks(tasks: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError(f"tasks must name at least one of {', '.join(NONLINEAR_TASKS)}; got ()")
    for t in tasks:
        V.choice("tasks", t, NONLINEAR_TASKS)
    return tasks


def nonlinear_sweep(scale: str | None = None, tasks: Sequence[str] | str = NONLINEAR_TASKS,
                    **overrides: Any) -> dict[str, EnsembleConfig]:
    """The g sweep of Figure 2 for each task at ``scale``.

    Used by the chapters :doc:`/book/02_training`, :doc:`/book/04_low_rank` and
    :doc:`/book/05_randomness`.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        default :func:`lrbook.config.get_scale` (``LRBOOK_SCALE``).
    tasks : sequence of {"flipflop", "mante", "romo"}
    **overrides
        fields of :class:`EnsembleConfig` to change (e.g. ``trained=("W",)``).

    Returns
    -------
    dict of str to EnsembleConfig
        one config (``g x seeds``) per task; pass it to :func:`~lrbook.experiments.sweep`
        or one config to :func:`~lrbook.experiments.run_ensemble`.

    Examples
    --------
    >>> cfg = nonlinear_sweep("paper")["mante"]
    >>> cfg.N, cfg.g[-1], len(cfg.seeds), cfg.epochs
    (256, 2.7, 5, 2000)
    """
    p = NONLINEAR[_scale(scale)]
    out = {}
    for t in _tasks(tasks):
        kw = dict(task=t, N=p["N"], g=p["g"][t], seeds=tuple(range(p["seeds"])),
                  epochs=p["epochs"][t])
        kw.update(overrides)
        out[t] = EnsembleConfig(**kw)
    return out


def nscaling_sweep(scale: str | None = None, tasks: Sequence[str] | str = NONLINEAR_TASKS,
                   **overrides: Any) -> dict[tuple[str, int], EnsembleConfig]:
    """The N-scaling supplement: each task at each N, g in {0, 0.9, 1.8}.

    See :doc:`/book/06_scaling`.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        default :func:`lrbook.config.get_scale` (``LRBOOK_SCALE``).
    tasks : sequence of {"flipflop", "mante", "romo"}
    **overrides
        fields of :class:`EnsembleConfig` to change in every config.

    Returns
    -------
    dict of (task, N) to EnsembleConfig
        the sizes of :data:`NSCALING` at ``scale``, ``g x seeds`` each.

    Examples
    --------
    >>> sorted({n for _, n in nscaling_sweep("paper", tasks="flipflop")})
    [64, 128, 256, 512, 1024]
    >>> sorted({n for _, n in nscaling_sweep("book", tasks="flipflop")})
    [32, 64, 128, 256]
    """
    p = NSCALING[_scale(scale)]
    out = {}
    for t in _tasks(tasks):
        for N in p["N"]:
            kw = dict(task=t, N=N, g=p["g"], seeds=tuple(range(p["seeds"])), epochs=p["epochs"][t])
            kw.update(overrides)
            out[(t, N)] = EnsembleConfig(**kw)
    return out


#: The presets by CLI name (``lrbook sweep --preset``).
PRESETS: dict[str, Callable[..., Mapping[Any, EnsembleConfig]]] = {
    "nonlinear": nonlinear_sweep, "nscaling": nscaling_sweep}
