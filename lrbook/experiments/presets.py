r"""The paper's sweeps at each scale, with every size in one table.

:func:`nonlinear_sweep` is Figure 2 of Schuessler et al. (2020): the three tasks
trained over a grid of ``g`` (science.md, section 3); :func:`nscaling_sweep` is its
supplement over the network size ``N`` at ``g`` in {0, 0.9, 1.8}.

The tasks of these sweeps are the registered tasks with ``sweep_scales``
(:func:`sweep_tasks`); each task states its epochs and g values (its facts
``paper_epochs``, ``g_grid`` and ``sweep_scales``, see :class:`lrbook.tasks.Task`),
and :data:`NONLINEAR` and :data:`NSCALING` show them with the sizes of each scale:

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

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .. import _validate as V
from ..config import get_scale
from ..tasks import TASKS, task_names
from ..tasks.base import g_grid as g_grid  # the paper's grids (re-exported; they live with the tasks)
from .specs import EnsembleConfig


def sweep_tasks() -> tuple[str, ...]:
    """The tasks of the Figure 2 sweep: the registered tasks with ``sweep_scales``.

    Returns
    -------
    tuple of str
        CLI names, in registration order (``flipflop``, ``mante``, ``romo``).
    """
    return task_names(sweep=True)


def task_sweep(name: str, scale: str) -> tuple[int, tuple[float, ...]]:
    """Epochs and g values of one task in the Figure 2 sweep at ``scale``.

    Parameters
    ----------
    name : str
        a task of :func:`sweep_tasks`.
    scale : {"ci", "book", "paper"}

    Returns
    -------
    (int, tuple of float)
        ``(paper_epochs, g_grid)`` at ``"paper"``, else ``sweep_scales[scale]`` of the task.
    """
    cls = TASKS[V.choice("tasks", name, sweep_tasks())]
    if scale == "paper":
        return int(cls.paper_epochs), tuple(cls.g_grid)
    epochs, gs = cls.sweep_scales[scale]
    return int(epochs), tuple(gs)


class _PerTask(Mapping):
    """Read-only ``{task: epochs}`` or ``{task: g values}`` of the sweep tasks at one scale,
    read from the registered task classes (so it follows :func:`lrbook.tasks.register`)."""

    def __init__(self, scale: str, part: int):
        self._scale, self._part = scale, part

    def __getitem__(self, name: str) -> Any:
        if name not in sweep_tasks():
            raise KeyError(name)
        return task_sweep(name, self._scale)[self._part]

    def __iter__(self) -> Iterator[str]:
        return iter(sweep_tasks())

    def __len__(self) -> int:
        return len(sweep_tasks())

    def __repr__(self) -> str:
        return repr(dict(self))


#: Figure 2 sweep per scale: N, seeds (count), and epochs and g values per task (the
#: last two read from the task classes: ``paper_epochs`` and ``g_grid`` at ``"paper"``,
#: ``sweep_scales`` below).
NONLINEAR: dict[str, dict[str, Any]] = {
    scale: {"N": N, "seeds": seeds, "epochs": _PerTask(scale, 0), "g": _PerTask(scale, 1)}
    for scale, N, seeds in (("paper", 256, 5), ("book", 256, 2), ("ci", 64, 1))
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


def _tasks(tasks: Sequence[str] | str | None) -> tuple[str, ...]:
    if tasks is None:
        return sweep_tasks()
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError(f"tasks must name at least one of {', '.join(sweep_tasks())}; got ()")
    for t in tasks:
        V.choice("tasks", t, sweep_tasks())
    return tasks


def nonlinear_sweep(scale: str | None = None, tasks: Sequence[str] | str | None = None,
                    **overrides: Any) -> dict[str, EnsembleConfig]:
    """The g sweep of Figure 2 for each task at ``scale``.

    Used by the chapters :doc:`/book/02_training`, :doc:`/book/04_low_rank` and
    :doc:`/book/05_randomness`.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        default :func:`lrbook.config.get_scale` (``LRBOOK_SCALE``).
    tasks : sequence of {"flipflop", "mante", "romo"}, optional
        default every task of :func:`sweep_tasks`.
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
    scale = get_scale(scale)
    p = NONLINEAR[scale]
    out = {}
    for t in _tasks(tasks):
        epochs, gs = task_sweep(t, scale)
        kw = dict(task=t, N=p["N"], g=gs, seeds=tuple(range(p["seeds"])), epochs=epochs)
        kw.update(overrides)
        out[t] = EnsembleConfig(**kw)
    return out


def nscaling_sweep(scale: str | None = None, tasks: Sequence[str] | str | None = None,
                   **overrides: Any) -> dict[tuple[str, int], EnsembleConfig]:
    """The N-scaling supplement: each task at each N, g in {0, 0.9, 1.8}.

    See :doc:`/book/06_scaling`.

    Parameters
    ----------
    scale : {"ci", "book", "paper"}, optional
        default :func:`lrbook.config.get_scale` (``LRBOOK_SCALE``).
    tasks : sequence of {"flipflop", "mante", "romo"}, optional
        default every task of :func:`sweep_tasks`.
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
    scale = get_scale(scale)
    p = NSCALING[scale]
    out = {}
    for t in _tasks(tasks):
        for N in p["N"]:
            kw = dict(task=t, N=N, g=p["g"], seeds=tuple(range(p["seeds"])), epochs=task_sweep(t, scale)[0])
            kw.update(overrides)
            out[(t, N)] = EnsembleConfig(**kw)
    return out


#: The presets by CLI name (``lrbook sweep --preset``).
PRESETS: dict[str, Callable[..., Mapping[Any, EnsembleConfig]]] = {
    "nonlinear": nonlinear_sweep, "nscaling": nscaling_sweep}
