"""Tasks for the linear theory: an input-driven fixed point and a cosine generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import _validate as V
from .base import Batch, Task


@dataclass(frozen=True)
class FixedPoint(Task):
    """Input-driven fixed point (Schuessler et al., 2020, NeurIPS, section 3).

    A constant input ``u = 1`` switches on after ``fixation``; the output must
    reach ``z_hat``, imposed only during the last ``readout`` time units of a long
    trial, by which time a linear network sits at its fixed point
    ``x* = (1 - W)^{-1} m``.

    Timing (units of tau): ``fixation`` 1, then input on until ``t_max`` = 101
    (202 steps at dt = 0.5); loss on during the last ``readout`` = 1.

    Durations must be multiples of ``dt`` and ``fixation + readout <= t_max``. The
    task is deterministic: ``u`` (B, T, 1), ``target`` = ``mask * z_hat``.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    dt : float
        Euler step (tau units), default 0.5.
    z_hat : float
        target output (0.5, 1 or 2 in the paper), default 1.
    t_max : float
        trial duration, > 0, default 101.
    fixation : float
        time before the input switches on, >= 0, default 1.
    readout : float
        the loss is on during the last ``readout`` of the trial, > 0, default 1.
    """

    name: ClassVar[str] = "fixedpoint"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 1
    default_trained: ClassVar[tuple[str, ...]] = ("W",)
    deterministic: ClassVar[bool] = True
    z_hat: float = 1.0
    t_max: float = 101.0
    fixation: float = 1.0
    readout: float = 1.0

    @property
    def timing(self) -> dict:
        """Phase durations (tau): fixation, input, readout, trial."""
        return {"fixation": self.fixation, "input": self.t_max - self.fixation,
                "readout": self.readout, "trial": self.t_max}

    def _validate(self) -> None:
        V.real("z_hat", self.z_hat)
        V.real("t_max", self.t_max, lo=0.0, lo_open=True)
        V.multiple_of_dt("t_max", self.t_max, self.dt)
        V.real("fixation", self.fixation, lo=0.0)
        V.multiple_of_dt("fixation", self.fixation, self.dt)
        V.real("readout", self.readout, lo=0.0, lo_open=True)
        V.multiple_of_dt("readout", self.readout, self.dt)
        if self.fixation + self.readout > self.t_max:
            raise ValueError(
                f"t_max must be >= fixation + readout = {self.fixation + self.readout}; got {self.t_max}")

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        T = self.n_steps
        u = np.zeros((B, T, 1))
        u[:, self.steps(self.fixation):, 0] = 1.0
        target = np.zeros((B, T, 1))
        mask = np.zeros((B, T, 1))
        r = self.steps(self.readout)
        target[:, T - r:, 0] = self.z_hat
        mask[:, T - r:, 0] = 1.0
        return Batch(u, target, mask)


@dataclass(frozen=True)
class Cosine(Task):
    r"""Autonomous cosine generation (Schuessler et al., 2020, NeurIPS, supplement).

    No input: every trial starts from the input vector, ``x_0 = m`` (entries
    O(1)), and the output must follow ``amplitude * cos(2 pi t / period)`` for
    ``n_periods`` periods; the rest of the trial is free (mask 0), which shows
    whether the network keeps oscillating.

    Timing (units of tau): ``t_max`` 20, target during the first
    ``n_periods * period`` = 10; ``dt`` = 0.1.

    With :math:`A` = ``amplitude``, :math:`P` = ``period`` and :math:`n` =
    ``n_periods``, the target at step time :math:`t` (:attr:`time`) is

    .. math:: \hat z(t) = A \cos(2\pi t / P) \qquad \text{for } t \le n P,

    with the mask on there and off (target 0) afterwards; the input is 0.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    dt : float
        Euler step (tau units), default 0.1.
    t_max : float
        trial duration, > 0 and a multiple of ``dt``, default 20.
    period : float
        > 0, 5 by default.
    n_periods : float
        number of periods under the loss, > 0 (2); ``n_periods * period <= t_max``.
    amplitude : float
        amplitude of the target cosine, default 1.
    """

    name: ClassVar[str] = "cosine"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 1
    x0: ClassVar[str] = "input"
    default_trained: ClassVar[tuple[str, ...]] = ("W",)
    deterministic: ClassVar[bool] = True
    dt: float = 0.1
    t_max: float = 20.0
    period: float = 5.0
    n_periods: float = 2.0
    amplitude: float = 1.0

    @property
    def timing(self) -> dict:
        """Phase durations (tau): target (under the loss), free, trial."""
        return {"target": self.period * self.n_periods,
                "free": self.t_max - self.period * self.n_periods, "trial": self.t_max}

    def _validate(self) -> None:
        V.real("t_max", self.t_max, lo=0.0, lo_open=True)
        V.multiple_of_dt("t_max", self.t_max, self.dt)
        V.real("period", self.period, lo=0.0, lo_open=True)
        V.real("n_periods", self.n_periods, lo=0.0, lo_open=True)
        V.real("amplitude", self.amplitude)
        if self.period * self.n_periods > self.t_max + 1e-9:
            raise ValueError(
                f"n_periods * period must be <= t_max = {self.t_max}; got {self.period * self.n_periods}")

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        t = self.time
        u = np.zeros((B, t.size, 1))
        on = t <= self.period * self.n_periods + 1e-9
        target = np.broadcast_to((on * self.amplitude * np.cos(2 * np.pi * t / self.period))[None, :, None],
                                 (B, t.size, 1))
        mask = np.broadcast_to(on[None, :, None].astype(float), (B, t.size, 1))
        return Batch(u, target, mask)
