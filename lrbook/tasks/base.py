"""The task interface shared by every task (see the chapter :doc:`/book/01_tasks`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .. import _memory
from .. import _validate as V

#: Largest magnitude of a task parameter: trials are float32 arrays.
FLOAT32_MAX = float(np.finfo(np.float32).max)

#: The paper's learning rate with Adam on the nonlinear tasks is ``ADAM_LR_TIMES_N / N``.
ADAM_LR_TIMES_N = 0.05


def g_grid(g_max: float, step: float = 0.3) -> tuple[float, ...]:
    """``0, step, 2 step, ..., g_max`` (rounded to 10 decimals): a task's :attr:`Task.g_grid`.

    Parameters
    ----------
    g_max : float
        last value (rounded to the nearest multiple of ``step``).
    step : float
        spacing, default 0.3 (the paper's, Figure 2).

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


class Batch(NamedTuple):
    """One batch of trials, batch-first float32 arrays.

    Returned by :meth:`Task.batch`; see :doc:`/book/01_tasks`.

    Attributes
    ----------
    u : ndarray, shape (B, T, n_in)
        input.
    target : ndarray, shape (B, T, n_out)
        desired output ``z``.
    mask : ndarray, shape (B, T, n_out)
        1 where the loss counts, 0 elsewhere.
    """

    u: np.ndarray
    target: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class Task:
    """Base class: a task is a small frozen dataclass of its parameters.

    Subclasses set ``n_in``, ``n_out``, ``name``, implement :meth:`_generate`,
    and describe their phases in :attr:`timing` (units of tau). All durations are
    in units of tau; ``dt`` is the Euler step. Lists and arrays given as
    parameters are stored as tuples, so tasks are hashable and :meth:`params`
    round-trips. Trials are drawn with :meth:`batch`.

    See :doc:`/book/01_tasks` for every task and its trials.

    The class attributes below are the task's *facts*: what the paper does with it.
    A task class states them once; :func:`lrbook.tasks.register` checks them and
    adds the class to :data:`lrbook.tasks.TASKS`, and from there the training
    defaults (:func:`lrbook.training.default_lr`, :func:`~lrbook.training.model_for`,
    ...), the experiment configurations and presets, the command line and the
    plots read them. ``name``, ``paper_epochs``, ``g_grid`` and the channel names
    have no default and must be set; a task trained with SGD must also give its
    :meth:`paper_lr`.

    Parameters
    ----------
    dt : float
        Euler step in units of tau, in (0, 1]; default 0.5. Every other duration of
        a task must be a multiple of it (checked by the subclass).

    Attributes
    ----------
    name : str
        the task's CLI name: lower-case letters, digits and ``_`` (``lrbook train NAME``).
    title : str
        its name in words, for titles and tables (default ``name``).
    n_in, n_out : int
        input and output dimensions.
    x0 : {"zero", "input"}
        trials start from x = 0, or from x = m (the first input vector).
    default_trained : tuple of str
        which of ``"W_in", "W", "W_out"`` the paper trains on this task.
    deterministic : bool
        True when every trial is identical (no randomness; :meth:`batch` then
        needs no ``rng``).
    optimizer : {"adam", "sgd"}
        the paper's optimizer (default ``"adam"``).
    phi : {"tanh", "linear", "relu", "softplus"}
        the nonlinearity of the paper's networks (default ``"tanh"``).
    paper_epochs : int
        the paper's number of training epochs (parameter updates).
    paper_N : int
        the paper's number of neurons (default 256).
    g_grid : tuple of float
        the paper's values of the initial connectivity strength ``g``, increasing.
    g_limit : float or None
        every ``g`` must be below it (None, the default: no limit); the reason is
        ``g_limit_reason``.
    input_channels, output_channels : tuple of str
        a name for each input and each output channel (``n_in`` and ``n_out`` of
        them), for plots and tables; a property where they depend on the
        parameters.
    sweep_scales : mapping of str to (int, tuple of float)
        the task's place in the sweep of Figure 2 (:func:`lrbook.experiments.nonlinear_sweep`)
        at the scales below ``"paper"``: ``{"book": (epochs, g values), "ci": (...)}``;
        at ``"paper"`` it trains ``paper_epochs`` on ``g_grid``. Empty (the default):
        the task is not part of that sweep.

    Raises
    ------
    ValueError, TypeError
        on construction, for a parameter out of range, naming it and the range.
    """

    name: ClassVar[str] = "task"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 1
    #: ``"zero"``: trials start from x = 0; ``"input"``: from x = m (the input vector).
    x0: ClassVar[str] = "zero"
    #: Which weights the paper trains for this task.
    default_trained: ClassVar[tuple[str, ...]] = ("W_in", "W", "W_out")
    #: True when every trial is identical (no randomness).
    deterministic: ClassVar[bool] = False
    #: The task's name in words (None: its ``name``).
    title: ClassVar[str | None] = None
    #: The paper's optimizer, ``"adam"`` or ``"sgd"``.
    optimizer: ClassVar[str] = "adam"
    #: The nonlinearity of the paper's networks.
    phi: ClassVar[str] = "tanh"
    #: The paper's number of training epochs (must be set: 0 is unset).
    paper_epochs: ClassVar[int] = 0
    #: The paper's number of neurons.
    paper_N: ClassVar[int] = 256
    #: The paper's g values (must be set).
    g_grid: ClassVar[tuple[float, ...]] = ()
    #: Every g must be below this (None: no limit), because of ``g_limit_reason``.
    g_limit: ClassVar[float | None] = None
    g_limit_reason: ClassVar[str] = ""
    #: Names of the input and of the output channels (must be set).
    input_channels: ClassVar[tuple[str, ...]] = ()
    output_channels: ClassVar[tuple[str, ...]] = ()
    #: ``{scale: (epochs, g values)}`` of the Figure 2 sweep below the paper's scale.
    sweep_scales: ClassVar[Mapping[str, tuple[int, tuple[float, ...]]]] = MappingProxyType({})

    dt: float = 0.5

    def __post_init__(self) -> None:
        V.real("dt", self.dt, lo=0.0, hi=1.0, lo_open=True)
        # sequences are stored as tuples, so tasks stay hashable and params() round-trips
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
            elif isinstance(v, np.ndarray):
                object.__setattr__(self, f.name, tuple(v.tolist()))
        self._validate()
        for f in fields(self):                  # trials are float32: every value must fit
            v = getattr(self, f.name)
            for i, x in enumerate(v if isinstance(v, tuple) else (v,)):
                if V._is_real(x) and abs(float(x)) > FLOAT32_MAX:
                    nm = f"{f.name}[{i}]" if isinstance(v, tuple) else f.name
                    raise ValueError(f"{nm} must be representable in float32, the dtype of the trials "
                                     f"(|{nm}| <= {FLOAT32_MAX:.4g}); got {x!r}")
        T = self._steps_or_none()
        if T is not None and T > 2 ** 31:
            raise ValueError(f"t_max must give at most 2**31 time steps of dt={self.dt}; got {T} steps")

    # -- to be provided by subclasses -------------------------------------------------
    def _validate(self) -> None:  # pragma: no cover - overridden
        pass

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:  # pragma: no cover
        raise NotImplementedError


    @property
    def timing(self) -> dict[str, float | tuple[float, float]]:  # pragma: no cover
        """Phase durations in units of tau (a pair ``(lo, hi)`` for random ones)."""
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------
    def paper_lr(self, N: int, g: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Adam, ``0.05 / N``.

        The paper's learning rate(s) of networks of ``N`` neurons at strengths
        ``g`` (see :doc:`/book/06_scaling` for why :math:`0.05/N`). The first line
        of this docstring is the rule as ``lrbook train --help`` shows it; a task
        trained with SGD overrides this method.

        Parameters
        ----------
        N : int
            neurons per network.
        g : float or sequence of float or ndarray
            initial connectivity strength of each network.

        Returns
        -------
        ndarray, shape (K,)
            float64, one learning rate per entry of ``g`` (K = 1 for a scalar).

        Raises
        ------
        NotImplementedError
            for a task whose :attr:`optimizer` is not ``"adam"``: it must give its own rule.
        """
        if self.optimizer != "adam":
            raise NotImplementedError(f"task {self.name} trains with {self.optimizer}: its class "
                                      f"{type(self).__name__} must define paper_lr(N, g)")
        gs = np.atleast_1d(np.asarray(g, dtype=float))
        return np.full(gs.shape, ADAM_LR_TIMES_N / N)

    @property
    def n_steps(self) -> int:
        """Number of Euler steps ``T = t_max / dt``."""
        return int(round(self.t_max / self.dt))  # type: ignore[attr-defined]

    def _steps_or_none(self) -> int | None:
        try:
            return int(self.n_steps)
        except (AttributeError, NotImplementedError, TypeError, ValueError, OverflowError):
            return None

    def steps(self, duration: float) -> int:
        """Number of Euler steps in ``duration`` (units of tau).

        Parameters
        ----------
        duration : float
            in units of tau.

        Returns
        -------
        int
            ``round(duration / dt)``.
        """
        return int(round(duration / self.dt))

    @property
    def time(self) -> np.ndarray:
        """Time of each step, shape (T,), in units of tau: ``(t + 1) * dt``."""
        return (np.arange(self.n_steps) + 1) * self.dt

    def batch(self, batch_size: int, rng: np.random.Generator | int | None = None) -> Batch:
        """Draw ``batch_size`` trials.

        Parameters
        ----------
        batch_size : int
            B >= 1.
        rng : numpy.random.Generator or int
            source of every random draw (an int is used as a seed). Required for
            random tasks; deterministic tasks ignore it.

        Returns
        -------
        Batch
            ``(u, target, mask)`` of shapes (B, T, n_in), (B, T, n_out), (B, T, n_out),
            float32, with ``T = n_steps``.

        Raises
        ------
        ValueError
            if ``batch_size < 1`` or the batch would not fit in the available memory,
            ``rng`` is None for a random task, or the trials hold NaN/inf in float32
            (a parameter too large for float32).
        TypeError
            if ``rng`` is neither a Generator nor an integer.
        """
        B = V.integer("batch_size", batch_size, lo=1)
        T = self._steps_or_none()
        if T is not None:
            n = self.n_in + 2 * self.n_out
            _memory.check({"batch": 4 * B * T * n * (8 + 4)}, {"batch_size": B, "T": T})
        if rng is None:
            if not self.deterministic:
                raise ValueError("rng must be a numpy Generator or an integer seed for a random task; got None")
            rng = np.random.default_rng(0)
        elif isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
            rng = np.random.default_rng(int(rng))
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator or an integer seed; got {type(rng).__name__}")
        out = Batch(*(np.ascontiguousarray(a, dtype=np.float32) for a in self._generate(B, rng)))
        for nm, a in zip(Batch._fields, out):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"task {self.name} produced trials whose {nm} holds "
                                 f"{int(np.sum(~np.isfinite(a)))} NaN/inf values in float32; "
                                 f"check its parameters {self.params()}")
        return out

    def batches(self, batch_size: int, rngs: Sequence[np.random.Generator]) -> Batch:
        """One batch per generator, stacked: the trials of K networks, each from its own stream.

        Used for the training trials (:func:`lrbook.training.train`) and the test
        trials (:func:`lrbook.analysis.eval_batch`) of an ensemble.

        Parameters
        ----------
        batch_size : int
            B >= 1 trials per network.
        rngs : sequence of numpy.random.Generator
            one per network (K >= 1).

        Returns
        -------
        Batch
            ``u`` (K, B, T, n_in), ``target`` and ``mask`` (K, B, T, n_out), float32;
            ``[k]`` is ``self.batch(batch_size, rngs[k])``.
        """
        parts = [self.batch(batch_size, r) for r in rngs]
        if not parts:
            raise ValueError("rngs must hold at least one generator; got none")
        return Batch(*(np.stack(arrays) for arrays in zip(*parts)))

    def params(self) -> dict:
        """The task's parameters as a JSON-friendly dict (with its ``name``).

        Returns
        -------
        dict
            ``{"name": ..., field: value, ...}``, tuples as lists;
            ``make_task(**d)`` with ``d = task.params()`` rebuilds an equal task.
        """
        d: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d
