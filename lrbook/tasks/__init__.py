"""Tasks: each a frozen dataclass with ``batch(batch_size, rng) -> (u, target, mask)``.

Every task class states its facts (the paper's optimizer, learning rate, epochs,
nonlinearity, g grid, channel names; see :class:`Task`) and is listed once, in
:data:`TASKS`, by :func:`register`; the training defaults, the experiment
configurations, the command line and the plots read them from there. Adding a
task is writing its class and registering it::

    @register
    @dataclass(frozen=True)
    class Sign(Task):
        '''What the task is; the paper it comes from.'''
        name: ClassVar[str] = "sign"
        ...

See the chapter :doc:`/book/01_tasks` for figures of every task.
"""

from __future__ import annotations

from typing import Any

from .base import Batch, Task
from .flipflop import FlipFlop
from .linear import Cosine, FixedPoint
from .mante import ContextIntegration
from .registry import TASKS, TaskRegistrationError, register, task_class, task_names, unregister
from .romo import WorkingMemory

for _cls in (FlipFlop, ContextIntegration, WorkingMemory, FixedPoint, Cosine):
    register(_cls)
del _cls


def make_task(name: str, **params: Any) -> Task:
    """Build a task by name (``flipflop, mante, romo, fixedpoint, cosine``, or any registered).

    Parameters
    ----------
    name : str
        a key of :data:`TASKS` (``"flipflop"``, ``"mante"``, ``"romo"``,
        ``"fixedpoint"``, ``"cosine"`` and every task added by :func:`register`).
    **params : Any
        the task's parameters (fields of its class, e.g. ``dt``, ``z_hat``);
        defaults for the others.

    Returns
    -------
    Task
        a :class:`FlipFlop`, :class:`ContextIntegration`, :class:`WorkingMemory`,
        :class:`FixedPoint`, :class:`Cosine` or registered task.

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
    return task_class(name)(**params)


__all__ = ["Batch", "Task", "FlipFlop", "ContextIntegration", "WorkingMemory",
           "FixedPoint", "Cosine", "TASKS", "make_task", "register", "unregister", "task_class",
           "task_names", "TaskRegistrationError"]
