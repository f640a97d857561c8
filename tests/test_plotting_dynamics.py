"""Figures of the dynamics chapter (lrbook.plotting.dynamics): what they draw is the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrbook.dynamics import low_rank_system  # noqa: E402
from lrbook.plotting import dynamics as P  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _offsets(ax, label):
    return [c.get_offsets() for c in ax.collections if c.get_label() == label]


def test_state_space_draws_trials_and_splits_points_by_stability():
    rng = np.random.default_rng(0)
    tr = rng.normal(size=(3, 20, 2))
    xy = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    ax = P.plot_state_space(tr, {"fp": (xy, [True, False, True])},
                            arrows=[(np.zeros(2), np.ones(2))])
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[0].get_xydata(), tr[0])
    assert len(lines) == 2 * 3                       # a line and an end marker per trial
    np.testing.assert_allclose(_offsets(ax, "fp: stable")[0], xy[[0, 2]])
    np.testing.assert_allclose(_offsets(ax, "fp: unstable")[0], xy[[1]])
    assert len(ax.texts) == 1                        # the arrow


def test_span_fractions_floor_and_stability():
    g = np.array([0.0, 0.0, 0.9])
    f = np.array([0.0, 0.5, 0.3])
    ax = P.plot_span_fractions_vs_g(g, f, [True, False, True], floor=1e-6, jitter=0.0)
    np.testing.assert_allclose(_offsets(ax, "stable")[0], [[0.0, 1e-6], [0.9, 0.3]])
    np.testing.assert_allclose(_offsets(ax, "unstable")[0], [[0.0, 0.5]])
    assert ax.get_yscale() == "log"


def test_fixed_point_readouts_marks_targets_and_each_variant():
    targets = 0.5 * np.array([[1.0, 0], [-1, 0]])
    z = np.array([[0.49, 0.0], [0.0, 0.0]])
    ax = P.plot_fixed_point_readouts({"trained": (z, [True, False])}, targets, tol=0.15)
    np.testing.assert_allclose(_offsets(ax, "memory states")[0], targets)
    np.testing.assert_allclose(_offsets(ax, "trained: stable")[0], z[:1])
    np.testing.assert_allclose(_offsets(ax, "trained: unstable")[0], z[1:])
    assert len(ax.patches) == 2                      # one tolerance square per target


def test_latent_flow_limits_follow_the_grid_and_points_are_drawn():
    rng = np.random.default_rng(1)
    N = 30
    m = rng.normal(size=(N, 2))
    s = low_rank_system(m @ m.T / N * 2.0, rng.normal(size=(1, N)), 2)
    kappa, vel = s.flow(np.linspace(-3, 3, 15))
    pts = np.array([[0.0, 0.0], [1.0, 1.0]])
    ax = P.plot_latent_flow(kappa, vel, pts, [False, True], trajectories=rng.normal(size=(2, 5, 2)),
                            full=rng.normal(size=(2, 5, 2)))
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-3.0, 3.0)
    np.testing.assert_allclose(_offsets(ax, "stable")[0], pts[1:])
    np.testing.assert_allclose(_offsets(ax, "unstable")[0], pts[:1])


def test_jacobian_spectrum_one_scatter_per_case():
    ev = {"a": np.array([-1 + 0.5j, -1 - 0.5j]), "b": np.array([-0.1 + 0j])}
    ax = P.plot_jacobian_spectrum(ev)
    np.testing.assert_allclose(_offsets(ax, "a")[0], [[-1, 0.5], [-1, -0.5]])
    np.testing.assert_allclose(_offsets(ax, "b")[0], [[-0.1, 0.0]])
