"""The 2-bit flip-flop task."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from .. import _validate as V
from .base import Batch, Task, g_grid


@dataclass(frozen=True)
class FlipFlop(Task):
    """Flip-flop memory (Sussillo & Barak, 2013, *Neural Computation* 25:626).

    Brief pulses (amplitude +-1) arrive on one of ``n_bits`` input channels at
    random times. The network reports the sign of the last pulse, on that pulse's
    channel, with ``z = +-level``; the other channel must report 0 (the paper's
    convention: only the channel pulsed last reports).

    Timing (units of tau): fixation ``fixation`` before the first pulse; each pulse
    lasts ``pulse``; consecutive pulse onsets are ``decision_delay + U(interval)``
    apart. From ``onset + decision_delay`` until the next onset, the target is set
    and the loss is on (both outputs). Before the first response and during the
    first ``decision_delay`` after each pulse the mask is 0.

    ``t_max``, ``pulse``, ``decision_delay`` must be > 0 and ``fixation`` >= 0, all
    multiples of ``dt``; ``decision_delay + interval[0] >= pulse`` (pulses never
    overlap) and ``fixation + pulse <= t_max``. Pulse onsets are rounded to the dt
    grid; pulses that would end after ``t_max`` are dropped.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    dt : float
        Euler step (tau units), default 0.5.
    t_max : float
        trial duration, default 50.
    fixation, pulse, decision_delay : float
        1, 1, 5 by default.
    interval : (float, float)
        range of the random part of the inter-pulse interval, default (5, 25).
    amplitude, level : float
        input pulse amplitude (1) and target level (0.5).
    n_bits : int
        number of channels (inputs = outputs), default 2.

    Attributes
    ----------
    name, title : str
        ``"flipflop"``, ``"flip-flop"``.
    optimizer, phi : str
        ``"adam"`` (learning rate 0.05 / N, :meth:`~Task.paper_lr`), ``"tanh"``.
    paper_epochs, paper_N : int
        1000 epochs, 256 neurons (Schuessler et al., 2020, Figure 2).
    g_grid : tuple of float
        0, 0.3, ..., 2.1.
    input_channels, output_channels : tuple of str
        ``"bit 1"``, ``"bit 2"``, ...: one per bit.
    sweep_scales : mapping
        book: 1000 epochs at g = 0, 0.6, 1.2, 1.8, 2.1; ci: 300 epochs at g = 0, 0.9, 1.8.
    """

    name: ClassVar[str] = "flipflop"
    title: ClassVar[str | None] = "flip-flop"
    paper_epochs: ClassVar[int] = 1000
    g_grid: ClassVar[tuple[float, ...]] = g_grid(2.1)
    sweep_scales: ClassVar = MappingProxyType({"book": (1000, (0.0, 0.6, 1.2, 1.8, 2.1)),
                                               "ci": (300, (0.0, 0.9, 1.8))})
    t_max: float = 50.0
    fixation: float = 1.0
    pulse: float = 1.0
    decision_delay: float = 5.0
    interval: tuple[float, float] = (5.0, 25.0)
    amplitude: float = 1.0
    level: float = 0.5
    n_bits: int = 2

    @property
    def n_in(self) -> int:  # type: ignore[override]
        """Input channels, ``n_bits``."""
        return self.n_bits

    @property
    def n_out(self) -> int:  # type: ignore[override]
        """Output channels, ``n_bits``."""
        return self.n_bits

    @property
    def input_channels(self) -> tuple[str, ...]:  # type: ignore[override]
        """``"bit 1"``, ..., one per bit."""
        return tuple(f"bit {i + 1}" for i in range(self.n_bits))

    @property
    def output_channels(self) -> tuple[str, ...]:  # type: ignore[override]
        """``"bit 1"``, ..., one per bit."""
        return self.input_channels

    @property
    def timing(self) -> dict:
        """Phase durations (tau): fixation, pulse, decision_delay, interval (lo, hi), trial."""
        return {"fixation": self.fixation, "pulse": self.pulse,
                "decision_delay": self.decision_delay, "interval": tuple(self.interval),
                "trial": self.t_max}

    def _validate(self) -> None:
        V.integer("n_bits", self.n_bits, lo=1)
        for nm in ("t_max", "pulse", "decision_delay"):
            V.real(nm, getattr(self, nm), lo=0.0, lo_open=True)
            V.multiple_of_dt(nm, getattr(self, nm), self.dt)
        V.real("fixation", self.fixation, lo=0.0)
        V.multiple_of_dt("fixation", self.fixation, self.dt)
        iv = V.real_sequence("interval", self.interval, lo=0.0)
        if len(iv) != 2 or iv[0] > iv[1]:
            raise ValueError(f"interval must be a pair (lo, hi) with 0 <= lo <= hi; got {self.interval!r}")
        if self.decision_delay + iv[0] < self.pulse:
            raise ValueError(f"decision_delay + interval[0] must be >= pulse = {self.pulse} (pulses must not "
                             f"overlap); got {self.decision_delay + iv[0]}")
        V.real("amplitude", self.amplitude)
        V.real("level", self.level)
        if self.fixation + self.pulse > self.t_max:
            raise ValueError(f"t_max must be >= fixation + pulse = {self.fixation + self.pulse}; got {self.t_max}")

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        dt, T = self.dt, self.n_steps
        lo, hi = self.interval
        min_gap = self.decision_delay + lo
        P = int(np.ceil((self.t_max - self.fixation) / max(min_gap, self.dt))) + 1
        # onsets on the dt grid; gaps = decision delay + U(lo, hi)
        gaps = self.decision_delay + rng.uniform(lo, hi, size=(B, P - 1))
        onset_t = self.fixation + np.concatenate([np.zeros((B, 1)), np.cumsum(gaps, axis=1)], axis=1)
        onset = np.round(onset_t / dt).astype(np.int64)                      # (B, P)
        channel = rng.integers(0, self.n_bits, size=(B, P))
        sign = rng.choice(np.array([-1.0, 1.0]), size=(B, P))
        valid = onset + self.steps(self.pulse) <= T                              # pulse fits
        step = np.arange(T)
        # input pulses
        active = valid[:, :, None] & (step >= onset[:, :, None]) & (step < onset[:, :, None] + self.steps(self.pulse))
        onehot = np.eye(self.n_bits)[channel]                                   # (B, P, n)
        u = np.einsum("bpt,bpn->btn", active * (self.amplitude * sign)[:, :, None], onehot)
        # index of the last pulse started at or before each step
        started = valid[:, :, None] & (step >= onset[:, :, None])             # (B, P, T)
        last = started.sum(axis=1) - 1                                          # (B, T), -1: none yet
        has = last >= 0
        li = np.clip(last, 0, None)
        last_onset = np.take_along_axis(onset, li, axis=1)
        respond = has & (step >= last_onset + self.steps(self.decision_delay))  # (B, T)
        last_ch = np.take_along_axis(channel, li, axis=1)
        last_sign = np.take_along_axis(sign, li, axis=1)
        target = (respond * last_sign * self.level)[:, :, None] * np.eye(self.n_bits)[last_ch] + 0.0
        mask = np.repeat(respond[:, :, None], self.n_bits, axis=2)
        return Batch(u, target, mask)
