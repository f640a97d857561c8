"""Tasks: each a frozen dataclass with ``batch(batch_size, rng) -> (u, target, mask)``.

See the chapter :doc:`/book/01_tasks` for figures of every task.
"""

from __future__ import annotations

from typing import Any

from .base import Batch, Task
from .flipflop import FlipFlop
from .linear import Cosine, FixedPoint
from .mante import ContextIntegration
from .romo import WorkingMemory

#: Task classes by their CLI name.
TASKS: dict[str, type[Task]] = {
    "flipflop": FlipFlop,
    "mante": ContextIntegration,
    "romo": WorkingMemory,
    "fixedpoint": FixedPoint,
    "cosine": Cosine,
}


def make_task(name: str, **params: Any) -> Task:
    """Build a task by name (``flipflop, mante, romo, fixedpoint, cosine``).

    Parameters
    ----------
    name : {"flipflop", "mante", "romo", "fixedpoint", "cosine"}
        a key of :data:`TASKS`.
    **params : Any
        the task's parameters (fields of its class, e.g. ``dt``, ``z_hat``);
        defaults for the others.

    Returns
    -------
    Task
        a :class:`FlipFlop`, :class:`ContextIntegration`, :class:`WorkingMemory`,
        :class:`FixedPoint` or :class:`Cosine`.

    Raises
    ------
    ValueError
        if ``name`` is unknown or a parameter value is out of range.
    TypeError
        if a parameter does not belong to the task or has the wrong type.

    Examples
    --------
    >>> make_task("fixedpoint", z_hat=2.0).n_steps
    202

    The tasks are shown in :doc:`/book/01_tasks`.
    """
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    return TASKS[name](**params)


__all__ = ["Batch", "Task", "FlipFlop", "ContextIntegration", "WorkingMemory",
           "FixedPoint", "Cosine", "TASKS", "make_task"]
