"""Parametric working memory (Romo et al., 1999)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from .. import _validate as V
from .base import Batch, Task, g_grid


@dataclass(frozen=True)
class WorkingMemory(Task):
    """Parametric working memory (Romo, Brody, Hernandez & Lemus, 1999, *Nature* 399:470).

    Two brief stimuli of amplitudes ``f1`` and ``f2`` arrive on one input channel,
    separated by a random delay. After a decision delay the network reports which
    was larger: output 0 is ``level`` if ``f1 > f2``, output 1 is ``level``
    otherwise (the other output 0).

    Timing (units of tau): ``fixation`` 3, stimulus f1 (``stimulus`` 1), delay
    ``U(delay)`` = U(2, 8) on the dt grid, stimulus f2 (1), ``decision_delay`` 5,
    ``decision`` 10; the trial lasts 28 whatever the delay. The mask is on from
    the start to the end of f2 (target 0) and during the decision.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    dt : float
        Euler step (tau units), default 0.5.
    fixation, decision_delay : float
        >= 0, default 3 and 5.
    stimulus, decision : float
        > 0, default 1 and 10. These four durations must be multiples of ``dt``.
    delay : (float, float)
        range ``(lo, hi)``, 0 <= lo <= hi, of the delay between f1 and f2, drawn
        uniformly on the dt grid; default (2, 8).
    amplitude : (float, float)
        range ``(lo, hi)`` of ``f1`` and ``f2`` (drawn uniformly), default (0.5, 1.5).
    min_diff : float
        ``|f2 - f1| >= min_diff`` (0.2), enforced by redrawing ``f2``; must be
        >= 0 and < ``(amplitude[1] - amplitude[0]) / 2``.
    level : float
        target level (0.5).

    Attributes
    ----------
    name, title : str
        ``"romo"``, ``"parametric working memory"``.
    optimizer, phi : str
        ``"adam"`` (learning rate 0.05 / N, :meth:`~Task.paper_lr`), ``"tanh"``.
    paper_epochs, paper_N : int
        6000 epochs, 256 neurons (Schuessler et al., 2020, Figure 2).
    g_grid : tuple of float
        0, 0.3, ..., 3.0.
    input_channels, output_channels : tuple of str
        ``"stimulus"``; ``"f1 > f2"``, ``"f1 < f2"``.
    sweep_scales : mapping
        book: 2000 epochs at g = 0, 0.9, 1.8, 3.0; ci: 1500 epochs at g = 0, 0.9, 1.8.
    """

    name: ClassVar[str] = "romo"
    title: ClassVar[str | None] = "parametric working memory"
    n_in: ClassVar[int] = 1
    n_out: ClassVar[int] = 2
    paper_epochs: ClassVar[int] = 6000
    g_grid: ClassVar[tuple[float, ...]] = g_grid(3.0)
    input_channels: ClassVar[tuple[str, ...]] = ("stimulus",)
    output_channels: ClassVar[tuple[str, ...]] = ("f1 > f2", "f1 < f2")
    sweep_scales: ClassVar = MappingProxyType({"book": (2000, (0.0, 0.9, 1.8, 3.0)),
                                               "ci": (1500, (0.0, 0.9, 1.8))})
    fixation: float = 3.0
    stimulus: float = 1.0
    delay: tuple[float, float] = (2.0, 8.0)
    decision_delay: float = 5.0
    decision: float = 10.0
    amplitude: tuple[float, float] = (0.5, 1.5)
    min_diff: float = 0.2
    level: float = 0.5

    @property
    def t_max(self) -> float:  # type: ignore[override]
        """Trial duration with the longest delay, ``fixation + 2 stimulus + delay[1] +
        decision_delay + decision`` (28 by default)."""
        return self.fixation + 2 * self.stimulus + self.delay[1] + self.decision_delay + self.decision

    @property
    def timing(self) -> dict:
        """Phase durations (tau): fixation, f1, delay (lo, hi), f2, decision_delay, decision."""
        return {"fixation": self.fixation, "f1": self.stimulus, "delay": tuple(self.delay),
                "f2": self.stimulus, "decision_delay": self.decision_delay,
                "decision": self.decision}

    def _validate(self) -> None:
        for nm in ("fixation", "decision_delay"):
            V.real(nm, getattr(self, nm), lo=0.0)
            V.multiple_of_dt(nm, getattr(self, nm), self.dt)
        for nm in ("stimulus", "decision"):
            V.real(nm, getattr(self, nm), lo=0.0, lo_open=True)
            V.multiple_of_dt(nm, getattr(self, nm), self.dt)
        d = V.real_sequence("delay", self.delay, lo=0.0)
        if len(d) != 2 or d[0] > d[1]:
            raise ValueError(f"delay must be a pair (lo, hi) with 0 <= lo <= hi; got {self.delay!r}")
        a = V.real_sequence("amplitude", self.amplitude)
        if len(a) != 2 or a[0] > a[1]:
            raise ValueError(f"amplitude must be a pair (lo, hi) with lo <= hi; got {self.amplitude!r}")
        V.real("min_diff", self.min_diff, lo=0.0)
        if self.min_diff >= (a[1] - a[0]) / 2:
            raise ValueError(
                f"min_diff must be < (amplitude[1] - amplitude[0]) / 2 = {(a[1] - a[0]) / 2}; got {self.min_diff}")
        V.real("level", self.level)

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        T = self.n_steps
        lo, hi = self.amplitude
        f1 = rng.uniform(lo, hi, size=B)
        f2 = rng.uniform(lo, hi, size=B)
        bad = np.abs(f2 - f1) < self.min_diff
        while bad.any():  # rejection sampling, vectorised over the batch
            f2[bad] = rng.uniform(lo, hi, size=int(bad.sum()))
            bad = np.abs(f2 - f1) < self.min_diff
        d_lo, d_hi = (self.steps(x) for x in self.delay)
        delay = rng.integers(d_lo, d_hi + 1, size=B)                     # steps, on the dt grid
        on1 = self.steps(self.fixation)
        dur = self.steps(self.stimulus)
        on2 = on1 + dur + delay                                            # (B,)
        dec0 = on2 + dur + self.steps(self.decision_delay)
        dec1 = dec0 + self.steps(self.decision)
        step = np.arange(T)[None, :]
        u = np.zeros((B, T, 1))
        u[:, on1:on1 + dur, 0] = f1[:, None]
        in2 = (step >= on2[:, None]) & (step < (on2 + dur)[:, None])
        u[:, :, 0] += in2 * f2[:, None]
        decide = (step >= dec0[:, None]) & (step < dec1[:, None])         # (B, T)
        first_larger = (f1 > f2)
        target = np.zeros((B, T, 2))
        target[:, :, 0] = decide * first_larger[:, None] * self.level
        target[:, :, 1] = decide * (~first_larger)[:, None] * self.level
        on = (step < (on2 + dur)[:, None]) | decide
        mask = np.repeat(on[:, :, None], 2, axis=2)
        return Batch(u, target, mask)
