"""Tasks: each a frozen dataclass with ``batch(batch_size, rng) -> (u, target, mask)``.

See the chapter :doc:`/book/01_tasks` for figures of every task.
"""

from __future__ import annotations

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


def make_task(name: str, **params) -> Task:
    """Build a task by name (``flipflop, mante, romo, fixedpoint, cosine``)."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    return TASKS[name](**params)


__all__ = ["Batch", "Task", "FlipFlop", "ContextIntegration", "WorkingMemory",
           "FixedPoint", "Cosine", "TASKS", "make_task"]
