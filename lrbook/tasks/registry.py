"""The one registry of tasks: :data:`TASKS`, filled by :func:`register`.

A task class states its facts (optimizer, learning-rate rule, epochs, nonlinearity,
channel names, g grid, ...; see :class:`~lrbook.tasks.Task`) once, as class
attributes; :func:`register` checks them and lists the class under its CLI
``name``. Everything else (the training defaults, the experiment configurations
and presets, the command line, the plots) reads the tasks from :data:`TASKS`, so
a new task is one class and one call to :func:`register`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ..config import SCALES
from .base import Task

#: Task classes by their CLI name, in the order they were registered.
TASKS: dict[str, type[Task]] = {}

# The choices a task's facts may make, as the layers above spell them (tests/test_task_registry.py
# checks that they agree); written out here so that importing the tasks does not load torch.
#: The optimizers a task may name (``lrbook.training.OPTIMIZERS``).
OPTIMIZERS = ("adam", "sgd")
#: The nonlinearities (``lrbook.engine.PHIS``).
PHIS = ("tanh", "linear", "relu", "softplus")
#: The weights a task may train (``lrbook.models.PARAMS``).
PARAMS = ("W_in", "W", "W_out")
#: Where trials start (``x0_mode`` of :meth:`lrbook.models.RNN.create`).
X0_MODES = ("zero", "input")
#: A CLI name: a lower-case letter, then lower-case letters, digits or ``_``.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: A citation in a task's docstring has at least a year (``Romo et al., 1999``).
YEAR_PATTERN = re.compile(r"\b(1[89]|20)\d\d\b")


class TaskRegistrationError(TypeError):
    """A task class cannot be registered: a fact is missing or invalid.

    Raised by :func:`register`; the message names the class, the fact, the value
    and what is expected.

    Parameters
    ----------
    cls : type
        the class refused.
    message : str
        what is wrong.
    """

    def __init__(self, cls: Any, message: str):
        self.cls = cls
        super().__init__(f"cannot register task class {getattr(cls, '__name__', cls)!r}: {message}")


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _g_values(cls: type, what: str, values: Any, limit: float | None) -> None:
    """``values`` is a non-empty increasing tuple of finite g >= 0, each below ``limit``."""
    if not isinstance(values, tuple) or not values or not all(_is_real(g) and g >= 0 for g in values):
        raise TaskRegistrationError(cls, f"{what} must be a non-empty tuple of finite numbers >= 0; got {values!r}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise TaskRegistrationError(cls, f"{what} must be increasing; got {values!r}")
    if limit is not None and values[-1] >= limit:
        raise TaskRegistrationError(cls, f"{what} must stay below g_limit = {limit:g}; got {values!r}")


def _channels(cls: type, task: Task) -> None:
    for side, n in (("input", task.n_in), ("output", task.n_out)):
        names = getattr(task, f"{side}_channels")
        if not isinstance(names, tuple) or len(names) != n or not all(isinstance(c, str) and c for c in names):
            raise TaskRegistrationError(cls, f"{side}_channels must be a tuple of {n} non-empty names, one "
                                             f"per {side} channel; got {names!r}")


def validate(cls: Any) -> None:
    """Check that ``cls`` is a task class whose facts are all present and valid.

    Parameters
    ----------
    cls : type
        a subclass of :class:`~lrbook.tasks.Task`.

    Raises
    ------
    TaskRegistrationError
        naming the first fact that is missing or invalid: ``cls`` is not a frozen
        dataclass subclass of Task with its own docstring citing its paper (at least
        a year; the docstring dataclass writes does not count), a name
        that is not a CLI word, an optimizer other than ``"adam"``/``"sgd"``, a phi
        the engine does not know, no ``paper_epochs``, an empty or decreasing
        ``g_grid``, channel names that do not match ``n_in``/``n_out``, an SGD task
        without its own :meth:`~lrbook.tasks.Task.paper_lr`, a learning-rate rule
        that is not positive and finite on ``g_grid``, a bad ``sweep_scales``, a
        class that cannot be built with its defaults, or trials (``batch(2, rng=0)``)
        that cannot be drawn or have the wrong shapes.
    """
    if not isinstance(cls, type) or not issubclass(cls, Task) or cls is Task:
        raise TaskRegistrationError(cls, "it must be a subclass of lrbook.tasks.Task")
    if "__dataclass_fields__" not in vars(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TaskRegistrationError(cls, "it must be decorated with @dataclass(frozen=True)")
    doc = vars(cls).get("__doc__") or ""
    if not doc.strip() or doc.startswith(f"{cls.__name__}(") or not YEAR_PATTERN.search(doc):
        raise TaskRegistrationError(cls, "it must have a docstring that says what the task is and cites "
                                         "the paper it comes from (authors, year)")
    name = cls.name
    if not isinstance(name, str) or cls.__dict__.get("name") is None or name == Task.name \
            or not NAME_PATTERN.fullmatch(name):
        raise TaskRegistrationError(cls, "name must be set on the class to a CLI word (a lower-case letter, "
                                         f"then letters, digits or '_'); got {name!r}")
    if cls.title is not None and (not isinstance(cls.title, str) or not cls.title.strip()):
        raise TaskRegistrationError(cls, f"title must be a non-empty string or None; got {cls.title!r}")
    if cls.optimizer not in OPTIMIZERS:
        raise TaskRegistrationError(cls, f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {cls.optimizer!r}")
    if cls.phi not in PHIS:
        raise TaskRegistrationError(cls, f"phi must be one of {', '.join(PHIS)}; got {cls.phi!r}")
    for fact in ("paper_epochs", "paper_N"):
        v = getattr(cls, fact)
        if not _is_int(v) or v < 1:
            raise TaskRegistrationError(cls, f"{fact} must be an integer >= 1; got {v!r}")
    if cls.x0 not in X0_MODES:
        raise TaskRegistrationError(cls, f"x0 must be one of {', '.join(X0_MODES)}; got {cls.x0!r}")
    trained = cls.default_trained
    if not isinstance(trained, tuple) or not trained or not set(trained) <= set(PARAMS):
        raise TaskRegistrationError(cls, f"default_trained must be a non-empty tuple of {', '.join(PARAMS)}; "
                                         f"got {trained!r}")
    if not isinstance(cls.deterministic, bool):
        raise TaskRegistrationError(cls, f"deterministic must be True or False; got {cls.deterministic!r}")
    limit = cls.g_limit
    if limit is not None and (not _is_real(limit) or limit <= 0):
        raise TaskRegistrationError(cls, f"g_limit must be None or a finite number > 0; got {limit!r}")
    if not isinstance(cls.g_limit_reason, str):
        raise TaskRegistrationError(cls, f"g_limit_reason must be a string; got {cls.g_limit_reason!r}")
    _g_values(cls, "g_grid", cls.g_grid, limit)
    scales = cls.sweep_scales
    below = tuple(s for s in SCALES if s != "paper")
    if not isinstance(scales, Mapping) or (scales and set(scales) != set(below)):
        raise TaskRegistrationError(cls, f"sweep_scales must be empty or map each of {', '.join(below)} to "
                                         f"(epochs, g values); got {scales!r}")
    for s, entry in scales.items():
        if not isinstance(entry, tuple) or len(entry) != 2 or not _is_int(entry[0]) or entry[0] < 1:
            raise TaskRegistrationError(cls, f"sweep_scales[{s!r}] must be a pair (epochs >= 1, g values); "
                                             f"got {entry!r}")
        _g_values(cls, f"sweep_scales[{s!r}] g values", entry[1], limit)
    if cls.optimizer != "adam" and cls.paper_lr is Task.paper_lr:
        raise TaskRegistrationError(cls, f"a task trained with {cls.optimizer} must define its learning-rate "
                                         "rule paper_lr(N, g)")
    try:
        task = cls()
    except Exception as exc:       # any failure is the class's: report it
        raise TaskRegistrationError(cls, f"it must be constructible with its defaults ({cls.__name__}() "
                                         f"raised {type(exc).__name__}: {exc})") from exc
    for fact in ("n_in", "n_out"):
        v = getattr(task, fact)
        if not _is_int(v) or v < 1:
            raise TaskRegistrationError(cls, f"{fact} must be an integer >= 1; got {v!r}")
    _channels(cls, task)
    try:
        T = task.n_steps
    except Exception as exc:
        raise TaskRegistrationError(cls, f"n_steps must be defined (a t_max field, or an n_steps property); "
                                         f"got {type(exc).__name__}: {exc}") from exc
    if not _is_int(T) or T < 1:
        raise TaskRegistrationError(cls, f"n_steps must be an integer >= 1; got {T!r}")
    lr = np.asarray(task.paper_lr(cls.paper_N, np.asarray(cls.g_grid)))
    if lr.shape != (len(cls.g_grid),) or not np.all(np.isfinite(lr)) or not np.all(lr > 0):
        raise TaskRegistrationError(cls, f"paper_lr(N, g) must give one finite learning rate > 0 per g; on "
                                         f"g_grid it gave {lr!r}")
    try:
        shapes = tuple(a.shape for a in task.batch(2, rng=0))
    except Exception as exc:
        raise TaskRegistrationError(cls, f"batch(2, rng=0) must draw trials (implement _generate); it raised "
                                         f"{type(exc).__name__}: {exc}") from exc
    want = ((2, T, task.n_in), (2, T, task.n_out), (2, T, task.n_out))
    if shapes != want:
        raise TaskRegistrationError(cls, f"batch(2) must give u, target, mask of shapes {want}; got {shapes}")


def register(cls: type[Task] | None = None, *, replace: bool = False) -> Any:
    """Add a task class to :data:`TASKS` under its ``name``, after checking its facts.

    Usable as a function, ``register(MyTask)``, or as a class decorator,
    ``@register`` (above ``@dataclass(frozen=True)``). Registering the class already
    registered under its name again does nothing.

    Parameters
    ----------
    cls : type
        a frozen dataclass subclass of :class:`~lrbook.tasks.Task` with its facts
        set (see :class:`~lrbook.tasks.Task`, Attributes).
    replace : bool
        allow replacing another class already registered under the same name.

    Returns
    -------
    type
        ``cls`` itself (so it works as a decorator); with ``cls=None``, a decorator.

    Raises
    ------
    TaskRegistrationError
        (a TypeError) if a fact is missing or invalid (see :func:`validate`), or
        the name is taken by another class and ``replace`` is False.

    Examples
    --------
    >>> from lrbook.tasks import TASKS, FlipFlop
    >>> register(FlipFlop) is FlipFlop and TASKS["flipflop"] is FlipFlop
    True
    """
    if cls is None:
        return lambda c: register(c, replace=replace)
    validate(cls)
    old = TASKS.get(cls.name)
    if old is not None and old is not cls and not replace:
        raise TaskRegistrationError(cls, f"the name {cls.name!r} is taken by {old.__module__}.{old.__qualname__}; "
                                         "give the task another name, or pass replace=True")
    if isinstance(cls.sweep_scales, dict):                   # freeze a plain dict
        cls.sweep_scales = MappingProxyType(dict(cls.sweep_scales))
    TASKS[cls.name] = cls
    return cls


def unregister(name: str) -> type[Task]:
    """Remove the task registered under ``name`` from :data:`TASKS`.

    Parameters
    ----------
    name : str
        its CLI name.

    Returns
    -------
    type
        the class that was registered.

    Raises
    ------
    KeyError
        if no task is registered under ``name``.
    """
    if name not in TASKS:
        raise KeyError(f"no task is registered under {name!r}; registered: {', '.join(TASKS)}")
    return TASKS.pop(name)


def task_class(name: str) -> type[Task]:
    """The task class registered under ``name``.

    Parameters
    ----------
    name : str
        a key of :data:`TASKS`.

    Returns
    -------
    type

    Raises
    ------
    ValueError
        if ``name`` is not registered (the message lists the registered names).
    """
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    return TASKS[name]


def task_names(**facts: Any) -> tuple[str, ...]:
    """Names of the registered tasks, in registration order, optionally filtered by facts.

    Parameters
    ----------
    **facts : Any
        class attributes and the value they must have, e.g. ``phi="linear"``;
        ``sweep=True`` keeps only the tasks of the Figure 2 sweep (non-empty
        ``sweep_scales``).

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> task_names(phi="linear")
    ('fixedpoint', 'cosine')
    """
    sweep = facts.pop("sweep", None)
    return tuple(n for n, c in TASKS.items()
                 if all(getattr(c, k) == v for k, v in facts.items())
                 and (sweep is None or bool(c.sweep_scales) == sweep))


def title(name: str) -> str:
    """The task's name in words (its ``title``, else its CLI name).

    Parameters
    ----------
    name : str
        a key of :data:`TASKS`.

    Returns
    -------
    str
    """
    cls = task_class(name)
    return cls.title or cls.name


def lr_rule(name: str) -> str:
    """The paper's learning-rate rule of a task in words: the first line of its
    :meth:`~lrbook.tasks.Task.paper_lr` docstring, without markup.

    Parameters
    ----------
    name : str
        a key of :data:`TASKS`.

    Returns
    -------
    str
    """
    doc = (task_class(name).paper_lr.__doc__ or "").strip()
    return doc.splitlines()[0].replace("``", "").rstrip(".") if doc else "see its paper_lr"
