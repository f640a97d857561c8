"""What the connectivity change computes: fixed points, linearisation and latent dynamics.

Pure functions of weights and tasks (no plots, no files), beside :mod:`lrbook.analysis`:

- :mod:`lrbook.dynamics.fixed_points` - batched fixed-point search (Sussillo & Barak 2013),
  classified by the Jacobian's eigenvalues;
- :mod:`lrbook.dynamics.latent` - leading modes at a fixed point, and the exact latent
  system of a rank-R network (Mastrogiuseppe & Ostojic 2018);
- :mod:`lrbook.dynamics.statespace` - starts sampled from real trajectories, PCA.

See :doc:`/book/07_dynamics`.
"""

from __future__ import annotations

from .fixed_points import FixedPoint, FixedPoints, find_fixed_points, jacobian, vector_field
from .latent import Linearisation, LowRankSystem, linearise, low_rank_system, subspace_fraction
from .statespace import PCA, pca, starts_from_trajectories, states

__all__ = [
    "FixedPoint", "FixedPoints", "find_fixed_points", "jacobian", "vector_field",
    "Linearisation", "LowRankSystem", "linearise", "low_rank_system", "subspace_fraction",
    "PCA", "pca", "starts_from_trajectories", "states",
]
