"""States on real trajectories: starts for the fixed-point search, and PCA of activity.

See :doc:`/book/07_dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from ..models import RNN
from ..seeding import rng_for
from ..tasks import Task

__all__ = ["starts_from_trajectories", "PCA", "pca"]

#: Seed stream of the fixed-point starts (independent of training and evaluation data).
STREAM_STARTS = 7


def starts_from_trajectories(model: RNN, task: Task, n: int, *, seed: int = 0, noise: float = 0.1,
                             trials: int = 32) -> np.ndarray:
    r"""States sampled from each network's own trajectories on task trials, plus noise.

    Parameters
    ----------
    model : RNN
        an ensemble of K networks.
    task : Task
    n : int
        starts per network, >= 1.
    seed : int
        seeds the trials, the sampled times and the noise.
    noise : float
        standard deviation of the Gaussian noise added to each coordinate, >= 0.
    trials : int
        task trials simulated per network.

    Returns
    -------
    ndarray, shape (K, n, N)
        states :math:`x` (currents, not rates).
    """
    if not isinstance(model, RNN):
        raise TypeError(f"model must be an lrbook.models.RNN; got {type(model).__name__}")
    n = V.integer("n", n, lo=1, hi=1_000_000)
    seed = V.integer("seed", seed, lo=0, hi=2**63 - 1)
    noise = V.real("noise", noise, lo=0.0)
    trials = V.integer("trials", trials, lo=1, hi=100_000)
    rng = rng_for(seed, STREAM_STARTS)
    batch = task.batch(trials, rng)
    x = states(model, batch.u)                                   # (K, B, T+1, N)
    K, B, T1, N = x.shape
    flat = x.reshape(K, B * T1, N)
    pick = rng.integers(0, B * T1, size=(K, n))
    out = np.take_along_axis(flat, pick[..., None], axis=1)
    return out + noise * rng.standard_normal(out.shape)


def states(model: RNN, u: Any) -> np.ndarray:
    """The states x (currents) of every network on inputs ``u``, float64.

    Parameters
    ----------
    model : RNN
    u : array, shape (B, T, n_in)

    Returns
    -------
    ndarray, shape (K, B, T + 1, N)
    """
    from ..engine import reference_forward

    m = model
    f64 = torch.float64
    ut = torch.as_tensor(np.asarray(u), dtype=f64).transpose(0, 1)
    ut = ut.unsqueeze(0).expand(m.K, *ut.shape).contiguous()
    x0 = m.x0(ut.shape[2])
    with torch.no_grad():
        _, x = reference_forward(m.W_in.to(f64), m.W.to(f64), m.W_out.to(f64), ut, dt=m.dt,
                                 phi=m.phi, x0=None if x0 is None else x0.to(f64))
    return x.transpose(1, 2).numpy()


@dataclass
class PCA:
    """Principal components of states.

    Attributes
    ----------
    mean : ndarray, shape (N,)
    components : ndarray, shape (n, N)
        orthonormal rows, by decreasing variance.
    explained : ndarray, shape (n,)
        fraction of the total variance along each component.
    """

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def project(self, x: Any) -> np.ndarray:
        """Coordinates of states on the components.

        Parameters
        ----------
        x : array, shape (..., N)

        Returns
        -------
        ndarray, shape (..., n)
        """
        return (np.asarray(x) - self.mean) @ self.components.T


def pca(x: Any, n: int = 3) -> PCA:
    """PCA of a cloud of states (e.g. all time steps of all trials of one network).

    Parameters
    ----------
    x : array, shape (..., N)
    n : int
        components, 1..N.

    Returns
    -------
    PCA
    """
    a = np.asarray(x, dtype=np.float64)
    a = a.reshape(-1, a.shape[-1])
    n = V.integer("n", n, lo=1, hi=a.shape[-1])
    mean = a.mean(0)
    _, s, vt = np.linalg.svd(a - mean, full_matrices=False)
    var = s ** 2
    total = var.sum()
    return PCA(mean=mean, components=vt[:n], explained=var[:n] / total if total > 0 else var[:n])
