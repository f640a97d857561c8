"""Context-dependent integration (Mante et al., 2013)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from .. import _validate as V
from .base import Batch, Task, g_grid


@dataclass(frozen=True)
class ContextIntegration(Task):
    """Context-dependent integration (Mante, Sussillo, Shenoy & Newsome, 2013, *Nature* 503:78).

    Two noisy sensory channels carry constant coherences ``c_1, c_2`` during the
    stimulus; a context input says which one matters. After a delay the network
    reports ``level * sign(c_context)``.

    Inputs (n_in = 4): ``u[..., 0:2]`` sensory, ``u[..., 2:4]`` context (one-hot,
    on during the stimulus). Output (n_out = 1).

    Timing (units of tau): ``fixation`` 3, ``stimulus`` 20, ``delay`` 5,
    ``decision`` 20 (96 steps at dt = 0.5). The mask is on during fixation and
    stimulus (target 0) and during the decision period; off during the delay.

    See :doc:`/book/01_tasks`.

    Parameters
    ----------
    dt : float
        Euler step (tau units), default 0.5.
    fixation, delay : float
        >= 0, default 3 and 5.
    stimulus, decision : float
        > 0, default 20 and 20. All four durations must be multiples of ``dt``.
    coherences : tuple of float
        magnitudes, each > 0; each channel draws ``+-c`` uniformly from them
        (default ``(1, 2, 4, 8) / 8``).
    noise_std : float
        >= 0; per-step sensory noise std is ``noise_std / sqrt(dt)`` (default 0.05),
        present during the whole trial.
    level : float
        target magnitude (0.5).

    Attributes
    ----------
    name, title : str
        ``"mante"``, ``"context-dependent integration"``.
    optimizer, phi : str
        ``"adam"`` (learning rate 0.05 / N, :meth:`~Task.paper_lr`), ``"tanh"``.
    paper_epochs, paper_N : int
        2000 epochs, 256 neurons (Schuessler et al., 2020, Figure 2).
    g_grid : tuple of float
        0, 0.3, ..., 2.7.
    input_channels, output_channels : tuple of str
        ``"sensory 1"``, ``"sensory 2"``, ``"context 1"``, ``"context 2"``; ``"choice"``.
    sweep_scales : mapping
        book: 2000 epochs at g = 0, 0.9, 1.8, 2.7; ci: 600 epochs at g = 0, 0.9, 1.8.
    """

    name: ClassVar[str] = "mante"
    title: ClassVar[str | None] = "context-dependent integration"
    n_in: ClassVar[int] = 4
    n_out: ClassVar[int] = 1
    paper_epochs: ClassVar[int] = 2000
    g_grid: ClassVar[tuple[float, ...]] = g_grid(2.7)
    input_channels: ClassVar[tuple[str, ...]] = ("sensory 1", "sensory 2", "context 1", "context 2")
    output_channels: ClassVar[tuple[str, ...]] = ("choice",)
    sweep_scales: ClassVar = MappingProxyType({"book": (2000, (0.0, 0.9, 1.8, 2.7)),
                                               "ci": (600, (0.0, 0.9, 1.8))})
    fixation: float = 3.0
    stimulus: float = 20.0
    delay: float = 5.0
    decision: float = 20.0
    coherences: tuple[float, ...] = (1 / 8, 2 / 8, 4 / 8, 8 / 8)
    noise_std: float = 0.05
    level: float = 0.5

    @property
    def t_max(self) -> float:  # type: ignore[override]
        """Trial duration, ``fixation + stimulus + delay + decision`` (48 by default)."""
        return self.fixation + self.stimulus + self.delay + self.decision

    @property
    def timing(self) -> dict:
        """Phase durations (tau): fixation, stimulus, delay, decision."""
        return {"fixation": self.fixation, "stimulus": self.stimulus,
                "delay": self.delay, "decision": self.decision}

    def _validate(self) -> None:
        for nm in ("fixation", "delay"):
            V.real(nm, getattr(self, nm), lo=0.0)
            V.multiple_of_dt(nm, getattr(self, nm), self.dt)
        for nm in ("stimulus", "decision"):
            V.real(nm, getattr(self, nm), lo=0.0, lo_open=True)
            V.multiple_of_dt(nm, getattr(self, nm), self.dt)
        V.real_sequence("coherences", self.coherences, lo=0.0, lo_open=True)
        V.real("noise_std", self.noise_std, lo=0.0)
        V.real("level", self.level)

    def _generate(self, B: int, rng: np.random.Generator) -> Batch:
        T = self.n_steps
        s0 = self.steps(self.fixation)
        s1 = s0 + self.steps(self.stimulus)
        s2 = s1 + self.steps(self.delay)
        coh = np.asarray(self.coherences, dtype=np.float64)
        c = rng.choice(coh, size=(B, 2)) * rng.choice(np.array([-1.0, 1.0]), size=(B, 2))
        context = rng.integers(0, 2, size=B)
        u = np.zeros((B, T, 4))
        u[:, s0:s1, 0:2] = c[:, None, :]
        u[:, :, 0:2] += rng.standard_normal((B, T, 2)) * (self.noise_std / np.sqrt(self.dt))
        u[:, s0:s1, 2:4] = np.eye(2)[context][:, None, :]
        target = np.zeros((B, T, 1))
        relevant = c[np.arange(B), context]
        target[:, s2:, 0] = (self.level * np.sign(relevant))[:, None]
        mask = np.ones((B, T, 1))
        mask[:, s1:s2] = 0.0
        return Batch(u, target, mask)
