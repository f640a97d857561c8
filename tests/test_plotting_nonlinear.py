"""Figures of the nonlinear chapters (lrbook.plotting.nonlinear): what they draw is the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrbook.plotting import nonlinear as P  # noqa: E402
from lrbook.plotting.style import g_colors  # noqa: E402
from lrbook.tasks import FlipFlop  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _lines_with_label(ax, label):
    """Lines labelled ``label``, including the data line of a labelled error-bar plot."""
    out = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return out + [c.lines[0] for c in ax.containers if c.get_label() == label]


def test_group_by_g_sorts_and_groups():
    vals, idx = P.group_by_g([0.9, 0.0, 0.9, 0.3 * 3, 0.0])
    assert vals.tolist() == [0.0, 0.9]
    assert [i.tolist() for i in idx] == [[1, 4], [0, 2, 3]]
    with pytest.raises(ValueError, match="g must be one-dimensional"):
        P.group_by_g(np.zeros((2, 2)))


def test_loss_curves_thick_line_is_geometric_mean_of_relative_losses():
    epochs = np.arange(50)
    loss = np.stack([2.0 * np.exp(-epochs / 10), 4.0 * np.exp(-epochs / 20), 1.0 + 0 * epochs], axis=1)
    g = [0.0, 0.0, 1.5]
    ax = P.plot_loss_curves(loss, g)
    (mean0,) = _lines_with_label(ax, "$g = 0$")
    expected = np.sqrt(np.exp(-epochs / 10) * np.exp(-epochs / 20))
    np.testing.assert_allclose(mean0.get_ydata(), expected, rtol=1e-12)
    (mean1,) = _lines_with_label(ax, "$g = 1.5$")
    np.testing.assert_allclose(mean1.get_ydata(), 1.0)
    assert ax.get_yscale() == "log"
    # colours follow the shared g -> colour map
    assert mean1.get_color() == g_colors([0.0, 1.5])[1]
    # the convergence level 0.05 (relative)
    assert any(np.allclose(ln.get_ydata(), 0.05) for ln in ax.get_lines())
    with pytest.raises(ValueError, match="one per network"):
        P.plot_loss_curves(loss, [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        P.plot_loss_curves(loss[:, 0], [0.0])


def test_plot_vs_g_means_stds_and_missing():
    g = np.array([0.0, 0.0, 0.9, 0.9, 1.8, 1.8])
    y = np.array([100.0, 200.0, 40.0, 60.0, np.nan, 300.0])
    ax = P.plot_vs_g(g, y, missing=1000, missing_label="not converged", label="mean")
    (mean,) = _lines_with_label(ax, "mean")
    # the missing value counts at its drawn height (a lower bound)
    np.testing.assert_allclose(mean.get_ydata(), [150.0, 50.0, 650.0])
    np.testing.assert_allclose(mean.get_xdata(), [0.0, 0.9, 1.8])
    (miss,) = _lines_with_label(ax, "not converged")
    assert miss.get_xdata().tolist() == [1.8] and miss.get_ydata().tolist() == [1000]
    assert miss.get_markerfacecolor() == "none"
    # error bars: one vertical segment per g of half-length std
    segs = ax.collections[0].get_segments()
    half = [0.5 * abs(s[1, 1] - s[0, 1]) for s in segs]
    np.testing.assert_allclose(half, [50.0, 10.0, 350.0])
    # without `missing`, NaN is left out of the mean
    ax2 = P.plot_vs_g(g, y, label="m")
    np.testing.assert_allclose(_lines_with_label(ax2, "m")[0].get_ydata(), [150.0, 50.0, 300.0])
    with pytest.raises(ValueError, match="one per network"):
        P.plot_vs_g(g, y[:3])


def test_truncation_by_g_normalises_by_reference():
    ranks = np.arange(4)
    losses = np.array([[1.0, 0.1, 0.01, 0.01], [2.0, 0.2, 0.02, 0.02], [4.0, 2.0, 1.0, 0.5]])
    g = [0.0, 0.0, 1.2]
    ax = P.plot_truncation_by_g(ranks, losses, g)
    (l0,) = _lines_with_label(ax, "$g = 0$")
    np.testing.assert_allclose(l0.get_ydata(), [1.0, 0.1, 0.01, 0.01])
    ax = P.plot_truncation_by_g(ranks, losses, g, reference=[10.0, 20.0, 8.0])
    (l1,) = _lines_with_label(ax, "$g = 1.2$")
    np.testing.assert_allclose(l1.get_ydata(), [0.5, 0.25, 0.125, 0.0625])
    with pytest.raises(ValueError, match="shape"):
        P.plot_truncation_by_g(ranks[:3], losses, g)


def test_top_fraction_is_cumulative_energy():
    s = np.array([[3.0, 1.0, 1.0, 0.0], [2.0, 2.0, 0.0, 0.0]])
    ax = P.plot_top_fraction(s, [0.0, 0.9], r_max=3)
    (a,) = _lines_with_label(ax, "$g = 0$")
    np.testing.assert_allclose(a.get_ydata(), [9 / 11, 10 / 11, 1.0])
    (b,) = _lines_with_label(ax, "$g = 0.9$")
    np.testing.assert_allclose(b.get_ydata(), [0.5, 1.0, 1.0])
    assert a.get_xdata().tolist() == [1, 2, 3]


def test_norms_vs_g_reference_line():
    ax = P.plot_norms_vs_g([0.0, 0.9, 1.8], [1.5, 1.0, 0.8], N=64)
    ref = [ln for ln in ax.get_lines() if "sqrt" in ln.get_label()]
    assert len(ref) == 1
    np.testing.assert_allclose(ref[0].get_ydata(), ref[0].get_xdata() * 8.0)


def test_spectra_and_training_singular_values():
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((20, 20)) / np.sqrt(20)
    dW = np.outer(rng.standard_normal(20), rng.standard_normal(20)) / 20
    sv = [np.linalg.svd(a, compute_uv=False) for a in (dW, W0, W0 + dW)]
    ax = P.plot_spectra(*sv, floor=1e-6)
    (d,) = _lines_with_label(ax, r"$\Delta W$")
    # rank 1: one singular value, the others clipped to the floor
    assert d.get_ydata()[0] > 1e-3 and np.all(d.get_ydata()[1:] == 1e-6)
    epochs = np.array([0, 10, 20])
    S = np.array([[0, 0, 0], [1.0, 0.5, 0.1], [2.0, 0.6, 0.1]])
    ax = P.plot_singular_values_during_training(epochs, S, loss=np.linspace(1, 0.1, 21), n=2)
    (s1,) = _lines_with_label(ax, "$s_{1}$")
    np.testing.assert_allclose(s1.get_ydata(), [0, 1.0, 2.0])
    with pytest.raises(ValueError, match="sv must have shape"):
        P.plot_singular_values_during_training(epochs, S[:2])
    # logarithmic epoch axis: epoch 0 is left out
    ax = P.plot_singular_values_during_training(epochs, S, n=2, logx=True)
    (s1,) = _lines_with_label(ax, "$s_{1}$")
    assert s1.get_xdata().tolist() == [10, 20] and ax.get_xscale() == "log"


def test_eigenvalues_by_g_layout():
    rng = np.random.default_rng(1)
    ev = [np.linalg.eigvals(rng.standard_normal((10, 10))) for _ in range(2)]
    axes = P.plot_eigenvalues_by_g(ev, ev, ev, [0.0, 1.2])
    assert axes.shape == (2, 2)
    assert axes[0, 1].get_title() == "$g = 1.2$"
    # the circle of radius g is drawn for g > 0 only
    circles = [ln for ln in axes[0, 1].get_lines() if len(ln.get_xdata()) == 200]
    assert len(circles) == 1 and np.allclose(np.hypot(circles[0].get_xdata(), circles[0].get_ydata()), 1.2)
    assert not [ln for ln in axes[0, 0].get_lines() if len(ln.get_xdata()) == 200]
    with pytest.raises(ValueError, match="same non-zero length"):
        P.plot_eigenvalues_by_g(ev, ev[:1], ev, [0.0, 1.2])


def test_alignment_vs_g_curves():
    g = [0.0, 0.0, 1.8, 1.8]
    ax = P.plot_alignment_vs_g(g, {"a": [1.0, 0.8, 0.4, 0.2], "b": [1.0, 1.0, 0.9, 0.7]}, chance=0.1)
    (a,) = _lines_with_label(ax, "a")
    np.testing.assert_allclose(a.get_ydata(), [0.9, 0.3])
    # the two curves are shifted apart horizontally, symmetric about g
    (b,) = _lines_with_label(ax, "b")
    np.testing.assert_allclose(a.get_xdata() + b.get_xdata(), [0.0, 3.6])
    assert ax.get_ylim() == (0.0, 1.05)


def test_vs_N_means_and_reference():
    N = np.array([16, 16, 64, 64])
    y = np.array([1.0, 3.0, 2.0, 2.0])
    ax = P.plot_vs_N(N, y, [0.9] * 4, reference={"ref": lambda n: np.sqrt(n)})
    (m,) = _lines_with_label(ax, "$g = 0.9$")
    np.testing.assert_allclose(m.get_xdata(), [16, 64])
    np.testing.assert_allclose(m.get_ydata(), [2.0, 2.0])
    (r,) = _lines_with_label(ax, "ref")
    np.testing.assert_allclose(r.get_ydata(), np.sqrt(r.get_xdata()))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_network_trials_overlays_outputs():
    task = FlipFlop()
    batch = task.batch(4, np.random.default_rng(0))
    z = 0.5 * batch.target + 0.01
    fig = P.plot_network_trials(task, batch, z, indices=(0, 2))
    axes = np.array(fig.axes).reshape(2, 2)
    out_lines = [ln for ln in axes[1, 1].get_lines() if ln.get_linestyle() == "--"]
    assert len(out_lines) == task.n_out
    np.testing.assert_allclose(out_lines[0].get_ydata(), z[2, :, 0])
    with pytest.raises(ValueError, match="shape of the targets"):
        P.plot_network_trials(task, batch, z[:, :10])
    with pytest.raises(ValueError, match="at least one trial"):
        P.plot_network_trials(task, batch, z, indices=())
