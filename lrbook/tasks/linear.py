"""Tasks for the linear theory: an input-driven fixed point and a cosine generator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import _validate as V
from .base import Batch, Task

#: Paper learning rates of the fixed-point task, ``lr = lr0 (1 - g^2)^2``, lr0 by z_hat.
FIXEDPOINT_LR0 = {0.5: 0.015, 1.0: 0.009, 2.0: 0.003}
#: Paper learning rates of the cosine task, by g (interpolated linearly between).
COSINE_LR = {0.0: 0.2, 0.4: 0.15, 0.8: 0.05}


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

    Attributes
    ----------
    name, title : str
        ``"fixedpoint"``, ``"fixed point"``.
    optimizer, phi : str
        ``"sgd"`` (plain gradient descent, learning rate :meth:`paper_lr`), ``"linear"``.
    paper_epochs, paper_N : int
        200 epochs, 1024 neurons.
    g_grid : tuple of float
        0, 0.1, ..., 0.9.
    g_limit : float
        1: a linear network with g >= 1 has no stable fixed point.
    input_channels, output_channels : tuple of str
        ``"u"``; ``"z"``.
    default_trained : tuple of str
        ``("W",)``: only the recurrent weights learn.
    """

    name: ClassVar[str] = "fixedpoint"
    title: ClassVar[str | None] = "fixed point"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 1
    default_trained: ClassVar[tuple[str, ...]] = ("W",)
    deterministic: ClassVar[bool] = True
    optimizer: ClassVar[str] = "sgd"
    phi: ClassVar[str] = "linear"
    paper_epochs: ClassVar[int] = 200
    paper_N: ClassVar[int] = 1024
    g_grid: ClassVar[tuple[float, ...]] = tuple(round(0.1 * i, 10) for i in range(10))
    g_limit: ClassVar[float | None] = 1.0
    g_limit_reason: ClassVar[str] = "a linear network with g >= 1 has no stable fixed point"
    input_channels: ClassVar[tuple[str, ...]] = ("u",)
    output_channels: ClassVar[tuple[str, ...]] = ("z",)
    z_hat: float = 1.0
    t_max: float = 101.0
    fixation: float = 1.0
    readout: float = 1.0

    def paper_lr(self, N: int, g: float | Sequence[float] | np.ndarray) -> np.ndarray:
        r"""SGD, lr0 (1 - g^2)^2 with lr0 = 0.015, 0.009, 0.003 at z_hat = 0.5, 1, 2.

        The paper's learning rate :math:`\eta = \eta_0 (1 - g^2)^2`, with
        :math:`\eta_0` from :data:`FIXEDPOINT_LR0` at the listed ``z_hat`` nearest
        to ``|z_hat|``; it does not depend on ``N``.

        Parameters
        ----------
        N : int
            neurons per network (unused).
        g : float or sequence of float or ndarray
            initial connectivity strength of each network.

        Returns
        -------
        ndarray, shape (K,)
            float64, one learning rate per entry of ``g``.
        """
        gs = np.atleast_1d(np.asarray(g, dtype=float))
        key = min(FIXEDPOINT_LR0, key=lambda z: abs(z - abs(self.z_hat)))
        return FIXEDPOINT_LR0[key] * (1 - gs ** 2) ** 2

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

    Attributes
    ----------
    name, title : str
        ``"cosine"``, ``"cosine"``.
    optimizer, phi : str
        ``"sgd"`` (plain gradient descent, learning rate :meth:`paper_lr`), ``"linear"``.
    paper_epochs, paper_N : int
        1000 epochs, 256 neurons.
    g_grid : tuple of float
        0, 0.4, 0.8.
    input_channels, output_channels : tuple of str
        ``"(none)"`` (the input is 0; it only sets ``x_0``); ``"z"``.
    x0, default_trained
        ``"input"``: trials start from ``x_0 = m``; ``("W",)``: only the recurrent
        weights learn.
    """

    name: ClassVar[str] = "cosine"
    title: ClassVar[str | None] = "cosine"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 1
    x0: ClassVar[str] = "input"
    default_trained: ClassVar[tuple[str, ...]] = ("W",)
    deterministic: ClassVar[bool] = True
    optimizer: ClassVar[str] = "sgd"
    phi: ClassVar[str] = "linear"
    paper_epochs: ClassVar[int] = 1000
    g_grid: ClassVar[tuple[float, ...]] = (0.0, 0.4, 0.8)
    input_channels: ClassVar[tuple[str, ...]] = ("(none)",)
    output_channels: ClassVar[tuple[str, ...]] = ("z",)
    dt: float = 0.1
    t_max: float = 20.0
    period: float = 5.0
    n_periods: float = 2.0
    amplitude: float = 1.0

    def paper_lr(self, N: int, g: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """SGD, 0.2, 0.15, 0.05 at g = 0, 0.4, 0.8, linear in between.

        The paper's learning rates (:data:`COSINE_LR`), interpolated linearly in
        ``g`` and constant outside [0, 0.8]; they do not depend on ``N``.

        Parameters
        ----------
        N : int
            neurons per network (unused).
        g : float or sequence of float or ndarray
            initial connectivity strength of each network.

        Returns
        -------
        ndarray, shape (K,)
            float64, one learning rate per entry of ``g``.
        """
        gs = np.atleast_1d(np.asarray(g, dtype=float))
        xs = np.array(sorted(COSINE_LR))
        return np.interp(gs, xs, [COSINE_LR[x] for x in xs])

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
